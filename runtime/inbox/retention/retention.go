// Package retention executes RetentionPolicies in the inbox: on each policy's schedule
// (in its time zone), or at once when its switchboard.dev/run-now annotation changes, it
// deletes the messages, media (the bucket's objects too) and audit entries older than the
// policy's periods, for the Numbers the policy selects, and removes resolved
// conversations left empty. A legal hold on any policy selecting a Number stops every
// purge of that Number. docs/retentionpolicy.md gives the rules.
//
// One replica at a time runs a policy (a session advisory lock per policy); purges
// delete in batches of BatchSize rows, each its own short transaction, so no long lock
// is held on tables agents use, and a run that dies midway is finished by the next one
// (every step deletes what is older than a cutoff: running it again is harmless).
package retention

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-dev/switchboard/runtime/inbox/conversation"
	"github.com/switchboard-dev/switchboard/runtime/inbox/kube"
	"github.com/switchboard-dev/switchboard/runtime/inbox/media"
	"github.com/switchboard-dev/switchboard/runtime/store"
)

// Policies is where the runner reads the RetentionPolicies and writes their status
// (kube.Source).
type Policies interface {
	Retention() ([]kube.Retention, []error)
	PatchRetentionStatus(ctx context.Context, policy string, run kube.RetentionRun) error
}

