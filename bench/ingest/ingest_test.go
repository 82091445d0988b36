package ingest

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-dev/switchboard/bench/internal/latency"
	"github.com/switchboard-dev/switchboard/bench/internal/measure"
	"github.com/switchboard-dev/switchboard/runtime/inbox/conversation"
	"github.com/switchboard-dev/switchboard/runtime/inbox/ingest"
	"github.com/switchboard-dev/switchboard/runtime/inbox/kube"
	"github.com/switchboard-dev/switchboard/runtime/store"
	"github.com/switchboard-dev/switchboard/runtime/store/pgtest"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

var (
	flagWorkers1    = flag.Int("ingest.workers1", 8, "concurrent clients with batches of 1")
	flagWorkers100  = flag.Int("ingest.workers100", 2, "concurrent clients with batches of 100")
	flagRequests1   = flag.Int("ingest.requests1", 2000, "requests with batches of 1")
	flagRequests100 = flag.Int("ingest.requests100", 200, "requests with batches of 100")
	flagCustomers   = flag.Int("ingest.customers", 1000, "distinct customers (wa_ids)")
)

// pg is the package's durable PostgreSQL server.
var pg *pgtest.Server

// TestMain starts PostgreSQL only when benchmarks run (the package has no tests).
func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f == nil || f.Value.String() == "" {
		os.Exit(m.Run())
	}
	os.Exit(pgtest.MainDurable(m, &pg))
}

var num = kube.Number{Ref: store.NumberRef{Namespace: "bench", Name: "sales"}, PhoneNumberID: "106540352242922",
	WABAID: "102290129340398", DisplayDigits: "15550783881", AppSecret: "bench-app-secret", VerifyToken: "v"}

func BenchmarkIngest(b *testing.B) {
	for _, size := range []int{1, 100} {
		requests, workers := *flagRequests1, *flagWorkers1
		if size == 100 {
			requests, workers = *flagRequests100, *flagWorkers100
		}
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			for range b.N {
				l := load{size: size, requests: requests, workers: workers}
				raw := measureRaw(b, l)
				h := measureHandler(b, l)
				report(b, size, raw, h)
			}
		})
	}
}

// load is one measurement's shape: changes per request, requests, concurrent clients.
type load struct{ size, requests, workers int }

// result is one measurement: messages stored per second and each request's duration.
type result struct {
	rate float64
	lat  []time.Duration
}

func report(b *testing.B, size int, raw, h result) {
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(raw.rate, "raw-msg/s")
	b.ReportMetric(h.rate, "msg/s")
	b.ReportMetric(h.rate/raw.rate, "ratio")
	b.ReportMetric(latency.Ms(latency.Pct(h.lat, 0.50)), "p50-ms")
	b.ReportMetric(latency.Ms(latency.Pct(h.lat, 0.99)), "p99-ms")
	b.Logf("batches of %d: handler %.0f msg/s (p50 %.2f ms, p99 %.2f ms), raw pgx %.0f msg/s (p50 %.2f ms, p99 %.2f ms), ratio %.2f",
		size, h.rate, latency.Ms(latency.Pct(h.lat, 0.5)), latency.Ms(latency.Pct(h.lat, 0.99)), raw.rate, latency.Ms(latency.Pct(raw.lat, 0.5)), latency.Ms(latency.Pct(raw.lat, 0.99)), h.rate/raw.rate)
}

// body is the signed webhook of request r: size changes, one text message each.
func body(r, size int) []byte {
	changes := make([]string, size)
	for i := range changes {
		k := r*size + i
		from := waID(k)
		changes[i] = fmt.Sprintf(`{"field":"messages","value":{"messaging_product":"whatsapp",`+
			`"metadata":{"display_phone_number":%q,"phone_number_id":%q},"contacts":[{"profile":{"name":"Customer %d"},"wa_id":%q}],`+
			`"messages":[{"from":%q,"id":"wamid.bench.%d","timestamp":"%d","type":"text","text":{"body":"Hola, ¿cuánto cuesta el envío?"}}]}}`,
			num.DisplayDigits, num.PhoneNumberID, k%*flagCustomers, from, from, k, time.Now().Unix())
	}
	return []byte(fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":%q,"changes":[%s]}]}`,
		num.WABAID, strings.Join(changes, ",")))
}

func waID(k int) string { return fmt.Sprintf("34611%06d", k%*flagCustomers) }

