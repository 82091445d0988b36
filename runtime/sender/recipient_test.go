package sender_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/sender"
	"github.com/switchboard-dev/switchboard/runtime/simulator"
	"github.com/switchboard-dev/switchboard/runtime/store"
)

// spellings alternates two spellings of one customer: "+34611111111" and "34611111111".
func spellings(i int) string {
	if i%2 == 0 {
		return "+34611111111"
	}
	return "34611111111"
}

// TestOneCustomerTwoSpellingsOnePairRate: 46 messages to one customer, 23 spelled with
// "+" and 23 without, share one pair rate (45 at once, then one per 6 s), so Meta never
// answers 131056; before the outbox stored the wa_id, each spelling had its own.
func TestOneCustomerTwoSpellingsOnePairRate(t *testing.T) {
	r := newRig(t, simulator.Number{Throughput: "STANDARD", Tier: "TIER_UNLIMITED"})
	r.enqueue(46, store.LaneConversation, spellings)
	stop := r.start(sender.Limits{MessagesPerSecond: 80, CampaignPerMinute: 4800, UniqueRecipientsPer24h: -1}, nil)
	defer func() {
		if err := stop(); err != nil {
			t.Errorf("sender.Run: %v", err)
		}
	}()
	r.waitSent(46, time.Minute)
	c := r.sim.Counters()
	if c.Rejected[131056] != 0 || c.Accepted != 46 {
		t.Fatalf("simulator accepted %d and answered 131056 %d times; want 46 and none", c.Accepted, c.Rejected[131056])
	}
	for _, a := range r.tap.accepted() {
		if strings.TrimPrefix(a.to, "+") != "34611111111" {
			t.Fatalf("a message reached Meta addressed to %q, not the wa_id 34611111111", a.to)
		}
	}
}

// TestOneCustomerTwoSpellingsOneBudgetPlace: a customer reached by a campaign in the
// last 24 h (as its wa_id) costs no new place in a full unique-recipients budget,
// whichever spelling the new campaigns use.
func TestOneCustomerTwoSpellingsOneBudgetPlace(t *testing.T) {
	r := newRig(t, simulator.Number{Throughput: "STANDARD", Tier: "TIER_UNLIMITED"})
	conn, err := pgx.Connect(t.Context(), r.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	if _, err := conn.Exec(t.Context(), `
		INSERT INTO campaign_recipients (namespace, number, recipient, last_sent_at)
		VALUES ($1, $2, '34611111111', now() - interval '1 hour')`, number.Namespace, number.Name); err != nil {
		t.Fatal(err)
	}
	r.enqueue(4, store.LaneCampaign, spellings)
	stop := r.start(sender.Limits{MessagesPerSecond: 80, CampaignPerMinute: 6000, UniqueRecipientsPer24h: 1}, nil)
	defer func() {
		if err := stop(); err != nil {
			t.Errorf("sender.Run: %v", err)
		}
	}()
	r.waitSent(4, 30*time.Second)
}
