package pace_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/runtime/pace"
)

func TestPaused(t *testing.T) {
	conv, camp := pace.LaneConversation, pace.LaneCampaign
	cases := []struct {
		name   string
		limits pace.Limits
		closed map[pace.Lane]bool
	}{
		{"both rates 0", pace.Limits{}, map[pace.Lane]bool{conv: true, camp: true}},
		{"total 0 closes both lanes", pace.Limits{MessagesPerSecond: 0, CampaignPerMinute: 600}, map[pace.Lane]bool{conv: true, camp: true}},
		{"campaign 0 (restricted)", pace.Limits{MessagesPerSecond: 80, CampaignPerMinute: 0}, map[pace.Lane]bool{conv: false, camp: true}},
		{"negative counts as 0", pace.Limits{MessagesPerSecond: 80, CampaignPerMinute: -5}, map[pace.Lane]bool{conv: false, camp: true}},
		{"open", pace.Limits{MessagesPerSecond: 80, CampaignPerMinute: 20}, map[pace.Lane]bool{conv: false, camp: false}},
		{"unknown lane paced as campaign", pace.Limits{MessagesPerSecond: 80, CampaignPerMinute: 0}, map[pace.Lane]bool{"bulk": true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := pace.NewPacer(tc.limits, t0)
			for lane, closed := range tc.closed {
				if got := p.Blocked(lane, t0); got != closed {
					t.Errorf("Blocked(%s) = %v, want %v", lane, got, closed)
				}
				ok, w := p.Reserve(lane, "+34600000001", at(time.Hour))
				if closed && (ok || w != pace.Forever) {
					t.Errorf("Reserve(%s) = %v, %v; want false, Forever", lane, ok, w)
				}
				if !closed && !ok {
					t.Errorf("Reserve(%s) refused (wait %v)", lane, w)
				}
			}
		})
	}
	t.Run("pause and resume live", func(t *testing.T) {
		open := pace.Limits{MessagesPerSecond: 80, CampaignPerMinute: 600}
		p := pace.NewPacer(open, t0)
		p.Update(pace.Limits{}, at(time.Second))
		if ok, w := p.Reserve(pace.LaneConversation, "a", at(time.Minute)); ok || w != pace.Forever {
			t.Fatalf("paused: %v %v", ok, w)
		}
		// A resumed number starts empty and ramps up at its rate (no burst).
		p.Update(open, at(time.Minute))
		if ok, w := p.Reserve(pace.LaneConversation, "a", at(time.Minute)); ok || w != 12500*time.Microsecond {
			t.Fatalf("resumed: %v %v, want false 12.5ms", ok, w)
		}
		// A campaign needs its own token (100 ms at 10/s) and must leave the
		// headroom of 8 in the total bucket: 9 tokens at 80/s = 112.5 ms.
		if ok, w := p.Reserve(pace.LaneCampaign, "b", at(time.Minute)); ok || w != 112500*time.Microsecond {
			t.Fatalf("resumed campaign: %v %v, want false 112.5ms", ok, w)
		}
	})
}

func TestConversationReserve(t *testing.T) {
	for _, tc := range []struct {
		mps  int32
		want float64
	}{{1, 0}, {2, 1}, {10, 1}, {11, 2}, {20, 2}, {80, 8}, {1000, 100}, {0, 0}} {
		p := pace.NewPacer(pace.Limits{MessagesPerSecond: tc.mps, CampaignPerMinute: 60 * tc.mps}, t0)
		if got := p.ConversationReserve(); got != tc.want {
			t.Errorf("%d msg/s: reserve %v, want %v", tc.mps, got, tc.want)
		}
	}
	// At 1 msg/s campaigns still go (no room for headroom).
	p := pace.NewPacer(pace.Limits{MessagesPerSecond: 1, CampaignPerMinute: 60}, t0)
	if ok, w := p.Reserve(pace.LaneCampaign, "a", t0); !ok {
		t.Errorf("1 msg/s campaign refused (wait %v)", w)
	}
}