// newStore opens a fresh database (migrated by store.Open).
func newStore(b *testing.B) (*store.Store, *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dsn := pg.NewDatabase(b)
	st, err := store.Open(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = conn.Close(context.Background())
		st.Close()
	})
	return st, conn
}

// run calls do(r) for r in [0, requests) from the workers and returns the rate in
// messages/s and each call's duration.
func run(b *testing.B, l load, do func(r int) error) result {
	lat := make([]time.Duration, l.requests)
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range l.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := int(next.Add(1)) - 1; r < l.requests; r = int(next.Add(1)) - 1 {
				t0 := time.Now()
				if err := do(r); err != nil {
					b.Error(err)
					return
				}
				lat[r] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if b.Failed() {
		b.FailNow()
	}
	return result{rate: float64(l.requests*l.size) / elapsed.Seconds(), lat: lat}
}

// measureRaw writes the batches with the handler's statements over a pgx pool.
func measureRaw(b *testing.B, l load) result {
	st, conn := newStore(b)
	batches := make([][]whatsapp.Inbound, l.requests)
	for r := range batches {
		batches[r] = decode(b, body(r, l.size))
	}
	ctx := context.Background()
	res := run(b, l, func(r int) error {
		return st.InTx(ctx, func(tx pgx.Tx) error { return writeRaw(ctx, tx, batches[r]) })
	})
	checkStored(b, conn, l.size*l.requests)
	return res
}

// writeRaw stores msgs as the handler does: contacts and conversations, messages, windows.
func writeRaw(ctx context.Context, tx pgx.Tx, msgs []whatsapp.Inbound) error {
	parties := make([]conversation.Party, len(msgs))
	for i, m := range msgs {
		parties[i] = conversation.Party{Number: num.Ref, WAID: m.From, ProfileName: "Customer"}
	}
	convs, err := conversation.OpenAll(ctx, tx, parties)
	if err != nil {
		return err
	}
	received := make([]conversation.Received, len(msgs))
	ptrs := make([]*conversation.Conversation, len(msgs))
	times := make([]time.Time, len(msgs))
	for i, m := range msgs {
		times[i] = conversation.SentAt(m.Timestamp, time.Now())
		received[i] = conversation.Received{Conversation: convs[i], Message: m, At: times[i]}
		ptrs[i] = &convs[i]
	}
	if _, err := conversation.InsertAll(ctx, tx, received); err != nil {
		return err
	}
	return conversation.TouchAll(ctx, tx, ptrs, times)
}

func decode(b *testing.B, body []byte) []whatsapp.Inbound {
	n, err := whatsapp.DecodeNotification(body)
	if err != nil {
		b.Fatal(err)
	}
	var out []whatsapp.Inbound
	for _, c := range n.Entry[0].Changes {
		v, err := c.DecodeMessages()
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, v.Messages...)
	}
	return out
}

// measureHandler POSTs the signed batches to the real ingest handler.
func measureHandler(b *testing.B, l load) result {
	st, conn := newStore(b)
	snap := kube.NewSnapshot(num.Ref.Namespace, []kube.Number{num})
	h := ingest.New(ingest.Config{Store: st, Snapshot: func() *kube.Snapshot { return snap },
		Metrics: ingest.NewMetrics(prometheus.NewRegistry()), Log: slog.New(slog.DiscardHandler)})
	mux := http.NewServeMux()
	h.Register(mux)
	hs := httptest.NewServer(mux)
	defer hs.Close()
	bodies := make([][]byte, l.requests)
	for r := range bodies {
		bodies[r] = body(r, l.size)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: l.workers}}
	res := run(b, l, func(r int) error { return measure.PostWebhook(client, hs.URL+ingest.Path, num.AppSecret, bodies[r]) })
	checkStored(b, conn, l.size*l.requests)
	return res
}

// checkStored fails unless the messages table holds want distinct messages.
func checkStored(b *testing.B, conn *pgx.Conn, want int) {
	var n, distinct int
	err := conn.QueryRow(context.Background(), `SELECT count(*), count(DISTINCT wamid) FROM messages`).Scan(&n, &distinct)
	if err != nil {
		b.Fatal(err)
	}
	if n != want || distinct != want {
		b.Fatalf("stored %d messages (%d distinct), want %d", n, distinct, want)
	}
}
