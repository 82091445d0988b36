// Package conversation keeps the inbox's record of contacts, conversations, messages and
// their delivery statuses in PostgreSQL (tables of migration 00003, described in
// docs/inbox-data.md): idempotent on wamid, tolerant of statuses in any order, and the
// customer-service window per conversation.
//
// Every function takes the caller's transaction (pgx.Tx) and the namespace (the tenant),
// so that one webhook request is one transaction, and every query filters on namespace.
package conversation

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/phone"
	"github.com/switchboard-dev/switchboard/runtime/store"
)

// ServiceWindow is the customer-service window: free-form messages may be sent until 24
// hours after the customer's last message (Meta, "Service messages", customer service
// windows); after it only templates (error 131047 otherwise).
const ServiceWindow = 24 * time.Hour

// ErrInvalidWAID is returned for a wa_id that is not 1 to 20 decimal digits (after an
// optional "+").
var ErrInvalidWAID = errors.New("conversation: wa_id must have 1 to 20 digits")

// maxWAIDDigits is the bound of contacts.wa_id in the schema (migration 00003).
const maxWAIDDigits = 20

// CanonicalWAID returns the canonical form of a wa_id Meta sent (messages[].from,
// statuses[].recipient_id): phone.FromMeta, digits with an optional leading "+" dropped
// ("+16505551234" → "16505551234"), never refused for its country or length as Meta
// resolved it, but bounded by the schema's 20 digits. Anything else (spaces, letters,
// nothing) is refused with ErrInvalidWAID.
func CanonicalWAID(s string) (string, error) {
	waID, err := phone.FromMeta(s)
	if err != nil || len(waID) > maxWAIDDigits {
		return "", fmt.Errorf("%w, got %q", ErrInvalidWAID, s)
	}
	return waID, nil
}

// Conversation is one row of conversations, as the ingest and the read API need it.
type Conversation struct {
	ID              int64
	Number          store.NumberRef
	ContactID       int64
	Status          string
	WindowExpiresAt *time.Time
	LastMessageAt   *time.Time
}

// upsertContactSQL records a contact by wa_id ($1 namespace, $2 wa_id, $3 profile name)
// and returns its id; a non-empty profile name replaces the stored one.
const upsertContactSQL = `
	INSERT INTO contacts (namespace, wa_id, profile_name) VALUES ($1, $2, NULLIF($3, ''))
	ON CONFLICT (namespace, wa_id) DO UPDATE
	   SET profile_name = COALESCE(EXCLUDED.profile_name, contacts.profile_name),
	       updated_at = CASE WHEN EXCLUDED.profile_name IS DISTINCT FROM contacts.profile_name
	                         AND EXCLUDED.profile_name IS NOT NULL THEN now() ELSE contacts.updated_at END
	RETURNING id`

// openSQL finds or opens the unresolved conversation of contact $3 on Number $1/$2.
const openSQL = `
	INSERT INTO conversations (namespace, number, contact_id) VALUES ($1, $2, $3)
	ON CONFLICT (namespace, number, contact_id) WHERE status <> 'resolved'
	DO UPDATE SET updated_at = conversations.updated_at
	RETURNING id, contact_id, status, window_expires_at, last_message_at`

// UpsertContact records a contact by wa_id (canonical digits) and returns its id. A
// non-empty profileName replaces the stored one (Meta sends the current profile with each
// message). It holds the contact's row lock until the transaction ends.
func UpsertContact(ctx context.Context, tx pgx.Tx, namespace, waID, profileName string) (int64, error) {
	var id int64
	if err := tx.QueryRow(ctx, upsertContactSQL, namespace, waID, profileName).Scan(&id); err != nil {
		return 0, fmt.Errorf("conversation: upsert contact: %w", err)
	}
	return id, nil
}

// Open finds the contact's unresolved conversation on the Number, or opens one. A
// resolved conversation is never reopened: the next message opens a new one, so that
// resolution times and reports stay per conversation.
func Open(ctx context.Context, tx pgx.Tx, number store.NumberRef, contactID int64) (Conversation, error) {
	c := Conversation{Number: number}
	err := tx.QueryRow(ctx, openSQL, number.Namespace, number.Name, contactID).
		Scan(&c.ID, &c.ContactID, &c.Status, &c.WindowExpiresAt, &c.LastMessageAt)
	if err != nil {
		return Conversation{}, fmt.Errorf("conversation: open for %s: %w", number, err)
	}
	return c, nil
}

// Touch records a customer's message written at `at` on the conversation: the
// customer-service window runs to at+24h, and the last message time moves forward (never
// back, since messages may arrive out of order).
func Touch(ctx context.Context, tx pgx.Tx, c *Conversation, at time.Time) error {
	err := tx.QueryRow(ctx, touchSQL, c.ID, at, ServiceWindow.String()).Scan(&c.WindowExpiresAt, &c.LastMessageAt)
	if err != nil {
		return fmt.Errorf("conversation: touch %d: %w", c.ID, err)
	}
	return nil
}

// touchSQL moves conversation $1's window to $2 + $3 and its last message time to $2,
// never back.
const touchSQL = `
	UPDATE conversations
	   SET window_expires_at = GREATEST(window_expires_at, $2::timestamptz + $3::interval),
	       last_message_at = GREATEST(last_message_at, $2::timestamptz),
	       updated_at = now()
	 WHERE id = $1 RETURNING window_expires_at, last_message_at`

// Tag adds tags to the contact and to the conversation (set semantics, at most 50 each:
// the CHECK constraint refuses more).
func Tag(ctx context.Context, tx pgx.Tx, c Conversation, tags []string) error {
	if len(tags) == 0 {
		return nil
	}
	const add = `SET tags = ARRAY(SELECT DISTINCT unnest(tags || $2::text[]) ORDER BY 1), updated_at = now() WHERE id = $1`
	if _, err := tx.Exec(ctx, `UPDATE contacts `+add, c.ContactID, tags); err != nil {
		return fmt.Errorf("conversation: tag contact %d: %w", c.ContactID, err)
	}
	if _, err := tx.Exec(ctx, `UPDATE conversations `+add, c.ID, tags); err != nil {
		return fmt.Errorf("conversation: tag conversation %d: %w", c.ID, err)
	}
	return nil
}

// RequireSkill sets the skill the conversation needs (for routing).
func RequireSkill(ctx context.Context, tx pgx.Tx, c Conversation, skill string) error {
	_, err := tx.Exec(ctx, `UPDATE conversations SET required_skill = $2, updated_at = now() WHERE id = $1`, c.ID, skill)
	if err != nil {
		return fmt.Errorf("conversation: require skill on %d: %w", c.ID, err)
	}
	return nil
}

// DefaultSkill sets the skill the conversation needs (for routing) when it needs none
// yet: the Number's default skill never replaces a KeywordRule's routeToSkill.
func DefaultSkill(ctx context.Context, tx pgx.Tx, c Conversation, skill string) error {
	_, err := tx.Exec(ctx, `UPDATE conversations SET required_skill = $2, updated_at = now()
		WHERE id = $1 AND required_skill IS NULL`, c.ID, skill)
	if err != nil {
		return fmt.Errorf("conversation: default skill on %d: %w", c.ID, err)
	}
	return nil
}
