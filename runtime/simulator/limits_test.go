package simulator_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/runtime/simulator"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

func template(to string) whatsapp.Message {
	return whatsapp.TemplateMessage(to, "hello_world", "en_US")
}

func recipient(i int) string { return fmt.Sprintf("3460000%04d", i) }

// TestThroughput sends templates to distinct users (no pair-rate or window
// effects) with the fake clock stopped, at each level's cap.
func TestThroughput(t *testing.T) {
	for _, tc := range []struct {
		name   string
		number simulator.Number
		mps    int
		status int
	}{
		{"coexistence 20/s", simulator.Number{Coexistence: true}, 20, 400},
		{"standard 80/s", simulator.Number{}, 80, 400},
		{"standard 80/s, 429 configured", simulator.Number{}, 80, 429},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := tc.number
			n.ID, n.DisplayPhoneNumber, n.AccessToken, n.AppSecret = pnid, display, token, appSecret
			e := newEnv(t, simulator.Config{ThrottleHTTPStatus: tc.status}, n)
			for i := 0; i < tc.mps; i++ {
				if _, err := e.send(template(recipient(i))); err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
			}
			_, err := e.send(template(recipient(tc.mps)))
			we := wantClass(t, err, 130429, whatsapp.RetryLater)
			if we.HTTPStatus != tc.status || we.RetryAfter != time.Second {
				t.Fatalf("HTTP %d retry %s", we.HTTPStatus, we.RetryAfter)
			}
			if err := loadSpec(t).Validate("GraphAPIError", e.tap.last(t).resp); err != nil {
				t.Fatal(err)
			}
			e.advance(time.Second)
			if _, err := e.send(template(recipient(tc.mps + 1))); err != nil {
				t.Fatalf("after a second: %v", err)
			}
		})
	}
}

