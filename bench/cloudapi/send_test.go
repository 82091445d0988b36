package cloudapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/bench/internal/rawhttp"

	"github.com/switchboard-dev/switchboard/runtime/simulator"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

var (
	flagRequests = flag.Int("cloudapi.requests", 20000, "measured sends per side (raw and client) per measurement")
	flagWarmup   = flag.Int("cloudapi.warmup", 1000, "unmeasured sends per side before measuring")
	flagWorkers  = flag.String("cloudapi.workers", "1,32", "comma-separated concurrency levels, one sub-benchmark each")
	flagRounds   = flag.Int("cloudapi.rounds", 5, "interleaved raw/client/client/raw rounds the measured sends are split into")
	flagCap      = flag.Duration("cloudapi.cap", 5*time.Minute, "time cap for one measurement (warm-up and both sides)")
)

const (
	accessToken  = "bench-token"
	templateName = "hello_world"
	templateLang = "en_US"
	// pairShare bounds the messages any (number, recipient) pair receives in
	// one measurement, far below Meta's pair-rate burst of 45.
	pairShare = 10
)

// BenchmarkSend measures whatsapp.Client.Send against the simulator as a
// ratio to a raw net/http loop against the same server, in the same run.
// See the package documentation for the method.
func BenchmarkSend(b *testing.B) {
	for _, w := range workerLevels(b) {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) { benchSend(b, w) })
	}
}

func workerLevels(b *testing.B) []int {
	var out []int
	for f := range strings.SplitSeq(*flagWorkers, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			b.Fatalf("-cloudapi.workers: %q is not a positive integer", f)
		}
		out = append(out, n)
	}
	return out
}

func benchSend(b *testing.B, workers int) {
	if *flagRounds < 1 || *flagRequests < 2*(*flagRounds) || *flagWarmup < 0 {
		b.Fatalf("need -cloudapi.rounds >= 1, -cloudapi.requests >= 2 x rounds, -cloudapi.warmup >= 0")
	}
	var raw, cli sideResult
	var env *env
	var roundRatios []float64
	for range b.N {
		var rr []float64
		env, rr = measure(b, workers, &raw, &cli)
		roundRatios = append(roundRatios, rr...)
	}
	rawRate, cliRate := raw.rate(), cli.rate()
	rawP50, rawP99 := raw.percentile(0.50), raw.percentile(0.99)
	cliP50, cliP99 := cli.percentile(0.50), cli.percentile(0.99)

	b.ReportMetric(0, "ns/op") // one op is a whole measurement: meaningless
	b.ReportMetric(rawRate, "raw-sends/s")
	b.ReportMetric(cliRate, "client-sends/s")
	b.ReportMetric(cliRate/rawRate, "ratio")
	// The median of the per-round ratios shrugs off a stall that hit one
	// chunk (other load on a shared machine); ratio above does not.
	b.ReportMetric(median(roundRatios), "ratio-median")
	b.ReportMetric(ms(rawP50), "raw-p50-ms")
	b.ReportMetric(ms(rawP99), "raw-p99-ms")
	b.ReportMetric(ms(cliP50), "client-p50-ms")
	b.ReportMetric(ms(cliP99), "client-p99-ms")
	b.Logf("workers=%d: raw %.0f sends/s, client %.0f sends/s, ratio %.3f; "+
		"p50 raw %.3f ms / client %.3f ms; p99 raw %.3f ms / client %.3f ms "+
		"(%d sends per side x %d in %d rounds, round ratios %.3f..%.3f, median %.3f; %d HIGH numbers, %d recipients)",
		workers, rawRate, cliRate, cliRate/rawRate, ms(rawP50), ms(cliP50), ms(rawP99), ms(cliP99),
		*flagRequests, b.N, *flagRounds, slices.Min(roundRatios), slices.Max(roundRatios), median(roundRatios),
		len(env.numbers), len(env.recipients))
}

