package simulator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/runtime/simulator"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

func call(t *testing.T, method, url, body string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && json.Unmarshal(raw, out) != nil {
		t.Fatalf("%s %s: not JSON: %s", method, url, raw)
	}
	return resp.StatusCode
}

func TestControlAPI(t *testing.T) {
	e := newEnv(t, simulator.Config{}, simulator.Number{})
	base := e.srv.URL + "/_sim"
	var n simulator.Number
	if code := call(t, "PUT", base+"/numbers/200", `{"displayPhoneNumber":"+34 600 000 001","accessToken":"t2","tier":"TIER_10K","coexistence":true}`, &n); code != 200 {
		t.Fatalf("PUT: %d", code)
	}
	if n.ID != "200" || n.AccessToken != "<set>" || n.Quality != "GREEN" || n.Tier != "TIER_10K" {
		t.Fatalf("PUT answer %+v", n)
	}
	if code := call(t, "PATCH", base+"/numbers/200", `{"quality":"YELLOW","throughput":"HIGH"}`, &n); code != 200 || n.Quality != "YELLOW" || !n.Coexistence {
		t.Fatalf("PATCH: %d %+v", code, n)
	}
	var errBody map[string]string
	if code := call(t, "PATCH", base+"/numbers/200", `{"colour":"red"}`, &errBody); code != 400 || errBody["error"] == "" {
		t.Fatalf("unknown field: %d %v", code, errBody)
	}
	if code := call(t, "PUT", base+"/numbers/abc", `{"displayPhoneNumber":"1"}`, &errBody); code != 400 {
		t.Fatalf("bad id accepted: %d", code)
	}
	if code := call(t, "GET", base+"/numbers/404", "", &errBody); code != 404 {
		t.Fatalf("GET unknown: %d", code)
	}
	var list []simulator.Number
	if call(t, "GET", base+"/numbers", "", &list); len(list) != 2 || list[0].ID != pnid || list[0].AppSecret != "<set>" {
		t.Fatalf("list %+v", list)
	}
	events := `[{"number":"` + pnid + `","traffic":{"rate":5,"users":3,"duration":"2s"}},
	            {"number":"` + pnid + `","after":"1m","quality":{"rating":"RED"}}]`
	if code := call(t, "POST", base+"/events", events, nil); code != 200 {
		t.Fatalf("events: %d", code)
	}
	e.sim.RunDue()
	e.advance(time.Second)
	var c simulator.Counters
	call(t, "GET", base+"/counters", "", &c)
	if c.Inbound != 10 || c.Numbers[pnid].Inbound != 10 || c.Webhooks.Delivered != 10 {
		t.Fatalf("counters after traffic %+v", c)
	}
	if got, _ := e.sim.Number(pnid); got.Quality != "GREEN" {
		t.Fatal("quality changed before its offset")
	}
	e.advance(time.Minute)
	if got, _ := e.sim.Number(pnid); got.Quality != "RED" {
		t.Fatal("quality did not change at its offset")
	}
	if code := call(t, "POST", base+"/events", `{"number":"`+pnid+`"}`, &errBody); code != 400 {
		t.Fatalf("event without action: %d", code)
	}
	bound := `{"number":"` + pnid + `","traffic":{"rate":1000,"users":1,"duration":"1h"}}`
	if code := call(t, "POST", base+"/events", bound, &errBody); code != 400 || !strings.Contains(errBody["error"], "bound") {
		t.Fatalf("unbounded traffic accepted: %d %v", code, errBody)
	}
}

// TestTrafficUsersAreDistinctAndSeeded: M users in turn, same seed → same IDs.
func TestTrafficUsersAreDistinctAndSeeded(t *testing.T) {
	users := func(seed int64) map[string]int {
		e := newEnv(t, simulator.Config{Seed: seed}, simulator.Number{})
		if err := e.sim.Schedule(simulator.Event{Number: pnid, Traffic: &simulator.Traffic{Rate: 6, Users: 3,
			Duration: simulator.Duration(time.Second)}}); err != nil {
			t.Fatal(err)
		}
		e.sim.RunDue()
		e.idle()
		bodies, _ := e.sink.received()
		out := map[string]int{}
		for _, v := range decodeValues(t, bodies) {
			out[v.Messages[0].From]++
		}
		return out
	}
	a, b, c := users(1), users(1), users(2)
	if len(a) != 3 || a[firstKey(a)] != 2 {
		t.Fatalf("want 3 users × 2 messages, got %v", a)
	}
	if !sameKeys(a, b) || sameKeys(a, c) {
		t.Fatalf("seeding: %v %v %v", a, b, c)
	}
}

func firstKey(m map[string]int) string {
	for k := range m {
		return k
	}
	return ""
}

func sameKeys(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			return false
		}
	}
	return true
}

// TestDeterministicIDs: the same seed and the same calls give the same wamids.
func TestDeterministicIDs(t *testing.T) {
	run := func(seed int64) []string {
		e := newEnv(t, simulator.Config{Seed: seed}, simulator.Number{})
		var ids []string
		ids = append(ids, e.inject(user))
		for i := 0; i < 3; i++ {
			res, err := e.send(whatsapp.TextMessage(user, "x"))
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, res.WAMID())
		}
		return ids
	}
	a, b, c := run(42), run(42), run(43)
	if strings.Join(a, ",") != strings.Join(b, ",") || strings.Join(a, ",") == strings.Join(c, ",") {
		t.Fatalf("wamids not seeded: %v %v %v", a, b, c)
	}
}

