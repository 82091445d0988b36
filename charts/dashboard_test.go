package charts

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	// The manager's switchboard_number_* series are registered with
	// controller-runtime's registry when the package loads.
	_ "github.com/switchboard-dev/switchboard/controllers"
	"github.com/switchboard-dev/switchboard/runtime/sender"
)

// dashboardQuery is one PromQL expression of the dashboard and where it is.
type dashboardQuery struct{ where, expr string }

// dashboardQueries reads every panel target's expr and every templating query of
// dashboards/*.json (label_values(metric, label) reduced to its metric).
func dashboardQueries(t *testing.T) []dashboardQuery {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(chartDir, "dashboards", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboard in %s/dashboards (%v)", chartDir, err)
	}
	var qs []dashboardQuery
	for _, f := range files {
		qs = append(qs, fileQueries(t, f)...)
	}
	return qs
}

var labelValuesRe = regexp.MustCompile(`^label_values\((.*),\s*[a-zA-Z_][a-zA-Z0-9_]*\)$`)

func fileQueries(t *testing.T, file string) []dashboardQuery {
	t.Helper()
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Type  string `json:"type"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s is not JSON: %v", file, err)
	}
	var qs []dashboardQuery
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			qs = append(qs, dashboardQuery{filepath.Base(file) + ": panel " + p.Title, tg.Expr})
		}
	}
	for _, v := range d.Templating.List {
		if q, ok := v.Query.(map[string]any); ok && v.Type == "query" {
			m := labelValuesRe.FindStringSubmatch(q["query"].(string))
			if m == nil {
				t.Errorf("%s: variable %s: query %v is not label_values(metric, label)", file, v.Name, q["query"])
				continue
			}
			qs = append(qs, dashboardQuery{filepath.Base(file) + ": variable " + v.Name, m[1]})
		}
	}
	return qs
}

var (
	// stringRe, matcherRe and rangeRe remove quoted strings, label matchers and range
	// or subquery durations; groupingRe removes the label lists of by, without, on,
	// ignoring, group_left and group_right. What is left names metrics, functions,
	// aggregations, operators and numbers.
	stringRe   = regexp.MustCompile(`"(\\.|[^"\\])*"`)
	matcherRe  = regexp.MustCompile(`\{[^{}]*\}`)
	rangeRe    = regexp.MustCompile(`\[[^\[\]]*\]`)
	groupingRe = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)`)
	// identRe finds names; one that follows a digit or a dot is part of a number.
	identRe       = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	promqlKeyword = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true,
		"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true, "inf": true, "nan": true}
)

// metricNames returns the metric names an expression selects, or an error message
// when it is not well formed (unbalanced brackets or quotes, no metric at all).
func metricNames(expr string) ([]string, string) {
	s := stringRe.ReplaceAllString(expr, `""`)
	if strings.Count(s, `"`)%2 != 0 {
		return nil, "an unterminated string"
	}
	for _, pair := range []string{"()", "{}", "[]"} {
		if strings.Count(s, pair[:1]) != strings.Count(s, pair[1:]) {
			return nil, "unbalanced " + pair
		}
	}
	s = groupingRe.ReplaceAllString(rangeRe.ReplaceAllString(matcherRe.ReplaceAllString(s, ""), ""), "")
	var names []string
	for _, loc := range identRe.FindAllStringIndex(s, -1) {
		name, before, after := s[loc[0]:loc[1]], s[:loc[0]], strings.TrimSpace(s[loc[1]:])
		inNumber := strings.TrimRight(before, "0123456789.") != before
		if !inNumber && !strings.HasPrefix(after, "(") && !promqlKeyword[strings.ToLower(name)] {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return nil, "no metric"
	}
	return names, ""
}

// registered reports whether a registry holds a metric of that name: registering a
// probe of the same name fails if, and only if, one is there. A histogram or summary's
// _bucket, _sum and _count series count as their metric.
func registered(reg prometheus.Registerer, name string) bool {
	for _, n := range []string{name, strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")} {
		probe := prometheus.NewGauge(prometheus.GaugeOpts{Name: n, Help: "probe"})
		if err := reg.Register(probe); err != nil {
			return true
		}
		reg.Unregister(probe)
	}
	return false
}

// codeRegistries are the registries the code builds: the manager's (controller-runtime's,
// with the switchboard_number_* series) and a sender's (runtime/sender.NewMetrics).
// The inbox's switchboard_inbox_* metrics do not exist yet; add its registry here when
// they do.
func codeRegistries() map[string]prometheus.Registerer {
	senderReg := prometheus.NewRegistry()
	sender.NewMetrics(senderReg)
	return map[string]prometheus.Registerer{"manager": ctrlmetrics.Registry, "sender": senderReg}
}

func TestDashboardQueriesUseMetricsTheCodeRegisters(t *testing.T) {
	qs := dashboardQueries(t)
	if len(qs) < 10 {
		t.Fatalf("found %d queries in the dashboards, want at least 10: is the JSON layout still panels[].targets[].expr?", len(qs))
	}
	regs := codeRegistries()
	for _, q := range qs {
		names, bad := metricNames(q.expr)
		if bad != "" {
			t.Errorf("%s: %q: %s", q.where, q.expr, bad)
		}
		for _, n := range names {
			if !anyRegistered(regs, n) {
				t.Errorf("%s: metric %s is registered by no registry of the code (%q)", q.where, n, q.expr)
			}
		}
	}
}

func anyRegistered(regs map[string]prometheus.Registerer, name string) bool {
	for _, r := range regs {
		if registered(r, name) {
			return true
		}
	}
	return false
}

// TestDashboardCheckCatches shows that the check above can fail: a misspelt metric, a
// metric no registry holds, and a malformed expression are each reported.
func TestDashboardCheckCatches(t *testing.T) {
	regs := codeRegistries()
	if !anyRegistered(regs, "switchboard_sender_sent_total") || !anyRegistered(regs, "switchboard_number_throttled") {
		t.Fatal("the sender's and the manager's metrics are not found in the code's registries")
	}
	for _, n := range []string{"switchboard_sender_sent", "switchboard_inbox_webhooks_total"} {
		if anyRegistered(regs, n) {
			t.Errorf("metric %s is reported as registered; it is not", n)
		}
	}
	names, bad := metricNames(`sum by (lane) (rate(switchboard_sender_sent_total{namespace=~"a|b", x="}"}[$__rate_interval])) / on (lane) group_left up`)
	if bad != "" || strings.Join(names, ",") != "switchboard_sender_sent_total,up" {
		t.Errorf("metricNames = %q, %q; want switchboard_sender_sent_total and up", names, bad)
	}
	for _, expr := range []string{`rate(switchboard_sender_sent_total[5m]`, `sum(x{a="b})`, `sum(rate([5m]))`} {
		if _, bad := metricNames(expr); bad == "" {
			t.Errorf("metricNames(%q) found nothing wrong", expr)
		}
	}
}
