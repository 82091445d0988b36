package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The sender's outbox operations. They run on the NumberLock's connection (see do) and
// every statement is restricted to the locked number's rows.
//
// States: queued --Claim--> sending --MarkSent--> sent
//                                   --Retry-----> queued
//                                   --Fail------> failed
//         sending --RecoverInFlight--> queued (possibly_duplicate)

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Claim moves up to limit due queued messages of the lane (next_attempt_at <= now())
// to StateSending, counting an attempt, and returns them oldest first (next_attempt_at,
// then id). Rows locked by another transaction are skipped, not waited for.
func (l *NumberLock) Claim(ctx context.Context, lane Lane, limit int) ([]Message, error) {
	if err := validateLane(lane); err != nil {
		return nil, fmt.Errorf("store: claim for %s: %w", l.ref, err)
	}
	if limit <= 0 {
		return nil, fmt.Errorf("store: claim for %s: %w", l.ref, invalid("limit", "must be positive, not %d", limit))
	}
	var msgs []Message
	err := l.do("claim", func(conn *pgx.Conn) error {
		var err error
		msgs, err = claim(ctx, conn, l.ref, lane, limit)
		return err
	})
	return msgs, err
}

// claimSQL picks the rows in an ARRAY(subquery), an InitPlan that runs exactly once: with
// "id IN (SELECT ... LIMIT n FOR UPDATE SKIP LOCKED)" the planner may rescan the
// subquery (as the inner side of a join) and claim more than n rows. A campaign's rows
// are claimed only while the campaign is running: pausing or cancelling it holds its
// queued rows at once (docs/campaigns.md).
const claimSQL = `
	UPDATE outbox SET state = 'sending', attempts = attempts + 1, updated_at = now()
	WHERE id = ANY (ARRAY(
		SELECT id FROM outbox
		WHERE namespace = $1 AND number = $2 AND lane = $3
		  AND state = 'queued' AND next_attempt_at <= now()
		  AND (campaign_id IS NULL
		       OR EXISTS (SELECT 1 FROM campaigns c WHERE c.id = outbox.campaign_id AND c.state = 'running'))
		ORDER BY next_attempt_at, id
		LIMIT $4
		FOR UPDATE SKIP LOCKED))
	  AND namespace = $1 AND number = $2 AND state = 'queued'
	RETURNING ` + messageColumns

