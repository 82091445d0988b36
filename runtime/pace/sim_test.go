package pace_test

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/runtime/pace"
)

// recipients returns a recipient picker that cycles through n recipients, so that the
// pair rate (1 per 6 s) never limits a run at up to n/6 messages per second.
func recipients(n int) func(i int) string {
	return func(i int) string { return fmt.Sprintf("+3460%07d", i%n) }
}

// greedy reserves lane as fast as the pacer allows from start until end: on a refusal
// it jumps the simulated clock by the returned wait. before, if not nil, runs before
// each attempt (to change limits live). It returns the send times.
func greedy(p *pace.Pacer, lane pace.Lane, start, end time.Time, rcpt func(int) string, before func(now time.Time)) []time.Time {
	var sent []time.Time
	for now := start; now.Before(end); {
		if before != nil {
			before(now)
		}
		ok, w := p.Reserve(lane, rcpt(len(sent)), now)
		if ok {
			sent = append(sent, now)
			continue
		}
		if w <= 0 || w == pace.Forever {
			panic(fmt.Sprintf("refused with wait %v", w))
		}
		now = now.Add(w)
	}
	return sent
}

// polling reserves lane every tick from start until end, as many times per tick as the
// pacer allows.
func polling(p *pace.Pacer, lane pace.Lane, start, end time.Time, tick time.Duration, rcpt func(int) string) []time.Time {
	var sent []time.Time
	for now := start; now.Before(end); now = now.Add(tick) {
		for {
			ok, _ := p.Reserve(lane, rcpt(len(sent)), now)
			if !ok {
				break
			}
			sent = append(sent, now)
		}
	}
	return sent
}

// count returns how many of the sorted times lie in [from, to).
func count(times []time.Time, from, to time.Time) int {
	n := 0
	for _, t := range times {
		if !t.Before(from) && t.Before(to) {
			n++
		}
	}
	return n
}

// maxInWindow returns the most sorted times found in any window [t, t+w).
func maxInWindow(times []time.Time, w time.Duration) int {
	best, j := 0, 0
	for i := range times {
		for j < len(times) && times[j].Before(times[i].Add(w)) {
			j++
		}
		best = max(best, j-i)
	}
	return best
}

// within reports whether got is within frac of want.
func within(got, want, frac float64) bool { return math.Abs(got-want) <= frac*want }

func TestAccuracy(t *testing.T) {
	const run = 60 * time.Second
	cases := []struct {
		name   string
		limits pace.Limits
		lane   pace.Lane
		rate   float64       // the limit that binds, per second
		burst  float64       // its burst
		window time.Duration // the window the limit is measured in
	}{
		{"campaign 20/min", pace.Limits{MessagesPerSecond: 80, CampaignPerMinute: 20}, pace.LaneCampaign, 20.0 / 60, 1, time.Minute},
		{"campaign 90/min", pace.Limits{MessagesPerSecond: 80, CampaignPerMinute: 90}, pace.LaneCampaign, 1.5, 1, time.Minute},
		{"conversation 80/s", pace.Limits{MessagesPerSecond: 80, CampaignPerMinute: 20}, pace.LaneConversation, 80, 80, time.Second},
		{"conversation 1000/s", pace.Limits{MessagesPerSecond: 1000, CampaignPerMinute: 60}, pace.LaneConversation, 1000, 1000, time.Second},
		{"conversation 20/s coexistence", pace.Limits{MessagesPerSecond: 20, CampaignPerMinute: 20}, pace.LaneConversation, 20, 20, time.Second},
		// A campaign allowed the full throughput is held to the total rate (and keeps
		// the conversation headroom out of its initial burst).
		{"campaign at full throughput 80/s", pace.Limits{MessagesPerSecond: 80, CampaignPerMinute: 4800}, pace.LaneCampaign, 80, 80, time.Second},
	}
	callers := []struct {
		name string
		run  func(p *pace.Pacer, lane pace.Lane) []time.Time
	}{
		{"greedy", func(p *pace.Pacer, lane pace.Lane) []time.Time {
			return greedy(p, lane, t0, t0.Add(run), recipients(20000), nil)
		}},
		{"polling 1ms", func(p *pace.Pacer, lane pace.Lane) []time.Time {
			return polling(p, lane, t0, t0.Add(run), time.Millisecond, recipients(20000))
		}},
		{"polling 7ms", func(p *pace.Pacer, lane pace.Lane) []time.Time {
			return polling(p, lane, t0, t0.Add(run), 7*time.Millisecond, recipients(20000))
		}},
	}
	for _, tc := range cases {
		for _, c := range callers {
			t.Run(tc.name+"/"+c.name, func(t *testing.T) {
				sent := c.run(pace.NewPacer(tc.limits, t0), tc.lane)
				n := float64(len(sent))
				t.Logf("sent %.0f in %v: %.4f/s (limit %.4f/s, burst %v); steady %.4f/s", n, run, n/run.Seconds(), tc.rate, tc.burst, (n-tc.burst)/run.Seconds())
				limit := tc.rate * run.Seconds()
				// Never above limit + burst over the run.
				if n > limit+tc.burst {
					t.Errorf("sent %v in %v, above limit %v + burst %v", n, run, limit, tc.burst)
				}
				// The steady rate (after the initial burst) is within 1% of the limit.
				if !within(n-tc.burst, limit, 0.01) && !within(n, limit, 0.01) {
					t.Errorf("sent %v in %v (%.4f/s), want %v (+ burst %v) within 1%%", n, run, n/run.Seconds(), limit, tc.burst)
				}
				// Nor above rate×window + burst in any window of the limit.
				wmax := maxInWindow(sent, tc.window)
				if float64(wmax) > tc.rate*tc.window.Seconds()+tc.burst {
					t.Errorf("%d messages in one %v window, above %v + %v", wmax, tc.window, tc.rate*tc.window.Seconds(), tc.burst)
				}
				// And the total rate is never exceeded, whatever the lane.
				if got, lim := maxInWindow(sent, time.Second), 2*float64(tc.limits.MessagesPerSecond); float64(got) > lim {
					t.Errorf("%d messages in one second, above the total rate's %v", got, lim)
				}
			})
		}
	}
}

