package campaigns_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/inbox/campaigns"
	"github.com/switchboard-dev/switchboard/runtime/limits"
	"github.com/switchboard-dev/switchboard/runtime/outbound"
	"github.com/switchboard-dev/switchboard/runtime/sender"
	"github.com/switchboard-dev/switchboard/runtime/simulator"
)

const (
	audience = 5000
	optedOut = 50
)

// seedContacts adds the campaign's audience: `audience` contacts tagged high-value (the
// first optedOut of them opted out of marketing, contact 7 with a blocked word in its
// first name), and 300 contacts without the tag.
func (e *env) seedContacts() {
	e.t.Helper()
	e.exec(`
		INSERT INTO contacts (namespace, wa_id, tags, attributes, marketing_opt_out, marketing_opt_out_at)
		SELECT $1, (34600000000 + i)::text,
		       CASE WHEN i <= $2 THEN ARRAY['high-value', 'es'] ELSE ARRAY['es'] END,
		       jsonb_build_object('first_name', CASE WHEN i = 7 THEN 'Garantizado' ELSE 'Cliente ' || i END, 'code', 'C' || i),
		       i BETWEEN 100 AND 99 + $3, CASE WHEN i BETWEEN 100 AND 99 + $3 THEN now() END
		FROM generate_series(1, $2 + 300) AS i`, ns, audience, optedOut)
}

func blockRules() *outbound.Rules {
	num := &sbv1.Number{ObjectMeta: metav1.ObjectMeta{Name: number.Name, Namespace: ns, Labels: map[string]string{"market": "es"}}}
	rule := sbv1.KeywordRule{ObjectMeta: metav1.ObjectMeta{Name: "no-promises", Namespace: ns},
		Spec: sbv1.KeywordRuleSpec{Direction: sbv1.Outbound, Priority: 10, When: sbv1.Always,
			NumberSelector: metav1.LabelSelector{MatchLabels: map[string]string{"market": "es"}},
			Match:          sbv1.KeywordMatch{Any: []string{"garantizado"}, Mode: sbv1.MatchWord},
			Actions:        sbv1.KeywordActions{Block: &sbv1.BlockAction{Reason: "No prometas resultados."}}}}
	r, errs := outbound.Compile(num, []sbv1.KeywordRule{rule}, nil)
	if len(errs) > 0 {
		panic(errs)
	}
	return r
}

func value(s string) *string { return &s }

