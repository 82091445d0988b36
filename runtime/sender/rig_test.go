package sender_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/switchboard-dev/switchboard/runtime/sender"
	"github.com/switchboard-dev/switchboard/runtime/simulator"
	"github.com/switchboard-dev/switchboard/runtime/store"
	"github.com/switchboard-dev/switchboard/runtime/store/pgtest"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// The sender tests run the real thing against a real PostgreSQL and the Cloud API
// simulator on loopback: the outbox, the fence, the pacer and Meta's limits.

var pg *pgtest.Server

const (
	pnid  = "106540352242922"
	token = "sender-test-token"
)

var number = store.NumberRef{Namespace: "acme", Name: "sales-es"}

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(childMain())
	}
	if os.Getenv(mainEnv) != "" {
		os.Exit(senderMain())
	}
	os.Exit(pgtest.Main(m, &pg))
}

// arrival is one message as the simulator saw it.
type arrival struct {
	at     time.Time
	to     string
	marker string // the template name, unique per message
	status int
	body   []byte // the request body, as sent
}

// tap records what reaches the simulator.
type tap struct {
	next http.Handler
	mu   sync.Mutex
	log  []arrival
}

func (t *tap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasSuffix(r.URL.Path, "/messages") {
		t.next.ServeHTTP(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(strings.NewReader(string(body)))
	var m whatsapp.Message
	_ = json.Unmarshal(body, &m)
	rec := &statusRecorder{ResponseWriter: w, status: 200}
	at := time.Now()
	t.next.ServeHTTP(rec, r)
	marker := ""
	if m.Template != nil {
		marker = m.Template.Name
	}
	t.mu.Lock()
	t.log = append(t.log, arrival{at: at, to: m.To, marker: marker, status: rec.status, body: body})
	t.mu.Unlock()
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) { s.status = code; s.ResponseWriter.WriteHeader(code) }

// accepted returns the messages the simulator accepted, in arrival order.
func (t *tap) accepted() []arrival {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []arrival
	for _, a := range t.log {
		if a.status == http.StatusOK {
			out = append(out, a)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].at.Before(out[j].at) })
	return out
}

// rig is one test's outbox, simulator and number.
type rig struct {
	t   *testing.T
	dsn string
	st  *store.Store
	sim *simulator.Server
	tap *tap
	url string
	env *envtest.Environment // the API server of setupNumber
}

func newRig(t *testing.T, num simulator.Number) *rig {
	t.Helper()
	r := &rig{t: t, dsn: pg.NewDatabase(t)}
	var err error
	if r.st, err = store.Open(t.Context(), r.dsn); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.st.Close)
	num.ID, num.AccessToken = pnid, token
	if num.DisplayPhoneNumber == "" {
		num.DisplayPhoneNumber = "+34 600 000 000"
	}
	if r.sim, err = simulator.New(simulator.Config{Seed: 1, Numbers: []simulator.Number{num}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.sim.Close)
	r.tap = &tap{next: r.sim}
	srv := httptest.NewServer(r.tap)
	t.Cleanup(srv.Close)
	r.url = srv.URL
	return r
}

// enqueue adds n template messages (the template name marks each) on a lane.
func (r *rig) enqueue(n int, lane store.Lane, recipient func(i int) string) []int64 {
	r.t.Helper()
	ids := make([]int64, 0, n)
	for i := range n {
		to := recipient(i)
		m := whatsapp.TemplateMessage(to, fmt.Sprintf("%s_%d", lane, i), "en")
		m.To, m.MessagingProduct = "", ""
		payload, _ := json.Marshal(m)
		id, err := r.st.Enqueue(r.t.Context(), store.NewMessage{Number: number, Recipient: to, Lane: lane, Payload: payload})
		if err != nil {
			r.t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

func (r *rig) client() *whatsapp.Client {
	r.t.Helper()
	c, err := whatsapp.New(whatsapp.Options{BaseURL: r.url, AccessToken: token})
	if err != nil {
		r.t.Fatal(err)
	}
	return c
}

// start runs a sender in this process until the returned stop is called.
func (r *rig) start(l sender.Limits, updates chan sender.Limits) (stop func() error) {
	r.t.Helper()
	return r.run(sender.Config{Limits: updates, Initial: l})
}

// run runs a sender with cfg (the rig fills in the number, the outbox, the wake-ups, a
// 100 ms poll and, unless cfg has one, the client) until the returned stop is called.
func (r *rig) run(cfg sender.Config) (stop func() error) {
	r.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	lock, err := r.st.LockNumber(ctx, number)
	if err != nil {
		r.t.Fatal(err)
	}
	wake, err := r.st.Listen(ctx, number)
	if err != nil {
		r.t.Fatal(err)
	}
	cfg.PhoneNumberID, cfg.Outbox, cfg.Wake, cfg.Poll = pnid, lock, wake, 100*time.Millisecond
	if cfg.API == nil {
		cfg.API = r.client()
	}
	done := make(chan error, 1)
	go func() { done <- sender.Run(ctx, cfg) }()
	return func() error {
		cancel()
		err := <-done
		_ = lock.Release(context.Background())
		return err
	}
}

// waitSent waits until n messages of the number are sent.
func (r *rig) waitSent(n int, limit time.Duration) map[store.State]int {
	r.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		counts, _, err := r.st.Counts(r.t.Context(), number)
		if err != nil {
			r.t.Fatal(err)
		}
		if counts[store.StateSent] >= n {
			return counts
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("after %s: %v sent, want %d; simulator counters %+v", limit, counts, n, r.sim.Counters().Rejected)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func recipients(k int) func(int) string {
	return func(i int) string { return "3460" + strconv.Itoa(1000000+i%k) }
}
