package live

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox/authz"
	"github.com/switchboard-dev/switchboard/runtime/store"
)

// HubOptions tune a Hub; zero values take the defaults.
type HubOptions struct {
	// Buffer is how many events a subscriber may have waiting (default 256); one that
	// falls further behind is dropped (its channel closed), never waited for.
	Buffer int
	// Poll is how often the hub reads new events without a notification (default 250 ms;
	// 50 ms after a read that found some, since only one of concurrent writers notifies).
	Poll time.Duration
	// GapTimeout is how long the hub holds events back behind a missing id whose
	// transaction cannot be proven finished (default 10 s; see docs/live.md, "Order").
	GapTimeout time.Duration
	// Retention is how long events stay in inbox_events (default 15 min); PruneEvery how
	// often the hub prunes older ones (default 1 min).
	Retention, PruneEvery time.Duration
	Metrics               *Metrics // optional
	Log                   *slog.Logger
}

func (o *HubOptions) defaults() {
	if o.Buffer <= 0 {
		o.Buffer = 256
	}
	if o.Poll <= 0 {
		o.Poll = 250 * time.Millisecond
	}
	if o.GapTimeout <= 0 {
		o.GapTimeout = 10 * time.Second
	}
	if o.Retention <= 0 {
		o.Retention = 15 * time.Minute
	}
	if o.PruneEvery <= 0 {
		o.PruneEvery = time.Minute
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

// Hub reads inbox_events once per process (one LISTEN connection) and fans them out to
// subscribers in id order. Events of other namespaces only move its cursor.
type Hub struct {
	store     *store.Store
	namespace string
	o         HubOptions

	mu      sync.Mutex
	cursor  int64 // every event with id <= cursor has been delivered or is known not to exist
	started bool
	stopped bool
	ready   chan struct{} // closed once cursor is set
	subs    map[*Subscription]struct{}

	gap *gap // the first missing id after cursor, while it may still commit
}

// gap is a missing id: seen when a later id was already visible. The transaction that
// holds it was running at snapshot (it took its xid before the id, see inbox_event).
type gap struct {
	from     int64
	snapshot string // pg_current_snapshot() just after the id was seen missing
	seen     time.Time
}

// Subscription receives the events visible to its principal with ids above From, in
// order. C is closed when the subscriber is dropped (too slow) or the hub stops.
type Subscription struct {
	C         <-chan Event
	From      int64
	ch        chan Event
	principal *authz.Principal
}

// ErrStopped is returned by Subscribe once the hub's Run has ended.
var ErrStopped = errors.New("live: the event hub has stopped")

// NewHub returns a hub for namespace; call Run.
func NewHub(s *store.Store, namespace string, o HubOptions) *Hub {
	o.defaults()
	return &Hub{store: s, namespace: namespace, o: o, ready: make(chan struct{}), subs: map[*Subscription]struct{}{}}
}

// Subscribe registers p. It waits until the hub has read its starting point (or ctx ends).
func (h *Hub) Subscribe(ctx context.Context, p *authz.Principal) (*Subscription, error) {
	select {
	case <-h.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped {
		return nil, ErrStopped
	}
	ch := make(chan Event, h.o.Buffer)
	s := &Subscription{C: ch, From: h.cursor, ch: ch, principal: p}
	h.subs[s] = struct{}{}
	h.o.Metrics.subscribers(len(h.subs))
	return s, nil
}

// Unsubscribe removes s (a no-op when it was dropped already).
func (h *Hub) Unsubscribe(s *Subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[s]; ok {
		delete(h.subs, s)
		close(s.ch)
		h.o.Metrics.subscribers(len(h.subs))
	}
}

// Cursor returns the id up to which events have been delivered.
func (h *Hub) Cursor() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cursor
}

// Run listens and delivers until ctx ends, then closes every subscription. It retries
// while the database cannot be reached. A hub runs once.
func (h *Hub) Run(ctx context.Context) {
	h.mu.Lock()
	if h.started {
		h.mu.Unlock()
		return
	}
	h.started = true
	h.mu.Unlock()
	defer h.stop()
	wake := h.watch(ctx)
	if wake == nil || !h.start(ctx) {
		return
	}
	prune := time.NewTicker(h.o.PruneEvery)
	defer prune.Stop()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-prune.C:
			h.prune(ctx)
			continue
		case <-wake:
		case <-timer.C:
		}
		next := h.o.Poll
		n, err := h.poll(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			h.o.Log.Error("reading live events; retrying", "error", err)
		case n == pollBatch:
			next = 0
		case h.gap != nil:
			next = 20 * time.Millisecond
		case n > 0:
			next = min(next, 50*time.Millisecond)
		}
		timer.Reset(next)
	}
}

func (h *Hub) watch(ctx context.Context) <-chan struct{} {
	for {
		wake, err := h.store.Watch(ctx, Channel)
		if err == nil {
			return wake
		}
		h.o.Log.Error("listening for live events; retrying", "error", err)
		if !sleep(ctx, 2*time.Second) {
			return nil
		}
	}
}

