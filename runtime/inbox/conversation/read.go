package conversation

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Message is a stored message as the agents' API returns it: Content is the whole
// message object (text, caption, interactive reply, location, …), with its delivery
// status and times, and who wrote an outbound one.
type Message struct {
	ID          int64           `json:"id"`
	Direction   string          `json:"direction"`
	WAMID       *string         `json:"wamid,omitempty"`
	Type        string          `json:"type"`
	Text        *string         `json:"text,omitempty"`
	Content     json.RawMessage `json:"content"`
	Status      string          `json:"status"`
	Author      *string         `json:"author,omitempty"`
	OutboxID    *int64          `json:"outboxId,omitempty"`
	ErrorCode   *int            `json:"errorCode,omitempty"`
	ErrorReason *string         `json:"errorReason,omitempty"`
	SentAt      *time.Time      `json:"sentAt,omitempty"`
	DeliveredAt *time.Time      `json:"deliveredAt,omitempty"`
	ReadAt      *time.Time      `json:"readAt,omitempty"`
	FailedAt    *time.Time      `json:"failedAt,omitempty"`
	CreatedAt   time.Time       `json:"createdAt"`
	// MediaID is the archived media row of the file the message carries (GET
	// /api/v1/media/{mediaId}), inbound or outbound; nil for none.
	MediaID *int64 `json:"mediaId,omitempty"`
	// MediaState is that file's archive state: pending (being downloaded from Meta,
	// retried with backoff), stored, or failed (the reason at GET
	// /api/v1/messages/{id}/media); nil for none.
	MediaState *string `json:"mediaState,omitempty"`
}

const messageColumns = `id, direction, wamid, type, text, content, status, author, outbox_id, error_code,
	COALESCE(error_reason, error_title) AS error_reason, sent_at, delivered_at, read_at, failed_at, created_at,
	(SELECT md.id FROM media md WHERE md.message_id = messages.id ORDER BY md.id LIMIT 1) AS media_row,
	(SELECT md.state FROM media md WHERE md.message_id = messages.id ORDER BY md.id LIMIT 1) AS media_state`

// ErrNoConversation is returned for a conversation id not in the namespace, or one the
// viewer may not see.
var ErrNoConversation = fmt.Errorf("conversation: no such conversation")

// Messages returns a conversation's messages in order (oldest first), at most limit, or
// ErrNoConversation when the viewer may not see it.
func Messages(ctx context.Context, tx pgx.Tx, vw Viewer, id int64, limit int) ([]Message, error) {
	if _, err := Get(ctx, tx, vw, id, false); err != nil {
		return nil, err
	}
	rows, _ := tx.Query(ctx, `SELECT `+messageColumns+` FROM messages WHERE namespace = $1 AND conversation_id = $2
		 ORDER BY created_at, id LIMIT $3`, vw.Namespace, id, limit)
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Message])
	if err != nil {
		return nil, fmt.Errorf("conversation: messages: %w", err)
	}
	return out, nil
}

// MessageByOutbox returns the message recorded for an outbox row.
func MessageByOutbox(ctx context.Context, tx pgx.Tx, namespace string, outboxID int64) (Message, error) {
	return oneMessage(ctx, tx, "outbox_id", namespace, outboxID)
}

// MessageByID returns message id of namespace.
func MessageByID(ctx context.Context, tx pgx.Tx, namespace string, id int64) (Message, error) {
	return oneMessage(ctx, tx, "id", namespace, id)
}

func oneMessage(ctx context.Context, tx pgx.Tx, column, namespace string, id int64) (Message, error) {
	rows, _ := tx.Query(ctx, `SELECT `+messageColumns+` FROM messages WHERE namespace = $1 AND `+column+` = $2`, namespace, id)
	m, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[Message])
	if err != nil {
		return Message{}, fmt.Errorf("conversation: message with %s %d: %w", column, id, err)
	}
	return m, nil
}

// MarkResponded records the first answer to the customer (first_response_at), once.
func MarkResponded(ctx context.Context, tx pgx.Tx, namespace string, id int64) error {
	if _, err := tx.Exec(ctx, `UPDATE conversations SET first_response_at = now(), updated_at = now()
		WHERE namespace = $1 AND id = $2 AND first_response_at IS NULL`, namespace, id); err != nil {
		return fmt.Errorf("conversation: mark responded: %w", err)
	}
	return nil
}

// SeesMessage reports whether the viewer may see message id of its namespace: whether
// it may see the message's conversation (Viewer's Scope). A message that does not exist
// is not seen either.
func SeesMessage(ctx context.Context, tx pgx.Tx, vw Viewer, id int64) (bool, error) {
	var q query
	q.visible(vw)
	q.and("m.id = %s", id)
	var seen bool
	err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM messages m JOIN conversations v
		ON v.id = m.conversation_id AND v.namespace = m.namespace WHERE `+q.clause()+`)`, q.args...).Scan(&seen)
	if err != nil {
		return false, fmt.Errorf("conversation: message %d visible: %w", id, err)
	}
	return seen, nil
}
