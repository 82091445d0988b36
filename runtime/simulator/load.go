package simulator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Load is inbound traffic for benchmarks: Customers simulated WhatsApp users,
// spread over Numbers in turn (customer i writes to Numbers[i mod M]), send
// Rate messages per second in all, evenly spaced, until Count messages were
// sent or Duration has passed, whichever comes first (at least one of them
// is required). KeywordShare of the messages (0 to 1, spread evenly) carry
// one of Keywords, in turn, after Text. Every message is an inbound text
// message as an `inbound` event sends it: it opens the customer's service
// window, uses the number's throughput and sends a signed webhook.
type Load struct {
	Numbers      []string `json:"numbers,omitempty"` // phone number IDs; default every registered number
	Customers    int      `json:"customers"`
	Rate         float64  `json:"rate"` // messages per second, all numbers together
	Count        int      `json:"count,omitempty"`
	Duration     Duration `json:"duration,omitempty"`
	Keywords     []string `json:"keywords,omitempty"`
	KeywordShare float64  `json:"keywordShare,omitempty"`
	Text         string   `json:"text,omitempty"` // default "Hello"
}

// maxLoadCustomers bounds Load.Customers: each is a distinct number in one
// NANP area code (1 + area + 7 digits).
const maxLoadCustomers = 10_000_000

// loadTick is the shortest spacing of a load's injection ticks; messages due
// between ticks go out together at the next one.
const loadTick = 5 * time.Millisecond

// total validates l (numbers are checked by StartLoad) and returns how many
// messages it sends.
func (l Load) total(maxInjected int) (int, error) {
	switch {
	case l.Customers < 1 || l.Customers > maxLoadCustomers:
		return 0, fmt.Errorf("load: customers must be 1 to %d, not %d", maxLoadCustomers, l.Customers)
	case l.Rate <= 0 || math.IsInf(l.Rate, 0) || math.IsNaN(l.Rate):
		return 0, fmt.Errorf("load: rate must be a positive number of messages per second, not %v", l.Rate)
	case l.Count < 0 || l.Duration.D() < 0 || (l.Count == 0 && l.Duration.D() == 0):
		return 0, errors.New("load: needs a positive count or duration (or both) to stop")
	case l.KeywordShare < 0 || l.KeywordShare > 1 || (l.KeywordShare > 0 && len(l.Keywords) == 0):
		return 0, fmt.Errorf("load: keywordShare %v must be 0 to 1, with keywords when above 0", l.KeywordShare)
	case slices.ContainsFunc(l.Keywords, func(k string) bool { return k == "" || strings.Contains(l.text(), k) }):
		return 0, fmt.Errorf("load: keywords must be non-empty and absent from the text %q", l.text())
	}
	n := float64(l.Count)
	if d := l.Duration.D(); d > 0 {
		if byTime := math.Ceil(l.Rate * d.Seconds()); n == 0 || byTime < n {
			n = byTime
		}
	}
	if n > float64(maxInjected) {
		return 0, fmt.Errorf("load of %.0f messages exceeds the bound of %d messages", n, maxInjected)
	}
	return int(n), nil
}

func (l Load) text() string { return orStr(l.Text, "Hello") }

// message returns the k-th message's customer index and text.
func (l Load) message(k int) (customer int, text string) {
	customer = k % l.Customers
	share := l.KeywordShare
	if math.Floor(float64(k+1)*share) > math.Floor(float64(k)*share) {
		return customer, l.text() + " " + l.Keywords[int(math.Floor(float64(k)*share))%len(l.Keywords)]
	}
	return customer, l.text()
}

// LoadRun is a Load in progress, from StartLoad.
type LoadRun struct {
	ID       uint64 `json:"id"`
	Messages int    `json:"messages"` // planned

	load    Load
	start   time.Time
	area    int // the customers' NANP area code, from the seed
	mu      sync.Mutex
	sent    int
	keyword int
	stopped bool
	done    chan struct{}
}

// LoadStatus is a LoadRun's progress.
type LoadStatus struct {
	ID          uint64 `json:"id"`
	Messages    int    `json:"messages"`    // planned
	Sent        int    `json:"sent"`        // injected so far
	WithKeyword int    `json:"withKeyword"` // of Sent, those carrying a keyword
	Done        bool   `json:"done"`        // all sent, or stopped
}