// TestCampaignWarmupPauseResume: 5,000 recipients on a new number. The sender, at the
// warm-up's 20 per minute on a controllable clock, sends about 20 per simulated minute;
// a pause stops the sends at once, and the clock moving on sends nothing more; resume
// with a warm-up override (a higher campaign rate) finishes the campaign. Each
// recipient got at most one message, opted-out contacts and the blocked word were
// skipped and counted, and Meta's simulator refused nothing (no 130429, no 131056).
func TestCampaignWarmupPauseResume(t *testing.T) {
	e := newEnv(t, simulator.Config{Statuses: simulator.StatusConfig{SentAfter: 10 * time.Millisecond,
		DeliveredAfter: 50 * time.Millisecond, ReadAfter: 100 * time.Millisecond, UnreadProbability: 0.5},
		Webhooks: simulator.WebhookConfig{BatchWindow: 100 * time.Millisecond}})
	e.seedContacts()
	ctx := t.Context()
	rules := blockRules()

	var c campaigns.Campaign
	e.tx(func(tx pgx.Tx) (err error) {
		c, err = campaigns.Create(ctx, tx, ns, "agent:ana", campaigns.Spec{Name: "spring-promo", Number: number.Name,
			Template: "promo", Language: "es", Window: 300,
			Parameters: []campaigns.Param{{Attribute: "first_name", Default: value("cliente")}, {Attribute: "code"}},
			Target:     campaigns.Target{Tags: &campaigns.TagFilter{AllOf: []string{"high-value"}}}}, nil)
		return err
	})

	// The new number's limits: the warm-up's 20 per minute.
	clk := newClock()
	spec := sbv1.NumberSpec{} // the default warm-up: 20 → 60 per minute over eight weeks
	eff := limits.Effective(spec, limits.Observed{Throughput: "HIGH", MessagingLimit: "TIER_10K"}, clk.Now(), clk.Now())
	if eff.CampaignPerMinute != 20 || eff.Reason != limits.ReasonWarmup {
		t.Fatalf("a new number's limits: %+v, want the warm-up's 20/min", eff)
	}
	updates := make(chan sender.Limits, 1)
	stopSender := e.runSender(clk, sender.Limits{MessagesPerSecond: eff.MessagesPerSecond,
		CampaignPerMinute: eff.CampaignPerMinute, UniqueRecipientsPer24h: eff.UniqueRecipientsPer24h}, updates, rules)
	defer stopSender()
	runner := &campaigns.Runner{Store: e.st, Namespace: ns, Poll: 20 * time.Millisecond,
		Rules: func(string) *outbound.Rules { return rules }}
	runCtx, stopRunner := context.WithCancel(ctx)
	defer stopRunner()
	go runner.Run(runCtx)

	e.transition(c.ID, "start", "agent:ana")
	sent := func() int {
		return e.count(`SELECT count(*) FROM outbox WHERE campaign_id = $1 AND state = 'sent'`, c.ID)
	}
	// Two simulated minutes at 20/min, in steps of one campaign token (3 s); after each
	// step the test gives the sender time to use its token (the machine may be slow),
	// then checks it used no more than the clock allows.
	for i := range 40 {
		clk.Advance(3 * time.Second)
		deadline := time.Now().Add(2 * time.Second)
		for e.reached() < i+1 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}
	time.Sleep(300 * time.Millisecond) // anything unpaced would show now
	waitFor(t, 5*time.Second, "the warm-up's sends to be recorded", func() bool {
		return e.count(`SELECT count(*) FROM outbox WHERE campaign_id = $1 AND state = 'sending'`, c.ID) == 0
	})
	warm := sent()
	if warm < 35 || warm > 42 || e.reached() != warm {
		t.Fatalf("%d sent (%d reached the simulator) in two simulated minutes at the warm-up's 20/min, want about 40",
			warm, e.reached())
	}
	if q := e.count(`SELECT count(*) FROM outbox WHERE campaign_id = $1 AND state = 'queued'`, c.ID); q == 0 || q > 300 {
		t.Fatalf("%d rows queued: the runner keeps the campaign's window (300) filled, no more", q)
	}

	// Pause: nothing more is sent, however far the clock moves.
	e.transition(c.ID, "pause", "agent:luis")
	waitFor(t, 5*time.Second, "messages in flight at the pause", func() bool {
		return e.count(`SELECT count(*) FROM outbox WHERE campaign_id = $1 AND state = 'sending'`, c.ID) == 0
	})
	atPause := sent()
	for range 20 {
		clk.Advance(3 * time.Second)
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	if got := sent(); got != atPause {
		t.Fatalf("%d sent while paused (from %d)", got-atPause, atPause)
	}
	if atPause > warm+2 {
		t.Fatalf("%d sent by the pause after %d: the pause did not stop the sends", atPause, warm)
	}

	// Resume with a warm-up override: 400 per second.
	updates <- sender.Limits{MessagesPerSecond: 1000, CampaignPerMinute: 400 * 60, UniqueRecipientsPer24h: 10_000}
	e.transition(c.ID, "resume", "agent:luis")
	waitFor(t, 50*time.Second, "the campaign to complete", func() bool {
		return e.state(c.ID) == campaigns.Completed
	})
	want := audience - optedOut - 1
	waitFor(t, 15*time.Second, "the delivery statuses", func() bool {
		p := e.progress(c.ID)
		return p.Delivered+p.Read == want
	})

	p := e.progress(c.ID)
	if p.Total != audience || p.Skipped != optedOut+1 || p.SkippedByReason[campaigns.ReasonOptedOut] != optedOut ||
		p.SkippedByReason["blocked:acme/no-promises"] != 1 || p.Failed != 0 || p.Pending != 0 || p.Queued != 0 {
		t.Errorf("progress %+v", p)
	}
	if p.Read == 0 || p.Delivered == 0 {
		t.Errorf("progress %+v: want both delivered and read (half the messages are never read)", p)
	}
	// No resend: one outbox row per recipient, one accepted message per recipient.
	if n := e.count(`SELECT count(*) FROM outbox WHERE campaign_id = $1`, c.ID); n != want {
		t.Errorf("%d outbox rows, want %d", n, want)
	}
	e.sends.mu.Lock()
	for to, n := range e.sends.accepted {
		if n > 1 {
			t.Errorf("%s got %d messages", to, n)
		}
	}
	if len(e.sends.accepted) != want {
		t.Errorf("%d recipients reached, want %d", len(e.sends.accepted), want)
	}
	e.sends.mu.Unlock()
	if n := e.count(`SELECT count(*) FROM outbox WHERE campaign_id = $1 AND possibly_duplicate`, c.ID); n != 0 {
		t.Errorf("%d rows possibly duplicated", n)
	}
	counters := e.sim.Counters()
	if counters.Rejected[130429] != 0 || counters.Rejected[131056] != 0 || counters.Accepted != int64(want) {
		t.Errorf("simulator: accepted %d, rejected %v", counters.Accepted, counters.Rejected)
	}
	// The opted-out and the blocked were never enqueued.
	if n := e.count(`SELECT count(*) FROM outbox o JOIN contacts k ON k.wa_id = o.recipient
		WHERE o.campaign_id = $1 AND (k.marketing_opt_out OR k.attributes->>'first_name' = 'Garantizado')`, c.ID); n != 0 {
		t.Errorf("%d opted-out or blocked recipients enqueued", n)
	}
	e.wantAudit(c.ID, []string{"agent:ana campaign.created", "agent:ana campaign.start", "agent:luis campaign.pause",
		"agent:luis campaign.resume", "system:campaigns campaign.completed"})
	t.Logf("warm-up: %d sent in 2 simulated minutes; paused at %d; %d sent in all, %d delivered, %d read",
		warm, atPause, want, p.Delivered, p.Read)
}

// reached is how many recipients the simulator accepted a message for.
func (e *env) reached() int {
	e.sends.mu.Lock()
	defer e.sends.mu.Unlock()
	return len(e.sends.accepted)
}

func (e *env) tx(fn func(pgx.Tx) error) {
	e.t.Helper()
	if err := e.st.InTx(e.t.Context(), fn); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) transition(id int64, action string, actor campaigns.Actor) campaigns.Campaign {
	e.t.Helper()
	var c campaigns.Campaign
	e.tx(func(tx pgx.Tx) (err error) {
		c, err = campaigns.Transition(e.t.Context(), tx, ns, id, action, actor, time.Now())
		return err
	})
	return c
}

func (e *env) state(id int64) campaigns.State {
	var c campaigns.Campaign
	e.tx(func(tx pgx.Tx) (err error) {
		c, err = campaigns.Get(e.t.Context(), tx, ns, id)
		return err
	})
	return c.State
}

func (e *env) progress(id int64) campaigns.Progress {
	var c campaigns.Campaign
	e.tx(func(tx pgx.Tx) (err error) {
		c, err = campaigns.Get(e.t.Context(), tx, ns, id)
		return err
	})
	return *c.Progress
}

func (e *env) wantAudit(id int64, want []string) {
	e.t.Helper()
	var got []string
	e.tx(func(tx pgx.Tx) error {
		rows, _ := tx.Query(e.t.Context(), `SELECT actor || ' ' || action FROM audit_log
			WHERE namespace = $1 AND object_kind = 'campaign' AND object_id = $2 ORDER BY id`, ns, fmt.Sprint(id))
		var err error
		got, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if fmt.Sprint(got) != fmt.Sprint(want) {
		e.t.Errorf("audit log %q, want %q", got, want)
	}
}

// guard applies outbound rules in the sender, as `switchboard sender` does.
type guard struct{ rules *outbound.Rules }

func (g guard) Check(p json.RawMessage, now time.Time) *outbound.Block { return g.rules.Check(p, now) }
func (g guard) Blocked(context.Context, *outbound.Block)               {}

// runSender runs the real sender for the number on clk until the returned stop.
func (e *env) runSender(clk *clock, l sender.Limits, updates chan sender.Limits, rules *outbound.Rules) func() {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	lock, err := e.st.LockNumber(ctx, number)
	if err != nil {
		e.t.Fatal(err)
	}
	wake, err := e.st.Listen(ctx, number)
	if err != nil {
		e.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- sender.Run(ctx, sender.Config{PhoneNumberID: pnid, API: e.client(), Outbox: lock, Wake: wake,
			Poll: 10 * time.Millisecond, Limits: updates, Initial: l, Now: clk.Now, Guard: guard{rules}})
	}()
	return func() {
		cancel()
		if err := <-done; err != nil {
			e.t.Errorf("sender: %v", err)
		}
		_ = lock.Release(context.Background())
	}
}