func TestScenarioFile(t *testing.T) {
	sc, err := simulator.LoadScenario("testdata/scenario.yaml")
	if err != nil {
		t.Fatal(err)
	}
	clock := simulator.NewFakeClock(t0)
	cfg := simulator.Config{Clock: clock}
	sc.Apply(&cfg)
	if cfg.Seed != 7 || cfg.ThrottleHTTPStatus != 429 || cfg.Webhooks.BaseDelay != 10*time.Millisecond || cfg.Webhooks.BatchWindow != 250*time.Millisecond ||
		len(cfg.Numbers) != 1 || cfg.Numbers[0].VerifyToken != "dev-verify-token" || len(cfg.Events) != 3 || cfg.Statuses.ReadAfter != 2*time.Second {
		t.Fatalf("scenario not applied: %+v", cfg)
	}
	cfg.Numbers[0].WebhookURL = "" // no receiver in this test
	sim, err := simulator.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	for _, step := range []time.Duration{5 * time.Second, time.Second, 14 * time.Second, 10 * time.Second} {
		clock.Advance(step)
		sim.RunDue()
	}
	n, _ := sim.Number("106540352242922")
	if c := sim.Counters(); c.Inbound != 6 || n.Quality != "RED" || !n.Restricted || n.Status != "RESTRICTED" {
		t.Fatalf("after the scenario: inbound %d, number %+v", c.Inbound, n)
	}
	js, err := simulator.ParseScenario([]byte(`{"seed":3,"numbers":[{"id":"1","displayPhoneNumber":"+1 555"}],
		"events":[{"after":"1m","number":"1","quality":{"rating":"RED"}}]}`))
	if err != nil || *js.Seed != 3 || len(js.Events) != 1 || js.Events[0].After.D() != time.Minute {
		t.Fatalf("JSON scenario: %+v %v", js, err)
	}
	if _, err := simulator.ParseScenario([]byte("numbers: []\nfrobnicate: 1\n")); err == nil {
		t.Fatal("unknown scenario field accepted")
	}
}

// syncBuffer is a goroutine-safe io.Writer.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestMainServesUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &syncBuffer{}
	errc := make(chan error, 1)
	go func() {
		errc <- simulator.Main(ctx, []string{"--listen", "127.0.0.1:0", "--scenario", "testdata/scenario.yaml",
			"--seed", "9", "--throttle-status", "400"}, out)
	}()
	addr := ""
	for i := 0; i < 500 && addr == ""; i++ { // bounded: at most ~5 s
		if s := out.String(); strings.Contains(s, "http://") {
			addr = strings.Fields(s[strings.Index(s, "http://"):])[0]
			break
		}
		select {
		case err := <-errc:
			t.Fatalf("Main returned early: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	if addr == "" {
		t.Fatal("Main printed no address")
	}
	var numbers []simulator.Number
	if code := call(t, "GET", addr+"/_sim/numbers", "", &numbers); code != 200 || len(numbers) != 1 {
		t.Fatalf("control API through Main: %d %+v", code, numbers)
	}
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Main did not stop")
	}
}

func TestMainFlagErrors(t *testing.T) {
	var out bytes.Buffer
	if err := simulator.Main(context.Background(), []string{"--help"}, &out); err != nil || !strings.Contains(out.String(), "-listen") {
		t.Fatalf("--help: %v %s", err, out.String())
	}
	if err := simulator.Main(context.Background(), []string{"--bogus"}, &out); err == nil {
		t.Fatal("unknown flag accepted")
	}
	if err := simulator.Main(context.Background(), []string{"--scenario", "testdata/missing.yaml"}, &out); err == nil {
		t.Fatal("missing scenario accepted")
	}
	if err := simulator.Main(context.Background(), []string{"--throttle-status", "500", "--listen", "127.0.0.1:0"}, &out); err == nil {
		t.Fatal("bad throttle status accepted")
	}
}

// TestRunOnLoopback covers Run with a real listener and the real clock.
func TestRunOnLoopback(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := simulator.Run(ctx, "127.0.0.1:0", simulator.Config{}); err != nil {
		t.Fatalf("Run with a done context: %v", err)
	}
	hooks := httptest.NewServer(newSink(appSecret))
	defer hooks.Close()
	sim, err := simulator.New(simulator.Config{Numbers: []simulator.Number{{ID: pnid, DisplayPhoneNumber: display,
		AppSecret: appSecret, WebhookURL: hooks.URL}}, Statuses: simulator.StatusConfig{SentAfter: time.Millisecond,
		DeliveredAfter: -1, ReadAfter: -1}})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	srv := httptest.NewServer(sim)
	defer srv.Close()
	c, _ := whatsapp.New(whatsapp.Options{BaseURL: srv.URL, AccessToken: "any"})
	if _, err := c.Send(context.Background(), pnid, template(user)); err != nil {
		t.Fatal(err)
	}
	waitCtx, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	for sim.Counters().Webhooks.Delivered < 1 { // bounded by waitCtx
		select {
		case <-waitCtx.Done():
			t.Fatal("the sent status never arrived with the real clock")
		case <-time.After(5 * time.Millisecond):
		}
	}
}