func claim(ctx context.Context, q querier, ref NumberRef, lane Lane, limit int) ([]Message, error) {
	rows, _ := q.Query(ctx, claimSQL, ref.Namespace, ref.Name, lane, limit)
	msgs, err := pgx.CollectRows(rows, scanMessage)
	if err != nil {
		return nil, err
	}
	// RETURNING has no order.
	slices.SortFunc(msgs, func(a, b Message) int {
		if c := a.NextAttemptAt.Compare(b.NextAttemptAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return msgs, nil
}

// markSentSQL marks one claimed message sent and, for the campaign lane, records the
// recipient in campaign_recipients, in one statement.
const markSentSQL = `
	WITH m AS (
		UPDATE outbox SET state = 'sent', wamid = $4, resolved_wa_id = NULLIF($5, ''),
			sent_at = now(), updated_at = now()
		WHERE id = $1 AND namespace = $2 AND number = $3 AND state = 'sending'
		RETURNING namespace, number, recipient, lane, sent_at
	), r AS (
		INSERT INTO campaign_recipients AS c (namespace, number, recipient, last_sent_at)
		SELECT namespace, number, recipient, sent_at FROM m WHERE lane = 'campaign'
		ON CONFLICT (namespace, number, recipient)
		DO UPDATE SET last_sent_at = GREATEST(c.last_sent_at, EXCLUDED.last_sent_at)
	)
	SELECT count(*) FROM m`

// MarkSent records that Meta accepted a claimed message with wamid (and no resolved
// wa_id; see MarkSentBatch for that). For the campaign
// lane the recipient's last campaign send is recorded in the same transaction.
// ErrNotFound: no such message of this number; ErrNotClaimed: it is not in StateSending.
// ErrorCode and ErrorMessage keep the last error of earlier attempts, if any.
func (l *NumberLock) MarkSent(ctx context.Context, id int64, wamid string) error {
	return l.MarkSentBatch(ctx, []Sent{{ID: id, WAMID: wamid}})
}

// MarkSentBatch is MarkSent for several messages in one transaction (one round trip,
// with pgx.Batch). It is all or nothing: if one message cannot be marked, none is, and
// the error names it.
func (l *NumberLock) MarkSentBatch(ctx context.Context, sent []Sent) error {
	for i, s := range sent {
		if s.WAMID == "" {
			return fmt.Errorf("store: mark sent for %s: %w", l.ref, invalid(fmt.Sprintf("[%d].WAMID", i), "must not be empty"))
		}
	}
	if len(sent) == 0 {
		return nil
	}
	return l.do("mark sent", func(conn *pgx.Conn) error {
		return inTx(ctx, conn, func(tx pgx.Tx) error {
			b := &pgx.Batch{}
			for _, s := range sent {
				b.Queue(markSentSQL, s.ID, l.ref.Namespace, l.ref.Name, s.WAMID, s.ResolvedWAID)
			}
			br := tx.SendBatch(ctx, b)
			bad := int64(-1)
			for _, s := range sent {
				var n int
				if err := br.QueryRow().Scan(&n); err != nil {
					_ = br.Close()
					return fmt.Errorf("message %d: %w", s.ID, err)
				}
				if n == 0 && bad < 0 {
					bad = s.ID
				}
			}
			if err := br.Close(); err != nil {
				return err
			}
			if bad >= 0 {
				return whyNotClaimed(ctx, tx, l.ref, bad)
			}
			return nil
		})
	})
}

// Retry puts a claimed message back in the queue until at (zero: now), recording the
// outcome (see Outcome); attempts keeps counting.
func (l *NumberLock) Retry(ctx context.Context, id int64, at time.Time, o Outcome) error {
	var next *time.Time
	if !at.IsZero() {
		next = &at
	}
	return l.finish(ctx, "retry", id, `
		UPDATE outbox SET state = 'queued', next_attempt_at = COALESCE($10::timestamptz, now()),
			`+outcomeSet+`, updated_at = now()
		WHERE id = $1 AND namespace = $2 AND number = $3 AND state = 'sending'`,
		append(outcomeArgs(o), next)...)
}

// Fail marks a claimed message failed for good, recording the outcome (see Outcome).
func (l *NumberLock) Fail(ctx context.Context, id int64, o Outcome) error {
	return l.finish(ctx, "fail", id, `
		UPDATE outbox SET state = 'failed', `+outcomeSet+`, updated_at = now()
		WHERE id = $1 AND namespace = $2 AND number = $3 AND state = 'sending'`,
		outcomeArgs(o)...)
}

// outcomeSet records an Outcome given as $4 to $9 (see outcomeArgs).
const outcomeSet = `error_code = $4, error_message = $5, possibly_duplicate = possibly_duplicate OR $6,
	retry_class = CASE WHEN $7 = '' THEN retry_class ELSE $7 END,
	retry_count = CASE WHEN $7 = '' THEN retry_count ELSE $8 END,
	retry_since = CASE WHEN $7 = '' THEN retry_since ELSE $9::timestamptz END`

func outcomeArgs(o Outcome) []any {
	return []any{o.Code, o.Message, o.MaybeSent, o.Retry.Class, o.Retry.Count, o.Retry.Since}
}

func (l *NumberLock) finish(ctx context.Context, op string, id int64, sql string, args ...any) error {
	return l.do(op, func(conn *pgx.Conn) error {
		tag, err := conn.Exec(ctx, sql, append([]any{id, l.ref.Namespace, l.ref.Name}, args...)...)
		if err != nil {
			return fmt.Errorf("message %d: %w", id, err)
		}
		if tag.RowsAffected() == 0 {
			return whyNotClaimed(ctx, conn, l.ref, id)
		}
		return nil
	})
}

// whyNotClaimed explains why message id of ref could not be moved out of StateSending.
func whyNotClaimed(ctx context.Context, q querier, ref NumberRef, id int64) error {
	var st State
	err := q.QueryRow(ctx, `SELECT state FROM outbox WHERE id = $1 AND namespace = $2 AND number = $3`,
		id, ref.Namespace, ref.Name).Scan(&st)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("message %d: %w", id, ErrNotFound)
	case err != nil:
		return fmt.Errorf("message %d: %w", id, err)
	}
	return fmt.Errorf("message %d is %s: %w", id, st, ErrNotClaimed)
}

// RecoverInFlight requeues the number's messages left in StateSending by a previous
// holder of the lock that died between claiming them and recording Meta's answer: they
// may have been sent, so they are flagged PossiblyDuplicate. Call it right after taking
// the lock, before the first Claim. Attempts and NextAttemptAt are kept.
//
// Because those messages may have reached Meta, the campaign ones count against the
// unique-recipients budget as sent at the time they were claimed (erring on the side of
// the limit Meta does not report). It returns how many messages were requeued.
func (l *NumberLock) RecoverInFlight(ctx context.Context) (int, error) {
	var n int
	err := l.do("recover in-flight messages", func(conn *pgx.Conn) error {
		return conn.QueryRow(ctx, `
			WITH r AS (
				UPDATE outbox o SET state = 'queued', possibly_duplicate = true, updated_at = now()
				FROM (SELECT id, updated_at AS claimed_at FROM outbox
				      WHERE namespace = $1 AND number = $2 AND state = 'sending'
				      FOR UPDATE) s
				WHERE o.id = s.id AND o.state = 'sending'
				RETURNING o.namespace, o.number, o.recipient, o.lane, s.claimed_at
			), counted AS (
				INSERT INTO campaign_recipients AS c (namespace, number, recipient, last_sent_at)
				SELECT namespace, number, recipient, max(claimed_at) FROM r
				WHERE lane = 'campaign' GROUP BY namespace, number, recipient
				ON CONFLICT (namespace, number, recipient)
				DO UPDATE SET last_sent_at = GREATEST(c.last_sent_at, EXCLUDED.last_sent_at)
			)
			SELECT count(*) FROM r`, l.ref.Namespace, l.ref.Name).Scan(&n)
	})
	return n, err
}

// CampaignRecipients counts the unique recipients of campaign messages sent since
// (normally now minus 24 hours): the number's use of its messaging limit.
func (l *NumberLock) CampaignRecipients(ctx context.Context, since time.Time) (int, error) {
	var n int
	err := l.do("count campaign recipients", func(conn *pgx.Conn) error {
		return conn.QueryRow(ctx, `
			SELECT count(*) FROM campaign_recipients
			WHERE namespace = $1 AND number = $2 AND last_sent_at >= $3`,
			l.ref.Namespace, l.ref.Name, since).Scan(&n)
	})
	return n, err
}

// RecentCampaignRecipients returns those of recipients that got a campaign message
// since: another one to them does not use more of the unique-recipients budget. One
// query answers a whole claimed batch.
func (l *NumberLock) RecentCampaignRecipients(ctx context.Context, recipients []string, since time.Time) (map[string]bool, error) {
	known := map[string]bool{}
	err := l.do("check campaign recipients", func(conn *pgx.Conn) error {
		rows, _ := conn.Query(ctx, `
			SELECT recipient FROM campaign_recipients
			WHERE namespace = $1 AND number = $2 AND recipient = ANY($3) AND last_sent_at >= $4`,
			l.ref.Namespace, l.ref.Name, recipients, since)
		found, err := pgx.CollectRows(rows, pgx.RowTo[string])
		for _, r := range found {
			known[r] = true
		}
		return err
	})
	return known, err
}

// PruneCampaignRecipients deletes the number's campaign_recipients rows older than
// before (they no longer count in any window) and returns how many.
func (l *NumberLock) PruneCampaignRecipients(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := l.do("prune campaign recipients", func(conn *pgx.Conn) error {
		tag, err := conn.Exec(ctx, `
			DELETE FROM campaign_recipients
			WHERE namespace = $1 AND number = $2 AND last_sent_at < $3`,
			l.ref.Namespace, l.ref.Name, before)
		n = tag.RowsAffected()
		return err
	})
	return int(n), err
}

// QueueDepth counts the number's queued messages per lane (due or not); both lanes are
// always keys.
func (l *NumberLock) QueueDepth(ctx context.Context) (map[Lane]int, error) {
	depth := map[Lane]int{LaneConversation: 0, LaneCampaign: 0}
	err := l.do("queue depth", func(conn *pgx.Conn) error {
		rows, _ := conn.Query(ctx, `
			SELECT lane, count(*) FROM outbox
			WHERE namespace = $1 AND number = $2 AND state = 'queued'
			GROUP BY lane`, l.ref.Namespace, l.ref.Name)
		var (
			lane Lane
			n    int
		)
		_, err := pgx.ForEachRow(rows, []any{&lane, &n}, func() error {
			depth[lane] = n
			return nil
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return depth, nil
}
