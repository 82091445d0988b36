package inbox_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox/ingest"
	"github.com/switchboard-dev/switchboard/runtime/simulator"
)

// balancer spreads requests over the live inbox processes in turn, like a Service; a
// request to a process that dies fails (502) and Meta retries it.
type balancer struct {
	mu       sync.Mutex
	backends []*child
	next     int
}

func (b *balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	c := b.backends[b.next%len(b.backends)]
	b.next++
	b.mu.Unlock()
	target := &url.URL{Scheme: "http", Host: c.addr}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, _ error) { w.WriteHeader(http.StatusBadGateway) }
	proxy.ServeHTTP(w, r)
}

func (b *balancer) replace(i int, c *child) {
	b.mu.Lock()
	b.backends[i] = c
	b.mu.Unlock()
}

// Exactly once: the simulator delivers 5,000 inbound messages (batched, with duplicates
// and retries) to two inbox processes at once, and each is killed with SIGKILL at random
// moments and restarted. Afterwards every message is stored exactly once.
func TestExactlyOnceWithTwoInboxesKilled(t *testing.T) {
	dsn := srv.NewDatabase(t)
	lb := &balancer{backends: []*child{startChild(t, dsn, 0), startChild(t, dsn, 1)}}
	front := httptest.NewServer(lb)
	t.Cleanup(front.Close)
	sim, err := simulator.New(simulator.Config{Seed: 11, MaxInjected: 10_000,
		Numbers: []simulator.Number{{ID: numA.PhoneNumberID, DisplayPhoneNumber: "+1 555 078 3881", BusinessAccountID: numA.WABAID,
			AppSecret: numA.AppSecret, WebhookURL: front.URL + ingest.Path}},
		Webhooks: simulator.WebhookConfig{MaxAttempts: 10_000, BaseDelay: 20 * time.Millisecond, MaxDelay: 300 * time.Millisecond,
			Workers: 8, DuplicateProbability: 0.1, Timeout: 15 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)

	stop := make(chan struct{})
	killed := make(chan killResult, 1)
	go killer(t, lb, dsn, stop, killed)
	want := map[string]bool{}
	for i := 0; i < 5000; i++ {
		id, err := sim.Inject(numA.PhoneNumberID, simulator.Inbound{From: fmt.Sprint(34600000000 + i%250), Text: fmt.Sprint("m", i)})
		if err != nil {
			t.Fatal(err)
		}
		want[id] = true
		if i%50 == 0 {
			time.Sleep(100 * time.Millisecond) // about 500 messages/s, spread over the kills
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	waitDelivered(t, ctx, sim, 2*time.Second)
	close(stop)
	k := <-killed
	if k.err != nil {
		t.Fatal(k.err)
	}
	kills := k.kills
	if err := sim.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	c := sim.Counters().Webhooks
	t.Logf("kills %d, webhooks %+v", kills, c)
	if kills < 4 || c.Retried == 0 || c.Duplicated == 0 || c.Failed != 0 {
		t.Fatalf("the test did not exercise what it should: kills %d, %+v", kills, c)
	}
	checkExactlyOnce(t, ctx, dsn, want)
}

type killResult struct {
	kills int
	err   error
}

// killer SIGKILLs a random inbox every 150–600 ms and restarts it, until stop; it sends
// the number of kills, or why it could not restart an inbox.
func killer(t *testing.T, lb *balancer, dsn string, stop <-chan struct{}, killed chan<- killResult) {
	n := 0
	for {
		select {
		case <-stop:
			killed <- killResult{kills: n}
			return
		case <-time.After(time.Duration(150+rand.IntN(450)) * time.Millisecond):
		}
		i := rand.IntN(2)
		lb.mu.Lock()
		c := lb.backends[i]
		lb.mu.Unlock()
		_ = c.cmd.Process.Signal(syscall.SIGKILL)
		_ = c.cmd.Wait()
		n++
		c, err := spawnChild(t, dsn, 2+n)
		if err != nil {
			<-stop
			killed <- killResult{kills: n, err: err}
			return
		}
		lb.replace(i, c)
	}
}

// waitDelivered waits until every webhook has been answered 200 at least once and keeps
// killing for a while in between (quiet is how long the queue must stay empty).
func waitDelivered(t *testing.T, ctx context.Context, sim *simulator.Server, quiet time.Duration) {
	t.Helper()
	for {
		if err := sim.WaitIdle(ctx); err != nil {
			t.Fatalf("webhooks still pending: %+v", sim.Counters().Webhooks)
		}
		time.Sleep(quiet)
		if c := sim.Counters().Webhooks; c.Delivered+c.Failed >= c.Enqueued {
			return
		}
	}
}

func checkExactlyOnce(t *testing.T, ctx context.Context, dsn string, want map[string]bool) {
	t.Helper()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	rows, _ := conn.Query(ctx, `SELECT wamid, count(*) FROM messages GROUP BY wamid`)
	got := map[string]int{}
	var id string
	var n int
	if _, err := pgx.ForEachRow(rows, []any{&id, &n}, func() error { got[id] = n; return nil }); err != nil {
		t.Fatal(err)
	}
	for id := range want {
		if got[id] != 1 {
			t.Fatalf("message %s stored %d times", id, got[id])
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d distinct messages stored, want %d", len(got), len(want))
	}
}
