package pace_test

import (
	"flag"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/runtime/pace"
)

var (
	flagSimulated = flag.Duration("pace.simulated", 10*time.Minute, "simulated duration of the per-second cases "+
		"(the 20/min campaign case runs 6 times as long)")
	flagRealTime = flag.Duration("pace.realtime", 2*time.Second, "wall-clock duration of each real-time case")
)

// limitCase is one limit to measure.
type limitCase struct {
	name   string
	limits pace.Limits
	lane   pace.Lane
	rate   float64       // the limit, messages per second
	period time.Duration // the period the limit is stated in (Meta's window)
	// scale stretches the simulated duration (slow limits need longer to be measured).
	scale int
}

var cases = []limitCase{
	{name: "campaign-20-per-min", limits: pace.Limits{MessagesPerSecond: 80, CampaignPerMinute: 20},
		lane: pace.LaneCampaign, rate: 20.0 / 60, period: time.Minute, scale: 6},
	{name: "80-per-s", limits: pace.Limits{MessagesPerSecond: 80, CampaignPerMinute: 80 * 60},
		lane: pace.LaneConversation, rate: 80, period: time.Second, scale: 1},
	{name: "1000-per-s", limits: pace.Limits{MessagesPerSecond: 1000, CampaignPerMinute: 1000 * 60},
		lane: pace.LaneConversation, rate: 1000, period: time.Second, scale: 1},
}

// senderPacer builds the pacer as sender.Run does: empty at start (closed, then
// opened) and bursting at most half a second's worth of the total rate.
func senderPacer(l pace.Limits, now time.Time) *pace.Pacer {
	p := pace.NewPacer(pace.Limits{}, now)
	p.LimitTotalBurst(0.5, now)
	p.Update(l, now)
	return p
}

// recipients cycles through enough recipients that each gets one message per 10 s at
// most, below Meta's pair rate (1 per 6 s), which is therefore never the limit.
func recipients(rate float64) func(i int) string {
	n := max(1, int(rate*10))
	return func(i int) string { return fmt.Sprintf("346%08d", i%n) }
}

// BenchmarkAccuracy measures each limit against a simulated clock: the fastest
// possible caller asks again the moment the pacer said it could succeed (the clock
// jumps by the returned wait), over a fixed simulated duration. Nothing sleeps.
func BenchmarkAccuracy(b *testing.B) {
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			d := *flagSimulated * time.Duration(c.scale)
			var sent []time.Time
			for range b.N {
				start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
				sent = greedy(b, senderPacer(c.limits, start), c.lane, start, start.Add(d), recipients(c.rate))
			}
			report(b, c, "simulated", sent, d)
		})
	}
}

// greedy reserves as fast as the pacer allows from start until end.
func greedy(b *testing.B, p *pace.Pacer, lane pace.Lane, start, end time.Time, rcpt func(int) string) []time.Time {
	var sent []time.Time
	for now := start; now.Before(end); {
		ok, w := p.Reserve(lane, rcpt(len(sent)), now)
		if ok {
			sent = append(sent, now)
			continue
		}
		if w <= 0 || w == pace.Forever {
			b.Fatalf("refused at %v with wait %v", now.Sub(start), w)
		}
		now = now.Add(w)
	}
	return sent
}

// BenchmarkRealTime runs the per-second limits against the real clock for a short,
// bounded time: the caller sleeps for the wait the pacer returns (oversleeping, as
// timers do, leaves tokens in the bucket for the next call).
func BenchmarkRealTime(b *testing.B) {
	for _, c := range cases {
		if c.period != time.Second {
			continue // 20/min needs minutes of wall clock; the simulated case covers it
		}
		b.Run(c.name, func(b *testing.B) {
			d := *flagRealTime
			var sent []time.Time
			for range b.N {
				start := time.Now()
				sent = realTime(senderPacer(c.limits, start), c.lane, start, start.Add(d), recipients(c.rate))
			}
			report(b, c, "real clock", sent, d)
		})
	}
}

func realTime(p *pace.Pacer, lane pace.Lane, start, end time.Time, rcpt func(int) string) []time.Time {
	var sent []time.Time
	for {
		now := time.Now()
		if !now.Before(end) {
			return sent
		}
		ok, w := p.Reserve(lane, rcpt(len(sent)), now)
		if ok {
			sent = append(sent, now)
			continue
		}
		time.Sleep(min(w, end.Sub(now)))
	}
}

// report: ratio is achieved/limit over the whole run; window-ratio the most sends
// seen in any window of the limit's period (1 s, or 1 min for the campaign rate)
// over the limit per period, the figure Meta's per-second measurement sees.
func report(b *testing.B, c limitCase, clock string, sent []time.Time, d time.Duration) {
	achieved := float64(len(sent)) / d.Seconds()
	perPeriod := c.rate * c.period.Seconds()
	window := float64(maxInWindow(sent, c.period)) / perPeriod
	b.ReportMetric(0, "ns/op") // one op is a whole measurement: meaningless
	b.ReportMetric(achieved/c.rate, "ratio")
	b.ReportMetric(window, "window-ratio")
	b.ReportMetric(achieved, "msgs/s")
	b.Logf("%s, %s: %d sends in %v = %.4g msg/s for a limit of %.4g msg/s: ratio %.4f; "+
		"busiest %v window %.0f sends (%.4f of %.4g)",
		c.name, clock, len(sent), d, achieved, c.rate, achieved/c.rate, c.period, window*perPeriod, window, perPeriod)
}

// maxInWindow returns the most of the sorted times found in any window [t, t+w).
func maxInWindow(times []time.Time, w time.Duration) int {
	times = slices.SortedFunc(slices.Values(times), time.Time.Compare)
	best, j := 0, 0
	for i := range times {
		for j < len(times) && times[j].Before(times[i].Add(w)) {
			j++
		}
		best = max(best, j-i)
	}
	return best
}
