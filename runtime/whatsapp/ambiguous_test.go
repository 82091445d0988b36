package whatsapp_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/runtime/simulator"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

const (
	simPNID  = "106540352242922"
	simToken = "ambiguity-test-token"
	faulty   = "34699000001"
)

// simulated starts the Cloud API simulator on loopback with one number.
func simulated(t *testing.T) (*simulator.Server, string) {
	t.Helper()
	sim, err := simulator.New(simulator.Config{Numbers: []simulator.Number{{ID: simPNID, AccessToken: simToken,
		DisplayPhoneNumber: "+34 600 000 000", Tier: "TIER_UNLIMITED"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return sim, srv.URL
}

// TestAmbiguousOutcomes: the client says which failures may have reached Meta. Those
// after which Meta may hold the message (a proxy's HTML 502 after Meta accepted it, a
// connection closed or a timeout after the body was written) are Ambiguous; those known
// not to have reached it (connection refused, Meta's own JSON error, a proxy's 4xx) are
// not. Every one is RetryLater except Meta's errors, which keep their class.
func TestAmbiguousOutcomes(t *testing.T) {
	cases := []struct {
		name      string
		fault     *simulator.Fault
		ambiguous bool
		accepted  int64 // what the simulator accepted meanwhile
	}{
		{"Meta's JSON error", &simulator.Fault{Mode: simulator.FaultError, Code: 131000, HTTPStatus: 500}, false, 0},
		{"HTML 502 after Meta accepted", &simulator.Fault{Mode: simulator.FaultAcceptThenHTML}, true, 1},
		{"connection closed after the body was written", &simulator.Fault{Mode: simulator.FaultAcceptThenClose}, true, 1},
		{"timeout after the body was written", &simulator.Fault{Mode: simulator.FaultAcceptThenHang}, true, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sim, url := simulated(t)
			tc.fault.Recipient = faulty
			if err := sim.AddFault(*tc.fault); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_, err := newClient(t, url, simToken).SendPayload(ctx, simPNID, faulty,
				json.RawMessage(`{"type":"template","template":{"name":"hello_world","language":{"code":"en_US"}}}`))
			checkAmbiguity(t, err, tc.ambiguous)
			if got := sim.Counters().Accepted; got != tc.accepted {
				t.Errorf("the simulator accepted %d, want %d", got, tc.accepted)
			}
		})
	}
}

// TestUnreachedOutcomesAreNotAmbiguous: a refused connection and a proxy's 4xx page
// never reached Meta.
func TestUnreachedOutcomesAreNotAmbiguous(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	refused := srv.URL
	srv.Close() // nothing listens there now
	_, err := newClient(t, refused, "tok").Send(context.Background(), "1", whatsapp.TextMessage("1", "x"))
	checkAmbiguity(t, err, false)

	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "<html>407 Proxy Authentication Required</html>", http.StatusProxyAuthRequired)
	}))
	defer proxy.Close()
	_, err = newClient(t, proxy.URL, "tok").Send(context.Background(), "1", whatsapp.TextMessage("1", "x"))
	checkAmbiguity(t, err, false)
}

func checkAmbiguity(t *testing.T, err error, want bool) {
	t.Helper()
	e, ok := whatsapp.AsError(err)
	if !ok {
		t.Fatalf("want a *whatsapp.Error, got %v", err)
	}
	if e.Ambiguous != want || e.Class != whatsapp.RetryLater {
		t.Errorf("%v: Ambiguous %t class %s; want Ambiguous %t, RetryLater", err, e.Ambiguous, e.Class, want)
	}
}

// TestSendPayloadIsVerbatim: fields the Message struct does not know reach Meta; the
// row's recipient replaces any `to` in the payload; a payload that is not a JSON object is
// refused before anything is sent.
func TestSendPayloadIsVerbatim(t *testing.T) {
	var got map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewDecoder(r.Body).Decode(&got)
		_, _ = w.Write([]byte(`{"messaging_product":"whatsapp","contacts":[{"input":"525512345678","wa_id":"5215512345678"}],"messages":[{"id":"wamid.X"}]}`))
	}))
	defer srv.Close()
	c := newClient(t, srv.URL, "tok")
	res, err := c.SendPayload(context.Background(), "1", "525512345678",
		json.RawMessage(`{"type":"location","to":"999","location":{"latitude":1.5,"longitude":2,"name":"<Café & Co>"}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"location":{"latitude":1.5,"longitude":2,"name":"<Café & Co>"},"messaging_product":"whatsapp","to":"525512345678","type":"location"}`
	var wantObj map[string]any
	_ = json.Unmarshal([]byte(want), &wantObj)
	if !reflect.DeepEqual(got, wantObj) {
		t.Errorf("sent %v\nwant %s", got, want)
	}
	if res.ResolvedWAID() != "5215512345678" || res.WAMID() != "wamid.X" {
		t.Errorf("result %+v", res)
	}
	for _, bad := range []string{`[]`, `"text"`, `null`, `{`} {
		if _, err := c.SendPayload(context.Background(), "1", "525512345678", json.RawMessage(bad)); !errors.Is(err, whatsapp.ErrInvalidMessage) {
			t.Errorf("payload %s: %v, want ErrInvalidMessage", bad, err)
		}
	}
}
