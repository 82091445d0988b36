package idempotency_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox/idempotency"
	"github.com/switchboard-dev/switchboard/runtime/inbox/problem"
	"github.com/switchboard-dev/switchboard/runtime/store"
	"github.com/switchboard-dev/switchboard/runtime/store/pgtest"
)

var srv *pgtest.Server

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &srv)) }

func request(t *testing.T, key, path string, content any) idempotency.Request {
	t.Helper()
	r := httptest.NewRequest("POST", path, nil)
	if key != "" {
		r.Header.Set(idempotency.Header, key)
	}
	req, err := idempotency.New(r, "acme", "agent:sam", content)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func TestParseKey(t *testing.T) {
	for _, c := range []struct {
		values []string
		want   string
		ok     bool
	}{
		{nil, "", true},
		{[]string{" abc-1 "}, "abc-1", true},
		{[]string{strings.Repeat("k", idempotency.MaxKeyLength)}, strings.Repeat("k", idempotency.MaxKeyLength), true},
		{[]string{strings.Repeat("k", idempotency.MaxKeyLength+1)}, "", false},
		{[]string{""}, "", false},
		{[]string{"has space"}, "", false},
		{[]string{"clé"}, "", false},
		{[]string{"a", "b"}, "", false},
	} {
		r := httptest.NewRequest("POST", "/", nil)
		r.Header[idempotency.Header] = c.values
		got, err := idempotency.ParseKey(r)
		var p problem.Problem
		if got != c.want || (err == nil) != c.ok || (err != nil && (!asProblem(err, &p) || p.Field != idempotency.Header || p.Status != 400)) {
			t.Errorf("%q: %q, %v", c.values, got, err)
		}
	}
}

func asProblem(err error, p *problem.Problem) bool { return errors.As(err, p) }

// TestRun: a key is claimed with its effect and answer in one transaction; a repeat
// replays it without running the effect; another request with the key is 422; a failed
// effect keeps no key; a key expires after TTL and is pruned by a later write; keys are
// per namespace and principal.
func TestRun(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, srv.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	runs := 0
	effect := func(pgx.Tx) (any, error) { runs++; return map[string]int{"id": runs}, nil }
	run := func(req idempotency.Request, at time.Time) (idempotency.Response, bool, error) {
		return idempotency.Run(ctx, st.InTx, req, at, http.StatusCreated, effect)
	}

	req := request(t, "k", "/api/v1/x", map[string]string{"text": "a"})
	first, replayed, err := run(req, t0)
	if err != nil || replayed || first.Status != 201 || string(first.Body) != "{\"id\":1}\n" {
		t.Fatalf("first: %+v %t %v", first, replayed, err)
	}
	again, replayed, err := run(req, t0.Add(time.Hour))
	if err != nil || !replayed || string(again.Body) != string(first.Body) || again.Status != 201 || runs != 1 {
		t.Fatalf("repeat: %s %t %v (runs %d)", again.Body, replayed, err, runs)
	}
	for name, other := range map[string]idempotency.Request{
		"content": request(t, "k", "/api/v1/x", map[string]string{"text": "b"}),
		"path":    request(t, "k", "/api/v1/y", map[string]string{"text": "a"}),
	} {
		var p problem.Problem
		if _, _, err := run(other, t0.Add(time.Hour)); !asProblem(err, &p) || p.Status != 422 || p.Field != idempotency.Header {
			t.Errorf("another %s: %v", name, err)
		}
	}
	// Another principal and another namespace have keys of their own.
	for _, o := range []idempotency.Request{{Namespace: "acme", Principal: "agent:ada"}, {Namespace: "globex", Principal: "agent:sam"}} {
		o.Key, o.Method, o.Path, o.Fingerprint = req.Key, req.Method, req.Path, req.Fingerprint
		if _, replayed, err := run(o, t0.Add(time.Hour)); err != nil || replayed {
			t.Errorf("%s/%s: replayed %t, %v", o.Namespace, o.Principal, replayed, err)
		}
	}
	// A failed effect rolls its key back.
	failing := request(t, "f", "/api/v1/x", 1)
	if _, _, err := idempotency.Run(ctx, st.InTx, failing, t0, 201, func(pgx.Tx) (any, error) {
		return nil, problem.New(409, "no")
	}); err == nil {
		t.Fatal("the effect's error was lost")
	}
	if _, replayed, err := run(failing, t0); err != nil || replayed {
		t.Errorf("after a failure: replayed %t, %v", replayed, err)
	}
	// After TTL the key acts as new, and a write prunes the namespace's expired keys.
	later := t0.Add(idempotency.TTL + time.Minute)
	var found *idempotency.Response
	_ = st.ReadTx(ctx, func(tx pgx.Tx) (err error) { found, err = idempotency.Lookup(ctx, tx, req, later); return err })
	if found != nil {
		t.Errorf("an expired key was found")
	}
	runs = 10
	if r, replayed, err := run(request(t, "fresh", "/api/v1/x", 2), later.Add(2*time.Hour)); err != nil || replayed || string(r.Body) != "{\"id\":11}\n" {
		t.Fatalf("fresh: %s %t %v", r.Body, replayed, err)
	}
	var keys []string
	err = st.ReadTx(ctx, func(tx pgx.Tx) (err error) {
		rows, _ := tx.Query(ctx, `SELECT namespace || '/' || principal || '/' || key FROM idempotency_keys ORDER BY 1`)
		keys, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil || strings.Join(keys, " ") != "acme/agent:sam/fresh globex/agent:sam/k" {
		t.Errorf("after pruning: %v %v (acme's expired keys must be gone, globex's kept)", keys, err)
	}
	if r, replayed, err := run(req, later); err != nil || replayed || string(r.Body) != "{\"id\":12}\n" {
		t.Errorf("the expired key again: %s %t %v", r.Body, replayed, err)
	}
}
