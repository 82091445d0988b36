package integrations

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox/conversation"
	"github.com/switchboard-dev/switchboard/runtime/inbox/kube"
	"github.com/switchboard-dev/switchboard/runtime/store"
	"github.com/switchboard-dev/switchboard/runtime/store/pgtest"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

var srv *pgtest.Server

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &srv)) }

const (
	ns     = "acme"
	number = "sales"
	// The secrets: none of them may appear in logs, the delivery log or API answers.
	hookSecret = "hook-secret-5f1c2a"
	botSecret  = "bot-secret-9d33e1"
	crmSecret  = "crm-secret-77aa10"
	crmBearer  = "crm-bearer-0b6f42"
)

// rig is a database with the migrations applied, a snapshot serving one Number, and a
// log buffer.
type rig struct {
	t     *testing.T
	store *store.Store
	snap  atomic.Pointer[kube.Snapshot]
	logs  logFile
	log   *slog.Logger
	api   *API // the API get calls (one CRM cache per rig)
}

func newRig(t *testing.T, integ *kube.Integrations) *rig {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := store.Open(ctx, srv.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	r := &rig{t: t, store: st, logs: logFile(f.Name())}
	r.log = slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r.setIntegrations(integ)
	return r
}

// logFile is where the rig's logger writes (the handler serializes writes; reading the
// file while workers log is safe).
type logFile string

func (l logFile) String() string {
	b, _ := os.ReadFile(string(l))
	return string(b)
}

func (r *rig) setIntegrations(integ *kube.Integrations) {
	snap := kube.NewSnapshot(ns, []kube.Number{{Ref: store.NumberRef{Namespace: ns, Name: number}, PhoneNumberID: "100"}})
	snap.Integrations = integ
	r.snap.Store(snap)
}

func (r *rig) snapshot() *kube.Snapshot { return r.snap.Load() }

func (r *rig) worker(mutate func(*Config)) *Worker {
	cfg := Config{Store: r.store, Inbox: store.NumberRef{Namespace: ns, Name: "support"}, Snapshot: r.snapshot,
		Log: r.log, Poll: 10 * time.Millisecond, Backoff: Backoff{Base: 5 * time.Millisecond, Max: 20 * time.Millisecond}}
	if mutate != nil {
		mutate(&cfg)
	}
	return NewWorker(cfg)
}

// receive stores an inbound text message from waID as the ingest does, and returns the
// conversation id.
func (r *rig) receive(waID, wamid, text string) int64 {
	r.t.Helper()
	ctx := context.Background()
	var id int64
	err := r.store.InTx(ctx, func(tx pgx.Tx) error {
		contact, err := conversation.UpsertContact(ctx, tx, ns, waID, "Ana")
		if err != nil {
			return err
		}
		c, err := conversation.Open(ctx, tx, store.NumberRef{Namespace: ns, Name: number}, contact)
		if err != nil {
			return err
		}
		raw, _ := json.Marshal(map[string]any{"from": waID, "id": wamid, "type": "text", "text": map[string]string{"body": text}})
		m := whatsapp.Inbound{From: waID, ID: wamid, Type: "text", Text: &whatsapp.Text{Body: text}, Raw: raw}
		if _, err := conversation.InsertInbound(ctx, tx, c, m, time.Now()); err != nil {
			return err
		}
		id = c.ID
		return conversation.Touch(ctx, tx, &c, time.Now())
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return id
}

func (r *rig) exec(sql string, args ...any) {
	r.t.Helper()
	if err := r.store.InTx(context.Background(), func(tx pgx.Tx) error {
		_, err := tx.Exec(context.Background(), sql, args...)
		return err
	}); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) query(sql string, args ...any) []map[string]any {
	r.t.Helper()
	var out []map[string]any
	if err := r.store.ReadTx(context.Background(), func(tx pgx.Tx) error {
		rows, err := tx.Query(context.Background(), sql, args...)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, pgx.RowToMap)
		return err
	}); err != nil {
		r.t.Fatal(err)
	}
	return out
}

// until runs the worker's passes until cond holds (generous bound: 20 s).
func (r *rig) until(w *Worker, what string, cond func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			r.t.Fatalf("gave up waiting for %s; logs:\n%s", what, r.logs.String())
		}
		if w != nil {
			if _, err := w.Once(context.Background()); err != nil {
				r.t.Fatal(err)
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// assertNoSecrets fails when a secret appears in the logs, the delivery tables or s.
func (r *rig) assertNoSecrets(more ...string) {
	r.t.Helper()
	dump := r.logs.String() + fmt.Sprint(r.query(`SELECT * FROM integration_deliveries`)) +
		fmt.Sprint(r.query(`SELECT * FROM integration_attempts`)) + fmt.Sprint(r.query(`SELECT * FROM audit_log`)) +
		strings.Join(more, "")
	for _, s := range []string{hookSecret, botSecret, crmSecret, crmBearer} {
		if strings.Contains(dump, s) {
			r.t.Errorf("the secret %q appears in logs, the delivery log or an answer", s)
		}
	}
}

// receiver is the user's service: it verifies each request's signature and answers
// with next(n) for the n-th request (from 1).
type receiver struct {
	t      *testing.T
	secret []byte
	mu     sync.Mutex
	reqs   []received
	next   func(n int, w http.ResponseWriter, r *http.Request)
	srv    *httptest.Server
}

type received struct {
	delivery, event string
	body            []byte
	verified        error
}

func newReceiver(t *testing.T, secret string, next func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	rc := &receiver{t: t, secret: []byte(secret), next: next}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body := make([]byte, 0, 1024)
	buf := bytes.Buffer{}
	_, _ = buf.ReadFrom(r.Body)
	body = append(body, buf.Bytes()...)
	signed := body
	if r.Method == http.MethodGet {
		signed = []byte(r.URL.RequestURI())
	}
	err := Verify(rc.secret, r.Header.Get(TimestampHeader), r.Header.Get(SignatureHeader), signed, time.Now(), DefaultTolerance)
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, received{delivery: r.Header.Get(DeliveryHeader), event: r.Header.Get(EventHeader), body: body, verified: err})
	n := len(rc.reqs)
	rc.mu.Unlock()
	if rc.next != nil {
		rc.next(n, w, r)
	}
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.reqs...)
}
