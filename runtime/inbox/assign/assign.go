// Package assign wires the pure routing rules (runtime/inbox/routing) into the running
// inbox: it reads the routing snapshot from PostgreSQL, plans, and writes the plan's
// result with its audit rows and live events in the same transaction; and it serves the
// conversation state operations (assign, transfer, accept, resolve, reopen) and the
// agents' availability. docs/routing.md states the rules and the events.
//
// Every routing transaction, automatic or by an agent, first locks the namespace's
// routing_state row (SELECT ... FOR UPDATE), then changes what it changes and runs a
// plan before it commits, so that room made by a resolve, a transfer or an agent coming
// online goes at once to the longest-waiting eligible conversation. Several inbox
// replicas therefore never interleave plans: no cap is exceeded and no conversation is
// assigned twice.
package assign

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-dev/switchboard/runtime/inbox/kube"
	"github.com/switchboard-dev/switchboard/runtime/store"
)

// SystemActor is the audit log's actor of automatic routing decisions.
const SystemActor = "switchboard-inbox"

// DefaultSweep is how often each replica plans with nothing else asking it to (a lost
// kick: the process died between a webhook's commit and its plan), before jitter.
const DefaultSweep = 30 * time.Second

// Config configures a Service. Store, Namespace, Snapshot and Log are required.
type Config struct {
	Store     *store.Store
	Namespace string // the Inbox's namespace: the tenant
	// Snapshot returns the served Numbers with their compiled RoutingPolicies; nil until
	// loaded (plans wait for it).
	Snapshot func() *kube.Snapshot
	// Registry, when set, registers the metrics (metrics.go).
	Registry prometheus.Registerer
	Log      *slog.Logger
	// Now is the clock of routing decisions (assigned_at, lapses, business hours);
	// default time.Now. Tests control it.
	Now func() time.Time
	// Sweep is the period of the background plan; default DefaultSweep. Each wait is
	// jittered by up to a fifth so that replicas spread out.
	Sweep time.Duration
}

// Service plans and serves the routing operations of one namespace. It is safe for
// concurrent use; Run drives the background plans.
type Service struct {
	cfg     Config
	metrics *Metrics
	kick    chan struct{}
	rearm   chan struct{}
	mu      sync.Mutex
	next    time.Time // the earliest wake-up some plan asked for; zero: none
}

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sweep <= 0 {
		cfg.Sweep = DefaultSweep
	}
	return &Service{cfg: cfg, metrics: NewMetrics(cfg.Registry), kick: make(chan struct{}, 1), rearm: make(chan struct{}, 1)}
}

// Kick asks for a plan soon (new conversations were committed). It never blocks; kicks
// that arrive while one is pending are coalesced, and one plan assigns every waiting
// conversation it can.
func (s *Service) Kick() { signal(s.kick) }

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Run plans on every kick, at the wake-up time the last plans asked for (an assignment
// lapsing, an agent's connection timing out, business hours opening), and every Sweep
// (jittered), until ctx ends. Errors are logged and the next wake-up retries.
//
// The first plan runs at once (conversations that waited while no replica ran), and
// while the kube snapshot is not loaded a plan is retried every second.
func (s *Service) Run(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.rearm:
			resetTimer(timer, s.untilNext())
			continue
		case <-s.kick:
		case <-timer.C:
		}
		s.mu.Lock()
		s.next = time.Time{}
		s.mu.Unlock()
		err := s.Plan(ctx)
		switch {
		case errors.Is(err, ErrNotLoaded):
			resetTimer(timer, time.Second)
			continue
		case err != nil && ctx.Err() == nil:
			s.cfg.Log.Error("routing plan failed; retrying at the next wake-up", "error", err)
		}
		resetTimer(timer, s.untilNext())
	}
}

func resetTimer(t *time.Timer, d time.Duration) {
	t.Stop()
	select {
	case <-t.C:
	default:
	}
	t.Reset(d)
}

func (s *Service) jittered() time.Duration {
	return s.cfg.Sweep + rand.N(s.cfg.Sweep/5+1) //nolint:gosec // jitter, not a secret
}

// untilNext is the wait until the earliest wake-up asked for, at most a sweep. The
// wake-up times are on the service's clock; a test clock that jumps simply plans at the
// next kick or sweep.
func (s *Service) untilNext() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.jittered()
	if !s.next.IsZero() {
		if w := s.next.Sub(s.cfg.Now()); w < d {
			d = max(w, time.Millisecond)
		}
	}
	return d
}

// wakeAt records a wake-up time asked for by a committed plan.
func (s *Service) wakeAt(t time.Time) {
	if t.IsZero() {
		return
	}
	s.mu.Lock()
	if s.next.IsZero() || t.Before(s.next) {
		s.next = t
	}
	s.mu.Unlock()
	signal(s.rearm)
}

// ErrNotLoaded is returned while the kube snapshot is not loaded yet.
var ErrNotLoaded = errors.New("assign: the Inbox's Numbers and RoutingPolicies are not loaded yet")

// Plan runs one routing transaction with nothing else changed: it releases lapsed
// assignments, applies the away rules and assigns the queue (docs/routing.md).
func (s *Service) Plan(ctx context.Context) error {
	return s.inTx(ctx, SystemActor, nil)
}

// inTx runs fn (nil: nothing) and then a plan in one transaction holding the routing lock; the plan's
// wake-up is armed after the commit. It retries (at most 3 times) when PostgreSQL
// aborts the transaction for a deadlock or a serialization failure.
func (s *Service) inTx(ctx context.Context, actor string, fn func(*txn) error) error {
	snap := s.cfg.Snapshot()
	if snap == nil {
		return ErrNotLoaded
	}
	var t *txn
	var err error
	start := time.Now()
	for range 3 {
		t = &txn{s: s, snap: snap, ns: s.cfg.Namespace, now: s.cfg.Now(), actor: actor}
		err = s.cfg.Store.InTx(ctx, func(tx pgx.Tx) error {
			t.tx = tx
			if fn != nil { // an operation: lock, change, then plan; a plain plan locks with its reads
				if err := t.lock(ctx); err != nil {
					return err
				}
				if err := fn(t); err != nil {
					return err
				}
			}
			if err := t.plan(ctx); err != nil || t.final == nil {
				return err
			}
			return t.final(ctx)
		})
		if !retryable(err) {
			break
		}
	}
	if err != nil {
		return err
	}
	s.metrics.PlanSeconds.Observe(time.Since(start).Seconds())
	s.committed(t)
	return nil
}

// committed observes the metrics of a committed transaction and arms its wake-up.
func (s *Service) committed(t *txn) {
	for _, d := range t.firstAssigned {
		s.metrics.AssignSeconds.Observe(d.Seconds())
	}
	for how, n := range t.assigned {
		s.metrics.Assignments.WithLabelValues(how).Add(float64(n))
	}
	if t.queues != nil {
		s.metrics.setQueues(t.queues)
	}
	s.wakeAt(t.wake)
}
