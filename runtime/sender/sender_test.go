package sender_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/sender"
	"github.com/switchboard-dev/switchboard/runtime/simulator"
	"github.com/switchboard-dev/switchboard/runtime/store"
)

// TestPacingAtMetasLimit: 2,000 messages at 80 msg/s reach Meta with no 130429 and at
// no less than 97% of the limit.
func TestPacingAtMetasLimit(t *testing.T) {
	r := newRig(t, simulator.Number{Throughput: "STANDARD", Tier: "TIER_UNLIMITED"})
	const n, limit = 2000, 80
	r.enqueue(n, store.LaneConversation, recipients(400))
	stop := r.start(sender.Limits{MessagesPerSecond: limit, CampaignPerMinute: limit * 60, UniqueRecipientsPer24h: -1}, nil)
	defer func() {
		if err := stop(); err != nil {
			t.Errorf("sender.Run: %v", err)
		}
	}()
	r.waitSent(n, 3*time.Minute)

	c := r.sim.Counters()
	if len(c.Rejected) != 0 || c.Accepted != n {
		t.Fatalf("simulator accepted %d, rejected %v; want %d accepted and no rejection", c.Accepted, c.Rejected, n)
	}
	got := r.tap.accepted()
	span := got[len(got)-1].at.Sub(got[0].at).Seconds()
	rate := float64(len(got)-1) / span
	t.Logf("%d messages in %.2fs: %.1f msg/s (limit %d)", len(got), span, rate, limit)
	if rate < 0.97*limit {
		t.Errorf("achieved %.1f msg/s, below 97%% of the %d msg/s limit", rate, limit)
	}
}

// TestLiveLimitChange: a lower campaign rate applies within seconds, with no restart,
// while replies keep flowing at the full rate.
func TestLiveLimitChange(t *testing.T) {
	r := newRig(t, simulator.Number{Throughput: "STANDARD", Tier: "TIER_UNLIMITED"})
	r.enqueue(1000, store.LaneCampaign, recipients(500))
	updates := make(chan sender.Limits, 1)
	stop := r.start(sender.Limits{MessagesPerSecond: 80, CampaignPerMinute: 2400, UniqueRecipientsPer24h: -1}, updates)
	defer func() {
		if err := stop(); err != nil {
			t.Errorf("sender.Run: %v", err)
		}
	}()
	r.waitSent(80, 30*time.Second)

	// Quality drops: campaigns fall to 60/min (one a second); replies arrive meanwhile.
	updates <- sender.Limits{MessagesPerSecond: 80, CampaignPerMinute: 60, UniqueRecipientsPer24h: -1}
	changed := time.Now()
	r.enqueue(200, store.LaneConversation, recipients(200))
	time.Sleep(4 * time.Second)

	var replies, campaignsAfter int
	for _, a := range r.tap.accepted() {
		switch {
		case len(a.marker) > 12 && a.marker[:12] == "conversation":
			replies++
		case a.at.After(changed.Add(time.Second)):
			campaignsAfter++
		}
	}
	if replies != 200 {
		t.Errorf("%d of 200 replies sent within 4s of the change; replies must not wait behind campaigns", replies)
	}
	// From one second after the change, 3 seconds at 1/s (plus the one-message burst).
	if campaignsAfter > 4 {
		t.Errorf("%d campaign messages in the 3s after the change; the new limit allows 4 at most", campaignsAfter)
	}
	if c := r.sim.Counters(); len(c.Rejected) != 0 {
		t.Errorf("simulator rejected %v", c.Rejected)
	}
}

// TestBusyRecipientDoesNotBlockOthers: a burst to one recipient gets no 131056 (the
// pair rate is respected: 45 at once, then one per 6 s) and the other recipients'
// messages all leave before that recipient's 46th.
func TestBusyRecipientDoesNotBlockOthers(t *testing.T) {
	r := newRig(t, simulator.Number{Throughput: "STANDARD", Tier: "TIER_UNLIMITED"})
	busy := "34611111111"
	r.enqueue(100, store.LaneConversation, func(int) string { return busy })
	r.enqueue(100, store.LaneCampaign, recipients(100))
	stop := r.start(sender.Limits{MessagesPerSecond: 80, CampaignPerMinute: 4800, UniqueRecipientsPer24h: -1}, nil)
	defer func() {
		if err := stop(); err != nil {
			t.Errorf("sender.Run: %v", err)
		}
	}()
	r.waitSent(145, 30*time.Second)
	time.Sleep(time.Second)

	c := r.sim.Counters()
	if c.Rejected[131056] != 0 {
		t.Fatalf("the simulator answered 131056 %d times", c.Rejected[131056])
	}
	var toBusy int
	var lastOther time.Time
	for _, a := range r.tap.accepted() {
		if a.to == busy {
			toBusy++
		} else {
			lastOther = a.at
		}
	}
	if toBusy > 46 {
		t.Errorf("%d messages reached the busy recipient within ~7s; the pair rate allows 45 then one per 6s", toBusy)
	}
	if lastOther.IsZero() {
		t.Fatal("no message reached the other recipients")
	}
	counts, _, _ := r.st.Counts(t.Context(), number)
	if counts[store.StateSent] < 145 {
		t.Errorf("counts %v: the other recipients were held up", counts)
	}
}

