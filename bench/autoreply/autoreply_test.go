package autoreply

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/bench/internal/latency"
	"github.com/switchboard-dev/switchboard/runtime/inbox/ingest"
	"github.com/switchboard-dev/switchboard/runtime/inbox/kube"
	"github.com/switchboard-dev/switchboard/runtime/keywords"
	"github.com/switchboard-dev/switchboard/runtime/sender"
	"github.com/switchboard-dev/switchboard/runtime/simulator"
	"github.com/switchboard-dev/switchboard/runtime/store"
	"github.com/switchboard-dev/switchboard/runtime/store/pgtest"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

var (
	flagMessages = flag.Int("autoreply.messages", 2500, "inbound messages, each from its own customer")
	flagRate     = flag.Float64("autoreply.rate", 500, "inbound messages per second")
	flagWorkers  = flag.Int("autoreply.webhook-workers", 16, "the simulator's concurrent webhook deliveries")
	flagStatuses = flag.Bool("autoreply.statuses", true, "let the simulator send status webhooks to the inbox")
)

// pg is the package's durable PostgreSQL server.
var pg *pgtest.Server

// TestMain starts PostgreSQL only when benchmarks run (the package has no tests).
func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f == nil || f.Value.String() == "" {
		os.Exit(m.Run())
	}
	os.Exit(pgtest.MainDurable(m, &pg))
}

const (
	accessToken = "bench-token"
	keyword     = "precio"
	replyText   = "Nuestra lista de precios: https://example.com/precios"
)

var num = kube.Number{Ref: store.NumberRef{Namespace: "bench", Name: "sales"}, PhoneNumberID: "106540352242922",
	DisplayDigits: "34600000000", AppSecret: "bench-app-secret", VerifyToken: "v"}

func BenchmarkAutoReply(b *testing.B) {
	for range b.N {
		e := newEnv(b)
		e.run()
		e.report()
	}
}

// env is one run: database, inbox, sender, simulator and the taps.
type env struct {
	b      *testing.B
	st     *store.Store
	sim    *simulator.Server
	inTap  *tap // in front of the inbox: webhook arrivals by customer
	outTap *tap // in front of the simulator: reply arrivals by recipient
	load   *simulator.LoadRun
	start  time.Time
}

func newEnv(b *testing.B) *env {
	e := &env{b: b, inTap: newTap(), outTap: newTap()}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := store.Open(ctx, pg.NewDatabase(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(st.Close)
	e.st = st
	inboxURL := e.serve(e.inboxHandler())
	cfg := simulator.Config{AccessToken: accessToken, MaxInjected: *flagMessages,
		Webhooks: simulator.WebhookConfig{Workers: *flagWorkers},
		Numbers: []simulator.Number{{ID: num.PhoneNumberID, DisplayPhoneNumber: "+34 600 000 000", Throughput: "HIGH",
			AppSecret: num.AppSecret, WebhookURL: inboxURL + ingest.Path}}}
	if !*flagStatuses {
		cfg.Statuses = simulator.StatusConfig{SentAfter: -1, DeliveredAfter: -1, ReadAfter: -1}
	}
	if e.sim, err = simulator.New(cfg); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(e.sim.Close)
	e.startSender(e.serve(e.outTap.wrap(e.sim, "to")))
	return e
}

// serve serves h on a free loopback port until the benchmark ends and returns its URL.
func (e *env) serve(h http.Handler) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.b.Fatal(err)
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	e.b.Cleanup(func() { _ = hs.Close() })
	return "http://" + ln.Addr().String()
}

// inboxHandler is the real ingest handler with one Inbound rule replying to keyword,
// behind the inbox-side tap, which also times each customer message's webhook.
func (e *env) inboxHandler() http.Handler {
	set, errs := keywords.Compile(sbv1.Inbound, []sbv1.KeywordRule{{ObjectMeta: metav1.ObjectMeta{Name: "precios"},
		Spec: sbv1.KeywordRuleSpec{Direction: sbv1.Inbound, Match: sbv1.KeywordMatch{Any: []string{keyword}, Mode: sbv1.MatchWord},
			Actions: sbv1.KeywordActions{Reply: &sbv1.ReplyAction{Text: replyText}}}}})
	if len(errs) > 0 {
		e.b.Fatal(errs)
	}
	snap := kube.NewSnapshot(num.Ref.Namespace, []kube.Number{num})
	h := ingest.New(ingest.Config{Store: e.st, Snapshot: func() *kube.Snapshot { return snap },
		Rules:   func() ingest.Rules { return setRules{set} },
		Metrics: ingest.NewMetrics(prometheus.NewRegistry()), Log: slog.New(slog.DiscardHandler)})
	mux := http.NewServeMux()
	h.Register(mux)
	return e.inTap.wrap(mux, "from")
}

// setRules replies with the first matching rule's reply (runtime/inbox does the same
// with keywords.Decide, from its Snapshot).
type setRules struct{ set *keywords.Set }

func (r setRules) Match(_ store.NumberRef, msg whatsapp.Inbound, _ time.Time) []ingest.Action {
	d := keywords.Decide(r.set.Match(msg.Body(), true))
	if d.Reply == nil {
		return nil
	}
	return []ingest.Action{{Rule: d.Reply.Rule.Name, Reply: d.Reply.Rule.Actions.Reply.Text}}
}

// startSender runs the real sender on the number, as bench/sender does.
func (e *env) startSender(simURL string) {
	c, err := whatsapp.New(whatsapp.Options{BaseURL: simURL, AccessToken: accessToken,
		HTTPClient: &http.Client{Transport: whatsapp.NewTransport(), Timeout: time.Minute}})
	if err != nil {
		e.b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	lock, err := e.st.LockNumber(ctx, num.Ref)
	if err != nil {
		cancel()
		e.b.Fatal(err)
	}
	wake, err := e.st.Listen(ctx, num.Ref)
	if err != nil {
		cancel()
		e.b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- sender.Run(ctx, sender.Config{PhoneNumberID: num.PhoneNumberID, API: c, Outbox: lock, Wake: wake,
			Initial: sender.Limits{MessagesPerSecond: 1000, CampaignPerMinute: 60000, UniqueRecipientsPer24h: -1},
			Poll:    time.Second, Log: slog.New(slog.DiscardHandler)})
	}()
	e.b.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				e.b.Errorf("sender.Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			e.b.Error("sender.Run did not return within 30 s of its context ending")
		}
		_ = lock.Release(context.Background())
	})
}

