package integrations

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox/kube"
	"github.com/switchboard-dev/switchboard/runtime/store"
)

// Kinds of delivery.
const (
	KindWebhook = "webhook"
	KindChatbot = "chatbot"
)

// Backoff spaces a webhook's attempts: after attempt n (1, 2, …) the next waits
// Base·2^(n-1), at most Max, of which a random half is dropped (jitter), so that
// failed deliveries do not come back in step.
type Backoff struct {
	Base, Max time.Duration
}

// DefaultBackoff: about 5 s, 10 s, 20 s, … up to 1 h between attempts.
var DefaultBackoff = Backoff{Base: 5 * time.Second, Max: time.Hour}

// Delay is the wait after attempt n with jitter j in [0, 1).
func (b Backoff) Delay(n int, j float64) time.Duration {
	d := b.Base
	for i := 1; i < n && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	return d/2 + time.Duration(j*float64(d/2))
}

// DefaultKeep is how long finished deliveries stay in the delivery log.
const DefaultKeep = 30 * 24 * time.Hour

// Config configures a Worker. Store, Inbox, Snapshot and Log are required.
type Config struct {
	Store    *store.Store
	Inbox    store.NumberRef // the Inbox's namespace (the tenant) and name
	Snapshot func() *kube.Snapshot
	Client   *Client // default NewClient()
	Log      *slog.Logger
	// Poll is how often the queues are looked at (default 1 s).
	Poll    time.Duration
	Backoff Backoff // default DefaultBackoff
	// Batch is how many events or deliveries one pass claims (default 100);
	// Concurrency how many calls run at once (default 8).
	Batch, Concurrency int
	// Jitter returns a number in [0, 1) (default math/rand/v2).
	Jitter func() float64
	// Now is the clock of the chatbot's window check (default time.Now).
	Now func() time.Time
	// Metrics: default unregistered.
	Metrics *Metrics
	// HandedOff, when set, is called after a conversation was handed from the chatbot to
	// the agents (routing holds new conversations while the Inbox has a chatbot, and
	// assigns them at once when this kicks it).
	HandedOff func()
	// Keep is how long finished deliveries stay in the delivery log (default 30 days);
	// they are purged about once an hour.
	Keep time.Duration
}

// Worker dispatches events into deliveries and sends them: webhooks and chatbot calls.
// Several Workers (one per inbox replica) may run on one database.
type Worker struct {
	cfg       Config
	lastPurge time.Time
}

