package campaigns_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox/conversation"
	"github.com/switchboard-dev/switchboard/runtime/simulator"
	"github.com/switchboard-dev/switchboard/runtime/store"
	"github.com/switchboard-dev/switchboard/runtime/store/pgtest"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// The campaign tests run the real parts: PostgreSQL (pgtest), the Cloud API simulator
// on loopback, and the real sender draining the outbox under its pacer.

var pg *pgtest.Server

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &pg)) }

const (
	ns    = "acme"
	pnid  = "106540352242922"
	waba  = "102290129340398"
	token = "campaign-test-token"
)

var number = store.NumberRef{Namespace: ns, Name: "sales-es"}

// clock is the sender's clock: real time plus an offset the test moves forward. It
// starts an hour behind, so that rows the sender puts back for later are due in the
// database's eyes (Claim compares with now()) and the pacer alone decides.
type clock struct{ offset atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.offset.Store(int64(-time.Hour))
	return c
}

func (c *clock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// sends counts the messages the simulator accepted or refused, per recipient.
type sends struct {
	next     http.Handler
	mu       sync.Mutex
	accepted map[string]int
}

func (s *sends) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &status{ResponseWriter: w, code: 200}
	var body struct {
		To string `json:"to"`
	}
	if r.Method == http.MethodPost {
		raw, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(raw, &body)
		r.Body = io.NopCloser(bytes.NewReader(raw))
	}
	s.next.ServeHTTP(rec, r)
	if body.To != "" && rec.code == 200 {
		s.mu.Lock()
		s.accepted[body.To]++
		s.mu.Unlock()
	}
}

type status struct {
	http.ResponseWriter
	code int
}

func (s *status) WriteHeader(code int) { s.code = code; s.ResponseWriter.WriteHeader(code) }

// env is one test's database, simulator (with a webhook receiver that records statuses
// the way the inbox does) and API client.
type env struct {
	t     *testing.T
	st    *store.Store
	sim   *simulator.Server
	sends *sends
	url   string
}

func newEnv(t *testing.T, cfg simulator.Config) *env {
	t.Helper()
	e := &env{t: t}
	var err error
	if e.st, err = store.Open(t.Context(), pg.NewDatabase(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.st.Close)
	hooks := httptest.NewServer(http.HandlerFunc(e.webhook))
	t.Cleanup(hooks.Close)
	cfg.Numbers = []simulator.Number{{ID: pnid, DisplayPhoneNumber: "+34 600 000 000", BusinessAccountID: waba,
		AccessToken: token, Tier: "TIER_10K", Throughput: "HIGH", WebhookURL: hooks.URL}}
	cfg.Templates = append(cfg.Templates,
		simulator.Template{Name: "promo", Language: "es", Components: []simulator.TemplateComponent{
			{Type: "BODY", Text: "Hola {{1}}, tu código {{2}} te da un 20 % de descuento."}}},
		simulator.Template{Name: "hello_world", Language: "en_US"})
	if e.sim, err = simulator.New(cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.sim.Close)
	e.sends = &sends{next: e.sim, accepted: map[string]int{}}
	srv := httptest.NewServer(e.sends)
	t.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

// webhook records the statuses of a webhook as the inbox's ingest does.
func (e *env) webhook(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	n, err := whatsapp.DecodeNotification(body)
	if err != nil {
		e.t.Logf("webhook: %v", err)
		w.WriteHeader(http.StatusOK)
		return
	}
	for _, entry := range n.Entry {
		for _, ch := range entry.Changes {
			v, err := ch.DecodeMessages()
			if err != nil {
				e.t.Logf("webhook: %v", err)
				continue
			}
			for _, s := range v.Statuses {
				if err := e.st.InTx(context.Background(), func(tx pgx.Tx) error {
					_, err := conversation.RecordStatus(context.Background(), tx, ns, s, time.Now())
					return err
				}); err != nil {
					e.t.Logf("webhook: %v", err)
				}
			}
		}
	}
	w.WriteHeader(http.StatusOK)
}

func (e *env) client() *whatsapp.Client {
	c, err := whatsapp.New(whatsapp.Options{BaseURL: e.url, AccessToken: token})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *env) exec(sql string, args ...any) {
	e.t.Helper()
	if err := e.st.InTx(e.t.Context(), func(tx pgx.Tx) error {
		_, err := tx.Exec(e.t.Context(), sql, args...)
		return err
	}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) count(sql string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.st.ReadTx(e.t.Context(), func(tx pgx.Tx) error {
		return tx.QueryRow(e.t.Context(), sql, args...).Scan(&n)
	}); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// waitFor polls cond every 20 ms for at most d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
