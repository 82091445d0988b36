package sender_test

import (
	"context"
	"flag"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/runtime/sender"
	"github.com/switchboard-dev/switchboard/runtime/store"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

var (
	flagLatencyN    = flag.Int("sender.latency-messages", 800, "messages the paced producer enqueues")
	flagLatencyRate = flag.Int("sender.latency-rate", 80, "msg/s of the producer and of the sender's limit")
)

const latencyPrefix = "lat_"

// BenchmarkLatency measures enqueue-to-Meta latency at a steady 80 msg/s: a producer
// enqueues one message every 12.5 ms (store.Enqueue, as the inbox and `switchboard
// send` do) while the sender, running for a second already, works at an 80 msg/s
// limit on a STANDARD (80 msg/s) number. Latency is from Enqueue's return to the
// message reaching the simulator; call-p50/p99 count from Enqueue's call instead.
func BenchmarkLatency(b *testing.B) {
	n, rate := *flagLatencyN, *flagLatencyRate
	if n < 2 || rate < 1 || rate > highestTier {
		b.Fatalf("need -sender.latency-messages >= 2 and 1 <= -sender.latency-rate <= %d", highestTier)
	}
	var lat, fromCall, enq []time.Duration
	var sent, produced float64
	for range b.N {
		l, q, s, p := measureLatency(b, n, rate, *flagWorkers)
		lat, enq = append(lat, l...), append(enq, q...)
		for i := range l {
			fromCall = append(fromCall, l[i]+q[i])
		}
		sent, produced = s, p
	}
	slices.Sort(lat)
	slices.Sort(enq)
	slices.Sort(fromCall)
	p50, p99, worst := percentile(lat, 0.50), percentile(lat, 0.99), lat[len(lat)-1]

	b.ReportMetric(0, "ns/op") // one op is a whole measurement: meaningless
	b.ReportMetric(ms(p50), "p50-ms")
	b.ReportMetric(ms(p99), "p99-ms")
	b.ReportMetric(ms(worst), "max-ms")
	b.ReportMetric(ms(percentile(fromCall, 0.50)), "call-p50-ms")
	b.ReportMetric(ms(percentile(fromCall, 0.99)), "call-p99-ms")
	b.ReportMetric(sent, "sends/s")
	b.Logf("enqueue-to-Meta at %d msg/s, from Enqueue's return: p50 %.2f ms, p99 %.2f ms, max %.2f ms, min %.2f ms; "+
		"from Enqueue's call: p50 %.2f ms, p99 %.2f ms (%d messages; produced %.1f msg/s, sent %.1f msg/s; "+
		"Enqueue itself p50 %.2f ms, p99 %.2f ms)",
		rate, ms(p50), ms(p99), ms(worst), ms(lat[0]), ms(percentile(fromCall, 0.50)), ms(percentile(fromCall, 0.99)),
		len(lat), produced, sent, ms(percentile(enq, 0.5)), ms(percentile(enq, 0.99)))
}

// measureLatency runs one producer and one sender and returns each message's latency,
// each Enqueue call's duration, and the sustained send and produce rates.
func measureLatency(b *testing.B, n, rate, workers int) (lat, enq []time.Duration, sent, produced float64) {
	throughput := whatsapp.ThroughputStandard
	if rate > whatsapp.StandardMPS {
		throughput = whatsapp.ThroughputHigh
	}
	e := newEnv(b, throughput, 0, true)
	limits := sender.Limits{MessagesPerSecond: int32(rate), CampaignPerMinute: int32(rate) * 60, UniqueRecipientsPer24h: -1}
	r := e.startSender(e.client(), limits, workers)
	stopped := false
	defer func() {
		if !stopped {
			_ = r.stop()
		}
	}()

	// A running sender's pacer is full; one that starts with the producer would
	// phase-lock to it (both at exactly rate/s) and make every message wait for the
	// fraction of a token the start left it short. Let the sender idle first.
	time.Sleep(time.Second)

	// The producer: message i is enqueued at start + i/rate (late calls catch up, never
	// burst past the schedule), its template name marking it.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute+time.Duration(n/rate)*2*time.Second)
	defer cancel()
	returned := make([]time.Time, n)
	enq = make([]time.Duration, n)
	interval := time.Second / time.Duration(rate)
	start := time.Now()
	for i := range n {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		m := store.NewMessage{Number: number, Recipient: recipient(i), Lane: store.LaneConversation,
			Payload: payload(b, latencyPrefix+strconv.Itoa(i))}
		called := time.Now()
		if _, err := e.st.Enqueue(ctx, m); err != nil {
			b.Fatalf("enqueue %d: %v", i, err)
		}
		returned[i] = time.Now()
		enq[i] = returned[i].Sub(called)
	}

	waitErr := e.waitSent(n, 30*time.Second, r.done)
	stopped = true
	if err := r.stop(); err != nil {
		b.Fatalf("sender: %v", err)
	}
	if waitErr != nil {
		b.Fatalf("sender: %v", waitErr)
	}
	e.checkNoRejection(int64(n))

	at, markers := e.tap.take()
	arrived := make([]time.Time, n)
	for k, name := range markers {
		i, err := strconv.Atoi(strings.TrimPrefix(name, latencyPrefix))
		if err != nil || i < 0 || i >= n || !arrived[i].IsZero() {
			b.Fatalf("unexpected send %q (duplicate or unknown)", name)
		}
		arrived[i] = at[k]
	}
	lat = make([]time.Duration, n)
	for i := range n {
		if arrived[i].IsZero() {
			b.Fatalf("message %d never reached the simulator", i)
		}
		lat[i] = arrived[i].Sub(returned[i])
	}
	return lat, enq, spanRate(at), spanRate(returned)
}