// NewWorker returns a Worker with cfg's defaults filled in.
func NewWorker(cfg Config) *Worker {
	if cfg.Client == nil {
		cfg.Client = NewClient()
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.Backoff == (Backoff{}) {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 100
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 8
	}
	if cfg.Jitter == nil {
		cfg.Jitter = rand.Float64
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	if cfg.Keep <= 0 {
		cfg.Keep = DefaultKeep
	}
	return &Worker{cfg: cfg}
}

// Run works until ctx ends, looking at the queues every Poll.
func (w *Worker) Run(ctx context.Context) error {
	t := time.NewTicker(w.cfg.Poll)
	defer t.Stop()
	for {
		if _, err := w.Once(ctx); err != nil && ctx.Err() == nil {
			w.cfg.Log.Error("integrations: a pass failed; trying again", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Once dispatches every pending event, then makes the due calls (one batch of each
// kind). It returns how many calls were made.
func (w *Worker) Once(ctx context.Context) (int, error) {
	snap := w.cfg.Snapshot()
	if snap == nil {
		return 0, nil
	}
	integ := snap.Integrations
	if integ == nil {
		integ = &kube.Integrations{}
	}
	numbers := make([]string, 0, len(snap.Numbers()))
	for _, n := range snap.Numbers() {
		numbers = append(numbers, n.Ref.Name)
	}
	for {
		n, err := w.dispatch(ctx, integ, numbers)
		if err != nil {
			return 0, err
		}
		if n < w.cfg.Batch {
			break
		}
	}
	calls, err := w.sendWebhooks(ctx, integ, numbers)
	if err != nil {
		return calls, err
	}
	bot, err := w.callChatbot(ctx, snap, integ, numbers)
	if err == nil && time.Since(w.lastPurge) > time.Hour {
		err = w.Purge(ctx)
	}
	return calls + bot, err
}

// Purge deletes finished deliveries (with their attempts) older than Keep, and events
// whose conversation no longer exists (a retention purge removed it before dispatch).
func (w *Worker) Purge(ctx context.Context) error {
	err := w.cfg.Store.InTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `DELETE FROM integration_deliveries WHERE namespace = $1 AND state <> 'pending'
			AND finished_at < now() - $2::float8 * interval '1 second'`, w.cfg.Inbox.Namespace, w.cfg.Keep.Seconds())
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM integration_events e WHERE namespace = $1 AND occurred_at < now() - interval '1 hour'
			AND NOT EXISTS (SELECT 1 FROM conversations c WHERE c.id = e.conversation_id)`, w.cfg.Inbox.Namespace)
		return err
	})
	if err != nil {
		return fmt.Errorf("integrations: purge the delivery log: %w", err)
	}
	w.lastPurge = time.Now()
	return nil
}

// dispatch turns one batch of events into deliveries and deletes them, in one
// transaction; it returns how many events it took.
func (w *Worker) dispatch(ctx context.Context, integ *kube.Integrations, numbers []string) (int, error) {
	var n int
	err := w.cfg.Store.InTx(ctx, func(tx pgx.Tx) error {
		evs, err := claimEvents(ctx, tx, w.cfg.Inbox.Namespace, w.cfg.Inbox.Name, numbers, w.cfg.Batch)
		if err != nil || len(evs) == 0 {
			return err
		}
		n = len(evs)
		b := &pgx.Batch{}
		ids := make([]int64, len(evs))
		for i, ev := range evs {
			ids[i] = ev.id
			for _, wh := range integ.Webhooks {
				if wh.Subscribes(ev.typ) {
					w.queue(b, ev, KindWebhook, wh.Name)
				}
			}
			if ev.typ == "message.received" && integ.Chatbot != nil && ev.botMayAnswer {
				w.queue(b, ev, KindChatbot, KindChatbot)
			}
		}
		b.Queue(`DELETE FROM integration_events WHERE namespace = $1 AND id = ANY($2)`, w.cfg.Inbox.Namespace, ids)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("integrations: queue deliveries: %w", err)
		}
		return nil
	})
	return n, err
}

func (w *Worker) queue(b *pgx.Batch, ev pendingEvent, kind, endpoint string) {
	b.Queue(`INSERT INTO integration_deliveries (namespace, number, kind, endpoint, event_id, event_type, conversation_id, body)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (namespace, event_id, kind, endpoint) DO NOTHING`,
		w.cfg.Inbox.Namespace, ev.number, kind, endpoint, ev.id, ev.typ, ev.conversationID, string(ev.body))
}

// delivery is a claimed integration_deliveries row.
type delivery struct {
	id                  int64
	deliveryID          string
	endpoint, eventType string
	number              string
	conversationID      int64
	body                []byte
	attempts            int
}

// claimSQL leases up to $4 due deliveries of kind $2 for $5 seconds (their
// next_attempt_at moves past the call), counting the attempt.
const claimSQL = `
	UPDATE integration_deliveries d
	   SET next_attempt_at = now() + $5::float8 * interval '1 second', attempts = d.attempts + 1
	 WHERE d.id IN (SELECT id FROM integration_deliveries
	                 WHERE namespace = $1 AND kind = $2 AND number = ANY($3) AND state = 'pending'
	                   AND next_attempt_at <= now()
	                 ORDER BY next_attempt_at, id LIMIT $4
	                   FOR UPDATE SKIP LOCKED)
	RETURNING d.id, d.delivery_id::text, d.endpoint, d.event_type, d.number, d.conversation_id, d.body, d.attempts`

func (w *Worker) claim(ctx context.Context, kind string, numbers []string, lease time.Duration) ([]delivery, error) {
	var out []delivery
	err := w.cfg.Store.InTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, claimSQL, w.cfg.Inbox.Namespace, kind, numbers, w.cfg.Batch, lease.Seconds())
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (delivery, error) {
			var d delivery
			var body string
			err := row.Scan(&d.id, &d.deliveryID, &d.endpoint, &d.eventType, &d.number, &d.conversationID, &body, &d.attempts)
			d.body = []byte(body)
			return d, err
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("integrations: claim %s deliveries: %w", kind, err)
	}
	return out, nil
}

// outcome is how an attempt ended, for the delivery log.
type outcome struct {
	state  string // pending (retry), delivered or failed
	retry  time.Duration
	status int
	err    string
	took   time.Duration
}

// finishSQL records attempt $2 of delivery $1 unless another worker has claimed it
// since (its attempts moved on): the delivery's state and the attempt's log row.
const finishSQL = `
	WITH d AS (
		UPDATE integration_deliveries
		   SET state = $3, next_attempt_at = now() + $4::float8 * interval '1 second',
		       last_status_code = $5, last_error = $6,
		       finished_at = CASE WHEN $3 <> 'pending' THEN now() END
		 WHERE id = $1 AND attempts = $2 AND state = 'pending'
		RETURNING id)
	INSERT INTO integration_attempts (delivery_id, attempt, status_code, error, duration_ms)
	SELECT id, $2, $5, $6, $7 FROM d`

func finish(ctx context.Context, tx pgx.Tx, d delivery, o outcome) error {
	var status any
	if o.status != 0 {
		status = o.status
	}
	var errText any
	if o.err != "" {
		errText = o.err
	}
	_, err := tx.Exec(ctx, finishSQL, d.id, d.attempts, o.state, o.retry.Seconds(), status, errText, o.took.Milliseconds())
	if err != nil {
		return fmt.Errorf("integrations: record attempt %d of delivery %s: %w", d.attempts, d.deliveryID, err)
	}
	return nil
}

// sendWebhooks makes the due webhook calls.
func (w *Worker) sendWebhooks(ctx context.Context, integ *kube.Integrations, numbers []string) (int, error) {
	lease := 30 * time.Second
	byName := map[string]kube.Webhook{}
	for _, wh := range integ.Webhooks {
		byName[wh.Name] = wh
		lease = max(lease, wh.Timeout+30*time.Second)
	}
	ds, err := w.claim(ctx, KindWebhook, numbers, lease)
	if err != nil {
		return 0, err
	}
	return len(ds), w.each(ds, func(d delivery) error { return w.sendWebhook(ctx, byName, d) })
}

// each runs fn on every delivery, Concurrency at a time, and joins the errors.
func (w *Worker) each(ds []delivery, fn func(delivery) error) error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, w.cfg.Concurrency)
	)
	for _, d := range ds {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := fn(d); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (w *Worker) sendWebhook(ctx context.Context, byName map[string]kube.Webhook, d delivery) error {
	wh, ok := byName[d.endpoint]
	var o outcome
	if !ok {
		o = outcome{state: "failed", err: "the endpoint is no longer in spec.integrations.webhooks"}
	} else {
		res := w.cfg.Client.Do(ctx, Request{Method: "POST", URL: wh.URL, Body: d.body, Secret: wh.Secret,
			DeliveryID: d.deliveryID, Event: d.eventType, Timeout: wh.Timeout})
		o = outcome{state: "delivered", status: res.Status, took: res.Duration}
		if !res.OK() {
			o.err = describe(res)
			o.state, o.retry = "pending", w.cfg.Backoff.Delay(d.attempts, w.cfg.Jitter())
			if d.attempts >= wh.MaxAttempts {
				o.state, o.retry = "failed", 0
			}
		}
	}
	if ctx.Err() != nil {
		return nil // shutting down: the lease ends and another pass tries again
	}
	err := w.cfg.Store.InTx(ctx, func(tx pgx.Tx) error { return finish(ctx, tx, d, o) })
	if err == nil {
		w.cfg.Metrics.attempt(KindWebhook, o)
	}
	if err == nil && o.state == "failed" {
		w.cfg.Log.Info("integrations: a webhook delivery was given up", "endpoint", d.endpoint,
			"delivery", d.deliveryID, "attempts", d.attempts, "error", o.err)
	}
	return err
}

// describe is the delivery log's error text of a failed call.
func describe(r Result) string {
	if r.Err != nil {
		return r.Err.Error()
	}
	return fmt.Sprintf("answered %d", r.Status)
}