// start sets the cursor to the last event older than 10 s: what came after is read
// again (nobody has subscribed yet), so a transaction in flight at start is not lost.
func (h *Hub) start(ctx context.Context) bool {
	for {
		var cursor int64
		err := h.store.ReadTx(ctx, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `SELECT COALESCE(max(id), 0) FROM inbox_events WHERE at < clock_timestamp() - interval '10 seconds'`).Scan(&cursor)
		})
		if err == nil {
			h.mu.Lock()
			h.cursor = cursor
			h.mu.Unlock()
			close(h.ready)
			return true
		}
		h.o.Log.Error("reading where live events start; retrying", "error", err)
		if !sleep(ctx, 2*time.Second) {
			return false
		}
	}
}

func (h *Hub) stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stopped = true
	for s := range h.subs {
		close(s.ch)
	}
	clear(h.subs)
	h.o.Metrics.subscribers(0)
	select {
	case <-h.ready:
	default:
		close(h.ready)
	}
}

const pollBatch = 1000

type row struct {
	Event
	mine bool
}

// poll reads the events after the cursor and delivers them up to the first missing id
// that may still commit. It returns how many rows it read (pollBatch: read again now).
func (h *Hub) poll(ctx context.Context) (int, error) {
	var (
		rows     []row
		snapshot string
		finished bool
	)
	cursor := h.Cursor()
	err := h.store.ReadTx(ctx, func(tx pgx.Tx) error {
		if h.gap != nil {
			// Finished: none of the transactions running when the id was missing runs now.
			if err := tx.QueryRow(ctx, `
				SELECT NOT EXISTS (SELECT 1 FROM pg_snapshot_xip($1::pg_snapshot) x
				                    WHERE x IN (SELECT pg_snapshot_xip(pg_current_snapshot())))`,
				h.gap.snapshot).Scan(&finished); err != nil {
				return err
			}
			finished = finished || time.Since(h.gap.seen) > h.o.GapTimeout
		}
		var err error
		if rows, err = readAfter(ctx, tx, h.namespace, cursor); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT pg_current_snapshot()::text`).Scan(&snapshot)
	})
	if err != nil {
		return 0, fmt.Errorf("live: read events after %d: %w", cursor, err)
	}
	for _, r := range rows {
		if want := cursor + 1; r.ID != want {
			if h.gap == nil || h.gap.from != want || !finished {
				if h.gap == nil || h.gap.from != want {
					h.gap = &gap{from: want, snapshot: snapshot, seen: time.Now()}
				}
				return len(rows), nil
			}
			h.o.Metrics.gapSkipped(r.ID - want)
		}
		h.gap = nil
		cursor = r.ID
		h.deliver(r)
	}
	return len(rows), nil
}

func readAfter(ctx context.Context, tx pgx.Tx, namespace string, after int64) ([]row, error) {
	rs, err := tx.Query(ctx, `
		SELECT id, namespace = $1, CASE WHEN namespace = $1 THEN kind END, CASE WHEN namespace = $1 THEN conversation_id END,
		       CASE WHEN namespace = $1 THEN teams END, CASE WHEN namespace = $1 THEN agent END, at,
		       CASE WHEN namespace = $1 THEN payload END
		  FROM inbox_events WHERE id > $2 ORDER BY id LIMIT $3`, namespace, after, pollBatch)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rs, func(r pgx.CollectableRow) (row, error) {
		var x row
		var kind *string
		err := r.Scan(&x.ID, &x.mine, &kind, &x.ConversationID, &x.Teams, &x.Agent, &x.At, &x.Payload)
		if kind != nil {
			x.Kind = *kind
		}
		return x, err
	})
}

// deliver moves the cursor to r and hands r to every subscriber that may see it; a
// subscriber whose buffer is full is dropped.
func (h *Hub) deliver(r row) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cursor = r.ID
	if !r.mine {
		return
	}
	h.o.Metrics.event(r.Kind)
	ev := r.Event
	if ev.Teams == nil {
		ev.Teams = []string{}
	}
	for s := range h.subs {
		if !Visible(s.principal, ev) {
			continue
		}
		select {
		case s.ch <- withTeams(ev):
		default:
			delete(h.subs, s)
			close(s.ch)
			h.o.Metrics.dropped()
			h.o.Metrics.subscribers(len(h.subs))
			h.o.Log.Info("a live events subscriber is too slow; dropped (it resumes with Last-Event-ID)",
				"subject", s.principal.Subject, "buffer", h.o.Buffer)
		}
	}
}

// withTeams gives each subscriber its own Teams slice.
func withTeams(e Event) Event {
	e.Teams = slices.Clone(e.Teams)
	return e
}

const pruneBatch = 5000

// prune deletes events older than the retention, pruneBatch rows per statement.
func (h *Hub) prune(ctx context.Context) {
	for ctx.Err() == nil {
		var n int
		err := h.store.InTx(ctx, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `SELECT inbox_events_prune(make_interval(secs => $1), $2)`,
				h.o.Retention.Seconds(), pruneBatch).Scan(&n)
		})
		if err != nil {
			if ctx.Err() == nil {
				h.o.Log.Error("pruning live events", "error", err)
			}
			return
		}
		if n < pruneBatch {
			return
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