func TestHighThroughputLevel(t *testing.T) {
	e := newEnv(t, simulator.Config{}, simulator.Number{ID: pnid, DisplayPhoneNumber: display,
		AccessToken: token, Throughput: "HIGH"})
	for i := 0; i < 1000; i++ {
		if _, err := e.send(template(recipient(i))); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	_, err := e.send(template(recipient(1000)))
	_ = wantClass(t, err, 130429, whatsapp.RetryLater)
}

// TestInboundUsesThroughput: Meta's cap covers inbound and outbound.
func TestInboundUsesThroughput(t *testing.T) {
	e := newEnv(t, simulator.Config{}, simulator.Number{ID: pnid, DisplayPhoneNumber: display,
		AccessToken: token, Coexistence: true})
	for i := 0; i < 20; i++ {
		e.inject(recipient(i))
	}
	_, err := e.send(whatsapp.TextMessage(recipient(0), "hi"))
	_ = wantClass(t, err, 130429, whatsapp.RetryLater)
}

func TestPairRate(t *testing.T) {
	e := newEnv(t, simulator.Config{}, simulator.Number{})
	for i := 0; i < 45; i++ {
		if _, err := e.send(template(user)); err != nil {
			t.Fatalf("burst message %d: %v", i, err)
		}
	}
	_, err := e.send(template(user))
	if we := wantClass(t, err, 131056, whatsapp.RetryRecipientLater); we.HTTPStatus != http.StatusBadRequest ||
		we.RetryAfter != whatsapp.PairRateBackoff(0) {
		t.Fatalf("HTTP %d retry %s", we.HTTPStatus, we.RetryAfter)
	}
	if _, err := e.send(template(recipient(1))); err != nil {
		t.Fatalf("another recipient must not be affected: %v", err)
	}
	e.advance(6 * time.Second)
	if _, err := e.send(template(user)); err != nil {
		t.Fatalf("one message per 6 s: %v", err)
	}
	_, err = e.send(template(user))
	_ = wantClass(t, err, 131056, whatsapp.RetryRecipientLater)
}

func TestServiceWindow(t *testing.T) {
	e := newEnv(t, simulator.Config{}, simulator.Number{})
	_, err := e.send(whatsapp.TextMessage(user, "free text, no inbound yet"))
	_ = wantClass(t, err, 131047, whatsapp.WindowClosed)
	if _, err := e.send(template(user)); err != nil {
		t.Fatalf("templates are always allowed: %v", err)
	}
	e.inject(user)
	if _, err := e.send(whatsapp.TextMessage(user, "now inside the window")); err != nil {
		t.Fatalf("after inbound: %v", err)
	}
	e.advance(23*time.Hour + 59*time.Minute)
	if _, err := e.send(whatsapp.TextMessage(user, "still inside")); err != nil {
		t.Fatalf("before 24 h: %v", err)
	}
	e.advance(time.Minute)
	_, err = e.send(whatsapp.TextMessage(user, "too late"))
	_ = wantClass(t, err, 131047, whatsapp.WindowClosed)
	if c := e.sim.Counters(); c.Rejected[131047] != 2 || c.Numbers[pnid].Rejected[131047] != 2 {
		t.Fatalf("counters %+v", c)
	}
}

func TestRestriction(t *testing.T) {
	e := newEnv(t, simulator.Config{}, simulator.Number{})
	e.inject(user)
	err := e.sim.Schedule(simulator.Event{Number: pnid, After: simulator.Duration(10 * time.Second),
		Restrict: &simulator.Restriction{Restricted: true, For: simulator.Duration(time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.send(template(recipient(1))); err != nil {
		t.Fatalf("before the restriction: %v", err)
	}
	e.advance(10 * time.Second)
	_, err = e.send(template(recipient(2)))
	_ = wantClass(t, err, 131048, whatsapp.PauseNumber)
	if _, err := e.send(whatsapp.TextMessage(user, "replies inside the window still go")); err != nil {
		t.Fatalf("customer-initiated reply: %v", err)
	}
	if n, _ := e.sim.Number(pnid); n.Status != "RESTRICTED" {
		t.Fatalf("status %s", n.Status)
	}
	if !receivedOne(e, `"field":"account_update"`, `"event":"ACCOUNT_RESTRICTION"`, `RESTRICTED_BIZ_INITIATED_MESSAGING`) {
		t.Fatal("no account_update webhook")
	}
	e.advance(time.Hour)
	if _, err := e.send(template(recipient(3))); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
}

func TestFlaggedWithRestriction(t *testing.T) {
	e := newEnv(t, simulator.Config{ThrottleHTTPStatus: 429}, simulator.Number{ID: pnid,
		DisplayPhoneNumber: display, AccessToken: token, Status: "FLAGGED"})
	if _, err := e.send(template(recipient(1))); err != nil {
		t.Fatalf("FLAGGED alone does not block: %v", err)
	}
	if err := e.sim.UpdateNumber(pnid, func(n *simulator.Number) { n.Restricted = true }); err != nil {
		t.Fatal(err)
	}
	_, err := e.send(template(recipient(2)))
	if we := wantClass(t, err, 131048, whatsapp.PauseNumber); we.HTTPStatus != 429 {
		t.Fatalf("HTTP %d", we.HTTPStatus)
	}
}

// TestUniqueRecipientOverage: Meta returns no error past the tier, so the
// simulator accepts and counts.
func TestUniqueRecipientOverage(t *testing.T) {
	e := newEnv(t, simulator.Config{}, simulator.Number{ID: pnid, DisplayPhoneNumber: display,
		AccessToken: token, Tier: "TIER_50"})
	e.inject(recipient(99)) // inside the window: not business-initiated
	if _, err := e.send(whatsapp.TextMessage(recipient(99), "reply")); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 55; i++ {
		if _, err := e.send(template(recipient(i))); err != nil {
			t.Fatalf("message %d: %v (no error is expected past the tier)", i, err)
		}
	}
	if _, err := e.send(template(recipient(0))); err != nil { // repeat recipient: not new
		t.Fatal(err)
	}
	nc := e.sim.Counters().Numbers[pnid]
	if nc.UniqueRecipients24h != 55 || nc.RecipientLimit != 50 || nc.RecipientOverage != 5 || nc.BusinessInitiated != 56 {
		t.Fatalf("counters %+v", nc)
	}
	e.advance(24 * time.Hour)
	if nc := e.sim.Counters().Numbers[pnid]; nc.UniqueRecipients24h != 0 {
		t.Fatalf("rolling window did not roll: %+v", nc)
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// receivedOne reports whether some webhook received contains all subs.
func receivedOne(e *env, subs ...string) bool {
	bodies, _ := e.sink.received()
	for _, b := range bodies {
		if containsAll(string(b), subs...) {
			return true
		}
	}
	return false
}
