package ingest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/simulator"
)

// newSimulator starts Meta's stand-in with numA pointing its webhooks at the rig; failed
// webhooks are retried quickly and often, as Meta does over 7 days.
func newSimulator(t *testing.T, r *rig, dupProbability float64) *simulator.Server {
	t.Helper()
	sim, err := simulator.New(simulator.Config{Seed: 7,
		Numbers: []simulator.Number{{ID: numA.PhoneNumberID, DisplayPhoneNumber: "+1 555 078 3881",
			BusinessAccountID: numA.WABAID, AppSecret: numA.AppSecret, WebhookURL: r.url}},
		Webhooks: simulator.WebhookConfig{MaxAttempts: 1000, BaseDelay: 20 * time.Millisecond,
			MaxDelay: 200 * time.Millisecond, Timeout: 10 * time.Second, DuplicateProbability: dupProbability}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	return sim
}

// setConnections allows or refuses new connections to the rig's database, and with
// refuse ends the open ones (a database outage as the inbox sees it).
func setConnections(t *testing.T, r *rig, allow bool) {
	t.Helper()
	admin, err := pgx.Connect(ctxOf(t), srv.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = admin.Close(context.Background()) }()
	db := r.db.Config().Database
	if _, err := admin.Exec(ctxOf(t), fmt.Sprintf(`ALTER DATABASE %s ALLOW_CONNECTIONS %t`, pgx.Identifier{db}.Sanitize(), allow)); err != nil {
		t.Fatal(err)
	}
	if !allow {
		_, err = admin.Exec(ctxOf(t), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, db)
		if err != nil {
			t.Fatal(err)
		}
	}
}

func waitFor(t *testing.T, what string, within time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A database outage mid-stream: the inbox answers 5xx, Meta's retries later succeed, and
// every message is stored exactly once.
func TestDatabaseOutageThenRetries(t *testing.T) {
	r := newRig(t)
	sim := newSimulator(t, r, 0.2)
	inject := func(from int, n int) []string {
		var ids []string
		for i := 0; i < n; i++ {
			id, err := sim.Inject(numA.PhoneNumberID, simulator.Inbound{From: fmt.Sprint(34600000000 + from + i%7), Text: "hola"})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		return ids
	}
	ids := inject(0, 20)
	waitFor(t, "the first messages", time.Minute, func() bool { return sim.Counters().Webhooks.Delivered >= 20 })
	setConnections(t, r, false)
	ids = append(ids, inject(100, 30)...)
	waitFor(t, "refused webhooks", time.Minute, func() bool { return sim.Counters().Webhooks.Retried >= 10 })
	if failed := counter(r.metrics.Webhooks.WithLabelValues("messages", "failed")); failed == 0 {
		t.Fatal("no request answered 5xx during the outage")
	}
	setConnections(t, r, true)
	ctx, cancel := context.WithTimeout(ctxOf(t), time.Minute)
	defer cancel()
	waitFor(t, "Meta's retries", time.Minute, func() bool { return sim.WaitIdle(ctx) == nil && sim.Counters().Webhooks.Delivered >= 50 })
	r.db = reconnect(t, r)
	for _, id := range ids {
		if n := r.count(`SELECT count(*) FROM messages WHERE wamid = $1`, id); n != 1 {
			t.Fatalf("message %s stored %d times", id, n)
		}
	}
	if n := r.count(`SELECT count(*) FROM messages`); n != len(ids) {
		t.Fatalf("%d messages stored, want %d", n, len(ids))
	}
	if c := sim.Counters().Webhooks; c.Failed != 0 || c.Retried == 0 {
		t.Fatalf("simulator counters %+v", c)
	}
}

func reconnect(t *testing.T, r *rig) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(ctxOf(t), r.dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}
