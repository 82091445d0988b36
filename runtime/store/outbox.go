package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/phone"
)

// messageColumns is the select list scanned by scanMessage.
const messageColumns = `id, namespace, number, recipient, lane, payload, state, attempts,
	next_attempt_at, COALESCE(wamid, ''), COALESCE(error_code, 0), COALESCE(error_message, ''),
	possibly_duplicate, COALESCE(retry_class, ''), retry_count, retry_since,
	COALESCE(resolved_wa_id, ''), created_at, updated_at, sent_at`

func scanMessage(row pgx.CollectableRow) (Message, error) {
	var m Message
	var since *time.Time
	err := row.Scan(&m.ID, &m.Number.Namespace, &m.Number.Name, &m.Recipient, &m.Lane,
		&m.Payload, &m.State, &m.Attempts, &m.NextAttemptAt, &m.WAMID, &m.ErrorCode,
		&m.ErrorMessage, &m.PossiblyDuplicate, &m.Retry.Class, &m.Retry.Count, &since,
		&m.ResolvedWAID, &m.CreatedAt, &m.UpdatedAt, &m.SentAt)
	if since != nil {
		m.Retry.Since = *since
	}
	return m, err
}

// Validate checks a message before it is enqueued; every error names its field (see
// ValidationError) and several are joined. The Recipient must be a WhatsApp user's
// number by phone.Canonical (phone.FromMeta when RecipientFromMeta).
func (m NewMessage) Validate() error {
	_, err := m.canonical()
	return err
}

// canonical is m validated, with its Recipient in the wa_id form the outbox stores (so
// that pacing and the unique-recipients budget, which key on it, see one customer once).
func (m NewMessage) canonical() (NewMessage, error) {
	recipient, err := canonicalRecipient(m)
	errs := []error{validateRef(m.Number), err, validateLane(m.Lane), validatePayload(m.Payload), validateCampaign(m)}
	m.Recipient = recipient
	return m, errors.Join(errs...)
}

func canonicalRecipient(m NewMessage) (string, error) {
	toWAID := phone.Canonical
	if m.RecipientFromMeta {
		toWAID = phone.FromMeta
	}
	waID, err := toWAID(m.Recipient)
	if err != nil {
		return "", &ValidationError{Field: "Recipient", Reason: err.Error()}
	}
	return waID, nil
}

func validateCampaign(m NewMessage) error {
	switch {
	case m.CampaignID < 0:
		return invalid("CampaignID", "must not be negative, not %d", m.CampaignID)
	case m.CampaignID > 0 && m.Lane != LaneCampaign:
		return invalid("CampaignID", "is only for the campaign lane, not %q", m.Lane)
	}
	return nil
}

func validatePayload(p json.RawMessage) error {
	if len(p) == 0 {
		return invalid("Payload", "must not be empty")
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(p, &obj); err != nil || obj == nil {
		return invalid("Payload", "must be a JSON object")
	}
	raw, ok := obj["type"]
	if !ok {
		return invalid("Payload.type", "is required")
	}
	var typ string
	if err := json.Unmarshal(raw, &typ); err != nil {
		return invalid("Payload.type", "must be a string")
	}
	if typ == "" {
		return invalid("Payload.type", "must not be empty")
	}
	return nil
}

// Enqueue validates m, inserts it in the outbox and notifies the number's sender
// (NOTIFY switchboard_outbox, 'namespace/name'), in one transaction. It returns the id.
func (s *Store) Enqueue(ctx context.Context, m NewMessage) (int64, error) {
	m, err := m.canonical()
	if err != nil {
		return 0, fmt.Errorf("store: enqueue: %w", err)
	}
	var id int64
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		id, err = insert(ctx, tx, m)
		return err
	})
	if err != nil {
		return 0, redact(err, s.password)
	}
	return id, nil
}

// EnqueueTx is Enqueue inside the caller's transaction (the inbox writes the outbox row
// in the same transaction as the message it belongs to). The notification is delivered
// when tx commits, and not at all if it rolls back.
func EnqueueTx(ctx context.Context, tx pgx.Tx, m NewMessage) (int64, error) {
	m, err := m.canonical()
	if err != nil {
		return 0, fmt.Errorf("store: enqueue: %w", err)
	}
	return insert(ctx, tx, m)
}

func insert(ctx context.Context, tx pgx.Tx, m NewMessage) (int64, error) {
	var notBefore *time.Time
	if !m.NotBefore.IsZero() {
		notBefore = &m.NotBefore
	}
	var id int64
	err := tx.QueryRow(ctx, `
		INSERT INTO outbox (namespace, number, recipient, lane, payload, next_attempt_at, campaign_id)
		VALUES ($1, $2, $3, $4, $5, COALESCE($6::timestamptz, now()), NULLIF($7, 0))
		RETURNING id`,
		m.Number.Namespace, m.Number.Name, m.Recipient, m.Lane, m.Payload, notBefore, m.CampaignID,
	).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("store: enqueue for %s: insert: %w", m.Number, err)
	}
	if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, notifyChannel, m.Number.String()); err != nil {
		return 0, fmt.Errorf("store: enqueue for %s: notify: %w", m.Number, err)
	}
	return id, nil
}

// Get returns one message of any number, or ErrNotFound.
func (s *Store) Get(ctx context.Context, id int64) (Message, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+messageColumns+` FROM outbox WHERE id = $1`, id)
	m, err := pgx.CollectExactlyOneRow(rows, scanMessage)
	if errors.Is(err, pgx.ErrNoRows) {
		return Message{}, fmt.Errorf("store: get message %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Message{}, redact(fmt.Errorf("store: get message %d: %w", id, err), s.password)
	}
	return m, nil
}

// Counts returns how many of the number's outbox rows are in each state (every State
// is a key) and how many are flagged PossiblyDuplicate, for tests and metrics.
func (s *Store) Counts(ctx context.Context, ref NumberRef) (map[State]int, int, error) {
	if err := validateRef(ref); err != nil {
		return nil, 0, fmt.Errorf("store: counts: %w", err)
	}
	rows, _ := s.pool.Query(ctx, `
		SELECT state, count(*), count(*) FILTER (WHERE possibly_duplicate)
		FROM outbox WHERE namespace = $1 AND number = $2
		GROUP BY state`, ref.Namespace, ref.Name)
	counts := map[State]int{StateQueued: 0, StateSending: 0, StateSent: 0, StateFailed: 0}
	dup := 0
	var (
		st   State
		n, d int
	)
	_, err := pgx.ForEachRow(rows, []any{&st, &n, &d}, func() error {
		counts[st] = n
		dup += d
		return nil
	})
	if err != nil {
		return nil, 0, redact(fmt.Errorf("store: counts of %s: %w", ref, err), s.password)
	}
	return counts, dup, nil
}
