package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/runtime/store"
)

func ids(msgs []store.Message) []int64 {
	out := make([]int64, len(msgs))
	for i, m := range msgs {
		out[i] = m.ID
	}
	return out
}

func claim(t *testing.T, l *store.NumberLock, lane store.Lane, limit int) []store.Message {
	t.Helper()
	msgs, err := l.Claim(testCtx(t), lane, limit)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

func TestClaim(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	now := time.Now()
	c3 := enqueue(t, s, numA, store.LaneConversation, "3", now.Add(-1*time.Minute))
	c1 := enqueue(t, s, numA, store.LaneConversation, "1", now.Add(-3*time.Minute))
	c2a := enqueue(t, s, numA, store.LaneConversation, "2a", now.Add(-2*time.Minute).Truncate(time.Second))
	c2b := enqueue(t, s, numA, store.LaneConversation, "2b", now.Add(-2*time.Minute).Truncate(time.Second))
	future := enqueue(t, s, numA, store.LaneConversation, "f", now.Add(time.Hour))
	camp := enqueue(t, s, numA, store.LaneCampaign, "c", now.Add(-time.Hour))
	otherNumber := enqueue(t, s, numB, store.LaneConversation, "b", now.Add(-time.Hour))

	l := lockNumber(t, s, numA)
	got := claim(t, l, store.LaneConversation, 2)
	if want := []int64{c1, c2a}; !slices.Equal(ids(got), want) {
		t.Fatalf("first claim %v, want %v (oldest due first, then id; limit 2)", ids(got), want)
	}
	for _, m := range got {
		if m.State != store.StateSending || m.Attempts != 1 || m.Number != numA || m.Lane != store.LaneConversation {
			t.Errorf("claimed message %+v", m)
		}
	}
	got = claim(t, l, store.LaneConversation, 10)
	if want := []int64{c2b, c3}; !slices.Equal(ids(got), want) {
		t.Fatalf("second claim %v, want %v (not due, other lane and other number left)", ids(got), want)
	}
	if got := claim(t, l, store.LaneConversation, 10); len(got) != 0 {
		t.Fatalf("third claim %v, want none", ids(got))
	}
	if got := claim(t, l, store.LaneCampaign, 10); !slices.Equal(ids(got), []int64{camp}) {
		t.Fatalf("campaign claim %v, want [%d]", ids(got), camp)
	}
	for id, want := range map[int64]store.State{future: store.StateQueued, otherNumber: store.StateQueued, c1: store.StateSending} {
		if m := get(t, s, id); m.State != want {
			t.Errorf("message %d is %s, want %s", id, m.State, want)
		}
	}
	if _, err := l.Claim(testCtx(t), "bulk", 1); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("Claim(unknown lane) = %v", err)
	}
	if _, err := l.Claim(testCtx(t), store.LaneCampaign, 0); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("Claim(limit 0) = %v", err)
	}
}

func enqueueN(t *testing.T, s *store.Store, ref store.NumberRef, lane store.Lane, n int) map[int64]bool {
	t.Helper()
	all := map[int64]bool{}
	for i := range n {
		all[enqueue(t, s, ref, lane, fmt.Sprint(i), time.Time{})] = true
	}
	return all
}

