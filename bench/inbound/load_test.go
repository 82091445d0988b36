package inbound

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/runtime/simulator"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

var (
	flagMessages = flag.Int("inbound.messages", 20000, "messages per measurement")
	flagRate     = flag.Float64("inbound.rate", 2000, "messages/s of the paced load")
)

const (
	pnid   = "106540352242922"
	secret = "bench-app-secret"
)

// receiver verifies each webhook's signature on the raw bytes and counts the
// messages it carries (one per webhook here).
type receiver struct {
	got, bad atomic.Int64
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if !whatsapp.VerifySignature(secret, body, r.Header.Get(whatsapp.SignatureHeader)) {
		rc.bad.Add(1)
	}
	rc.got.Add(1)
	w.WriteHeader(http.StatusOK)
}

func BenchmarkInboundLoad(b *testing.B) {
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	n := *flagMessages
	for range b.N {
		raw := measure(b, rc, n, func() { postRaw(b, srv.URL, n) })
		flat := measure(b, rc, n, func() { runLoad(b, srv.URL, n, 1e9) })
		paced := measure(b, rc, n, func() { runLoad(b, srv.URL, n, *flagRate) })
		b.ReportMetric(raw, "raw-msg/s")
		b.ReportMetric(flat, "flat-out-msg/s")
		b.ReportMetric(flat/raw, "flat-out/raw")
		b.ReportMetric(paced/(*flagRate), "paced/asked")
	}
	if bad := rc.bad.Load(); bad != 0 {
		b.Fatalf("%d webhooks failed signature verification", bad)
	}
}

// measure runs fn and returns the messages per second the receiver got.
func measure(b *testing.B, rc *receiver, n int, fn func()) float64 {
	before := rc.got.Load()
	start := time.Now()
	fn()
	if got := rc.got.Load() - before; got != int64(n) {
		b.Fatalf("receiver got %d messages, want %d", got, n)
	}
	return float64(n) / time.Since(start).Seconds()
}

// runLoad sends n inbound messages through the simulator at rate and waits
// until every webhook was delivered.
func runLoad(b *testing.B, url string, n int, rate float64) {
	sim, err := simulator.New(simulator.Config{MaxInjected: n, Numbers: []simulator.Number{{ID: pnid,
		DisplayPhoneNumber: "+34 600 000 000", AppSecret: secret, WebhookURL: url + "/webhooks/whatsapp"}}})
	if err != nil {
		b.Fatal(err)
	}
	defer sim.Close()
	run, err := sim.StartLoad(simulator.Load{Customers: 1000, Rate: rate, Count: n})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := run.Wait(ctx); err != nil {
		b.Fatal(err)
	}
	if err := sim.WaitIdle(ctx); err != nil {
		b.Fatal(err)
	}
}

// postRaw POSTs n signed webhook bodies from 4 goroutines.
func postRaw(b *testing.B, url string, n int) {
	var next atomic.Int64
	var wg sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				body := []byte(fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"34600000000","phone_number_id":"%s"},"contacts":[{"profile":{"name":"Customer 1"},"wa_id":"1555%07d"}],"messages":[{"from":"1555%07d","id":"wamid.%d","timestamp":"1750000000","type":"text","text":{"body":"Hello"}}]},"field":"messages"}]}]}`, pnid, i%1000, i%1000, i))
				post(b, client, url, body)
			}
		}()
	}
	wg.Wait()
}

func post(b *testing.B, client *http.Client, url string, body []byte) {
	req, _ := http.NewRequest(http.MethodPost, url+"/webhooks/whatsapp", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(whatsapp.SignatureHeader, whatsapp.Sign(secret, body))
	resp, err := client.Do(req)
	if err != nil {
		b.Error(err)
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}