// Config configures a Runner. Store, Namespace, Policies and Log are required.
type Config struct {
	Store     *store.Store
	Namespace string
	Policies  Policies
	// Media holds the archived media objects (nil: no archive; media rows are still
	// removed).
	Media *media.Store
	// Metrics, when set, counts what was purged.
	Metrics *Metrics
	Log     *slog.Logger
	// Poll is how often due policies are looked for (default 30 s).
	Poll time.Duration
	// BatchSize is the rows deleted per transaction (default 1,000).
	BatchSize int
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Runner runs due RetentionPolicies.
type Runner struct {
	cfg Config
	// afterBatch, when set (tests), is called after each batch; an error stops the run
	// there, as a crash would.
	afterBatch func(kind string) error
}

// New returns a Runner with the defaults filled in.
func New(cfg Config) *Runner {
	if cfg.Poll <= 0 {
		cfg.Poll = 30 * time.Second
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 1000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Runner{cfg: cfg}
}

// Actor is the audit log's actor of retention runs.
const Actor = "switchboard-inbox:retention"

// Counts is what one run deleted.
type Counts struct {
	Messages      int64 `json:"messages"`
	Media         int64 `json:"media"`
	AuditLog      int64 `json:"auditLog"`
	Conversations int64 `json:"conversations"`
}

// Run looks for due policies every Poll until ctx ends. Errors are logged and retried
// at the next poll.
func (r *Runner) Run(ctx context.Context) error {
	t := time.NewTicker(r.cfg.Poll)
	defer t.Stop()
	for {
		r.Tick(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Tick runs every policy that is due now (or whose run-now annotation is new) and
// returns how many ran. A policy another replica is running is skipped.
func (r *Runner) Tick(ctx context.Context) int {
	pols, errs := r.cfg.Policies.Retention()
	for _, err := range errs {
		r.cfg.Log.Error("a RetentionPolicy cannot be executed", "error", err)
	}
	ran := 0
	for _, p := range pols {
		trigger, due, err := r.due(ctx, p)
		if err != nil {
			r.cfg.Log.Error("retention: reading past runs", "policy", p.Name, "error", err)
			continue
		}
		if !due {
			continue
		}
		_, err = r.RunPolicy(ctx, p, trigger)
		switch {
		case errors.Is(err, store.ErrLocked):
		case err != nil:
			r.cfg.Log.Error("retention run failed; the next run finishes it", "policy", p.Name, "error", err)
		default:
			ran++
		}
	}
	return ran
}

// due says whether p must run now: its run-now annotation carries a value no run has
// handled yet, or the schedule's next time after the last scheduled run (or, before the
// first, after the policy's creation) has come, or the last run did not finish.
func (r *Runner) due(ctx context.Context, p kube.Retention) (trigger string, due bool, err error) {
	var lastScheduled, lastStarted *time.Time
	var handled bool
	var unfinished bool
	err = r.cfg.Store.ReadTx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `
			SELECT max(started_at) FILTER (WHERE trigger = 'schedule'), max(started_at),
			       coalesce(bool_or(run_now = $3 AND finished_at IS NOT NULL), false)
			FROM retention_runs WHERE namespace = $1 AND policy = $2`,
			r.cfg.Namespace, p.Name, p.RunNow).Scan(&lastScheduled, &lastStarted, &handled); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `
			SELECT coalesce((SELECT finished_at IS NULL FROM retention_runs
			                 WHERE namespace = $1 AND policy = $2 ORDER BY started_at DESC, id DESC LIMIT 1), false)`,
			r.cfg.Namespace, p.Name).Scan(&unfinished)
	})
	if err != nil {
		return "", false, err
	}
	switch {
	case p.RunNow != "" && !handled:
		return "run-now", true, nil
	case unfinished:
		return "schedule", true, nil
	}
	from := p.Created
	if lastScheduled != nil {
		from = *lastScheduled
	}
	return "schedule", !p.Schedule.Next(from).After(r.cfg.Now()), nil
}

// RunPolicy runs p now, under its advisory lock (store.ErrLocked when another replica
// runs it), records the run in retention_runs and the audit log, counts the purged rows
// in the metrics, and writes status.lastRun and status.purged. A failed step leaves the
// run unfinished, for the next run to finish.
func (r *Runner) RunPolicy(ctx context.Context, p kube.Retention, trigger string) (Counts, error) {
	release, err := r.cfg.Store.TryLock(ctx, "retention:"+r.cfg.Namespace+"/"+p.Name)
	if err != nil {
		return Counts{}, err
	}
	defer release()
	var runID int64
	err = r.cfg.Store.InTx(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `INSERT INTO retention_runs (namespace, policy, trigger, run_now, started_at)
			VALUES ($1, $2, $3, $4, $5) RETURNING id`,
			r.cfg.Namespace, p.Name, trigger, nullString(p.RunNow), r.cfg.Now()).Scan(&runID)
	})
	if err != nil {
		return Counts{}, err
	}
	r.cfg.Log.Info("retention run starting", "policy", p.Name, "trigger", trigger, "numbers", len(p.Numbers), "held", len(p.Held))
	var c Counts
	if err := r.purge(ctx, p, &c); err != nil {
		_ = r.cfg.Store.InTx(context.WithoutCancel(ctx), func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `UPDATE retention_runs SET error = $2, messages = $3, media = $4, audit_log = $5, conversations = $6
				WHERE id = $1`, runID, err.Error(), c.Messages, c.Media, c.AuditLog, c.Conversations)
			return err
		})
		return c, err
	}
	finished := r.cfg.Now()
	err = r.cfg.Store.InTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE retention_runs SET finished_at = $2, messages = $3, media = $4, audit_log = $5,
			conversations = $6, error = NULL WHERE id = $1`, runID, finished, c.Messages, c.Media, c.AuditLog, c.Conversations); err != nil {
			return err
		}
		return conversation.Audit(ctx, tx, r.cfg.Namespace, Actor, "retention.run", "retentionpolicy", p.Name, nil,
			map[string]any{"trigger": trigger, "numbers": p.Numbers, "held": p.Held, "purged": c})
	})
	if err != nil {
		return c, err
	}
	r.cfg.Log.Info("retention run finished", "policy", p.Name, "messages", c.Messages, "media", c.Media,
		"auditLog", c.AuditLog, "conversations", c.Conversations)
	if err := r.cfg.Policies.PatchRetentionStatus(ctx, p.Name, kube.RetentionRun{Finished: finished,
		Messages: c.Messages, Media: c.Media, AuditLog: c.AuditLog}); err != nil {
		r.cfg.Log.Error("writing the RetentionPolicy's status", "policy", p.Name, "error", err)
	}
	return c, nil
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// Metrics count purged rows: switchboard_inbox_retention_purged_total{kind} with kind
// messages, media, audit_log or conversations (four series).
type Metrics struct{ Purged *prometheus.CounterVec }

// NewMetrics registers the metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{Purged: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_inbox_retention_purged_total",
		Help: "Rows deleted by RetentionPolicy runs, by kind (messages, media, audit_log, conversations).",
	}, []string{"kind"})}
	reg.MustRegister(m.Purged)
	return m
}

func (r *Runner) count(kind string, n int64, total *int64) {
	*total += n
	if r.cfg.Metrics != nil && n > 0 {
		r.cfg.Metrics.Purged.WithLabelValues(kind).Add(float64(n))
	}
}
