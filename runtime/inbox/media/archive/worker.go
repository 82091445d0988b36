package archive

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox/media"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// DB runs a transaction; *store.Store implements it.
type DB interface {
	InTx(ctx context.Context, fn func(pgx.Tx) error) error
}

// Graphs returns the Cloud API client of a Number (with its access token).
type Graphs func(namespace, number string) (media.Graph, error)

// Config tunes the worker. Zero values take the defaults.
type Config struct {
	MaxAttempts int           // downloads per media before it is failed; default 8
	BaseDelay   time.Duration // wait after the first failure, doubled each time; default 5 s
	MaxDelay    time.Duration // longest wait between attempts; default 10 min
	Lease       time.Duration // a claimed download's time before another replica retries it; default 5 min
	Poll        time.Duration // how often the queue is looked at without a Wake; default 1 s
}

func (c Config) withDefaults() Config {
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 8
	}
	c.BaseDelay = orDur(c.BaseDelay, 5*time.Second)
	c.MaxDelay = orDur(c.MaxDelay, 10*time.Minute)
	c.Lease = orDur(c.Lease, 5*time.Minute)
	c.Poll = orDur(c.Poll, time.Second)
	return c
}

func orDur(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Worker downloads pending media into the store.
type Worker struct {
	db     DB
	store  *media.Store
	graphs Graphs
	cfg    Config
	log    *slog.Logger
	wake   chan struct{}
}

// NewWorker returns a worker; run it with Run.
func NewWorker(db DB, store *media.Store, graphs Graphs, cfg Config, log *slog.Logger) *Worker {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Worker{db: db, store: store, graphs: graphs, cfg: cfg.withDefaults(), log: log,
		wake: make(chan struct{}, 1)}
}

// Wake makes Run look at the queue now (call it after committing an Enqueue).
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run archives due media until ctx ends.
func (w *Worker) Run(ctx context.Context) error {
	tick := time.NewTicker(w.cfg.Poll)
	defer tick.Stop()
	for {
		w.drain(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-w.wake:
		}
	}
}

func (w *Worker) drain(ctx context.Context) {
	for ctx.Err() == nil {
		did, err := w.RunOnce(ctx)
		if err != nil && ctx.Err() == nil {
			w.log.Error("media archive: the queue is unavailable", "error", err)
		}
		if !did || err != nil {
			return
		}
	}
}

// claimed is a job taken from the queue by one worker.
type claimed struct {
	id       int64
	key      media.Key
	attempts int
}

// RunOnce claims one due job and downloads it; false when none was due.
func (w *Worker) RunOnce(ctx context.Context) (bool, error) {
	var c claimed
	err := w.db.InTx(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `UPDATE media SET attempts = attempts + 1,
				next_attempt_at = now() + make_interval(secs => $1)
			WHERE id = (SELECT id FROM media WHERE state = 'pending' AND next_attempt_at <= now()
				ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
			RETURNING id, namespace, number, media_id, attempts`, w.cfg.Lease.Seconds()).
			Scan(&c.id, &c.key.Namespace, &c.key.Number, &c.key.MediaID, &c.attempts)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, w.finish(ctx, c, w.fetch(ctx, c))
}

type outcome struct {
	obj media.Object
	err error
}

func (w *Worker) fetch(ctx context.Context, c claimed) outcome {
	if err := c.key.Validate(); err != nil {
		return outcome{err: permanent{err}}
	}
	g, err := w.graphs(c.key.Namespace, c.key.Number)
	if err != nil {
		return outcome{err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Lease)
	defer cancel()
	obj, err := media.Fetch(ctx, g, w.store, c.key)
	return outcome{obj: obj, err: err}
}

// finish records the outcome: stored, or the error with the next attempt's time, or
// failed once the attempts are spent or Meta says the media does not exist (code 100).
func (w *Worker) finish(ctx context.Context, c claimed, o outcome) error {
	if o.err == nil {
		return w.db.InTx(ctx, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `UPDATE media SET state = 'stored', object_key = $2, sha256 = $3,
				size_bytes = $4, mime_type = COALESCE(NULLIF($5, ''), mime_type), stored_at = now(), last_error = NULL
				WHERE id = $1`, c.id, o.obj.Key, o.obj.SHA256, o.obj.Size, o.obj.MimeType)
			return err
		})
	}
	final := c.attempts >= w.cfg.MaxAttempts || unknownMedia(o.err) || errors.As(o.err, new(permanent))
	w.log.Warn("media archive: download failed", "media_id", c.key.MediaID, "attempt", c.attempts,
		"final", final, "error", o.err)
	return w.db.InTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE media SET state = CASE WHEN $3 THEN 'failed' ELSE 'pending' END,
			last_error = $2, next_attempt_at = now() + make_interval(secs => $4) WHERE id = $1`,
			c.id, o.err.Error(), final, w.backoff(c.attempts).Seconds())
		return err
	})
}

// backoff is BaseDelay doubled per attempt after the first, capped at MaxDelay.
func (w *Worker) backoff(attempts int) time.Duration {
	d := w.cfg.BaseDelay
	for i := 1; i < attempts && d < w.cfg.MaxDelay; i++ {
		d *= 2
	}
	return min(d, w.cfg.MaxDelay)
}

// permanent is an error no retry can mend (a media ID that cannot be an object key).
type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

// unknownMedia reports Meta's answer for a media ID that does not exist (any more).
func unknownMedia(err error) bool {
	var e *whatsapp.Error
	return errors.As(err, &e) && e.Code == 100
}
