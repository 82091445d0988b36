package scale_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/simulator"
)

// reconcileLimit bounds the wait for every Number to be reconciled: far above the goal
// (30 s), so that a slow run reports its figure instead of failing.
const reconcileLimit = 10 * time.Minute

// envInt and envDuration read a positive setting from the environment, with a default.
func envInt(b *testing.B, key string, def int) int {
	s := os.Getenv(key)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 {
		b.Fatalf("%s=%q: want a positive integer", key, s)
	}
	return v
}

func envDuration(b *testing.B, key string, def time.Duration) time.Duration {
	s := os.Getenv(key)
	if s == "" {
		return def
	}
	v, err := time.ParseDuration(s)
	if err != nil || v <= 0 {
		b.Fatalf("%s=%q: want a positive Go duration", key, s)
	}
	return v
}

// graphTap counts the Graph API reads (GET requests) that reach the simulator, and
// records when each phone number's node (the last path element) was read.
type graphTap struct {
	next  http.Handler
	reads atomic.Int64
	mu    sync.Mutex
	at    map[string][]time.Time
}

func (g *graphTap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		g.reads.Add(1)
		g.mu.Lock()
		id := path.Base(r.URL.Path)
		g.at[id] = append(g.at[id], time.Now())
		g.mu.Unlock()
	}
	g.next.ServeHTTP(w, r)
}

// meanGap is the mean time between two consecutive reads of the same number, over
// every number read at least twice, and how many such gaps there were. Unlike a count
// of reads in a window, it does not depend on where the window falls in the numbers'
// (initially synchronised) poll cycles.
func (g *graphTap) meanGap() (time.Duration, int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var sum time.Duration
	var gaps int
	for _, at := range g.at {
		for i := 1; i < len(at); i++ {
			sum += at[i].Sub(at[i-1])
			gaps++
		}
	}
	if gaps == 0 {
		return 0, 0
	}
	return sum / time.Duration(gaps), gaps
}

// startSimulator serves the simulator, with the n Numbers registered, on loopback.
func startSimulator(b *testing.B, n int) (*graphTap, string) {
	b.Helper()
	sim, err := simulator.New(simulator.Config{Seed: 1, AccessToken: accessToken, Numbers: simNumbers(n),
		Statuses: simulator.StatusConfig{SentAfter: -1, DeliveredAfter: -1, ReadAfter: -1}})
	if err != nil {
		b.Fatalf("simulator: %v", err)
	}
	tap := &graphTap{next: sim, at: map[string][]time.Time{}}
	srv := httptest.NewServer(tap)
	b.Cleanup(func() { srv.Close(); sim.Close() })
	return tap, srv.URL
}

// benchClient is an unthrottled client for creating and watching the objects.
func benchClient(b *testing.B) client.Client {
	b.Helper()
	cfg := rest.CopyConfig(restCfg)
	cfg.QPS, cfg.Burst = 500, 1000
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		b.Fatal(err)
	}
	if err := sbv1.AddToScheme(s); err != nil {
		b.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: s})
	if err != nil {
		b.Fatalf("client: %v", err)
	}
	return c
}

// reconciled counts the Numbers whose status is written for their generation
// (observedGeneration) with a Graph read done (status.quality.checkedAt), and the
// sender Deployments the manager declared.
func reconciled(ctx context.Context, c client.Client, ns string) (numbers, deployments int, err error) {
	var nums sbv1.NumberList
	if err := c.List(ctx, &nums, client.InNamespace(ns)); err != nil {
		return 0, 0, err
	}
	for _, n := range nums.Items {
		if n.Status.ObservedGeneration == n.Generation && n.Status.Quality != nil && n.Status.Quality.CheckedAt != nil {
			numbers++
		}
	}
	var deps appsv1.DeploymentList
	if err := c.List(ctx, &deps, client.InNamespace(ns), client.MatchingLabels{"app.kubernetes.io/component": "sender"}); err != nil {
		return 0, 0, err
	}
	return numbers, len(deps.Items), nil
}