// TestRepliesNeverWaitBehindCampaign: a campaign allowed the full throughput runs as fast
// as it can; replies arriving one at a time, or in bursts up to the headroom, leave the
// moment they arrive, and campaigns get what replies leave.
func TestRepliesNeverWaitBehindCampaign(t *testing.T) {
	p := pace.NewPacer(pace.Limits{MessagesPerSecond: 80, CampaignPerMinute: 4800}, t0)
	reserve := int(p.ConversationReserve()) // 8
	end := at(60 * time.Second)
	// Replies: one every 50 ms (20/s), plus a burst of `reserve` every 1.3 s.
	var arrivals []time.Time
	for d := 7 * time.Millisecond; d < 60*time.Second; d += 50 * time.Millisecond {
		arrivals = append(arrivals, at(d))
	}
	burstAt := map[time.Time]bool{}
	for d := 1300 * time.Millisecond; d < 60*time.Second; d += 1300 * time.Millisecond {
		burstAt[at(d)] = true
	}
	var sent []time.Time
	replies, campaigns, r := 0, 0, 0
	campaignNext := t0
	for now := t0; now.Before(end); {
		// Replies first (what the sender does).
		due := 0
		for r < len(arrivals) && !arrivals[r].After(now) {
			if arrivals[r].Before(now) {
				t.Fatalf("reply due at %v handled at %v", arrivals[r].Sub(t0), now.Sub(t0))
			}
			due++
			r++
		}
		if burstAt[now] {
			due += reserve
			delete(burstAt, now)
		}
		for i := range due {
			ok, w := p.Reserve(pace.LaneConversation, fmt.Sprint("reply-", replies), now)
			if !ok {
				total, _ := p.Tokens(now)
				t.Fatalf("reply %d of %d at %v waited %v behind the campaign (total tokens %.3f)", i+1, due, now.Sub(t0), w, total)
			}
			replies++
			sent = append(sent, now)
		}
		// Then the campaign, as fast as allowed.
		if !now.Before(campaignNext) {
			for {
				ok, w := p.Reserve(pace.LaneCampaign, fmt.Sprint("campaign-", campaigns), now)
				if !ok {
					campaignNext = now.Add(w)
					break
				}
				campaigns++
				sent = append(sent, now)
			}
		}
		next := campaignNext
		if r < len(arrivals) && arrivals[r].Before(next) {
			next = arrivals[r]
		}
		for b := range burstAt {
			if b.Before(next) && b.After(now) {
				next = b
			}
		}
		now = next
	}
	if got := maxInWindow(sortTimes(sent), time.Second); got > 2*80 {
		t.Errorf("%d messages in one second at 80/s", got)
	}
	total := float64(replies + campaigns)
	if !within(total-80, 80*60, 0.01) || total > 80*60+80 {
		t.Errorf("sent %v in total, want 4800 (+ burst) within 1%%", total)
	}
	t.Logf("replies %d (none waited), campaigns %d, total %.0f in 60 s at 80/s", replies, campaigns, total)
}

// TestCampaignsYieldToPendingReplies: with replies pending (more replies than the total
// rate), even a caller that asks for the campaign lane first never gets a campaign
// token; once no reply is pending, campaigns go on.
func TestCampaignsYieldToPendingReplies(t *testing.T) {
	p := pace.NewPacer(pace.Limits{MessagesPerSecond: 80, CampaignPerMinute: 4800}, t0)
	replies, campaigns := 0, 0
	for now := t0; now.Before(at(10 * time.Second)); now = now.Add(time.Millisecond) {
		// Adversarial order: campaign first.
		if ok, _ := p.Reserve(pace.LaneCampaign, fmt.Sprint("c", campaigns), now); ok {
			campaigns++
		}
		pending := false
		for {
			ok, _ := p.Reserve(pace.LaneConversation, fmt.Sprint("r", replies), now)
			if !ok {
				pending = true // the reply backlog never empties
				break
			}
			replies++
		}
		p.SetConversationPending(pending)
	}
	// The very first campaign attempt ran before anything was pending.
	if campaigns > 1 {
		t.Errorf("%d campaigns sent while replies were pending", campaigns)
	}
	if want := 80.0 * 11; !within(float64(replies+campaigns), want, 0.01) {
		t.Errorf("replies %d, want about %v", replies, want)
	}
	// Replies drained: campaigns resume.
	p.SetConversationPending(false)
	sent := greedy(p, pace.LaneCampaign, at(10*time.Second), at(20*time.Second), recipients(10000), nil)
	if !within(float64(len(sent)), 800, 0.01) {
		t.Errorf("after replies drained: %d campaigns in 10 s, want 800", len(sent))
	}
}

