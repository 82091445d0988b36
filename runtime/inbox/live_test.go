package inbox_test

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/runtime/inbox/openapi/openapitest"
	"github.com/switchboard-dev/switchboard/runtime/simulator"
)

// End to end through Serve: a signed webhook from the simulator reaches a client of
// GET /api/v1/events as message.created; the supervisor's figures are on /metrics; the
// open stream does not hold up the shutdown (the test's cleanup waits for Serve).
func TestWebhookToLiveEvents(t *testing.T) {
	s := startServer(t, srv.NewDatabase(t), served(numA))
	waitStatus(t, s.probes+"/readyz", 200)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.traffic+"/api/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := openapitest.Client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET /api/v1/events: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	sim := newSimulator(t, s)
	if _, err := sim.Inject(numA.PhoneNumberID, simulator.Inbound{From: "34600000001", Name: "Ana", Text: "¿hay talla 42?"}); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(resp.Body)
	kind := ""
	for lines.Scan() {
		line := lines.Text()
		if k, ok := strings.CutPrefix(line, "event: "); ok {
			kind = k
		}
		if data, ok := strings.CutPrefix(line, "data: "); ok && kind == "message.created" {
			if !strings.Contains(data, `"text":"¿hay talla 42?"`) || !strings.Contains(data, `"direction":"in"`) {
				t.Fatalf("message.created data %s", data)
			}
			break
		}
	}
	if err := lines.Err(); err != nil {
		t.Fatalf("the stream ended before message.created: %v", err)
	}
	_, metrics := get(t, s.probes+"/metrics", "")
	for _, want := range []string{"switchboard_inbox_live_subscribers 1", "switchboard_inbox_supervisor_up 1",
		`switchboard_inbox_live_events_total{kind="message.created"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
