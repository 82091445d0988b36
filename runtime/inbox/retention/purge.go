package retention

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox/kube"
	"github.com/switchboard-dev/switchboard/runtime/inbox/media"
	"github.com/switchboard-dev/switchboard/runtime/inbox/media/archive"
)

// purge deletes, for each Number p selects and no legal hold keeps: messages older than
// p.Messages with their statuses; media objects and rows older than p.Media (p.Messages
// when unset) or whose message is gone; resolved conversations left empty; the
// outbox rows (the payloads sent) of its finished messages older than p.Messages. Then,
// when p.AuditLog is set and p selects no held Number, audit entries of the namespace
// older than it. Each batch is one transaction of at most BatchSize rows.
func (r *Runner) purge(ctx context.Context, p kube.Retention, c *Counts) error {
	now := r.cfg.Now()
	for _, num := range p.Numbers {
		msgCut := now.Add(-p.Messages)
		mediaCut := msgCut
		if p.Media > 0 {
			mediaCut = now.Add(-p.Media)
		}
		if err := r.batches(ctx, "messages", &c.Messages, purgeMessages, r.cfg.Namespace, num, msgCut, r.cfg.BatchSize); err != nil {
			return err
		}
		if err := r.purgeMedia(ctx, num, mediaCut, c); err != nil {
			return err
		}
		if err := r.batches(ctx, "conversations", &c.Conversations, purgeConversations, r.cfg.Namespace, num, msgCut, r.cfg.BatchSize); err != nil {
			return err
		}
		var outbox int64
		if err := r.batches(ctx, "outbox", &outbox, purgeOutbox, r.cfg.Namespace, num, msgCut, r.cfg.BatchSize); err != nil {
			return err
		}
	}
	if p.AuditLog > 0 && len(p.Held) == 0 {
		return r.batches(ctx, "audit_log", &c.AuditLog, purgeAudit, r.cfg.Namespace, now.Add(-p.AuditLog), r.cfg.BatchSize)
	}
	return nil
}

const (
	// The oldest messages of one Number, with their statuses. Media rows keep their
	// object: their message_id becomes NULL (ON DELETE SET NULL), and purgeMedia takes them.
	purgeMessages = `
		WITH doomed AS (
			SELECT m.id, m.wamid FROM messages m
			WHERE m.namespace = $1 AND m.created_at < $3
			  AND m.conversation_id IN (SELECT id FROM conversations WHERE namespace = $1 AND number = $2)
			ORDER BY m.created_at, m.id LIMIT $4
			FOR UPDATE OF m SKIP LOCKED),
		statuses AS (
			DELETE FROM message_statuses s USING doomed d WHERE s.namespace = $1 AND s.wamid = d.wamid),
		gone AS (DELETE FROM messages m USING doomed d WHERE m.id = d.id RETURNING 1)
		SELECT count(*) FROM gone`

	// Resolved conversations with no message left, resolved before the cutoff, with
	// their automatic-reply records.
	purgeConversations = `
		WITH doomed AS (
			SELECT c.id FROM conversations c
			WHERE c.namespace = $1 AND c.number = $2 AND c.status = 'resolved' AND c.resolved_at < $3
			  AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id)
			ORDER BY c.id LIMIT $4
			FOR UPDATE OF c SKIP LOCKED),
		replies AS (DELETE FROM auto_replies a USING doomed d WHERE a.conversation_id = d.id),
		gone AS (DELETE FROM conversations c USING doomed d WHERE c.id = d.id RETURNING 1)
		SELECT count(*) FROM gone`

	// Finished outbox rows (their payload is a message's content) that no message or
	// automatic-reply record refers to any more.
	purgeOutbox = `
		WITH doomed AS (
			SELECT o.id FROM outbox o
			WHERE o.namespace = $1 AND o.number = $2 AND o.state IN ('sent', 'failed') AND o.created_at < $3
			  AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.outbox_id = o.id)
			  AND NOT EXISTS (SELECT 1 FROM auto_replies a WHERE a.outbox_id = o.id)
			ORDER BY o.id LIMIT $4
			FOR UPDATE OF o SKIP LOCKED),
		gone AS (DELETE FROM outbox o USING doomed d WHERE o.id = d.id RETURNING 1)
		SELECT count(*) FROM gone`

	// The namespace's oldest audit entries. The append-only trigger lets a DELETE through
	// only in a transaction that sets switchboard.audit_purge (migration 00013).
	purgeAudit = `
		WITH doomed AS (
			SELECT id FROM audit_log WHERE namespace = $1 AND at < $2 ORDER BY at, id LIMIT $3),
		gone AS (DELETE FROM audit_log a USING doomed d WHERE a.id = d.id RETURNING 1)
		SELECT count(*) FROM gone`
)