// TestPendingRepliesHeldByPairRate: replies pending only because their recipient is
// busy do not stop campaigns (the total bucket fills up).
func TestPendingRepliesHeldByPairRate(t *testing.T) {
	p := pace.NewPacer(pace.Limits{MessagesPerSecond: 80, CampaignPerMinute: 20}, t0)
	p.BackoffRecipient("busy", at(time.Hour))
	if ok, w := p.Reserve(pace.LaneConversation, "busy", t0); ok || w != time.Hour {
		t.Fatalf("busy recipient: %v %v", ok, w)
	}
	p.SetConversationPending(true)
	sent := greedy(p, pace.LaneCampaign, t0, at(time.Minute), recipients(100), nil)
	if len(sent) != 20 {
		t.Errorf("%d campaigns in a minute at 20/min with a reply held by its pair rate, want 20", len(sent))
	}
}

// TestReserveIsAtomic: a refused reservation takes nothing.
func TestReserveIsAtomic(t *testing.T) {
	p := pace.NewPacer(pace.Limits{MessagesPerSecond: 80, CampaignPerMinute: 60}, t0)
	pr := p.Pairs()
	for range 45 {
		pr.Take("busy", t0)
	}
	// Refused for the pair rate: no total or campaign token taken.
	if ok, w := p.Reserve(pace.LaneCampaign, "busy", t0); ok || w != 6*time.Second {
		t.Fatalf("busy recipient: %v %v", ok, w)
	}
	if total, campaign := p.Tokens(t0); total != 80 || campaign != 1 {
		t.Errorf("after refusal: tokens %v / %v, want 80 / 1", total, campaign)
	}
	// Refused for the campaign rate: no total or pair token taken.
	if ok, _ := p.Reserve(pace.LaneCampaign, "a", t0); !ok {
		t.Fatal("first campaign refused")
	}
	if ok, w := p.Reserve(pace.LaneCampaign, "b", t0); ok || w != time.Second {
		t.Fatalf("second campaign: %v %v, want false 1s", ok, w)
	}
	if total, _ := p.Tokens(t0); total != 79 {
		t.Errorf("total tokens %v, want 79", total)
	}
	if pr.Wait("b", t0) != 0 || pr.Len() != 2 {
		t.Errorf("refused campaign touched the pair rate (tracked %d)", pr.Len())
	}
	// The wait is the largest of the buckets': campaign 1 s vs pair 6 s.
	if _, w := p.Reserve(pace.LaneCampaign, "busy", t0); w != 6*time.Second {
		t.Errorf("wait %v, want 6s (pair rate dominates)", w)
	}
}

// TestConcurrent hammers one pacer from many goroutines on a shared simulated clock
// (run with -race); the total sent never exceeds the limits.
func TestConcurrent(t *testing.T) {
	l := pace.Limits{MessagesPerSecond: 80, CampaignPerMinute: 600}
	p := pace.NewPacer(l, t0)
	var clock atomic.Int64 // nanoseconds since t0
	var conv, camp atomic.Int64
	const workers, steps = 8, 20000
	const step = 100 * time.Microsecond
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range steps {
				now := t0.Add(time.Duration(clock.Add(int64(step))))
				lane := pace.LaneConversation
				if i%3 == 0 {
					lane = pace.LaneCampaign
				}
				if ok, _ := p.Reserve(lane, fmt.Sprintf("%d-%d", w, i%5000), now); ok {
					if lane == pace.LaneCampaign {
						camp.Add(1)
					} else {
						conv.Add(1)
					}
				}
				if i%1000 == 0 {
					p.BackoffRecipient(fmt.Sprintf("%d-%d", w, i%5000+1), now.Add(time.Second))
					p.SetConversationPending(i%2000 == 0)
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 2000 {
			now := t0.Add(time.Duration(clock.Load()))
			p.Update(l, now) // same limits: must not refill
			p.Blocked(pace.LaneCampaign, now)
			p.Tokens(now)
			p.Pairs().Wait(fmt.Sprint(i), now)
			p.Pairs().Len()
		}
	})
	wg.Wait()
	elapsed := time.Duration(clock.Load()).Seconds() // 16 s
	total := float64(conv.Load() + camp.Load())
	if limit := 80*elapsed + 80; total > limit {
		t.Errorf("sent %v in %.1fs, above %v", total, elapsed, limit)
	}
	if limit := 10*elapsed + 1; float64(camp.Load()) > limit {
		t.Errorf("sent %d campaigns in %.1fs, above %v", camp.Load(), elapsed, limit)
	}
	if total < 0.9*80*elapsed {
		t.Errorf("sent only %v in %.1fs at 80/s", total, elapsed)
	}
	t.Logf("%d goroutines, %.1f simulated s: %d replies, %d campaigns", workers, elapsed, conv.Load(), camp.Load())
}

