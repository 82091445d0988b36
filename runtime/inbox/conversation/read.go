package conversation

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Summary is a conversation as the read API lists it.
type Summary struct {
	ID              int64      `json:"id"`
	Number          string     `json:"number"`
	WAID            string     `json:"waId"`
	ProfileName     string     `json:"profileName,omitempty"`
	Status          string     `json:"status"`
	WindowExpiresAt *time.Time `json:"windowExpiresAt,omitempty"`
	LastMessageAt   *time.Time `json:"lastMessageAt,omitempty"`
}

// List returns the namespace's conversations, most recent message first, at most limit.
func List(ctx context.Context, tx pgx.Tx, namespace string, limit int) ([]Summary, error) {
	rows, _ := tx.Query(ctx, `
		SELECT v.id, v.number, c.wa_id, COALESCE(c.profile_name, ''), v.status, v.window_expires_at, v.last_message_at
		  FROM conversations v JOIN contacts c ON c.id = v.contact_id
		 WHERE v.namespace = $1
		 ORDER BY v.last_message_at DESC NULLS LAST, v.id DESC LIMIT $2`, namespace, limit)
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Summary])
	if err != nil {
		return nil, fmt.Errorf("conversation: list: %w", err)
	}
	return out, nil
}

// Message is a stored message as the read API returns it: Content is the whole message
// object (text, caption, interactive reply, location, …).
type Message struct {
	ID          int64           `json:"id"`
	Direction   string          `json:"direction"`
	WAMID       *string         `json:"wamid,omitempty"`
	Type        string          `json:"type"`
	Text        *string         `json:"text,omitempty"`
	Content     json.RawMessage `json:"content"`
	Status      string          `json:"status"`
	ErrorCode   *int            `json:"errorCode,omitempty"`
	ErrorReason *string         `json:"errorReason,omitempty"`
	CreatedAt   time.Time       `json:"createdAt"`
}

// ErrNoConversation is returned for a conversation id not in the namespace.
var ErrNoConversation = fmt.Errorf("conversation: no such conversation")

// Messages returns a conversation's messages in order (oldest first), at most limit, or
// ErrNoConversation.
func Messages(ctx context.Context, tx pgx.Tx, namespace string, id int64, limit int) ([]Message, error) {
	var found bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM conversations WHERE namespace = $1 AND id = $2)`,
		namespace, id).Scan(&found); err != nil {
		return nil, fmt.Errorf("conversation: messages: %w", err)
	}
	if !found {
		return nil, ErrNoConversation
	}
	rows, _ := tx.Query(ctx, `
		SELECT id, direction, wamid, type, text, content, status, error_code, COALESCE(error_reason, error_title), created_at
		  FROM messages WHERE namespace = $1 AND conversation_id = $2
		 ORDER BY created_at, id LIMIT $3`, namespace, id, limit)
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Message])
	if err != nil {
		return nil, fmt.Errorf("conversation: messages: %w", err)
	}
	return out, nil
}