// TestPauseWhenMetaSaysStop: a 131048 pauses the number (both lanes), says so once,
// and requeues the message for after the pause instead of failing it.
func TestPauseWhenMetaSaysStop(t *testing.T) {
	r := newRig(t, simulator.Number{Throughput: "STANDARD", Tier: "TIER_UNLIMITED", Restricted: true})
	ids := r.enqueue(5, store.LaneCampaign, recipients(5))
	lock, err := r.st.LockNumber(t.Context(), number)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lock.Release(context.Background()) }()
	pauses := make(chan time.Time, 10)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- sender.Run(ctx, sender.Config{PhoneNumberID: pnid, API: r.client(), Outbox: lock, Poll: 50 * time.Millisecond,
			Initial:  sender.Limits{MessagesPerSecond: 80, CampaignPerMinute: 60, UniqueRecipientsPer24h: -1},
			PauseFor: time.Hour, OnPause: func(_ string, until time.Time) { pauses <- until }})
	}()
	var until time.Time
	select {
	case until = <-pauses:
	case <-time.After(10 * time.Second):
		t.Fatal("no pause reported")
	}
	time.Sleep(time.Second) // nothing more may be sent while paused
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if c := r.sim.Counters(); c.Rejected[131048] != 1 || c.Accepted != 0 {
		t.Errorf("simulator: %d accepted, %v rejected; want exactly one 131048 then silence", c.Accepted, c.Rejected)
	}
	if time.Until(until) < 59*time.Minute {
		t.Errorf("paused until %s, want about an hour", until)
	}
	for _, id := range ids {
		m, err := r.st.Get(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if m.State != store.StateQueued {
			t.Errorf("message %d is %s; a pause must requeue, not fail", id, m.State)
		}
	}
}

// TestRoundLargerThanWorkerPool: an idle 1000 msg/s sender whose pacer has filled up
// gets a batch far larger than its worker pool; it must send it all (it once deadlocked
// waiting for a worker while nobody took the workers' results).
func TestRoundLargerThanWorkerPool(t *testing.T) {
	r := newRig(t, simulator.Number{Throughput: "HIGH", Tier: "TIER_UNLIMITED"})
	lock, err := r.st.LockNumber(t.Context(), number)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lock.Release(context.Background()) }()
	wake, err := r.st.Listen(t.Context(), number)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- sender.Run(ctx, sender.Config{PhoneNumberID: pnid, API: r.client(), Outbox: lock, Wake: wake,
			Workers: 4, Poll: 50 * time.Millisecond,
			Initial: sender.Limits{MessagesPerSecond: 1000, CampaignPerMinute: 60000, UniqueRecipientsPer24h: -1}})
	}()
	time.Sleep(time.Second) // idle: the pacer fills to its burst
	r.enqueue(600, store.LaneConversation, recipients(600))
	r.waitSent(600, 60*time.Second)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("sender.Run did not return after its context ended")
	}
}

