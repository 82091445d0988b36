package simulator

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// Server is the simulated Cloud API: an http.Handler plus background
// scheduling and webhook delivery. Create it with New and stop it with Close.
type Server struct {
	cfg   Config
	clock Clock
	rnd   source
	mux   *http.ServeMux
	sched *scheduler
	hooks *webhookQueue

	mu        sync.Mutex
	numbers   map[string]*numberState
	batches   map[batchKey]*batch // webhook updates waiting for their batch window
	loads     map[uint64]*LoadRun // inbound loads, by id
	seq       uint64              // message and trace sequence
	totals    Counters
	faults    faultTable  // see faults.go
	media     *mediaStore // see media.go
	templates []Template  // message templates (templates.go)

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New validates cfg, registers its numbers, schedules its events and starts
// the scheduler and webhook workers.
func New(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg: cfg, clock: cfg.Clock, rnd: source{uint64(cfg.Seed)},
		numbers: map[string]*numberState{},
		batches: map[batchKey]*batch{},
		loads:   map[uint64]*LoadRun{},
		totals:  Counters{Rejected: map[int]int64{}},
		media:   newMediaStore(cfg.Seed),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.sched = newScheduler(s.clock)
	s.hooks = newWebhookQueue(cfg.Webhooks.QueueLimit)
	s.routes()
	if err := s.load(cfg.Numbers, cfg.Templates, cfg.Events); err != nil {
		s.cancel()
		return nil, err
	}
	s.startBackground()
	return s, nil
}

func (s *Server) load(numbers []Number, templates []Template, events []Event) error {
	for _, n := range numbers {
		if err := s.PutNumber(n); err != nil {
			return err
		}
	}
	for _, t := range templates {
		if err := s.PutTemplate(t); err != nil {
			return err
		}
	}
	for i, ev := range events {
		if err := s.Schedule(ev); err != nil {
			return fmt.Errorf("simulator: event %d: %w", i, err)
		}
	}
	return nil
}

func (s *Server) startBackground() {
	s.wg.Add(1 + s.cfg.Webhooks.Workers)
	go func() {
		defer s.wg.Done()
		s.sched.loop(s.ctx.Done())
	}()
	for i := 0; i < s.cfg.Webhooks.Workers; i++ {
		go func() {
			defer s.wg.Done()
			s.deliverLoop()
		}()
	}
}

// Close stops the scheduler and webhook workers and waits for them.
// Pending webhooks are abandoned.
func (s *Server) Close() {
	s.cancel()
	s.wg.Wait()
}

// ServeHTTP serves the Graph endpoints and the /_sim/ control API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *Server) routes() {
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("POST /{version}/{pnid}/messages", s.withFaults(s.handleMessages))
	s.mux.HandleFunc("GET /{version}/{pnid}", s.handlePhoneNumber)
	// GET /{version}/{waba-id}/message_templates; a literal last segment would clash with
	// GET /_sim/numbers/{id}, so the edge is matched in the handler.
	s.mux.HandleFunc("GET /{version}/{pnid}/{edge}", s.handleTemplates)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeGraphError(w, errUnknownPath(r.URL.Path))
	})
	s.controlRoutes()
	s.faultRoutes()
	s.mediaRoutes()
}

// RunDue runs every scheduled event that is due at the clock's current time
// and returns when they have run. The background scheduler does the same on
// its own; tests call RunDue after advancing a FakeClock.
func (s *Server) RunDue() { s.sched.runDue() }

// WaitIdle waits until no webhook is queued or being delivered (retries
// waiting for their time do not count), or ctx ends.
func (s *Server) WaitIdle(ctx context.Context) error {
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !s.hooks.idle() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}

// Serve serves s's handler on ln until ctx ends, then shuts down.
func Serve(ctx context.Context, ln net.Listener, cfg Config) error {
	s, err := New(cfg)
	if err != nil {
		_ = ln.Close()
		return err
	}
	defer s.Close()
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Run listens on addr (e.g. "127.0.0.1:8090") and serves until ctx ends.
func Run(ctx context.Context, addr string, cfg Config) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return Serve(ctx, ln, cfg)
}

// PutNumber registers n, or replaces the number with the same ID keeping its
// live state (window, buckets, counters).
func (s *Server) PutNumber(n Number) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.putLocked(n)
}

// UpdateNumber applies fn to a copy of the number and stores the result
// atomically. fn must not call the Server.
func (s *Server) UpdateNumber(id string, fn func(*Number)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.numbers[id]
	if !ok {
		return fmt.Errorf("simulator: no number %s", id)
	}
	n := st.Number
	fn(&n)
	n.ID = id
	return s.putLocked(n)
}

func (s *Server) putLocked(n Number) error {
	n = n.withDefaults(s.rnd)
	if err := n.validate(); err != nil {
		return fmt.Errorf("simulator: %w", err)
	}
	if st, ok := s.numbers[n.ID]; ok {
		st.update(n, s.clock.Now())
		return nil
	}
	s.numbers[n.ID] = newNumberState(n, s.cfg.Limits)
	return nil
}

// Number returns the number's current state (with credentials).
func (s *Server) Number(id string) (Number, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.numbers[id]
	if !ok {
		return Number{}, false
	}
	return st.Number, true
}

func tierLimit(tier string) (int, bool) { return whatsapp.TierRecipients(tier) }
