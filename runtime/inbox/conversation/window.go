package conversation

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/store"
)

// ErrWindowClosed is returned by CheckFreeForm when the customer-service window is closed
// (or was never opened): only a template may be sent, as Meta would answer 131047.
var ErrWindowClosed = errors.New("the customer-service window is closed (more than 24 hours since the customer last wrote, Meta error 131047): send a template")

// WindowOpen reports whether a free-form message may be sent in the conversation at now.
func (c Conversation) WindowOpen(now time.Time) bool {
	return c.WindowExpiresAt != nil && now.Before(*c.WindowExpiresAt)
}

// Querier is what CheckFreeForm reads with: a transaction, a connection or a pool.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// CheckFreeForm decides, from the stored conversations and without asking Meta, whether
// a free-form (non-template) message may be sent from the Number to waID at now: nil when
// the customer wrote within the last 24 hours, ErrWindowClosed otherwise. The window of
// the contact's latest conversation on that Number counts (a resolved conversation's
// window still runs). `switchboard send` can call it with a pool before enqueueing a
// text message.
func CheckFreeForm(ctx context.Context, q Querier, number store.NumberRef, waID string, now time.Time) error {
	var expires *time.Time
	err := q.QueryRow(ctx, `
		SELECT max(v.window_expires_at) FROM conversations v JOIN contacts c ON c.id = v.contact_id
		 WHERE v.namespace = $1 AND v.number = $2 AND c.namespace = $1 AND c.wa_id = $3`,
		number.Namespace, number.Name, waID).Scan(&expires)
	if err != nil {
		return fmt.Errorf("conversation: check the customer-service window: %w", err)
	}
	if expires == nil || !now.Before(*expires) {
		return ErrWindowClosed
	}
	return nil
}
