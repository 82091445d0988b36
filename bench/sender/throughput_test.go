package sender_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/bench/internal/rawhttp"

	"github.com/switchboard-dev/switchboard/runtime/sender"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

var (
	flagMessages = flag.Int("sender.messages", 10000, "messages the sender drains at its 1000 msg/s limit")
	flagRaw      = flag.Int("sender.raw", 10000, "measured raw sends (half before, half after the sender run)")
	flagWarmup   = flag.Int("sender.warmup", 1000, "unmeasured raw sends first")
	flagWorkers  = flag.Int("sender.workers", 64, "the sender's Workers and the raw loop's concurrency (64: the sender's default)")
	flagUncapped = flag.Int("sender.uncapped", 4000, "msg/s limit of the uncapped run, its sends spread over "+
		"several simulator numbers (0 skips it; see the package documentation)")
	flagUncappedN = flag.Int("sender.uncapped-messages", 20000, "messages of the uncapped run")
)

const (
	templateName = "hello_world"
	// highestTier is Meta's highest per-number throughput (HIGH), the limit the issue
	// asks the outbox to sustain.
	highestTier = whatsapp.HighMPS
)

// BenchmarkThroughput measures the sustained sends/s of the real sender at Meta's
// highest per-number throughput (1000 msg/s) against the loopback ceiling of the same
// simulator in the same run. See the package documentation for the method.
func BenchmarkThroughput(b *testing.B) {
	n, raw, warm, workers := *flagMessages, *flagRaw, *flagWarmup, *flagWorkers
	if n < 2 || raw < 4 || warm < 0 || workers < 1 {
		b.Fatal("need -sender.messages >= 2, -sender.raw >= 4, -sender.warmup >= 0, -sender.workers >= 1")
	}
	var rawRate, sendRate, uncappedRate float64
	var rawSends, uncappedSends, uncappedWorkers, spread int
	for range b.N {
		r := measureThroughput(b, n, raw, warm, workers)
		rawRate, sendRate, uncappedRate = r.raw, r.sender, r.uncapped
		rawSends, uncappedSends, uncappedWorkers, spread = r.rawSends, r.uncappedSends, r.uncappedWorkers, r.spread
	}

	b.ReportMetric(0, "ns/op") // one op is a whole measurement: meaningless
	b.ReportMetric(rawRate, "raw-sends/s")
	b.ReportMetric(sendRate, "sender-sends/s")
	b.ReportMetric(sendRate/rawRate, "ratio")
	b.ReportMetric(sendRate/highestTier, "at-1000-ratio")
	summary := fmt.Sprintf("sender at its %d msg/s limit: %.1f sends/s (at-1000-ratio %.4f); raw ceiling %.0f sends/s "+
		"(%d sends, %d workers); sender/raw %.3f (%d messages, 1 HIGH number)",
		highestTier, sendRate, sendRate/highestTier, rawRate, rawSends, workers, sendRate/rawRate, n)
	if *flagUncapped > 0 {
		b.ReportMetric(uncappedRate, "uncapped-sends/s")
		b.ReportMetric(uncappedRate/highestTier, "uncapped-headroom")
		summary += fmt.Sprintf("; uncapped (limit %d msg/s, %d workers, %d messages spread over %d numbers): "+
			"%.0f sends/s, %.2fx the 1000 msg/s tier",
			*flagUncapped, uncappedWorkers, uncappedSends, spread, uncappedRate, uncappedRate/highestTier)
	}
	b.Logf("%s", summary)
}

type throughput struct {
	raw, sender, uncapped                    float64
	rawSends, uncappedSends, uncappedWorkers int
	spread                                   int
}

