package simulator_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/runtime/simulator"
	"github.com/switchboard-dev/switchboard/runtime/simulator/spectest"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

const (
	pnid      = "106540352242922"
	display   = "+1 555-078-3881"
	token     = "EAAJB-test-token"
	appSecret = "app-secret-1"
	user      = "16505551234"
)

var t0 = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

// loadSpec loads Meta's OpenAPI description once; a missing file fails the test.
func loadSpec(t *testing.T) *spectest.Spec {
	return spectest.Meta(t)
}

// env is a simulator on a loopback httptest server with a fake clock and a
// webhook sink.
type env struct {
	t      *testing.T
	sim    *simulator.Server
	srv    *httptest.Server
	clock  *simulator.FakeClock
	sink   *sink
	tap    *tap
	client *whatsapp.Client
}

// newEnv starts a simulator with one number whose webhooks go to a sink.
func newEnv(t *testing.T, cfg simulator.Config, number simulator.Number) *env {
	t.Helper()
	e := &env{t: t, clock: simulator.NewFakeClock(t0), sink: newSink(appSecret)}
	hooks := httptest.NewServer(e.sink)
	t.Cleanup(hooks.Close)
	cfg.Clock = e.clock
	if number.ID == "" {
		number = simulator.Number{ID: pnid, DisplayPhoneNumber: display, AccessToken: token, AppSecret: appSecret}
	}
	if number.WebhookURL == "" {
		number.WebhookURL = hooks.URL + "/webhooks/whatsapp"
	}
	cfg.Numbers = append([]simulator.Number{number}, cfg.Numbers...)
	sim, err := simulator.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	e.sim, e.tap = sim, &tap{next: sim}
	e.srv = httptest.NewServer(e.tap)
	t.Cleanup(e.srv.Close)
	e.client = e.newClient(token)
	return e
}

func (e *env) newClient(tok string) *whatsapp.Client {
	c, err := whatsapp.New(whatsapp.Options{BaseURL: e.srv.URL, AccessToken: tok})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *env) send(m whatsapp.Message) (whatsapp.SendResult, error) {
	return e.client.Send(context.Background(), pnid, m)
}

// inject opens the service window for `from` with an inbound text.
func (e *env) inject(from string) string {
	e.t.Helper()
	id, err := e.sim.Inject(pnid, simulator.Inbound{From: from, Text: "hola"})
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}

// advance moves the fake clock, runs what became due and lets webhooks drain.
func (e *env) advance(d time.Duration) {
	e.t.Helper()
	e.clock.Advance(d)
	e.sim.RunDue()
	e.idle()
}

func (e *env) idle() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.sim.WaitIdle(ctx); err != nil {
		e.t.Fatalf("webhooks did not drain: %v", err)
	}
}

// sink is a webhook receiver that records signed bodies and can fail the
// first attempts.
type sink struct {
	secret    string
	mu        sync.Mutex
	failFirst int
	calls     int
	bodies    [][]byte
	sigs      []string
}

func newSink(secret string) *sink { return &sink{secret: secret} }

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.calls <= s.failFirst {
		http.Error(w, "try again", http.StatusInternalServerError)
		return
	}
	s.bodies = append(s.bodies, body)
	s.sigs = append(s.sigs, r.Header.Get(whatsapp.SignatureHeader))
	w.WriteHeader(http.StatusOK)
}

// received returns copies of the bodies and signatures accepted so far.
func (s *sink) received() ([][]byte, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.bodies...), append([]string(nil), s.sigs...)
}

func (s *sink) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bodies, s.sigs, s.calls = nil, nil, 0
}

// tap records the simulator's Graph requests and responses.
type tap struct {
	next http.Handler
	mu   sync.Mutex
	log  []exchange
}

type exchange struct {
	method, path string
	req, resp    []byte
	status       int
}

type teeWriter struct {
	http.ResponseWriter
	status int
	buf    bytes.Buffer
}

func (w *teeWriter) WriteHeader(code int) { w.status = code; w.ResponseWriter.WriteHeader(code) }
func (w *teeWriter) Write(b []byte) (int, error) {
	w.buf.Write(b)
	return w.ResponseWriter.Write(b)
}

func (tp *tap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	tw := &teeWriter{ResponseWriter: w, status: 200}
	tp.next.ServeHTTP(tw, r)
	tp.mu.Lock()
	tp.log = append(tp.log, exchange{r.Method, r.URL.Path, body, tw.buf.Bytes(), tw.status})
	tp.mu.Unlock()
}

func (tp *tap) last(t *testing.T) exchange {
	t.Helper()
	tp.mu.Lock()
	defer tp.mu.Unlock()
	if len(tp.log) == 0 {
		t.Fatal("no request seen")
	}
	return tp.log[len(tp.log)-1]
}

// postRaw sends a raw JSON body to the messages endpoint.
func (e *env) postRaw(path, tok, body string) (int, []byte) {
	e.t.Helper()
	return e.request(http.MethodPost, path, tok, body)
}

func (e *env) get(path, tok string) (int, []byte) {
	e.t.Helper()
	return e.request(http.MethodGet, path, tok, "")
}

// request calls the simulator's Graph API with an optional bearer token and JSON body.
func (e *env) request(method, path, tok, body string) (int, []byte) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, bytes.NewBufferString(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func wantClass(t *testing.T, err error, code int, class whatsapp.Class) *whatsapp.Error {
	t.Helper()
	e, ok := whatsapp.AsError(err)
	if !ok {
		t.Fatalf("want *whatsapp.Error code %d, got %v", code, err)
	}
	if e.Code != code || e.Class != class || whatsapp.ClassOf(err) != class {
		t.Fatalf("got code %d class %s; want %d %s (%v)", e.Code, e.Class, code, class, err)
	}
	return e
}
