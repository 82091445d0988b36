package pace_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/runtime/pace"
)

// TestPairRate: 45 at once, then one per 6 s, for one recipient; the others unaffected.
func TestPairRate(t *testing.T) {
	const hot, cold = "+34600000001", "+34600000002"
	pr := pace.NewPairs(pace.DefaultPairInterval, pace.DefaultPairBurst)
	for i := range 45 {
		if !pr.Take(hot, t0) {
			t.Fatalf("burst message %d refused", i)
		}
	}
	if pr.Take(hot, t0) {
		t.Fatal("46th message of the burst allowed")
	}
	if got := pr.Wait(hot, t0); got != 6*time.Second {
		t.Errorf("Wait = %v, want 6s", got)
	}
	if got := pr.Wait(cold, t0); got != 0 {
		t.Errorf("other recipient: Wait = %v, want 0", got)
	}
	for i := range 45 {
		if !pr.Take(cold, t0) {
			t.Fatalf("other recipient's burst message %d refused", i)
		}
	}
	// Then exactly one per 6 s.
	for k := 1; k <= 10; k++ {
		now := at(time.Duration(k) * 6 * time.Second)
		if pr.Take(hot, now.Add(-time.Millisecond)) {
			t.Fatalf("message at %v (before the %d×6s) allowed", now.Add(-time.Millisecond).Sub(t0), k)
		}
		if !pr.Take(hot, now) {
			t.Fatalf("message at %v refused", now.Sub(t0))
		}
		if pr.Take(hot, now) {
			t.Fatalf("second message at %v allowed", now.Sub(t0))
		}
	}
	// A 20-message burst "borrows" 20×6 s = 2 min: a rested recipient that sent 45
	// then waits 4.5 min to burst 45 again.
	fresh := "+34600000003"
	for range 45 {
		pr.Take(fresh, t0)
	}
	if got := pr.Wait(fresh, t0); got != 6*time.Second {
		t.Errorf("Wait = %v", got)
	}
	n := 0
	for pr.Take(fresh, at(270*time.Second)) {
		n++
	}
	if n != 45 {
		t.Errorf("after 270 s idle: burst of %d, want 45", n)
	}
	if pr.Interval() != 6*time.Second || pr.Burst() != 45 {
		t.Errorf("Interval %v Burst %d", pr.Interval(), pr.Burst())
	}
}

// TestPairRateThroughPacer: one busy recipient never blocks the others; its wait is
// its own.
func TestPairRateThroughPacer(t *testing.T) {
	p := pace.NewPacer(pace.Limits{MessagesPerSecond: 1000, CampaignPerMinute: 60000}, t0)
	const hot = "+34600000001"
	hotSent, others := 0, 0
	// A caller that tries the hot recipient first, then others, every 10 ms for 10 min.
	for now := t0; now.Before(at(10 * time.Minute)); now = now.Add(10 * time.Millisecond) {
		for {
			ok, w := p.Reserve(pace.LaneConversation, hot, now)
			if !ok {
				if w > 6*time.Second || w <= 0 {
					t.Fatalf("hot recipient wait %v", w)
				}
				break
			}
			hotSent++
		}
		for range 5 {
			if ok, w := p.Reserve(pace.LaneConversation, fmt.Sprint("other-", others), now); !ok {
				t.Fatalf("other recipient refused (wait %v) while the hot one waits", w)
			}
			others++
		}
	}
	// 45 at t0, then one at every 6 s step in (0, 600 s).
	if want := 45 + 99; hotSent != want {
		t.Errorf("hot recipient got %d in 10 min, want %d", hotSent, want)
	}
}

