package conversation

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Event is a webhook change (or a part of one) that is not an inbound message or a
// status: a quality, account or capability update, a field Switchboard does not know, or
// an element that could not be decoded (Error says why).
type Event struct {
	Namespace string
	Number    string // "" when the change names no Number this inbox serves
	Field     string
	WABAID    string
	Payload   json.RawMessage
	Error     string
}

// RecordEvent stores an event once (by the SHA-256 of its field and payload: Meta's
// retries and duplicates are stored once) and reports whether it was new.
func RecordEvent(ctx context.Context, tx pgx.Tx, ev Event) (bool, error) {
	h := sha256.New()
	h.Write([]byte(ev.Field))
	h.Write([]byte{0})
	h.Write(ev.Payload)
	payload := ev.Payload
	if !json.Valid(payload) {
		payload, _ = json.Marshal(string(ev.Payload))
	}
	tag, err := tx.Exec(ctx, `
		INSERT INTO webhook_events (namespace, number, field, waba_id, digest, payload, error)
		VALUES ($1, NULLIF($2, ''), $3, NULLIF($4, ''), $5, $6, NULLIF($7, ''))
		ON CONFLICT (namespace, digest) DO NOTHING`,
		ev.Namespace, ev.Number, ev.Field, ev.WABAID, h.Sum(nil), []byte(payload), ev.Error)
	if err != nil {
		return false, fmt.Errorf("conversation: record %s event: %w", ev.Field, err)
	}
	return tag.RowsAffected() == 1, nil
}
