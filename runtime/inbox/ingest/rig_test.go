package ingest_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchboard-dev/switchboard/runtime/inbox/ingest"
	"github.com/switchboard-dev/switchboard/runtime/inbox/kube"
	"github.com/switchboard-dev/switchboard/runtime/store"
	"github.com/switchboard-dev/switchboard/runtime/store/pgtest"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

var srv *pgtest.Server

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &srv)) }

// Two served Numbers of one WABA, as in Meta's examples (A has the examples' ids).
var (
	numA = kube.Number{Ref: store.NumberRef{Namespace: "acme", Name: "sales-es"}, PhoneNumberID: "106540352242922",
		WABAID: "102290129340398", DisplayDigits: "15550783881", AppSecret: "secret-a", VerifyToken: "verify-a"}
	numB = kube.Number{Ref: store.NumberRef{Namespace: "acme", Name: "support"}, PhoneNumberID: "106540352242933",
		WABAID: "102290129340398", DisplayDigits: "15550783882", AppSecret: "secret-b", VerifyToken: "verify-b"}
)

// rig is an ingest handler on a fresh database, served on a free loopback port.
type rig struct {
	t         *testing.T
	st        *store.Store
	dsn       string
	db        *pgx.Conn
	metrics   *ingest.Metrics
	url       string
	snap      atomic.Pointer[kube.Snapshot]
	rules     atomic.Value // ingest.Rules
	mu        sync.Mutex
	refreshed []string
	committed atomic.Int64 // calls of Config.Committed
}

func ctxOf(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{t: t, dsn: srv.NewDatabase(t), metrics: ingest.NewMetrics(prometheus.NewRegistry())}
	st, err := store.Open(ctxOf(t), r.dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	r.st = st
	if r.db, err = pgx.Connect(ctxOf(t), r.dsn); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.db.Close(context.Background()) })
	r.snap.Store(kube.NewSnapshot("acme", []kube.Number{numA, numB}))
	r.rules.Store(ingest.Rules(ingest.NoRules{}))
	mux := http.NewServeMux()
	r.handler().Register(mux)
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	r.url = hs.URL + ingest.Path
	return r
}

func (r *rig) handler() *ingest.Handler {
	return ingest.New(ingest.Config{Store: r.st, Snapshot: r.snap.Load, Metrics: r.metrics,
		Rules:   func() ingest.Rules { return r.rules.Load().(ingest.Rules) },
		Refresh: r.refresh, Log: slog.New(slog.DiscardHandler), Timeout: 10 * time.Second,
		Committed: func() { r.committed.Add(1) }})
}

func (r *rig) refresh(_ context.Context, numbers []kube.Number) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range numbers {
		r.refreshed = append(r.refreshed, n.Ref.Name)
	}
	return nil
}

// post sends body with the signature header sig ("" for none) and returns the status.
func (r *rig) post(body []byte, sig string) int {
	r.t.Helper()
	req, _ := http.NewRequestWithContext(ctxOf(r.t), http.MethodPost, r.url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if sig != "" {
		req.Header.Set(whatsapp.SignatureHeader, sig)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// postSigned sends body signed with secret and fails the test unless the answer is want.
func (r *rig) postSigned(body []byte, secret string, want int) {
	r.t.Helper()
	if got := r.post(body, whatsapp.Sign(secret, body)); got != want {
		r.t.Fatalf("POST answered %d, want %d", got, want)
	}
}

func (r *rig) count(sql string, args ...any) int {
	r.t.Helper()
	var n int
	if err := r.db.QueryRow(ctxOf(r.t), sql, args...).Scan(&n); err != nil {
		r.t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// stored counts the rows of every inbox table.
func (r *rig) stored() int {
	return r.count(`SELECT (SELECT count(*) FROM contacts) + (SELECT count(*) FROM conversations) +
		(SELECT count(*) FROM messages) + (SELECT count(*) FROM message_statuses) + (SELECT count(*) FROM webhook_events)`)
}

func counter(c prometheus.Collector) float64 { return testutil.ToFloat64(c) }

// textBody is a "messages" webhook with one text message per wamid, from one customer
// to num.
func textBody(num kube.Number, from, text string, wamids ...string) []byte {
	msgs := ""
	for i, id := range wamids {
		if i > 0 {
			msgs += ","
		}
		msgs += fmt.Sprintf(`{"from":%q,"id":%q,"timestamp":"%d","type":"text","text":{"body":%q}}`,
			from, id, 1750000000+i, text)
	}
	return []byte(fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":%q,"changes":[{"field":"messages","value":{
		"messaging_product":"whatsapp","metadata":{"display_phone_number":%q,"phone_number_id":%q},
		"contacts":[{"profile":{"name":"Ana"},"wa_id":%q}],"messages":[%s]}}]}]}`,
		num.WABAID, num.DisplayDigits, num.PhoneNumberID, from, msgs))
}

// statusBody is a "messages" webhook with one status.
func statusBody(num kube.Number, wamid, status string, ts int64, errJSON string) []byte {
	errs := ""
	if errJSON != "" {
		errs = `,"errors":[` + errJSON + `]`
	}
	return []byte(fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":%q,"changes":[{"field":"messages","value":{
		"messaging_product":"whatsapp","metadata":{"display_phone_number":%q,"phone_number_id":%q},
		"statuses":[{"id":%q,"status":%q,"timestamp":"%d","recipient_id":"34600000001"%s}]}}]}]}`,
		num.WABAID, num.DisplayDigits, num.PhoneNumberID, wamid, status, ts, errs))
}
