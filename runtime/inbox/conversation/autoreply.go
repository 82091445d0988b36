package conversation

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// AutoReplyPolicy bounds automatic replies to one contact (no auto-reply storms, no loops
// with another bot).
type AutoReplyPolicy struct {
	// Repeat is how long the same reply (same key) is not sent to the same contact
	// again: 24 hours.
	Repeat time.Duration
	// MaxPerHour is how many automatic replies a contact may receive in an hour; one
	// more is not sent.
	MaxPerHour int
}

// DefaultAutoReplyPolicy: the same reply at most once a day, at most 5 replies an hour.
var DefaultAutoReplyPolicy = AutoReplyPolicy{Repeat: 24 * time.Hour, MaxPerHour: 5}

// Refusal reasons of MayAutoReply.
const (
	RefusedRepeat  = "repeat"
	RefusedCap     = "hourly-cap"
	RefusedOnce    = "once-per-conversation"
	RefusedNothing = ""
)

// MayAutoReply decides whether an automatic reply with key may go to the conversation's
// contact at now: "" if so, or the refusal reason. With oncePerConversation the key is
// checked in the conversation for ever (after-hours replies, keyed by the closed period)
// instead of for Repeat. The caller holds the contact's row lock (UpsertContact takes
// it), so two replicas cannot both decide yes.
func MayAutoReply(ctx context.Context, tx pgx.Tx, c Conversation, key string, oncePerConversation bool,
	p AutoReplyPolicy, now time.Time) (string, error) {
	var repeat, once, lastHour int
	err := tx.QueryRow(ctx, `
		SELECT count(*) FILTER (WHERE reply_key = $3 AND sent_at > $4),
		       count(*) FILTER (WHERE reply_key = $3 AND conversation_id = $5),
		       count(*) FILTER (WHERE sent_at > $6)
		  FROM auto_replies WHERE namespace = $1 AND contact_id = $2 AND sent_at > least($4, $6)
		        OR (namespace = $1 AND conversation_id = $5 AND reply_key = $3)`,
		c.Number.Namespace, c.ContactID, key, now.Add(-p.Repeat), c.ID, now.Add(-time.Hour)).
		Scan(&repeat, &once, &lastHour)
	if err != nil {
		return "", fmt.Errorf("conversation: auto-reply history: %w", err)
	}
	switch {
	case oncePerConversation && once > 0:
		return RefusedOnce, nil
	case !oncePerConversation && repeat > 0:
		return RefusedRepeat, nil
	case lastHour >= p.MaxPerHour:
		return RefusedCap, nil
	}
	return RefusedNothing, nil
}

// RecordAutoReply remembers an automatic reply for MayAutoReply.
func RecordAutoReply(ctx context.Context, tx pgx.Tx, c Conversation, key string, outboxID int64, now time.Time) error {
	_, err := tx.Exec(ctx, `INSERT INTO auto_replies (namespace, contact_id, conversation_id, reply_key, outbox_id, sent_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, c.Number.Namespace, c.ContactID, c.ID, key, outboxID, now)
	if err != nil {
		return fmt.Errorf("conversation: record auto-reply: %w", err)
	}
	return nil
}