// TestSenderPrunesTheRecipientBudget: rows of campaign_recipients that have left the
// 24-hour window are deleted by the running sender, so the table does not grow forever;
// rows still inside the window stay (they count in the budget).
func TestSenderPrunesTheRecipientBudget(t *testing.T) {
	r := newRig(t, simulator.Number{})
	conn, err := pgx.Connect(t.Context(), r.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	if _, err := conn.Exec(t.Context(), `
		INSERT INTO campaign_recipients (namespace, number, recipient, last_sent_at) VALUES
			($1, $2, '34600000001', now() - interval '25 hours'),
			($1, $2, '34600000002', now() - interval '23 hours'),
			('other', 'number', '34600000003', now() - interval '25 hours')`,
		number.Namespace, number.Name); err != nil {
		t.Fatal(err)
	}
	stop := r.start(sender.Limits{MessagesPerSecond: 80, CampaignPerMinute: 60, UniqueRecipientsPer24h: 1000}, nil)
	defer func() { _ = stop() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		rows, err := conn.Query(t.Context(), `SELECT recipient FROM campaign_recipients ORDER BY recipient`)
		if err != nil {
			t.Fatal(err)
		}
		left, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		if slices.Equal(left, []string{"34600000002", "34600000003"}) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("campaign_recipients holds %v; want the row inside the window and the other number's row", left)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestUniqueRecipientsBudget: a campaign to a recipient already reached in the last 24 h
// (counted in PostgreSQL) costs nothing; new recipients fill the budget, and the rest
// wait in the outbox with the reason recorded.
func TestUniqueRecipientsBudget(t *testing.T) {
	r := newRig(t, simulator.Number{Tier: "TIER_UNLIMITED"})
	conn, err := pgx.Connect(t.Context(), r.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	if _, err := conn.Exec(t.Context(), `
		INSERT INTO campaign_recipients (namespace, number, recipient, last_sent_at)
		VALUES ($1, $2, '34600000001', now() - interval '1 hour')`, number.Namespace, number.Name); err != nil {
		t.Fatal(err)
	}
	to := []string{"34600000001", "34600000001", "34600000002", "34600000003", "34600000004", "34600000005"}
	ids := r.enqueue(len(to), store.LaneCampaign, func(i int) string { return to[i] })
	// A budget of 2: the known recipient holds one place (its two messages cost nothing
	// more), one new recipient fits.
	stop := r.start(sender.Limits{MessagesPerSecond: 80, CampaignPerMinute: 6000, UniqueRecipientsPer24h: 2}, nil)
	r.waitSent(3, 30*time.Second)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for i, m := range r.messages(ids) {
		wantSent := i < 3
		if got := m.State == store.StateSent; got != wantSent {
			t.Errorf("message %d to %s is %s; want sent %t", i, to[i], m.State, wantSent)
		}
		if !wantSent && !strings.Contains(m.ErrorMessage, "unique-recipients budget of 2 per 24h reached") {
			t.Errorf("message %d to %s waits without the budget as reason: %q", i, to[i], m.ErrorMessage)
		}
	}
}

// TestBudgetCountsANewRecipientOnce: two campaign messages to one new recipient sent in
// the same round take one place in the budget, not two, so the next new recipient still
// fits a budget of 2. The sender's clock jumps 10 s after it starts, so its buckets are
// full when the four messages arrive in one transaction (one claim, one round).
func TestBudgetCountsANewRecipientOnce(t *testing.T) {
	r := newRig(t, simulator.Number{Tier: "TIER_UNLIMITED"})
	var offset atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	stop := r.run(sender.Config{Now: now, Initial: sender.Limits{MessagesPerSecond: 80, CampaignPerMinute: 6000, UniqueRecipientsPer24h: 2}})
	offset.Store(int64(10 * time.Second))
	time.Sleep(300 * time.Millisecond) // a few rounds at the new time: the buckets refill
	to := []string{"34600000001", "34600000001", "34600000002", "34600000003"}
	var ids []int64
	err := r.st.InTx(t.Context(), func(tx pgx.Tx) error {
		for i, rc := range to {
			payload := json.RawMessage(fmt.Sprintf(`{"type":"template","template":{"name":"once_%d","language":{"code":"en"}}}`, i))
			id, err := store.EnqueueTx(t.Context(), tx, store.NewMessage{Number: number, Recipient: rc, Lane: store.LaneCampaign, Payload: payload})
			ids = append(ids, id)
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	r.waitSent(3, 30*time.Second)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for i, m := range r.messages(ids) {
		if wantSent := i < 3; (m.State == store.StateSent) != wantSent {
			t.Errorf("message %d to %s is %s (%s); want sent %t", i, to[i], m.State, m.ErrorMessage, wantSent)
		}
	}
}

// messages reads the outbox rows ids.
func (r *rig) messages(ids []int64) []store.Message {
	r.t.Helper()
	out := make([]store.Message, len(ids))
	for i, id := range ids {
		m, err := r.st.Get(r.t.Context(), id)
		if err != nil {
			r.t.Fatal(err)
		}
		out[i] = m
	}
	return out
}