// TestConcurrentCampaign: campaigns alone from many goroutines keep to the campaign
// rate.
func TestConcurrentCampaign(t *testing.T) {
	p := pace.NewPacer(pace.Limits{MessagesPerSecond: 80, CampaignPerMinute: 600}, t0)
	var clock atomic.Int64
	var sent atomic.Int64
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 10000 {
				now := t0.Add(time.Duration(clock.Add(int64(time.Millisecond))))
				if ok, _ := p.Reserve(pace.LaneCampaign, fmt.Sprintf("%d-%d", w, i), now); ok {
					sent.Add(1)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Duration(clock.Load()).Seconds() // 80 s
	if n := float64(sent.Load()); n > 10*elapsed+10 || n < 0.99*10*elapsed {
		t.Errorf("sent %v campaigns in %.0fs at 10/s", n, elapsed)
	}
}

func sortTimes(ts []time.Time) []time.Time {
	out := append([]time.Time(nil), ts...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].Before(out[j-1]); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func BenchmarkReserve(b *testing.B) {
	rcpt := make([]string, 10000)
	for i := range rcpt {
		rcpt[i] = fmt.Sprint("+3460", i)
	}
	for _, lane := range []pace.Lane{pace.LaneConversation, pace.LaneCampaign} {
		b.Run(string(lane), func(b *testing.B) {
			p := pace.NewPacer(pace.Limits{MessagesPerSecond: 1000, CampaignPerMinute: 60000}, t0)
			now := t0
			i := 0
			for b.Loop() {
				p.Reserve(lane, rcpt[i%len(rcpt)], now)
				now = now.Add(time.Millisecond)
				i++
			}
		})
	}
	b.Run("parallel", func(b *testing.B) {
		p := pace.NewPacer(pace.Limits{MessagesPerSecond: 1000, CampaignPerMinute: 60000}, t0)
		var clock atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				now := t0.Add(time.Duration(clock.Add(int64(time.Millisecond))))
				p.Reserve(pace.LaneConversation, rcpt[i%len(rcpt)], now)
				i++
			}
		})
	})
}

func TestLimitTotalBurst(t *testing.T) {
	now := time.Unix(0, 0)
	p := pace.NewPacer(pace.Limits{MessagesPerSecond: 80, CampaignPerMinute: 4800}, now)
	p.LimitTotalBurst(0.5, now)
	n := 0
	for i := 0; i < 100; i++ {
		if ok, _ := p.Reserve(pace.LaneConversation, fmt.Sprint("r", i), now); ok {
			n++
		}
	}
	if n != 40 {
		t.Errorf("burst of %d, want 40 (half of 80)", n)
	}
	later := now.Add(10 * time.Second) // the rate is unchanged: 80/s, capped at the burst
	if got, _ := p.Tokens(later); got != 40 {
		t.Errorf("tokens after 10s: %v, want 40", got)
	}
}

func TestEmpty(t *testing.T) {
	now := time.Unix(0, 0)
	p := pace.NewPacer(pace.Limits{MessagesPerSecond: 80, CampaignPerMinute: 600}, now)
	p.Empty(now)
	if ok, wait := p.Reserve(pace.LaneConversation, "a", now); ok || wait != 12500*time.Microsecond {
		t.Errorf("right after Empty: ok %v, wait %s; want a refusal for one token's time (12.5ms)", ok, wait)
	}
	later := now.Add(time.Second) // refills at the rate, no reset of the rates themselves
	if total, campaign := p.Tokens(later); total != 80 || campaign != 10 {
		t.Errorf("one second later: tokens %v / %v, want 80 / 10", total, campaign)
	}
}