// batches runs one purge statement (answering the rows it deleted) in transactions until
// a batch deletes fewer than BatchSize rows.
func (r *Runner) batches(ctx context.Context, kind string, total *int64, query string, args ...any) error {
	for {
		var n int64
		err := r.cfg.Store.InTx(ctx, func(tx pgx.Tx) error {
			if kind == "audit_log" {
				if _, err := tx.Exec(ctx, `SET LOCAL switchboard.audit_purge = 'on'`); err != nil {
					return err
				}
			}
			return tx.QueryRow(ctx, query, args...).Scan(&n)
		})
		if err != nil {
			return fmt.Errorf("purging %s: %w", kind, err)
		}
		r.count(kind, n, total)
		if r.afterBatch != nil {
			if err := r.afterBatch(kind); err != nil {
				return err
			}
		}
		if n < int64(r.cfg.BatchSize) {
			return nil
		}
	}
}

// purgeMedia deletes the Number's media older than cut or whose message is gone: the
// bucket's object first, then the row, so a crash in between leaves a row that the next
// run deletes again (an object already gone is fine).
func (r *Runner) purgeMedia(ctx context.Context, number string, cut any, c *Counts) error {
	for {
		type row struct {
			id      int64
			mediaID string
			object  *string
			stored  bool
		}
		var rows []row
		err := r.cfg.Store.ReadTx(ctx, func(tx pgx.Tx) error {
			rs, err := tx.Query(ctx, `
				SELECT id, media_id, object_key, state = 'stored' FROM media
				WHERE namespace = $1 AND number = $2 AND (message_id IS NULL OR created_at < $3)
				ORDER BY id LIMIT $4`, r.cfg.Namespace, number, cut, r.cfg.BatchSize)
			if err != nil {
				return err
			}
			defer rs.Close()
			for rs.Next() {
				var x row
				if err := rs.Scan(&x.id, &x.mediaID, &x.object, &x.stored); err != nil {
					return err
				}
				rows = append(rows, x)
			}
			return rs.Err()
		})
		if err != nil {
			return fmt.Errorf("purging media: %w", err)
		}
		ids := make([]int64, 0, len(rows))
		for _, x := range rows {
			if x.stored && r.cfg.Media != nil {
				key, err := archive.ObjectOf(archive.Record{Namespace: r.cfg.Namespace, Number: number, MediaID: x.mediaID, ObjectKey: x.object})
				if err == nil {
					err = r.cfg.Media.Delete(ctx, key)
				}
				if err != nil && !errors.Is(err, media.ErrNotFound) {
					return fmt.Errorf("purging media: deleting the object of %s: %w", x.mediaID, err)
				}
			}
			ids = append(ids, x.id)
		}
		var n int64
		err = r.cfg.Store.InTx(ctx, func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, `DELETE FROM media WHERE id = ANY($1)`, ids)
			n = tag.RowsAffected()
			return err
		})
		if err != nil {
			return fmt.Errorf("purging media: %w", err)
		}
		r.count("media", n, &c.Media)
		if r.afterBatch != nil {
			if err := r.afterBatch("media"); err != nil {
				return err
			}
		}
		if len(rows) < r.cfg.BatchSize {
			return nil
		}
	}
}
