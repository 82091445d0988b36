package inbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/runtime/inbox"
	"github.com/switchboard-dev/switchboard/runtime/inbox/ingest"
	"github.com/switchboard-dev/switchboard/runtime/inbox/kube"
	"github.com/switchboard-dev/switchboard/runtime/inbox/openapi/openapitest"
	"github.com/switchboard-dev/switchboard/runtime/simulator"
	"github.com/switchboard-dev/switchboard/runtime/store"
	"github.com/switchboard-dev/switchboard/runtime/store/pgtest"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

var srv *pgtest.Server

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(childMain())
	}
	os.Exit(pgtest.Main(m, &srv))
}

var numA = kube.Number{Ref: store.NumberRef{Namespace: "acme", Name: "sales-es"}, PhoneNumberID: "106540352242922",
	WABAID: "102290129340398", DisplayDigits: "15550783881", AppSecret: "secret-a", VerifyToken: "verify-a"}

const token = "s3cret-token"

func served(numbers ...kube.Number) *kube.Snapshot { return kube.NewSnapshot("acme", numbers) }

// server is one in-process inbox.
type server struct {
	traffic, probes string
	snap            atomic.Pointer[kube.Snapshot]
	done            chan error
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// startServer serves snap (nil: not loaded yet) on free ports; opts change the options.
func startServer(t *testing.T, dsn string, snap *kube.Snapshot, opts ...func(*inbox.Options)) *server {
	t.Helper()
	s := &server{done: make(chan error, 1)}
	if snap != nil {
		s.snap.Store(snap)
	}
	tr, pr := listen(t), listen(t)
	s.traffic, s.probes = "http://"+tr.Addr().String(), "http://"+pr.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	o := inbox.Options{Namespace: "acme", DSN: dsn, Snapshot: s.snap.Load, Traffic: tr, Probes: pr,
		APIToken: token, RequestTimeout: 10 * time.Second, MaxAutoRepliesPerHour: 5, Log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	go func() { s.done <- inbox.Serve(ctx, o) }()
	t.Cleanup(func() {
		cancel()
		if err := <-s.done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return s
}

func get(t *testing.T, url, bearer string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := openapitest.Client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func waitStatus(t *testing.T, url string, want int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		if resp, err := http.Get(url); err == nil { // refused while the process starts
			_ = resp.Body.Close()
			if resp.StatusCode == want {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never answered %d", url, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestReadinessNeedsSnapshotAndDatabase(t *testing.T) {
	s := startServer(t, srv.NewDatabase(t), nil)
	waitStatus(t, s.probes+"/healthz", 200)
	waitStatus(t, s.probes+"/readyz", 503)
	s.snap.Store(kube.NewSnapshot("acme", []kube.Number{numA}))
	waitStatus(t, s.probes+"/readyz", 200)
	if _, body := get(t, s.probes+"/metrics", ""); !strings.Contains(body, "switchboard_inbox_ingest_seconds") {
		t.Fatal("no switchboard_inbox_ metrics on /metrics")
	}
}

// End to end: the simulator delivers signed webhooks of several types; the read API
// returns the conversation and its messages with their whole content.
func TestWebhooksToReadAPI(t *testing.T) {
	s := startServer(t, srv.NewDatabase(t), served(numA))
	waitStatus(t, s.probes+"/readyz", 200)
	sim := newSimulator(t, s)
	for _, in := range []simulator.Inbound{{From: "34600000001", Name: "Ana", Text: "¿cuánto cuesta?"},
		{From: "34600000001", Name: "Ana", Type: "image", Text: "mi foto"}, {From: "34600000001", Name: "Ana", Type: "list_reply", ID: "r1", Title: "Rojo"}} {
		if _, err := sim.Inject(numA.PhoneNumberID, in); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := sim.WaitIdle(ctx); err != nil || sim.Counters().Webhooks.Delivered != 3 {
		t.Fatalf("webhooks: %+v (%v)", sim.Counters().Webhooks, err)
	}
	var convs struct {
		Items []struct {
			ID          int64
			WAID        string `json:"waId"`
			ProfileName string
			Status      string
		}
	}
	getJSON(t, s.traffic+"/api/v1/conversations?limit=10", &convs)
	if len(convs.Items) != 1 || convs.Items[0].WAID != "34600000001" || convs.Items[0].ProfileName != "Ana" || convs.Items[0].Status != "open" {
		t.Fatalf("conversations: %+v", convs)
	}
	var msgs struct {
		Items []struct {
			Type, Text string
			Content    whatsapp.Inbound
		}
	}
	// The three webhooks may arrive in any order (the simulator delivers them in parallel,
	// and Meta's timestamps have one-second resolution): check by type.
	getJSON(t, fmt.Sprintf("%s/api/v1/conversations/%d/messages?limit=2", s.traffic, convs.Items[0].ID), &msgs)
	if len(msgs.Items) != 2 {
		t.Fatalf("limit=2 returned %d messages", len(msgs.Items))
	}
	getJSON(t, fmt.Sprintf("%s/api/v1/conversations/%d/messages", s.traffic, convs.Items[0].ID), &msgs)
	byType := map[string]whatsapp.Inbound{}
	for _, m := range msgs.Items {
		byType[m.Type] = m.Content
	}
	// Body() reads the text, the caption and the tapped title from the whole content.
	if len(msgs.Items) != 3 || byType["text"].Body() != "¿cuánto cuesta?" || byType["image"].Body() != "mi foto" ||
		byType["interactive"].Body() != "Rojo" || byType["interactive"].Interactive == nil {
		t.Fatalf("messages: %d, types %d", len(msgs.Items), len(byType))
	}

	// The exports are served, to the read token (an auditor: it may export, not import).
	code, body := get(t, s.traffic+"/api/v1/export/conversations?format=jsonl", token)
	if code != 200 || strings.Count(body, "\n") != 1 || strings.Count(body, `"direction":"in","wamid"`) != 3 ||
		strings.Count(body, `"media":{"id":`) != 1 {
		t.Errorf("export: %d %s", code, body)
	}
	req, _ := http.NewRequest(http.MethodPost, s.traffic+"/api/v1/contacts/import?format=csv", strings.NewReader("phone\n+34611111111\n"))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := openapitest.Client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("import with the read token: %d, want 403", resp.StatusCode)
	}
}

// newSimulator starts Meta's stand-in with numA's webhooks pointed at s.
func newSimulator(t *testing.T, s *server) *simulator.Server {
	t.Helper()
	sim, err := simulator.New(simulator.Config{Seed: 3, Numbers: []simulator.Number{{ID: numA.PhoneNumberID,
		DisplayPhoneNumber: "+1 555 078 3881", BusinessAccountID: numA.WABAID, AppSecret: numA.AppSecret,
		WebhookURL: s.traffic + ingest.Path}}, Webhooks: simulator.WebhookConfig{BaseDelay: 20 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	return sim
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	code, body := get(t, url, token)
	if code != 200 {
		t.Fatalf("GET %s: %d %s", url, code, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatal(err)
	}
}

func TestReadAPIRefusals(t *testing.T) {
	s := startServer(t, srv.NewDatabase(t), served(numA))
	waitStatus(t, s.probes+"/readyz", 200)
	for _, c := range []struct {
		path, bearer string
		want         int
		says         string
	}{
		{"/api/v1/conversations", "", 401, "Bearer token"},
		{"/api/v1/conversations", "wrong", 401, "bearer token"},
		{"/api/v1/conversations?limit=0", token, 400, "limit"},
		{"/api/v1/conversations?limit=abc", token, 400, "limit"},
		{"/api/v1/conversations/x/messages", token, 400, `"field":"id"`},
		{"/api/v1/conversations/999/messages", token, 404, "no such conversation"},
		{"/api/v1/conversations", token, 200, `"items":[]`},
	} {
		code, body := get(t, s.traffic+c.path, c.bearer)
		if code != c.want || !strings.Contains(body, c.says) {
			t.Errorf("%s (bearer %q): %d %s", c.path, c.bearer, code, body)
		}
	}
}
