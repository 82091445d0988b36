package conversation

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// Error codes a failed status may carry that the inbox acts on or explains (Meta "Error
// codes").
const (
	CodeUndeliverable   = 131026 // not a WhatsApp user, terms not accepted, old client
	CodeWindowClosed    = 131047 // more than 24 hours since the customer last wrote
	CodeEcosystemLimit  = 131049 // per-user marketing limit ("healthy ecosystem engagement")
	CodeMarketingOptOut = 131050 // the user stopped marketing messages from the business
)

// reasons are sentences an agent can act on, for the codes above.
var reasons = map[int]string{
	CodeUndeliverable:   "WhatsApp could not deliver the message: the number may not use WhatsApp, may not have accepted the latest terms, or runs an old WhatsApp version.",
	CodeWindowClosed:    "More than 24 hours have passed since the customer last wrote: only an approved template can be sent until they write again.",
	CodeEcosystemLimit:  "Meta held this marketing message back to keep the customer's engagement healthy (per-user marketing limit); do not resend it for at least 24 hours.",
	CodeMarketingOptOut: "The customer has chosen to stop receiving marketing messages from this business; they are marked as opted out of marketing.",
}

// Reason is a readable explanation of a failed status's error: a sentence for the codes
// the inbox knows, Meta's details or title otherwise.
func Reason(e whatsapp.StatusError) string {
	if r, ok := reasons[e.Code]; ok {
		return r
	}
	if e.ErrorData != nil && e.ErrorData.Details != "" {
		return e.ErrorData.Details
	}
	return e.Title
}

// RecordStatus records one status webhook once per (wamid, status) and recomputes the
// delivery state of the message and of its outbox row from every status recorded for the
// wamid (SQL apply_message_statuses), so statuses may arrive in any order and a status
// that arrives before the sender recorded the wamid is applied when it does (trigger on
// outbox). It reports whether the status was new. A 131050 failure marks the recipient
// opted out of marketing.
func RecordStatus(ctx context.Context, tx pgx.Tx, namespace string, s whatsapp.InboundStatus, received time.Time) (bool, error) {
	e := s.FirstError()
	var code *int
	var title, reason string
	if s.Status == whatsapp.StatusFailed && e.Code != 0 {
		code, title, reason = &e.Code, e.Title, Reason(e)
	}
	tag, err := tx.Exec(ctx, `
		INSERT INTO message_statuses (namespace, wamid, status, at, recipient_id, error_code, error_title, error_reason, payload)
		VALUES ($1, $2, $3, $4, NULLIF($5, ''), $6, NULLIF($7, ''), NULLIF($8, ''), $9)
		ON CONFLICT (namespace, wamid, status) DO NOTHING`,
		namespace, s.ID, s.Status, SentAt(s.Timestamp, received), s.RecipientID, code, title, reason, []byte(s.Raw))
	if err != nil {
		return false, fmt.Errorf("conversation: record status: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return false, nil
	}
	if _, err := tx.Exec(ctx, `SELECT apply_message_statuses($1, $2)`, namespace, s.ID); err != nil {
		return false, fmt.Errorf("conversation: apply statuses: %w", err)
	}
	if e.Code == CodeMarketingOptOut && s.Status == whatsapp.StatusFailed {
		return true, optOut(ctx, tx, namespace, s.RecipientID, reason)
	}
	return true, nil
}

// optOut marks a contact opted out of marketing (creating it if the business wrote first).
func optOut(ctx context.Context, tx pgx.Tx, namespace, recipient, reason string) error {
	waID, err := CanonicalWAID(recipient)
	if err != nil {
		return nil // no recipient to mark: the status is recorded, nothing more to do
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO contacts (namespace, wa_id, marketing_opt_out, marketing_opt_out_at, marketing_opt_out_reason)
		VALUES ($1, $2, true, now(), $3)
		ON CONFLICT (namespace, wa_id) DO UPDATE
		   SET marketing_opt_out = true, marketing_opt_out_reason = EXCLUDED.marketing_opt_out_reason,
		       marketing_opt_out_at = COALESCE(contacts.marketing_opt_out_at, now()), updated_at = now()`,
		namespace, waID, reason)
	if err != nil {
		return fmt.Errorf("conversation: opt out of marketing: %w", err)
	}
	return nil
}

// KnownStatus reports whether a status webhook can be recorded: a wamid and one of
// Meta's statuses (sent, delivered, read, played, failed). Others are kept as webhook
// events instead.
func KnownStatus(s whatsapp.InboundStatus) bool {
	switch s.Status {
	case whatsapp.StatusSent, whatsapp.StatusDelivered, whatsapp.StatusRead, whatsapp.StatusPlayed, whatsapp.StatusFailed:
		return s.ID != ""
	}
	return false
}
