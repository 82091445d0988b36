package simulator_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/runtime/simulator"
)

const pnid2 = "106540352242923"

// loadEnv is an env with a second number whose webhooks go to the same sink.
func loadEnv(t *testing.T) *env {
	e := newEnv(t, simulator.Config{}, simulator.Number{})
	first, _ := e.sim.Number(pnid)
	if err := e.sim.PutNumber(simulator.Number{ID: pnid2, DisplayPhoneNumber: "+34 600 000 000",
		AppSecret: appSecret, WebhookURL: first.WebhookURL}); err != nil {
		t.Fatal(err)
	}
	return e
}

// TestLoad: N customers across M numbers at R messages/s for a duration, a
// share of them with keywords, paced by the clock.
func TestLoad(t *testing.T) {
	e := loadEnv(t)
	run, err := e.sim.StartLoad(simulator.Load{Customers: 10, Rate: 100, Duration: simulator.Duration(time.Second),
		Keywords: []string{"precio", "price"}, KeywordShare: 0.25, Text: "hola"})
	if err != nil {
		t.Fatal(err)
	}
	e.advance(0)
	e.advance(500 * time.Millisecond)
	if st := run.Status(); st.Sent != 51 || st.Done {
		t.Fatalf("after 0.5 s at 100/s: %+v, want 51 sent", st)
	}
	for i := 0; i < 6; i++ {
		e.advance(100 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := run.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if st := run.Status(); st.Sent != 100 || st.WithKeyword != 25 || st.Messages != 100 || !st.Done {
		t.Fatalf("status %+v", st)
	}
	wantInbound(t, e, 10, map[string]int{pnid: 50, pnid2: 50}, map[string]int{"hola precio": 13, "hola price": 12, "hola": 75})
}

// wantInbound checks the inbound webhooks: distinct senders, messages per
// number and per text.
func wantInbound(t *testing.T, e *env, customers int, perNumber, perText map[string]int) {
	t.Helper()
	bodies, _ := e.sink.received()
	from, numbers, texts := map[string]bool{}, map[string]int{}, map[string]int{}
	for _, v := range decodeValues(t, bodies) {
		for _, m := range v.Messages {
			from[m.From] = true
			numbers[v.Metadata.PhoneNumberID]++
			texts[m.Text.Body]++
		}
	}
	if len(from) != customers || fmt.Sprint(numbers) != fmt.Sprint(perNumber) || fmt.Sprint(texts) != fmt.Sprint(perText) {
		t.Fatalf("%d customers, per number %v, per text %v", len(from), numbers, texts)
	}
	for f := range from {
		if len(f) != 11 || !strings.HasPrefix(f, "1") {
			t.Fatalf("customer %s is not a NANP wa_id", f)
		}
	}
}

// TestLoadCountAndStop: a count ends the load before its duration; the
// control API starts, reads and stops loads; bad loads are refused.
func TestLoadCountAndStop(t *testing.T) {
	e := loadEnv(t)
	status, body := e.request(http.MethodPost, "/_sim/load", "", `{"numbers":["`+pnid2+`"],"customers":3,"rate":1000,"count":7,"duration":"1h"}`)
	var st simulator.LoadStatus
	if err := json.Unmarshal(body, &st); status != 200 || err != nil || st.Messages != 7 {
		t.Fatalf("start: %d %s", status, body)
	}
	e.advance(time.Second)
	_, body = e.request(http.MethodGet, fmt.Sprintf("/_sim/load/%d", st.ID), "", "")
	if err := json.Unmarshal(body, &st); err != nil || st.Sent != 7 || !st.Done {
		t.Fatalf("progress: %s", body)
	}
	_, body = e.request(http.MethodPost, "/_sim/load", "", `{"customers":2,"rate":1,"duration":"1h"}`)
	_ = json.Unmarshal(body, &st)
	e.advance(2 * time.Second)
	_, _ = e.request(http.MethodDelete, fmt.Sprintf("/_sim/load/%d", st.ID), "", "")
	e.advance(time.Hour)
	_, body = e.request(http.MethodGet, fmt.Sprintf("/_sim/load/%d", st.ID), "", "")
	if err := json.Unmarshal(body, &st); err != nil || st.Sent != 3 || !st.Done || st.Messages != 3600 {
		t.Fatalf("stopped load: %s", body)
	}
	if status, _ := e.request(http.MethodGet, "/_sim/load/999", "", ""); status != 404 {
		t.Fatalf("unknown load: %d", status)
	}
}

func TestLoadRefused(t *testing.T) {
	e := loadEnv(t)
	for want, l := range map[string]simulator.Load{
		"customers must be":    {Rate: 1, Count: 1},
		"rate must be":         {Customers: 1, Count: 1},
		"count or duration":    {Customers: 1, Rate: 1},
		"keywordShare":         {Customers: 1, Rate: 1, Count: 1, KeywordShare: 0.5},
		"absent from the text": {Customers: 1, Rate: 1, Count: 1, KeywordShare: 0.5, Keywords: []string{"Hel"}},
		"no number 42":         {Numbers: []string{"42"}, Customers: 1, Rate: 1, Count: 1},
		"exceeds the bound":    {Customers: 1, Rate: 1000, Duration: simulator.Duration(time.Hour)},
		"bound of 100000":      {Customers: 1, Rate: 1e300, Duration: simulator.Duration(time.Hour)},
	} {
		if _, err := e.sim.StartLoad(l); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%+v: got %v, want %q", l, err, want)
		}
	}
	if status, body := e.request(http.MethodPost, "/_sim/load", "", `{"customers":1,"rate":1,"count":1,"colour":"red"}`); status != 400 ||
		!strings.Contains(string(body), "colour") {
		t.Fatalf("unknown field: %d %s", status, body)
	}
	if c := e.sim.Counters(); c.Inbound != 0 {
		t.Fatalf("refused loads injected %d messages", c.Inbound)
	}
}

// TestLoadOnTheWallClock: with the real clock the scheduler paces a load to
// its end by itself (the test waits for the outcome, not for a time).
func TestLoadOnTheWallClock(t *testing.T) {
	hooks := newSink(appSecret)
	srv := httptest.NewServer(hooks)
	defer srv.Close()
	sim, err := simulator.New(simulator.Config{Numbers: []simulator.Number{{ID: pnid, DisplayPhoneNumber: display,
		AppSecret: appSecret, WebhookURL: srv.URL + "/webhooks/whatsapp"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	run, err := sim.StartLoad(simulator.Load{Customers: 5, Rate: 2000, Count: 200, Keywords: []string{"precio"}, KeywordShare: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run.Wait(ctx); err != nil {
		t.Fatalf("load did not finish: %v (%+v)", err, run.Status())
	}
	if err := sim.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	bodies, _ := hooks.received()
	if st := run.Status(); st.Sent != 200 || st.WithKeyword != 100 || len(bodies) != 200 {
		t.Fatalf("status %+v, %d webhooks", st, len(bodies))
	}
}

// TestLoadFlatOut: a rate far above what can be sent sends the count at once.
func TestLoadFlatOut(t *testing.T) {
	e := loadEnv(t)
	run, err := e.sim.StartLoad(simulator.Load{Customers: 2, Rate: 1e300, Count: 30})
	if err != nil {
		t.Fatal(err)
	}
	e.advance(time.Hour)
	if st := run.Status(); st.Sent != 30 || !st.Done {
		t.Fatalf("status %+v", st)
	}
}