// measure runs one fixed-count measurement on a fresh simulator, adds each
// side's figures to raw and cli and returns the client/raw ratio of each
// round (their spread shows how noisy the machine was).
func measure(b *testing.B, workers int, raw, cli *sideResult) (*env, []float64) {
	n, warm := *flagRequests, *flagWarmup
	e := startEnv(b, 2*(n+warm)+1)
	defer e.close()

	ctx, cancel := context.WithTimeout(b.Context(), *flagCap)
	defer cancel()

	var seq atomic.Int64 // request index: picks the number and recipient
	rawSend, cliSend := e.rawSender(), e.clientSender(b)
	e.checkSameBody(b, ctx, &seq)

	phase := func(name string, send sendFunc, count int, into *sideResult) {
		p := run(ctx, workers, count, &seq, send)
		if p.err != nil {
			b.Fatalf("%s: %d of %d sends done after %v (time cap %v): %v",
				name, len(p.lat), count, p.elapsed.Round(time.Millisecond), *flagCap, p.err)
		}
		if into != nil {
			into.add(p)
		}
	}
	phase("raw warm-up", rawSend, warm, nil)
	phase("client warm-up", cliSend, warm, nil)
	// Each side's n sends in 2 x rounds chunks, interleaved raw, client,
	// client, raw in every round, so drift and bursts of other load on the
	// machine hit both sides alike.
	rounds := *flagRounds
	chunk := func(j int) int { return n*(j+1)/(2*rounds) - n*j/(2*rounds) }
	var ratios []float64
	for r := range rounds {
		var rr, rc sideResult
		phase("raw", rawSend, chunk(2*r), &rr)
		phase("client", cliSend, chunk(2*r), &rc)
		phase("client", cliSend, chunk(2*r+1), &rc)
		phase("raw", rawSend, chunk(2*r+1), &rr)
		raw.merge(&rr)
		cli.merge(&rc)
		ratios = append(ratios, rc.rate()/rr.rate())
	}

	c := e.sim.Counters()
	var rejected int64
	for _, v := range c.Rejected {
		rejected += v
	}
	if rejected > 0 || c.Accepted != seq.Load() {
		b.Fatalf("simulator accepted %d of %d sends, rejected %v: a limit shaped the measurement",
			c.Accepted, seq.Load(), c.Rejected)
	}
	return e, ratios
}

// env is one simulator on a loopback listener plus what both sides send.
type env struct {
	sim        *simulator.Server
	hs         *http.Server
	baseURL    string
	numbers    []string // phone number IDs, used round-robin
	urls       []string // messages endpoint of each number
	recipients []string
	bodies     [][]byte // encoded template message to each recipient
	closers    []func()
}

// startEnv starts a simulator sized so total sends stay clear of every limit.
func startEnv(b *testing.B, total int) *env {
	b.Helper()
	// The per-number throughput bucket is fixed (HIGH = 1000 msg/s, burst
	// 1000) and not configurable, so spread over enough numbers that their
	// combined burst alone covers the whole measurement, refill aside.
	k := max(8, (total*5/4)/whatsapp.HighMPS+1)
	// Recipients: a multiple of k, so pair (i%k, i%r) repeats every r sends.
	r := k * ((total/pairShare)/k + 1)

	e := &env{}
	cfg := simulator.Config{
		Seed:        1,
		AccessToken: accessToken,
		// Status webhooks would be built and dropped (no webhook URL):
		// background work outside the request path, so skip them.
		Statuses: simulator.StatusConfig{SentAfter: -1, DeliveredAfter: -1, ReadAfter: -1},
	}
	for i := range k {
		id := fmt.Sprintf("1%014d", i+1)
		cfg.Numbers = append(cfg.Numbers, simulator.Number{
			ID:                 id,
			DisplayPhoneNumber: fmt.Sprintf("+1 555 %07d", i+1),
			Tier:               whatsapp.TierUnlimited,
			Throughput:         whatsapp.ThroughputHigh,
		})
		e.numbers = append(e.numbers, id)
	}
	sim, err := simulator.New(cfg)
	if err != nil {
		b.Fatalf("simulator: %v", err)
	}
	e.sim = sim
	e.closers = append(e.closers, sim.Close)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.close()
		b.Fatalf("listen: %v", err)
	}
	e.hs = &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() { defer close(done); _ = e.hs.Serve(ln) }()
	e.closers = append(e.closers, func() { _ = e.hs.Close(); <-done })
	e.baseURL = "http://" + ln.Addr().String()

	for _, id := range e.numbers {
		e.urls = append(e.urls, e.baseURL+"/"+whatsapp.DefaultAPIVersion+"/"+id+"/messages")
	}
	for i := range r {
		to := fmt.Sprintf("346%08d", i)
		e.recipients = append(e.recipients, to)
		e.bodies = append(e.bodies, encode(b, whatsapp.TemplateMessage(to, templateName, templateLang)))
	}
	return e
}

// close stops everything in reverse order of start.
func (e *env) close() {
	for _, f := range slices.Backward(e.closers) {
		f()
	}
	e.closers = nil
}

// encode encodes m as the client does (json.Encoder, HTML left unescaped,
// trailing newline); checkSameBody verifies the bytes match.
func encode(b *testing.B, m whatsapp.Message) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		b.Fatalf("encode: %v", err)
	}
	return buf.Bytes()
}

type sendFunc func(ctx context.Context, i int) error

// rawSender is the ceiling: the pre-encoded body POSTed with net/http and
// the same headers the client sets, the answer read and only its status
// checked.
func (e *env) rawSender() sendFunc {
	tr := whatsapp.NewTransport()
	e.closers = append(e.closers, tr.CloseIdleConnections)
	hc := &http.Client{Transport: tr}
	auth := "Bearer " + accessToken
	return func(ctx context.Context, i int) error {
		return rawhttp.Post(ctx, hc, e.urls[i%len(e.urls)], auth, e.bodies[i%len(e.bodies)])
	}
}