// measureThroughput runs raw warm-up, raw, sender, raw (and the uncapped sender) on
// one simulator.
func measureThroughput(b *testing.B, n, raw, warm, workers int) throughput {
	un, unN := *flagUncapped, *flagUncappedN
	// The simulator's per-number bucket is fixed (HIGH = 1000/s, burst 1000): spread
	// traffic that is not paced to one number over enough numbers that their combined
	// burst alone covers a whole phase, refill aside.
	biggest := warm + raw/2
	if un > 0 {
		biggest = max(biggest, unN)
	}
	k := max(8, (biggest*5/4)/highestTier+1)
	e := newEnv(b, whatsapp.ThroughputHigh, k, false)
	out := throughput{spread: k}
	var accepted int64

	// Setup, unmeasured: the sender's messages are in the outbox before anything runs.
	e.fill(0, n, func(int) string { return templateName })
	next := n // next unused recipient

	// The raw ceiling: half before and half after the sender, so drift over the run
	// (CPU frequency, other load) hits both sides.
	rawPhase := func(count int) (intervals int, span time.Duration) {
		bodies := make([][]byte, count)
		for i := range bodies {
			bodies[i] = encode(b, whatsapp.TemplateMessage(recipient(next+i), templateName, templateLang))
		}
		next += count
		e.tap.take()
		if err := rawLoop(e, workers, bodies); err != nil {
			b.Fatalf("raw loop: %v", err)
		}
		accepted += int64(count)
		at, _ := e.tap.take()
		if len(at) != count {
			b.Fatalf("raw loop: the simulator saw %d of %d sends", len(at), count)
		}
		// As sends and the time they took, so that the two halves combine as one run.
		return len(at), time.Duration(float64(len(at)) / spanRate(at) * float64(time.Second))
	}
	rawPhase(warm)
	i1, s1 := rawPhase(raw / 2)

	// The sender at Meta's highest tier, on one HIGH number: its pacer is the limit.
	e.tap.take()
	limits := sender.Limits{MessagesPerSecond: highestTier, CampaignPerMinute: highestTier * 60, UniqueRecipientsPer24h: -1}
	out.sender = runSender(b, e, e.client(), limits, workers, n)
	accepted += int64(n)

	i2, s2 := rawPhase(raw - raw/2)
	out.raw = float64(i1+i2) / (s1 + s2).Seconds()
	out.rawSends = raw

	if un > 0 {
		e.fill(next, unN, func(int) string { return templateName })
		e.tap.take()
		api := &fanOut{c: e.client(), ids: e.spread}
		limits := sender.Limits{MessagesPerSecond: int32(un), CampaignPerMinute: int32(un) * 60, UniqueRecipientsPer24h: -1}
		out.uncappedWorkers = workers
		out.uncapped = runSender(b, e, api, limits, out.uncappedWorkers, n+unN)
		out.uncappedSends = unN
		accepted += int64(unN)
	}
	e.checkNoRejection(accepted)
	return out
}

// runSender runs the sender until the outbox holds total sent messages and returns
// the sustained rate of the sends that reached the simulator meanwhile.
func runSender(b *testing.B, e *env, api sender.CloudAPI, limits sender.Limits, workers, total int) float64 {
	b.Helper()
	before := e.tap.count()
	r := e.startSender(api, limits, workers)
	// Generous: at 1000/s a correct run takes total/1000 s.
	limit := 30*time.Second + time.Duration(total)*time.Second/highestTier*2
	waitErr := e.waitSent(total, limit, r.done)
	stopErr := r.stop()
	if waitErr != nil {
		b.Fatalf("sender (limit %d msg/s): %v", limits.MessagesPerSecond, waitErr)
	}
	if stopErr != nil {
		b.Fatalf("sender: %v", stopErr)
	}
	at, _ := e.tap.take()
	if before != 0 || len(at) == 0 {
		b.Fatalf("sender: the simulator saw %d sends (%d before the run)", len(at), before)
	}
	return spanRate(at)
}

// fanOut sends each message from the next of several numbers, round-robin, ignoring
// the sender's phone number ID: only for the uncapped run, to get past the
// simulator's fixed 1000 msg/s per number.
type fanOut struct {
	c   *whatsapp.Client
	ids []string
	n   atomic.Uint64
}

func (f *fanOut) SendPayload(ctx context.Context, _, to string, payload json.RawMessage) (whatsapp.SendResult, error) {
	i := f.n.Add(1) - 1
	return f.c.SendPayload(ctx, f.ids[i%uint64(len(f.ids))], to, payload)
}

// encode encodes m as the client does (json.Encoder, HTML unescaped, trailing
// newline), as bench/cloudapi does.
func encode(b *testing.B, m whatsapp.Message) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		b.Fatalf("encode: %v", err)
	}
	return buf.Bytes()
}

// rawLoop POSTs each body once with net/http, spread round-robin over the spread
// numbers, from workers goroutines, with the client's headers, and checks only the
// status code: the ceiling of the simulator on loopback at that concurrency.
func rawLoop(e *env, workers int, bodies [][]byte) error {
	tr := whatsapp.NewTransport()
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: time.Minute}
	urls := make([]string, len(e.spread))
	for i, id := range e.spread {
		urls[i] = e.baseURL + "/" + whatsapp.DefaultAPIVersion + "/" + id + "/messages"
	}
	auth := "Bearer " + accessToken
	var (
		next     atomic.Int64
		errOnce  sync.Once
		firstErr error
		failed   atomic.Bool
		wg       sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for !failed.Load() {
				i := int(next.Add(1) - 1)
				if i >= len(bodies) {
					return
				}
				err := rawhttp.Post(context.Background(), hc, urls[i%len(urls)], auth, bodies[i])
				if err != nil {
					errOnce.Do(func() { firstErr = err; failed.Store(true) })
					return
				}
			}
		})
	}
	wg.Wait()
	return firstErr
}