// Status returns the run's progress.
func (r *LoadRun) Status() LoadStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	return LoadStatus{ID: r.ID, Messages: r.Messages, Sent: r.sent, WithKeyword: r.keyword, Done: r.stopped}
}

// Wait returns when every message was injected or the run was stopped, or
// with ctx's error.
func (r *LoadRun) Wait(ctx context.Context) error {
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stop ends the run after the messages already injected.
func (r *LoadRun) Stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.finishLocked()
}

func (r *LoadRun) finishLocked() {
	if !r.stopped {
		r.stopped = true
		close(r.done)
	}
}

// Customer returns the wa_id of the run's i-th customer (1 + a NANP area
// code derived from the seed + 7 digits) and the number it writes to.
func (r *LoadRun) Customer(i int) (waID, numberID string) {
	return fmt.Sprintf("1%03d%07d", r.area, i), r.load.Numbers[i%len(r.load.Numbers)]
}

// StartLoad validates l and starts it now; the messages are injected by the
// simulator's scheduler (a FakeClock's Advance and RunDue drive them in tests).
func (s *Server) StartLoad(l Load) (*LoadRun, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.loadNumbers(&l); err != nil {
		return nil, err
	}
	n, err := l.total(s.cfg.MaxInjected)
	if err != nil {
		return nil, err
	}
	s.seq++
	r := &LoadRun{ID: s.seq, Messages: n, load: l, start: s.clock.Now(), done: make(chan struct{}),
		area: 200 + int(s.rnd.u64("load-area", s.seq)%800)}
	s.loads[r.ID] = r
	s.sched.at(r.start, func() { s.loadTick(r) })
	return r, nil
}

// loadNumbers defaults l.Numbers to every registered number and checks them (s.mu held).
func (s *Server) loadNumbers(l *Load) error {
	if len(l.Numbers) == 0 {
		for id := range s.numbers {
			l.Numbers = append(l.Numbers, id)
		}
		sort.Strings(l.Numbers)
	}
	if len(l.Numbers) == 0 {
		return errors.New("load: no number registered")
	}
	for _, id := range l.Numbers {
		if s.numbers[id] == nil {
			return fmt.Errorf("load: no number %s", id)
		}
	}
	return nil
}

// loadTick injects the messages due by now and schedules the next tick.
func (s *Server) loadTick(r *LoadRun) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	now := s.clock.Now()
	due := int(min(float64(r.Messages), now.Sub(r.start).Seconds()*r.load.Rate+1))
	for ; !r.stopped && r.sent < due; r.sent++ {
		s.injectLoadMessage(r, r.sent, now)
	}
	if r.stopped || r.sent >= r.Messages {
		r.finishLocked()
		return
	}
	next := r.start.Add(time.Duration(float64(r.sent) / r.load.Rate * float64(time.Second)))
	s.sched.at(maxTime(next, now.Add(loadTick)), func() { s.loadTick(r) })
}

func (s *Server) injectLoadMessage(r *LoadRun, k int, now time.Time) {
	customer, text := r.load.message(k)
	if text != r.load.text() {
		r.keyword++
	}
	from, numberID := r.Customer(customer)
	if st := s.numbers[numberID]; st != nil { // a number removed since the start is skipped
		_, _ = s.injectLocked(st, Inbound{From: from, Name: "Customer " + from, Text: text}, now)
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// ctlStartLoad serves POST /_sim/load: starts a Load, answers its LoadStatus.
func (s *Server) ctlStartLoad(w http.ResponseWriter, r *http.Request) {
	var l Load
	if err := decodeStrict(io.LimitReader(r.Body, 1<<20), &l); err != nil {
		ctlError(w, http.StatusBadRequest, err)
		return
	}
	run, err := s.StartLoad(l)
	if err != nil {
		ctlError(w, http.StatusBadRequest, err)
		return
	}
	writeJSON(w, http.StatusOK, run.Status())
}

// ctlLoad serves GET (progress) and DELETE (stop) on /_sim/load/{id}.
func (s *Server) ctlLoad(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseUint(r.PathValue("id"), 10, 64)
	s.mu.Lock()
	run := s.loads[id]
	s.mu.Unlock()
	if run == nil {
		ctlError(w, http.StatusNotFound, fmt.Errorf("no load %s", r.PathValue("id")))
		return
	}
	if r.Method == http.MethodDelete {
		run.Stop()
	}
	writeJSON(w, http.StatusOK, run.Status())
}
