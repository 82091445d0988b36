package sender_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/sender"
	"github.com/switchboard-dev/switchboard/runtime/simulator"
	"github.com/switchboard-dev/switchboard/runtime/store"
	"github.com/switchboard-dev/switchboard/runtime/store/pgtest"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// pg is the package's PostgreSQL server; every benchmark gets its own database.
var pg *pgtest.Server

// TestMain starts PostgreSQL only when benchmarks run: the package has no tests, so
// `go test ./...` (make test) does not pay for a server it would not use.
func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f == nil || f.Value.String() == "" {
		os.Exit(m.Run())
	}
	os.Exit(pgtest.Main(m, &pg))
}

const (
	accessToken  = "bench-token"
	templateLang = "en_US"
	// senderID is the phone number ID the sender serves (a HIGH number of its own).
	senderID = "199999999999999"
	// stopTimeout bounds how long a stopped sender may take to return.
	stopTimeout = 30 * time.Second
)

// number is the Number whose outbox the benchmarks fill and drain.
var number = store.NumberRef{Namespace: "bench", Name: "sender"}

// recipient is the i-th recipient of a run: every message of a run goes to its own
// recipient, so neither the pacer's nor the simulator's pair rate (1 per 6 s, burst
// 45) ever applies, and a template never meets a closed 24 h window.
func recipient(i int) string { return fmt.Sprintf("346%08d", i) }

// env is one benchmark's database, simulator and loopback HTTP server.
type env struct {
	b       *testing.B
	dsn     string
	st      *store.Store
	sim     *simulator.Server
	tap     *tap
	baseURL string
	// spread are extra HIGH numbers that traffic not limited to one number (the raw
	// ceiling, the uncapped sender) is spread over, round-robin.
	spread []string
}

// newEnv creates a database and a simulator with the sender's own number (of the
// given throughput) plus spread extra HIGH numbers, behind an http.Server on
// 127.0.0.1. Status webhooks are off: there is no webhook URL, they would only be
// built and dropped in the background.
func newEnv(b *testing.B, throughput string, spread int, markers bool) *env {
	b.Helper()
	e := &env{b: b, dsn: pg.NewDatabase(b)}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var err error
	if e.st, err = store.Open(ctx, e.dsn); err != nil {
		b.Fatalf("store.Open: %v", err)
	}
	b.Cleanup(e.st.Close)

	cfg := simulator.Config{
		Seed:        1,
		AccessToken: accessToken,
		Statuses:    simulator.StatusConfig{SentAfter: -1, DeliveredAfter: -1, ReadAfter: -1},
		Numbers: []simulator.Number{{ID: senderID, DisplayPhoneNumber: "+34 600 000 000",
			Tier: whatsapp.TierUnlimited, Throughput: throughput}},
	}
	for i := range spread {
		id := fmt.Sprintf("1%014d", i+1)
		cfg.Numbers = append(cfg.Numbers, simulator.Number{ID: id, DisplayPhoneNumber: fmt.Sprintf("+1 555 %07d", i+1),
			Tier: whatsapp.TierUnlimited, Throughput: whatsapp.ThroughputHigh})
		e.spread = append(e.spread, id)
	}
	if e.sim, err = simulator.New(cfg); err != nil {
		b.Fatalf("simulator: %v", err)
	}
	b.Cleanup(e.sim.Close)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatalf("listen: %v", err)
	}
	e.tap = &tap{next: e.sim, markers: markers}
	hs := &http.Server{Handler: e.tap, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() { defer close(done); _ = hs.Serve(ln) }()
	b.Cleanup(func() { _ = hs.Close(); <-done })
	e.baseURL = "http://" + ln.Addr().String()
	return e
}

// client is a whatsapp.Client on its own transport (configured as the shared one
// production uses), closed at the end of the benchmark.
func (e *env) client() *whatsapp.Client {
	tr := whatsapp.NewTransport()
	e.b.Cleanup(tr.CloseIdleConnections)
	c, err := whatsapp.New(whatsapp.Options{BaseURL: e.baseURL, AccessToken: accessToken,
		HTTPClient: &http.Client{Transport: tr, Timeout: time.Minute}})
	if err != nil {
		e.b.Fatalf("whatsapp.New: %v", err)
	}
	return c
}

// payload is the stored form of a template message (no messaging_product, no to); the
// template name marks the message.
func payload(b *testing.B, name string) json.RawMessage {
	m := whatsapp.TemplateMessage("", name, templateLang)
	m.To, m.MessagingProduct = "", ""
	p, err := json.Marshal(m)
	if err != nil {
		b.Fatalf("payload: %v", err)
	}
	return p
}