// run starts the load and waits until every customer got a reply.
func (e *env) run() {
	n := *flagMessages
	e.start = time.Now()
	r, err := e.sim.StartLoad(simulator.Load{Customers: n, Rate: *flagRate, Count: n,
		Keywords: []string{keyword}, KeywordShare: 1, Text: "Hola, ¿cuál es el"})
	if err != nil {
		e.b.Fatal(err)
	}
	deadline := time.Now().Add(2*time.Minute + time.Duration(float64(n) / *flagRate * float64(time.Second)))
	for e.outTap.count() < n {
		if time.Now().After(deadline) {
			e.b.Fatalf("after the deadline %d of %d replies reached the simulator (webhooks in: %d)",
				e.outTap.count(), n, e.inTap.count())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if c := e.sim.Counters(); c.Accepted != int64(n) || len(c.Rejected) != 0 {
		e.b.Fatalf("simulator accepted %d and rejected %v, want %d and none", c.Accepted, c.Rejected, n)
	}
	e.load = r
	e.check()
}

// check fails unless every customer (the k-th one writes the k-th message) wrote once
// and got one reply.
func (e *env) check() {
	for k := range *flagMessages {
		waID, _ := e.load.Customer(k)
		if len(e.inTap.at[waID]) != 1 || len(e.outTap.at[waID]) != 1 {
			e.b.Fatalf("customer %s: %d webhooks in, %d replies, want 1 and 1", waID, len(e.inTap.at[waID]), len(e.outTap.at[waID]))
		}
	}
}

func (e *env) report() {
	var fromIn, fromSched []time.Duration
	interval := float64(time.Second) / *flagRate
	for k := range *flagMessages {
		waID, _ := e.load.Customer(k)
		out := e.outTap.at[waID][0]
		fromIn = append(fromIn, out.Sub(e.inTap.at[waID][0]))
		fromSched = append(fromSched, out.Sub(e.start.Add(time.Duration(float64(k)*interval))))
	}
	ing := e.inTap.durations()
	e.b.ReportMetric(0, "ns/op")
	e.b.ReportMetric(latency.Ms(latency.Pct(fromIn, 0.5)), "p50-ms")
	e.b.ReportMetric(latency.Ms(latency.Pct(fromIn, 0.99)), "p99-ms")
	e.b.ReportMetric(latency.Ms(latency.Pct(fromSched, 0.5)), "sched-p50-ms")
	e.b.ReportMetric(latency.Ms(latency.Pct(fromSched, 0.99)), "sched-p99-ms")
	e.b.ReportMetric(latency.Ms(latency.Pct(ing, 0.5)), "ingest-p50-ms")
	e.b.ReportMetric(latency.Ms(latency.Pct(ing, 0.99)), "ingest-p99-ms")
	e.b.Logf("%d messages at %.0f/s (statuses %v): webhook-in to reply p50 %.2f ms, p99 %.2f ms, max %.2f ms; "+
		"from the schedule p50 %.2f ms, p99 %.2f ms; ingest answer p50 %.2f ms, p99 %.2f ms",
		*flagMessages, *flagRate, *flagStatuses, latency.Ms(latency.Pct(fromIn, 0.5)), latency.Ms(latency.Pct(fromIn, 0.99)), latency.Ms(latency.Pct(fromIn, 1)),
		latency.Ms(latency.Pct(fromSched, 0.5)), latency.Ms(latency.Pct(fromSched, 0.99)), latency.Ms(latency.Pct(ing, 0.5)), latency.Ms(latency.Pct(ing, 0.99)))
}

// tap records when requests carrying a JSON string field (the customer's "from", the
// reply's "to") arrive, by that field's value, and how long they took.
type tap struct {
	mu  sync.Mutex
	at  map[string][]time.Time
	dur []time.Duration
}

func newTap() *tap { return &tap{at: map[string][]time.Time{}} }

func (t *tap) wrap(next http.Handler, field string) http.Handler {
	key := []byte(`"` + field + `":"`)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived := time.Now()
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
		i := bytes.Index(body, key)
		if i < 0 || r.Method != http.MethodPost {
			return
		}
		var v string
		rest := body[i+len(key)-1:]
		if err := json.NewDecoder(bytes.NewReader(rest)).Decode(&v); err != nil {
			return
		}
		t.mu.Lock()
		defer t.mu.Unlock()
		t.at[v] = append(t.at[v], arrived)
		t.dur = append(t.dur, time.Since(arrived))
	})
}

func (t *tap) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.at)
}

func (t *tap) durations() []time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.dur)
}
