package conversation

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/switchboard-dev/switchboard/runtime/store"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// The webhook ingest writes a batch of up to 1,000 changes in a few round trips: the
// statements of each step are pipelined (pgx.Batch) in the caller's transaction, in the
// order given, so that concurrent requests that sort their work the same way lock rows in
// the same order.

// Party is a customer writing to a Number: the contact to upsert and whose conversation
// to find or open.
type Party struct {
	Number      store.NumberRef
	WAID        string
	ProfileName string
}

// openPartySQL is UpsertContact then Open in one statement.
const openPartySQL = `WITH contact AS (` + upsertContactSQL + `)
	INSERT INTO conversations (namespace, number, contact_id) SELECT $1, $4, id FROM contact
	ON CONFLICT (namespace, number, contact_id) WHERE status <> 'resolved'
	DO UPDATE SET updated_at = conversations.updated_at
	RETURNING id, contact_id, status, window_expires_at, last_message_at`

// OpenAll upserts each party's contact and finds or opens its conversation (see
// UpsertContact and Open), in one round trip.
func OpenAll(ctx context.Context, tx pgx.Tx, parties []Party) ([]Conversation, error) {
	b := &pgx.Batch{}
	out := make([]Conversation, len(parties))
	for i, p := range parties {
		c := &out[i]
		c.Number = p.Number
		b.Queue(openPartySQL, p.Number.Namespace, p.WAID, p.ProfileName, p.Number.Name).QueryRow(func(row pgx.Row) error {
			return row.Scan(&c.ID, &c.ContactID, &c.Status, &c.WindowExpiresAt, &c.LastMessageAt)
		})
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("conversation: open conversations: %w", err)
	}
	return out, nil
}

// Received is a customer's message to store in a conversation, written at At.
type Received struct {
	Conversation Conversation
	Message      whatsapp.Inbound
	At           time.Time
}

// InsertAll stores the messages once per wamid (InsertInbound) in one round trip and
// reports which were new.
func InsertAll(ctx context.Context, tx pgx.Tx, msgs []Received) ([]bool, error) {
	b := &pgx.Batch{}
	isNew := make([]bool, len(msgs))
	for i, r := range msgs {
		b.Queue(insertInboundSQL, insertInboundArgs(r.Conversation, r.Message, r.At)...).Exec(func(tag pgconn.CommandTag) error {
			isNew[i] = tag.RowsAffected() == 1
			return nil
		})
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("conversation: insert messages: %w", err)
	}
	return isNew, nil
}

// TouchAll records, for each conversation, its customer's latest new message (Touch), in
// one round trip; it updates the windows in convs.
func TouchAll(ctx context.Context, tx pgx.Tx, convs []*Conversation, latest []time.Time) error {
	b := &pgx.Batch{}
	for i, c := range convs {
		b.Queue(touchSQL, c.ID, latest[i], ServiceWindow.String()).QueryRow(func(row pgx.Row) error {
			return row.Scan(&c.WindowExpiresAt, &c.LastMessageAt)
		})
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("conversation: touch conversations: %w", err)
	}
	return nil
}
