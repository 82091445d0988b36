package conversation

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/store"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// knownTypes are the inbound message types of Meta's webhook reference.
var knownTypes = map[string]bool{
	whatsapp.TypeText: true, whatsapp.TypeImage: true, whatsapp.TypeDocument: true, whatsapp.TypeAudio: true,
	whatsapp.TypeVideo: true, whatsapp.TypeSticker: true, whatsapp.TypeLocation: true, whatsapp.TypeContacts: true,
	whatsapp.TypeInteractive: true, whatsapp.TypeButton: true, whatsapp.TypeReaction: true, whatsapp.TypeOrder: true,
	whatsapp.TypeSystem: true, whatsapp.TypeUnsupported: true,
}

// KnownType reports whether t is an inbound message type of Meta's webhook reference.
func KnownType(t string) bool { return knownTypes[t] }

// StoredType is the type recorded for an inbound message: Meta's type, or "unsupported"
// for a type Switchboard does not know (Meta's "unknown" included) or a message whose
// typed view did not decode. The raw JSON, with Meta's type, is kept either way.
func StoredType(m whatsapp.Inbound) string {
	if !knownTypes[m.Type] || m.DecodeError != "" {
		return whatsapp.TypeUnsupported
	}
	return m.Type
}

// SentAt is when the customer wrote the message (Meta's timestamp, Unix seconds), or
// `fallback` when the timestamp is missing or not a number.
func SentAt(timestamp string, fallback time.Time) time.Time {
	secs, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil || secs <= 0 {
		return fallback
	}
	return time.Unix(secs, 0).UTC()
}

// contextWAMID is the wamid the message answers: its context, or the reacted message.
func contextWAMID(m whatsapp.Inbound) string {
	switch {
	case m.Context != nil && m.Context.ID != "":
		return m.Context.ID
	case m.Reaction != nil:
		return m.Reaction.MessageID
	}
	return ""
}

// insertInboundSQL stores a customer's message once per wamid.
const insertInboundSQL = `
	INSERT INTO messages (namespace, conversation_id, direction, wamid, type, text, content,
	                      media_id, media_mime_type, media_sha256, media_filename, context_wamid,
	                      status, created_at)
	VALUES ($1, $2, 'in', $3, $4, NULLIF($5, ''), $6, NULLIF($7, ''), NULLIF($8, ''), NULLIF($9, ''),
	        NULLIF($10, ''), NULLIF($11, ''), 'received', $12)
	ON CONFLICT (namespace, wamid) WHERE wamid IS NOT NULL DO NOTHING`

func insertInboundArgs(c Conversation, m whatsapp.Inbound, at time.Time) []any {
	var media whatsapp.ReceivedMedia
	if p := m.Media(); p != nil {
		media = *p
	}
	return []any{c.Number.Namespace, c.ID, m.ID, StoredType(m), m.Body(), []byte(m.Raw),
		media.ID, media.MimeType, media.SHA256, media.Filename, contextWAMID(m), at}
}

// InsertInbound stores a customer's message in the conversation, once per wamid: it
// reports false when the wamid was already stored (Meta's retries and duplicates, or
// another inbox replica storing the same webhook at the same moment).
func InsertInbound(ctx context.Context, tx pgx.Tx, c Conversation, m whatsapp.Inbound, at time.Time) (bool, error) {
	tag, err := tx.Exec(ctx, insertInboundSQL, insertInboundArgs(c, m, at)...)
	if err != nil {
		return false, fmt.Errorf("conversation: insert message: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// Outbound is a message the inbox sends in a conversation (an automatic reply now, an
// agent's reply next).
type Outbound struct {
	// Payload is the Cloud API message object without messaging_product and to, as
	// store.NewMessage takes it, e.g. {"type":"text","text":{"body":"hi"}}.
	Payload json.RawMessage
	Type    string
	Text    string
	// Author is who wrote it: "keyword:<rule>", "after-hours", "agent:<name>".
	Author string
	// Media is the uploaded file an image, document, audio, video or sticker carries
	// (nil for the other types); recorded on the message like an inbound one's.
	Media *OutboundMedia
}

// OutboundMedia is a file uploaded to Meta for an outbound message: Meta's media ID, the
// MIME type, the hex SHA-256 and the document's file name ("" for none).
type OutboundMedia struct {
	ID, MimeType, SHA256, Filename string
}

// Send enqueues an outbound message in the conversation lane of the Number's outbox and
// records it in the conversation, in the caller's transaction (the sender is notified
// when it commits). The customer-service window must be open (CheckFreeForm) for anything
// but a template. It returns the outbox id.
func Send(ctx context.Context, tx pgx.Tx, c Conversation, waID string, out Outbound) (int64, error) {
	id, err := store.EnqueueTx(ctx, tx, store.NewMessage{Number: c.Number, Recipient: waID,
		Lane: store.LaneConversation, Payload: out.Payload})
	if err != nil {
		return 0, err
	}
	var m OutboundMedia
	if out.Media != nil {
		m = *out.Media
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO messages (namespace, conversation_id, direction, type, text, content, status, outbox_id, author,
		                      media_id, media_mime_type, media_sha256, media_filename)
		VALUES ($1, $2, 'out', $3, NULLIF($4, ''), $5, 'queued', $6, $7, NULLIF($8, ''), NULLIF($9, ''), NULLIF($10, ''), NULLIF($11, ''))`,
		c.Number.Namespace, c.ID, out.Type, out.Text, []byte(out.Payload), id, out.Author, m.ID, m.MimeType, m.SHA256, m.Filename)
	if err != nil {
		return 0, fmt.Errorf("conversation: record outbound message: %w", err)
	}
	return id, nil
}

// TextReply is the outbound payload of a text message.
func TextReply(body, author string) Outbound {
	payload, _ := json.Marshal(map[string]any{"type": whatsapp.TypeText, "text": whatsapp.Text{Body: body}})
	return Outbound{Payload: payload, Type: whatsapp.TypeText, Text: body, Author: author}
}