// fill enqueues n conversation-lane template messages to recipients first..first+n-1
// with EnqueueTx, 1,000 per transaction (setup, not measured).
func (e *env) fill(first, n int, name func(i int) string) {
	e.b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, e.dsn)
	if err != nil {
		e.b.Fatalf("connect: %v", err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	for lo := 0; lo < n; lo += 1000 {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			for i := lo; i < min(lo+1000, n); i++ {
				if _, err := store.EnqueueTx(ctx, tx, store.NewMessage{Number: number, Recipient: recipient(first + i),
					Lane: store.LaneConversation, Payload: payload(e.b, name(i))}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			e.b.Fatalf("enqueue: %v", err)
		}
	}
}

// running is a sender.Run in the background.
type running struct {
	cancel context.CancelFunc
	done   chan error
	lock   *store.NumberLock
}

// startSender takes the number's fence (store.NumberLock) and LISTENs for new work,
// then runs the real sender as `switchboard sender` does, with the production poll
// interval (1 s) as a fallback only.
func (e *env) startSender(api sender.CloudAPI, limits sender.Limits, workers int) *running {
	e.b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	lock, err := e.st.LockNumber(ctx, number)
	if err != nil {
		cancel()
		e.b.Fatalf("LockNumber: %v", err)
	}
	wake, err := e.st.Listen(ctx, number)
	if err != nil {
		cancel()
		e.b.Fatalf("Listen: %v", err)
	}
	r := &running{cancel: cancel, done: make(chan error, 1), lock: lock}
	go func() {
		r.done <- sender.Run(ctx, sender.Config{PhoneNumberID: senderID, API: api, Outbox: lock, Wake: wake,
			Initial: limits, Workers: workers, Poll: time.Second})
	}()
	return r
}

// stop cancels the sender and waits (bounded) for Run to return.
func (r *running) stop() error {
	r.cancel()
	defer func() { _ = r.lock.Release(context.Background()) }()
	select {
	case err := <-r.done:
		return err
	case <-time.After(stopTimeout):
		return fmt.Errorf("sender.Run did not return within %v of its context ending", stopTimeout)
	}
}

// waitSent polls the outbox until n messages of the number are sent, at most limit.
func (e *env) waitSent(n int, limit time.Duration, done <-chan error) error {
	deadline := time.Now().Add(limit)
	for {
		counts, _, err := e.st.Counts(context.Background(), number)
		if err != nil {
			return err
		}
		if counts[store.StateSent] >= n {
			return nil
		}
		select {
		case err := <-done:
			return fmt.Errorf("sender.Run returned early: %v (outbox %v)", err, counts)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %v the outbox holds %v, want %d sent (simulator accepted %d)",
				limit, counts, n, e.sim.Counters().Accepted)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkNoRejection fails the benchmark if the simulator refused anything: a limit
// (throughput 130429, pair rate 131056, window 131047) must never shape the figures.
func (e *env) checkNoRejection(wantAccepted int64) {
	e.b.Helper()
	c := e.sim.Counters()
	if len(c.Rejected) != 0 || c.Accepted != wantAccepted {
		e.b.Fatalf("simulator accepted %d, want %d; rejected %v: a limit shaped the measurement",
			c.Accepted, wantAccepted, c.Rejected)
	}
}

// tap timestamps every send as it reaches the simulator (before the simulator's own
// work) and, if markers is set, notes its template name.
type tap struct {
	next    http.Handler
	markers bool
	mu      sync.Mutex
	at      []time.Time
	marker  []string
}

func (t *tap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	if !strings.HasSuffix(r.URL.Path, "/messages") {
		t.next.ServeHTTP(w, r)
		return
	}
	marker := ""
	if t.markers {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		var m whatsapp.Message
		if json.Unmarshal(body, &m) == nil && m.Template != nil {
			marker = m.Template.Name
		}
	}
	t.mu.Lock()
	t.at = append(t.at, at)
	if t.markers {
		t.marker = append(t.marker, marker)
	}
	t.mu.Unlock()
	t.next.ServeHTTP(w, r)
}

// take returns the arrivals so far and starts a new record.
func (t *tap) take() (at []time.Time, markers []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	at, markers = t.at, t.marker
	t.at, t.marker = nil, nil
	return at, markers
}

// count returns how many arrivals the tap holds.
func (t *tap) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.at)
}

// spanRate is the sustained rate of a run's arrivals: the first and last 5% are left
// out (connections being set up, tokens the pacer gathered while the sender started,
// the last stragglers) and the rate is the least-squares slope of arrival count over
// time through the rest, so that sends leaving in bunches (a dispatch round at a
// time) do not make the figure depend on where the cut falls in a bunch.
func spanRate(at []time.Time) float64 {
	at = slices.SortedFunc(slices.Values(at), time.Time.Compare)
	trim := len(at) / 20
	at = at[trim : len(at)-trim]
	if len(at) < 2 {
		return 0
	}
	var st, sk, stt, stk float64
	for k, t := range at {
		x, y := t.Sub(at[0]).Seconds(), float64(k)
		st, sk, stt, stk = st+x, sk+y, stt+x*x, stk+x*y
	}
	n := float64(len(at))
	den := n*stt - st*st
	if den <= 0 {
		return 0
	}
	return (n*stk - st*sk) / den
}

// percentile returns the nearest-rank q-th value of sorted d.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