func TestBackoff(t *testing.T) {
	const r, other = "+34600000001", "+34600000002"
	p := pace.NewPacer(pace.Limits{MessagesPerSecond: 80, CampaignPerMinute: 600}, t0)
	if ok, _ := p.Reserve(pace.LaneConversation, r, t0); !ok {
		t.Fatal("first message refused")
	}
	// Meta answers 131056: retry after 16 s.
	until := at(16 * time.Second)
	p.BackoffRecipient(r, until)
	for _, lane := range []pace.Lane{pace.LaneConversation, pace.LaneCampaign} {
		ok, w := p.Reserve(lane, r, at(time.Second))
		if ok || w != 15*time.Second {
			t.Errorf("%s during backoff: ok %v wait %v, want false 15s", lane, ok, w)
		}
		if ok, w := p.Reserve(lane, other, at(time.Second)); !ok {
			t.Errorf("%s: other recipient refused during another's backoff (wait %v)", lane, w)
		}
	}
	// A shorter backoff never shortens the block.
	p.BackoffRecipient(r, at(4*time.Second))
	if ok, _ := p.Reserve(pace.LaneConversation, r, at(10*time.Second)); ok {
		t.Fatal("shorter backoff lifted the block")
	}
	// At until, one message; then the pair rate again, with no fresh burst.
	if ok, w := p.Reserve(pace.LaneConversation, r, until); !ok {
		t.Fatalf("refused at until (wait %v)", w)
	}
	if ok, w := p.Reserve(pace.LaneConversation, r, until); ok || w != 6*time.Second {
		t.Errorf("after backoff: ok %v wait %v, want false 6s (no burst)", ok, w)
	}
	// Backoff of a recipient never seen.
	pr := p.Pairs()
	pr.Backoff("new", at(time.Minute))
	if pr.Take("new", at(59*time.Second)) || !pr.Take("new", at(time.Minute)) {
		t.Error("backoff of a new recipient not honoured")
	}
}

func TestPairsMemoryBound(t *testing.T) {
	pr := pace.NewPairs(pace.DefaultPairInterval, pace.DefaultPairBurst)
	// 100k distinct recipients, one message each, at 1000/s (100 s).
	const n, perSecond = 100_000, 1000
	step := time.Second / perSecond
	maxLen := 0
	now := t0
	for i := range n {
		if !pr.Take(fmt.Sprint("+3460", i), now) {
			t.Fatalf("recipient %d refused", i)
		}
		maxLen = max(maxLen, pr.Len())
		now = now.Add(step)
	}
	// A recipient sent one message is forgettable 6 s later: the live set is 6000;
	// amortised pruning keeps at most about twice that, plus 1024.
	live := int(6 * time.Second / step)
	if bound := 2*live + 1024; maxLen > bound {
		t.Errorf("Pairs held up to %d recipients, want at most %d", maxLen, bound)
	}
	t.Logf("100k recipients at %d/s: at most %d tracked at once (live set %d)", perSecond, maxLen, live)

	// A blocked recipient and a drained one are kept; everyone else is forgotten.
	for range 45 {
		pr.Take("drained", now)
	}
	pr.Backoff("blocked", now.Add(time.Hour))
	pr.Prune(now.Add(10 * time.Second))
	if got := pr.Len(); got != 2 {
		t.Errorf("after prune: %d recipients tracked, want 2 (blocked, drained)", got)
	}
	pr.Prune(now.Add(2 * time.Hour))
	if got := pr.Len(); got != 0 {
		t.Errorf("after 2 h idle: %d recipients tracked, want 0", got)
	}
	// Forgetting is lossless: a forgotten recipient has its full burst again.
	for i := range 45 {
		if !pr.Take("drained", now.Add(2*time.Hour)) {
			t.Fatalf("forgotten recipient: message %d refused", i)
		}
	}
}

// TestPairsPruneIsLossless: pruning never lets a recipient send more than it could.
func TestPairsPruneIsLossless(t *testing.T) {
	pruned := pace.NewPairs(time.Second, 3)
	kept := pace.NewPairs(time.Second, 3)
	now := t0
	for i := range 20000 {
		r := fmt.Sprint(i % 700)
		if a, b := pruned.Take(r, now), kept.Take(r, now); a != b {
			t.Fatalf("step %d: pruned Take %v, unpruned %v", i, a, b)
		}
		if i%97 == 0 {
			pruned.Prune(now)
		}
		now = now.Add(3 * time.Millisecond)
	}
}