// claimAll claims in small batches from two goroutines until the queue is empty and
// checks that every row was claimed exactly once.
func claimAll(t *testing.T, all map[int64]bool, claimFn func() ([]store.Message, error)) {
	t.Helper()
	var (
		mu   sync.Mutex
		seen = map[int64]int{}
		wg   sync.WaitGroup
	)
	for range 2 {
		wg.Go(func() {
			for {
				msgs, err := claimFn()
				if err != nil {
					t.Error(err)
					return
				}
				if len(msgs) == 0 {
					return
				}
				mu.Lock()
				for _, m := range msgs {
					seen[m.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != len(all) {
		t.Fatalf("claimed %d distinct rows, want %d", len(seen), len(all))
	}
	for id, n := range seen {
		if n != 1 || !all[id] {
			t.Fatalf("row %d claimed %d times (enqueued: %v)", id, n, all[id])
		}
	}
}

func TestConcurrentClaimsNeverShareARow(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	const n = 1000
	all := enqueueN(t, s, numA, store.LaneCampaign, n)
	enqueueN(t, s, numB, store.LaneCampaign, 50)

	t.Run("one lock, two goroutines", func(t *testing.T) {
		l := lockNumber(t, s, numA)
		claimAll(t, all, func() ([]store.Message, error) { return l.Claim(testCtx(t), store.LaneCampaign, 7) })
	})

	t.Run("two sessions, SKIP LOCKED", func(t *testing.T) {
		all := enqueueN(t, s, numA, store.LaneConversation, n)
		claimAll(t, all, func() ([]store.Message, error) {
			return store.ClaimUnfenced(testCtx(t), s, numA, store.LaneConversation, 7)
		})
	})

	counts, _, err := s.Counts(testCtx(t), numB)
	if err != nil || counts[store.StateQueued] != 50 {
		t.Fatalf("other number's rows: %v, %v", counts, err)
	}
}

func TestClaimSkipsRowsLockedByOthers(t *testing.T) {
	t.Parallel()
	s, dsn := newStore(t)
	ctx := testCtx(t)
	first := enqueue(t, s, numA, store.LaneConversation, "1", time.Now().Add(-time.Minute))
	second := enqueue(t, s, numA, store.LaneConversation, "2", time.Time{})
	// Another transaction (say, the inbox updating the row) holds the oldest row.
	tx, err := sqlConn(t, dsn).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	if _, err := tx.Exec(ctx, "SELECT 1 FROM outbox WHERE id = $1 FOR UPDATE", first); err != nil {
		t.Fatal(err)
	}
	l := lockNumber(t, s, numA)
	short, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	got, err := l.Claim(short, store.LaneConversation, 10)
	if err != nil {
		t.Fatalf("Claim blocked or failed: %v", err)
	}
	if !slices.Equal(ids(got), []int64{second}) {
		t.Fatalf("claimed %v, want [%d]", ids(got), second)
	}
}

func TestTransitions(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := testCtx(t)
	var msgIDs []int64
	for i := range 6 {
		msgIDs = append(msgIDs, enqueue(t, s, numA, store.LaneConversation, fmt.Sprint(i), time.Time{}))
	}
	bRow := enqueue(t, s, numB, store.LaneConversation, "b", time.Time{})
	l := lockNumber(t, s, numA)
	lb := lockNumber(t, s, numB)
	if len(claim(t, l, store.LaneConversation, 10)) != 6 || len(claim(t, lb, store.LaneConversation, 10)) != 1 {
		t.Fatal("claim")
	}
	sent, retried, failed, batch := msgIDs[0], msgIDs[1], msgIDs[2], msgIDs[3:]

	// MarkSent.
	if err := l.MarkSent(ctx, sent, "wamid.A0"); err != nil {
		t.Fatal(err)
	}
	m := get(t, s, sent)
	if m.State != store.StateSent || m.WAMID != "wamid.A0" || m.SentAt == nil || m.Attempts != 1 {
		t.Errorf("sent message: %+v", m)
	}
	if err := l.MarkSent(ctx, sent, "wamid.A0bis"); !errors.Is(err, store.ErrNotClaimed) {
		t.Errorf("MarkSent twice: %v, want ErrNotClaimed", err)
	}
	if err := l.MarkSent(ctx, retried, ""); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("MarkSent without wamid: %v, want ErrInvalid", err)
	}
	// A sender never touches another number's rows.
	if err := l.MarkSent(ctx, bRow, "wamid.B"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("MarkSent of another number's row: %v, want ErrNotFound", err)
	}
	if err := l.Fail(ctx, bRow, store.Outcome{Code: 1, Message: "x"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Fail of another number's row: %v, want ErrNotFound", err)
	}
	if err := l.Retry(ctx, bRow, time.Time{}, store.Outcome{Code: 1, Message: "x"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Retry of another number's row: %v, want ErrNotFound", err)
	}
	if m := get(t, s, bRow); m.State != store.StateSending {
		t.Errorf("other number's row changed: %+v", m)
	}
	if err := l.MarkSent(ctx, 999999, "wamid.none"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("MarkSent(missing): %v, want ErrNotFound", err)
	}

	// Retry keeps attempts, records the error and delays the next attempt.
	at := time.Now().Add(time.Hour).Truncate(time.Microsecond)
	if err := l.Retry(ctx, retried, at, store.Outcome{Code: 130429, Message: "Rate limit hit"}); err != nil {
		t.Fatal(err)
	}
	m = get(t, s, retried)
	if m.State != store.StateQueued || m.Attempts != 1 || !m.NextAttemptAt.Equal(at) || m.ErrorCode != 130429 || m.ErrorMessage != "Rate limit hit" {
		t.Errorf("retried message: %+v", m)
	}
	if got := claim(t, l, store.LaneConversation, 10); len(got) != 0 {
		t.Errorf("claimed %v before the retry time", ids(got))
	}
	if err := l.Retry(ctx, retried, time.Time{}, store.Outcome{Code: 1, Message: "x"}); !errors.Is(err, store.ErrNotClaimed) {
		t.Errorf("Retry of a queued message: %v, want ErrNotClaimed", err)
	}

	// Fail.
	if err := l.Fail(ctx, failed, store.Outcome{Code: 131026, Message: "Message undeliverable"}); err != nil {
		t.Fatal(err)
	}
	m = get(t, s, failed)
	if m.State != store.StateFailed || m.ErrorCode != 131026 || m.ErrorMessage != "Message undeliverable" || m.SentAt != nil {
		t.Errorf("failed message: %+v", m)
	}
	if err := l.MarkSent(ctx, failed, "wamid.late"); !errors.Is(err, store.ErrNotClaimed) {
		t.Errorf("MarkSent of a failed message: %v, want ErrNotClaimed", err)
	}

	// MarkSentBatch is all or nothing.
	err := l.MarkSentBatch(ctx, []store.Sent{{ID: batch[0], WAMID: "wamid.B0"}, {ID: sent, WAMID: "wamid.again"}, {ID: batch[1], WAMID: "wamid.B1"}})
	if !errors.Is(err, store.ErrNotClaimed) {
		t.Fatalf("batch with a sent message: %v, want ErrNotClaimed", err)
	}
	if m := get(t, s, batch[0]); m.State != store.StateSending || m.WAMID != "" {
		t.Fatalf("failed batch changed message %d: %+v", batch[0], m)
	}
	// A WAMID is unique.
	if err := l.MarkSentBatch(ctx, []store.Sent{{ID: batch[0], WAMID: "wamid.A0"}}); err == nil {
		t.Fatal("a second message with the same wamid was accepted")
	}
	var sents []store.Sent
	for i, id := range batch {
		sents = append(sents, store.Sent{ID: id, WAMID: fmt.Sprintf("wamid.B%d", i)})
	}
	if err := l.MarkSentBatch(ctx, sents); err != nil {
		t.Fatal(err)
	}
	for i, id := range batch {
		if m := get(t, s, id); m.State != store.StateSent || m.WAMID != fmt.Sprintf("wamid.B%d", i) || m.SentAt == nil {
			t.Errorf("batch message %d: %+v", id, m)
		}
	}
	if err := l.MarkSentBatch(ctx, nil); err != nil {
		t.Errorf("empty batch: %v", err)
	}

	counts, dup, err := s.Counts(ctx, numA)
	if err != nil {
		t.Fatal(err)
	}
	want := map[store.State]int{store.StateQueued: 1, store.StateSending: 0, store.StateSent: 4, store.StateFailed: 1}
	if fmt.Sprint(counts) != fmt.Sprint(want) || dup != 0 {
		t.Errorf("Counts = %v, %d; want %v, 0", counts, dup, want)
	}
}

func TestCampaignRecipients(t *testing.T) {
	t.Parallel()
	s, dsn := newStore(t)
	ctx := testCtx(t)
	start := time.Now().Add(-time.Second)
	for _, r := range []string{"r1", "r2", "r1"} {
		enqueue(t, s, numA, store.LaneCampaign, r, time.Time{})
	}
	enqueue(t, s, numA, store.LaneConversation, "r3", time.Time{})
	enqueue(t, s, numB, store.LaneCampaign, "r4", time.Time{})

	l := lockNumber(t, s, numA)
	msgs := append(claim(t, l, store.LaneCampaign, 10), claim(t, l, store.LaneConversation, 10)...)
	if len(msgs) != 4 {
		t.Fatalf("claimed %d", len(msgs))
	}
	if err := l.MarkSent(ctx, msgs[0].ID, "wamid.0"); err != nil {
		t.Fatal(err)
	}
	var rest []store.Sent
	for i, m := range msgs[1:] {
		rest = append(rest, store.Sent{ID: m.ID, WAMID: fmt.Sprintf("wamid.%d", i+1)})
	}
	if err := l.MarkSentBatch(ctx, rest); err != nil {
		t.Fatal(err)
	}
	lb := lockNumber(t, s, numB)
	mb := claim(t, lb, store.LaneCampaign, 1)
	if err := lb.MarkSent(ctx, mb[0].ID, "wamid.b"); err != nil {
		t.Fatal(err)
	}

	check := func(l *store.NumberLock, since time.Time, want int) {
		t.Helper()
		if n, err := l.CampaignRecipients(ctx, since); err != nil || n != want {
			t.Errorf("CampaignRecipients(%v) = %d, %v; want %d", since, n, err, want)
		}
	}
	check(l, start, 2) // r1 twice counts once; r3 was a conversation reply; r4 is numB's
	check(l, time.Now().Add(time.Minute), 0)
	check(lb, start, 1)
	known, err := l.RecentCampaignRecipients(ctx, []string{waID("r1"), waID("r2"), waID("r3"), waID("r4")}, start)
	if err != nil {
		t.Fatal(err)
	}
	for r, want := range map[string]bool{"r1": true, "r2": true, "r3": false, "r4": false} {
		if got := known[waID(r)]; got != want {
			t.Errorf("RecentCampaignRecipients: %s = %v; want %v", r, got, want)
		}
	}
	if later, _ := l.RecentCampaignRecipients(ctx, []string{waID("r1")}, time.Now().Add(time.Minute)); later[waID("r1")] {
		t.Error("r1 counted after its window")
	}

	// The budget survives a restart (new Store, new lock).
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	l2 := lockNumber(t, openStore(t, dsn), numA)
	check(l2, start, 2)

	// Old rows can be pruned.
	if n, err := l2.PruneCampaignRecipients(ctx, time.Now().Add(time.Minute)); err != nil || n != 2 {
		t.Errorf("PruneCampaignRecipients = %d, %v; want 2", n, err)
	}
	check(l2, start, 0)
	check(lb, start, 1)
}

func TestRecoverInFlight(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := testCtx(t)
	start := time.Now().Add(-time.Second)
	enqueue(t, s, numA, store.LaneConversation, "c1", time.Time{})
	enqueue(t, s, numA, store.LaneConversation, "c2", time.Time{})
	enqueue(t, s, numA, store.LaneCampaign, "k1", time.Time{})
	enqueue(t, s, numA, store.LaneCampaign, "k1", time.Time{})
	done := enqueue(t, s, numA, store.LaneCampaign, "k2", time.Now().Add(-time.Minute))
	bRow := enqueue(t, s, numB, store.LaneConversation, "b", time.Time{})

	// A first sender claims everything, records one answer, and dies.
	l := lockNumber(t, s, numA)
	lb := lockNumber(t, s, numB)
	claimed := append(claim(t, l, store.LaneConversation, 10), claim(t, l, store.LaneCampaign, 10)...)
	claim(t, lb, store.LaneConversation, 10)
	if err := l.MarkSent(ctx, done, "wamid.done"); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}

	l2 := lockNumber(t, s, numA)
	n, err := l2.RecoverInFlight(ctx)
	if err != nil || n != 4 {
		t.Fatalf("RecoverInFlight = %d, %v; want 4", n, err)
	}
	for _, c := range claimed {
		m := get(t, s, c.ID)
		if c.ID == done {
			if m.State != store.StateSent || m.PossiblyDuplicate {
				t.Errorf("sent message touched: %+v", m)
			}
			continue
		}
		if m.State != store.StateQueued || !m.PossiblyDuplicate || m.Attempts != 1 {
			t.Errorf("recovered message: %+v", m)
		}
	}
	if m := get(t, s, bRow); m.State != store.StateSending || m.PossiblyDuplicate {
		t.Errorf("other number's in-flight row touched: %+v", m)
	}
	counts, dup, err := s.Counts(ctx, numA)
	if err != nil || counts[store.StateQueued] != 4 || counts[store.StateSent] != 1 || dup != 4 {
		t.Errorf("Counts = %v, %d, %v", counts, dup, err)
	}
	// The in-flight campaign recipient may have been messaged: it counts (k1 once, k2 sent).
	if got, err := l2.CampaignRecipients(ctx, start); err != nil || got != 2 {
		t.Errorf("CampaignRecipients after recovery = %d, %v; want 2", got, err)
	}
	if n, err := l2.RecoverInFlight(ctx); err != nil || n != 0 {
		t.Errorf("second RecoverInFlight = %d, %v; want 0", n, err)
	}
	// They are claimed again (attempt 2), still flagged.
	again := claim(t, l2, store.LaneConversation, 10)
	if len(again) != 2 || again[0].Attempts != 2 || !again[0].PossiblyDuplicate {
		t.Errorf("reclaimed: %+v", again)
	}
}

func TestQueueDepth(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := testCtx(t)
	l := lockNumber(t, s, numA)
	depth, err := l.QueueDepth(ctx)
	if err != nil || depth[store.LaneConversation] != 0 || depth[store.LaneCampaign] != 0 || len(depth) != 2 {
		t.Fatalf("empty QueueDepth = %v, %v", depth, err)
	}
	enqueueN(t, s, numA, store.LaneConversation, 3)
	enqueueN(t, s, numA, store.LaneCampaign, 5)
	enqueue(t, s, numA, store.LaneCampaign, "later", time.Now().Add(time.Hour)) // queued, not due: counted
	enqueueN(t, s, numB, store.LaneCampaign, 4)
	claim(t, l, store.LaneCampaign, 2) // sending: not counted
	depth, err = l.QueueDepth(ctx)
	if err != nil || depth[store.LaneConversation] != 3 || depth[store.LaneCampaign] != 4 {
		t.Fatalf("QueueDepth = %v, %v; want conversation 3, campaign 4", depth, err)
	}
}

// TestOutcomeAndResolvedWAID: Retry and Fail record the retry state of a failed call to
// Meta and keep it when the sender puts a message back without calling Meta; MaybeSent
// sets possibly_duplicate for good; MarkSentBatch records the wa_id Meta resolved.
func TestOutcomeAndResolvedWAID(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := testCtx(t)
	retried := enqueue(t, s, numA, store.LaneConversation, "5511987654321", time.Time{})
	failed := enqueue(t, s, numA, store.LaneConversation, "34600000002", time.Time{})
	l := lockNumber(t, s, numA)
	claim(t, l, store.LaneConversation, 10)
	since := time.Now().Add(-time.Minute).Truncate(time.Microsecond)
	state := store.RetryState{Class: "transient", Count: 2, Since: since}
	if err := l.Retry(ctx, retried, time.Time{}, store.Outcome{Code: 131000, Message: "went wrong", Retry: state, MaybeSent: true}); err != nil {
		t.Fatal(err)
	}
	if m := get(t, s, retried); m.Retry.Class != "transient" || m.Retry.Count != 2 || !m.Retry.Since.Equal(since) || !m.PossiblyDuplicate {
		t.Fatalf("retried: %+v", m)
	}
	// A requeue without a call (pacing) keeps the state and the flag.
	claim(t, l, store.LaneConversation, 10)
	if err := l.Retry(ctx, retried, time.Time{}, store.Outcome{Code: 131000, Message: "went wrong"}); err != nil {
		t.Fatal(err)
	}
	if m := get(t, s, retried); m.Retry != state || !m.PossiblyDuplicate {
		t.Fatalf("requeued without a call: %+v", m)
	}
	claim(t, l, store.LaneConversation, 10)
	if err := l.MarkSentBatch(ctx, []store.Sent{{ID: retried, WAMID: "wamid.R", ResolvedWAID: "55119876543210"}}); err != nil {
		t.Fatal(err)
	}
	if m := get(t, s, retried); m.ResolvedWAID != "55119876543210" || m.State != store.StateSent {
		t.Fatalf("sent: %+v", m)
	}
	if err := l.Fail(ctx, failed, store.Outcome{Code: 131000, Message: "gave up", Retry: store.RetryState{Class: "transient", Count: 3, Since: since}}); err != nil {
		t.Fatal(err)
	}
	if m := get(t, s, failed); m.State != store.StateFailed || m.Retry.Count != 3 || m.PossiblyDuplicate || m.ResolvedWAID != "" {
		t.Fatalf("failed: %+v", m)
	}
}