// TestAccuracyCampaign20PerMinuteExact: a 20/min campaign sends exactly one message
// every 3 s from the start: 20 in the first minute.
func TestAccuracyCampaign20PerMinuteExact(t *testing.T) {
	p := pace.NewPacer(pace.Limits{MessagesPerSecond: 80, CampaignPerMinute: 20}, t0)
	sent := greedy(p, pace.LaneCampaign, t0, at(time.Minute), recipients(100), nil)
	if len(sent) != 20 {
		t.Fatalf("sent %d in a minute, want 20", len(sent))
	}
	for i, s := range sent {
		if want := at(time.Duration(i) * 3 * time.Second); !s.Equal(want) {
			t.Errorf("message %d at %v, want %v", i, s.Sub(t0), want.Sub(t0))
		}
	}
}

// TestLiveUpdate: 80/s, then 20/s from the middle of the run.
func TestLiveUpdate(t *testing.T) {
	mid, end := at(30*time.Second), at(60*time.Second)
	p := pace.NewPacer(pace.Limits{MessagesPerSecond: 80, CampaignPerMinute: 4800}, t0)
	updated := false
	sent := greedy(p, pace.LaneConversation, t0, end, recipients(20000), func(now time.Time) {
		if !updated && !now.Before(mid) {
			p.Update(pace.Limits{MessagesPerSecond: 20, CampaignPerMinute: 1200}, now)
			updated = true
		}
	})
	first, second := float64(count(sent, t0, mid)), float64(count(sent, mid, end))
	if !within(first-80, 80*30, 0.01) || first > 80*30+80 {
		t.Errorf("first half: %v sent, want 2400 (+80 burst) within 1%%", first)
	}
	if !within(second, 20*30, 0.01) || second > 20*30+20 {
		t.Errorf("second half: %v sent, want 600 within 1%% (no reset, no burst)", second)
	}
	t.Logf("first half %.0f (%.2f/s), second half %.0f (%.2f/s)", first, first/30, second, second/30)
	if got := maxInWindow(sent[len(sent)-int(second):], time.Second); got > 20+1 {
		t.Errorf("second half: %d in one second at 20/s", got)
	}
	if p.Limits() != (pace.Limits{MessagesPerSecond: 20, CampaignPerMinute: 1200}) {
		t.Errorf("Limits() = %+v", p.Limits())
	}
}

// TestUpdateKeepsSpentTokens: an Update (same or higher limits) never refills.
func TestUpdateKeepsSpentTokens(t *testing.T) {
	l := pace.Limits{MessagesPerSecond: 80, CampaignPerMinute: 60}
	p := pace.NewPacer(l, t0)
	for i := range 80 {
		if ok, _ := p.Reserve(pace.LaneConversation, fmt.Sprint(i), t0); !ok {
			t.Fatalf("reservation %d refused", i)
		}
	}
	p.Update(l, t0)
	p.Update(pace.Limits{MessagesPerSecond: 1000, CampaignPerMinute: 600}, t0)
	ok, w := p.Reserve(pace.LaneConversation, "x", t0)
	if ok {
		t.Fatal("Update refilled the total bucket")
	}
	if w != time.Millisecond {
		t.Errorf("wait = %v, want 1ms at the new rate", w)
	}
	// Lowering the limits caps what is left.
	p2 := pace.NewPacer(pace.Limits{MessagesPerSecond: 1000, CampaignPerMinute: 600}, t0)
	p2.Update(pace.Limits{MessagesPerSecond: 20, CampaignPerMinute: 60}, t0)
	if total, campaign := p2.Tokens(t0); total != 20 || campaign != 1 {
		t.Errorf("after lowering: tokens total %v campaign %v, want 20 and 1", total, campaign)
	}
}