// waitReconciled polls until all n Numbers and their senders are reconciled.
func waitReconciled(ctx context.Context, b *testing.B, c client.Client, ns string, n int, m *manager) {
	b.Helper()
	deadline := time.Now().Add(reconcileLimit)
	for {
		nums, deps, err := reconciled(ctx, c, ns)
		if err == nil && nums == n && deps == n {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("after %v: %d of %d Numbers reconciled, %d sender Deployments (%v)\n%s",
				reconcileLimit, nums, n, deps, err, m.stderr.String())
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// BenchmarkScale applies SCALE_N Numbers (default 100) with their Secrets, 10
// RoutingPolicies and 20 KeywordRules to a running `switchboard manager` process and
// reports how long until every Number is reconciled, the manager's peak memory and API
// request rate, and its steady-state reconcile and Graph read rates over SCALE_WINDOW
// (default 45 s) with a quality poll interval of SCALE_POLL (default 30 s). See doc.go.
func BenchmarkScale(b *testing.B) {
	n := envInt(b, "SCALE_N", 100)
	poll := envDuration(b, "SCALE_POLL", 30*time.Second)
	window := envDuration(b, "SCALE_WINDOW", 45*time.Second)
	ctx := context.Background()
	c := benchClient(b)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "scale-"}}
	if err := c.Create(ctx, ns); err != nil {
		b.Fatalf("namespace: %v", err)
	}
	tap, simURL := startSimulator(b, n)
	m := startManager(b, ns.Name, poll)
	heap := sampleHeap(m)
	objs := objectsFor(ns.Name, n, simURL)
	before := mustScrape(b, m)

	start := time.Now()
	createAll(ctx, b, c, objs)
	applied := time.Since(start)
	waitReconciled(ctx, b, c, ns.Name, n, m)
	took := time.Since(start)
	after := mustScrape(b, m)
	reportBurst(b, n, applied, took, before, after)

	steady(b, m, tap, n, poll, window)
	reportMemory(b, m, heap)
}

func mustScrape(b *testing.B, m *manager) map[string]float64 {
	b.Helper()
	s, err := m.scrape()
	if err != nil {
		b.Fatalf("scraping the manager: %v", err)
	}
	return s
}

const (
	apiRequests = "rest_client_requests_total"
	reconciles  = "controller_runtime_reconcile_total"
)

func reportBurst(b *testing.B, n int, applied, took time.Duration, before, after map[string]float64) {
	reqs := after[apiRequests] - before[apiRequests]
	b.ReportMetric(applied.Seconds(), "apply-s")
	b.ReportMetric(took.Seconds(), "all-reconciled-s")
	b.ReportMetric(reqs/took.Seconds(), "api-req/s")
	b.ReportMetric(reqs/float64(n), "api-req/number")
	b.ReportMetric((after[reconciles+"/number"]-before[reconciles+"/number"])/float64(n), "reconciles/number")
	b.Logf("N=%d: created %d objects in %v; all Numbers reconciled (status for their generation, Graph read, sender declared) %v after the first create; the manager made %.0f API requests (%.1f/s)",
		n, n*2+1+policies+keywordRules, applied.Round(time.Millisecond), took.Round(time.Millisecond), reqs, reqs/took.Seconds())
}

// steady measures the reconcile and Graph read rates over window, once every Number
// was reconciled, and the mean time between two reads of a Number, from which the
// steady read rate is N / gap whatever the window.
func steady(b *testing.B, m *manager, tap *graphTap, n int, poll, window time.Duration) {
	s0, r0 := mustScrape(b, m), tap.reads.Load()
	time.Sleep(window)
	s1, r1 := mustScrape(b, m), tap.reads.Load()
	recs := s1[reconciles+"/number"] - s0[reconciles+"/number"]
	b.ReportMetric(recs/window.Seconds(), "steady-reconciles/s")
	b.ReportMetric((s1[apiRequests]-s0[apiRequests])/window.Seconds(), "steady-api-req/s")
	b.ReportMetric(float64(r1-r0)/window.Seconds(), "window-graph-reads/s")
	b.Logf("steady state over %v with a %v poll interval: %.2f Number reconciles/s, %.2f API requests/s, %d Graph reads (%.2f/s)",
		window, poll, recs/window.Seconds(), (s1[apiRequests]-s0[apiRequests])/window.Seconds(), r1-r0, float64(r1-r0)/window.Seconds())
	reportReadGap(b, tap, n, poll)
}

// reportReadGap reports the mean time between two reads of a Number, relative to the
// poll interval, and the steady read rate it gives.
func reportReadGap(b *testing.B, tap *graphTap, n int, poll time.Duration) {
	gap, gaps := tap.meanGap()
	if gaps < n {
		b.Logf("only %d pairs of consecutive reads of a Number: make SCALE_WINDOW longer than SCALE_POLL (%v) plus 10%% to measure the read interval", gaps, poll)
		return
	}
	ratio := gap.Seconds() / poll.Seconds()
	b.ReportMetric(ratio, "read-gap/poll")
	b.ReportMetric(float64(n)/gap.Seconds(), "steady-graph-reads/s")
	b.Logf("a Number is read every %v on average (%.2f x the interval), so %.2f reads/s for %d Numbers; at the default 5m: %.2f reads/s, %.1f per Number per hour",
		gap.Round(time.Millisecond), ratio, float64(n)/gap.Seconds(), n, float64(n)/(300*ratio), 3600/(300*ratio))
}

func reportMemory(b *testing.B, m *manager, heap *heapSampler) {
	peakHeap := heap.peakMiB()
	hwm, err := procStatus(m.cmd.Process.Pid, "VmHWM")
	if err != nil {
		b.Fatalf("the manager's peak RSS: %v", err)
	}
	b.ReportMetric(hwm, "peak-rss-MiB")
	b.ReportMetric(peakHeap, "peak-heap-MiB")
	b.Logf("manager process: peak RSS (VmHWM) %.1f MiB, peak Go heap in use %.1f MiB", hwm, peakHeap)
}