// clientSender sends the same message with whatsapp.Client.Send, on its own
// transport configured like the raw side's.
func (e *env) clientSender(b *testing.B) sendFunc {
	cl := e.newClient(b, whatsapp.NewTransport())
	return func(ctx context.Context, i int) error {
		_, err := cl.Send(ctx, e.numbers[i%len(e.numbers)],
			whatsapp.TemplateMessage(e.recipients[i%len(e.recipients)], templateName, templateLang))
		return err
	}
}

func (e *env) newClient(b *testing.B, rt http.RoundTripper) *whatsapp.Client {
	if c, ok := rt.(interface{ CloseIdleConnections() }); ok {
		e.closers = append(e.closers, c.CloseIdleConnections)
	}
	cl, err := whatsapp.New(whatsapp.Options{
		BaseURL:     e.baseURL,
		APIVersion:  whatsapp.DefaultAPIVersion,
		AccessToken: accessToken,
		HTTPClient:  &http.Client{Transport: rt},
	})
	if err != nil {
		b.Fatalf("whatsapp.New: %v", err)
	}
	return cl
}

// checkSameBody sends one message through the client and fails unless the
// body on the wire is byte for byte the raw side's.
func (e *env) checkSameBody(b *testing.B, ctx context.Context, seq *atomic.Int64) {
	capture := &captureTransport{base: whatsapp.NewTransport()}
	cl := e.newClient(b, capture)
	i := int(seq.Add(1) - 1)
	if _, err := cl.Send(ctx, e.numbers[i%len(e.numbers)],
		whatsapp.TemplateMessage(e.recipients[i%len(e.recipients)], templateName, templateLang)); err != nil {
		b.Fatalf("client send: %v", err)
	}
	if want := e.bodies[i%len(e.bodies)]; !bytes.Equal(capture.body, want) {
		b.Fatalf("raw body differs from the client's:\nraw:    %s\nclient: %s", want, capture.body)
	}
}

type captureTransport struct {
	base *http.Transport
	body []byte
}

func (c *captureTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	c.body = body
	req = req.Clone(req.Context())
	req.Body = io.NopCloser(bytes.NewReader(body))
	return c.base.RoundTrip(req)
}

func (c *captureTransport) CloseIdleConnections() { c.base.CloseIdleConnections() }

// phaseResult is one batch of sends.
type phaseResult struct {
	elapsed time.Duration
	lat     []time.Duration // one per successful send
	err     error           // first failure; the batch stopped there
}

// run does count sends with the given number of workers and times each.
func run(ctx context.Context, workers, count int, seq *atomic.Int64, send sendFunc) phaseResult {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		claimed  atomic.Int64
		errOnce  sync.Once
		firstErr error
		wg       sync.WaitGroup
	)
	lats := make([][]time.Duration, workers)
	start := time.Now()
	for w := range workers {
		wg.Go(func() {
			lat := make([]time.Duration, 0, count/workers+1)
			for claimed.Add(1) <= int64(count) && ctx.Err() == nil {
				i := int(seq.Add(1) - 1)
				t0 := time.Now()
				err := send(ctx, i)
				d := time.Since(t0)
				if err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
					break
				}
				lat = append(lat, d)
			}
			lats[w] = lat
		})
	}
	wg.Wait()
	p := phaseResult{elapsed: time.Since(start), lat: slices.Concat(lats...)}
	switch {
	case firstErr != nil:
		p.err = firstErr
	case len(p.lat) < count:
		p.err = errors.Join(errors.New("stopped early"), context.Cause(ctx))
	}
	return p
}

// sideResult accumulates one side's batches.
type sideResult struct {
	sends   int
	elapsed time.Duration
	lat     []time.Duration
	sorted  bool
}

func (s *sideResult) add(p phaseResult) {
	s.sends += len(p.lat)
	s.elapsed += p.elapsed
	s.lat = append(s.lat, p.lat...)
	s.sorted = false
}

func (s *sideResult) merge(o *sideResult) {
	s.sends += o.sends
	s.elapsed += o.elapsed
	s.lat = append(s.lat, o.lat...)
	s.sorted = false
}

func (s *sideResult) rate() float64 { return float64(s.sends) / s.elapsed.Seconds() }

// percentile returns the nearest-rank q-th latency.
func (s *sideResult) percentile(q float64) time.Duration {
	if len(s.lat) == 0 {
		return 0
	}
	if !s.sorted {
		slices.Sort(s.lat)
		s.sorted = true
	}
	i := int(math.Ceil(q*float64(len(s.lat)))) - 1
	return s.lat[max(0, min(i, len(s.lat)-1))]
}

func median(v []float64) float64 {
	v = slices.Sorted(slices.Values(v))
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
