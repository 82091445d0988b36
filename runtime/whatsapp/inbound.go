package whatsapp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Lossless decoding of the webhooks Meta POSTs to a receiver (the inbox).
//
// Meta adds fields and message types without notice (Webhooks overview: "fields may be
// added"), so each level a receiver stores keeps the exact JSON it was decoded from in
// Raw, beside a typed, read-only view of the fields Switchboard uses. MarshalJSON writes
// Raw back unchanged when it is set, so a decode/re-encode round trip keeps every field,
// known or not, and every unknown message type. Values built in code (Raw empty) are
// encoded from their typed fields.
//
// A typed view that cannot be decoded (a field of an unexpected JSON type) does not fail
// the decoding of its parent: the element keeps Raw, sets DecodeError, and fills what it
// can (id, from, type, status) so that a receiver can still store it, as an unsupported
// message, rather than reject a batch of up to 1,000 updates for one odd element.

// Message types only inbound messages have (messages[].type; Meta "Messages webhook
// reference"); the others are the sending types (TypeText, TypeImage, …).
const (
	TypeLocation    = "location"
	TypeContacts    = "contacts"
	TypeButton      = "button"
	TypeOrder       = "order"
	TypeSystem      = "system"
	TypeUnsupported = "unsupported"
	TypeUnknown     = "unknown"
)

// FieldBusinessCapabilityUpdate is the webhook field of messaging-limit increases.
const FieldBusinessCapabilityUpdate = "business_capability_update"

// StatusPlayed is a voice message's status after read.
const StatusPlayed = "played"

// ErrNotObject is returned when a webhook element is not a JSON object.
var ErrNotObject = errors.New("whatsapp: webhook element is not a JSON object")

// keep decodes b into the typed view v (a pointer to a plain alias of the element's type)
// and returns a private copy of b for Raw. A b that is not a JSON object is an error; a
// typed view that does not decode is returned as decodeErr with raw still set.
func keep(b []byte, v any) (raw json.RawMessage, decodeErr string, err error) {
	t := bytes.TrimSpace(b)
	if len(t) == 0 || t[0] != '{' || !json.Valid(t) {
		return nil, "", ErrNotObject
	}
	raw = append(json.RawMessage(nil), t...)
	if err := json.Unmarshal(t, v); err != nil {
		return raw, err.Error(), nil
	}
	return raw, "", nil
}

// keepLenient is keep for elements that survive a typed view that does not decode:
// reset (given the raw JSON) then clears the element and fills what it can.
func keepLenient(b []byte, v any, reset func(raw json.RawMessage)) (json.RawMessage, string, error) {
	raw, bad, err := keep(b, v)
	if err == nil && bad != "" {
		reset(raw)
	}
	return raw, bad, err
}

// encode writes raw when set, and the typed view v otherwise.
func encode(raw json.RawMessage, v any) ([]byte, error) {
	if len(raw) > 0 {
		return raw, nil
	}
	return json.Marshal(v)
}

// Notification is a webhook request body: {"object":"whatsapp_business_account",
// "entry":[...]}. Meta batches up to 1,000 updates in one (Webhooks overview).
type Notification struct {
	Object string              `json:"object"`
	Entry  []NotificationEntry `json:"entry"`
	Raw    json.RawMessage     `json:"-"`
}

// NotificationEntry is the updates for one WhatsApp Business Account (ID, the WABA id).
// Time (Unix seconds) is set on account-level fields such as account_update.
type NotificationEntry struct {
	ID      string               `json:"id"`
	Time    json.Number          `json:"time,omitempty"`
	Changes []NotificationChange `json:"changes"`
	Raw     json.RawMessage      `json:"-"`
	// DecodeError is set when id, time or changes do not have their JSON types.
	DecodeError string `json:"-"`
}

// NotificationChange is one update: Field names the subscription (messages,
// phone_number_quality_update, account_update, …) and Value's shape depends on it
// (DecodeMessages for "messages").
type NotificationChange struct {
	Field string          `json:"field"`
	Value json.RawMessage `json:"value"`
	Raw   json.RawMessage `json:"-"`
	// DecodeError is set when field is not a string.
	DecodeError string `json:"-"`
}

// DecodeNotification decodes a webhook body. It fails only when the body, an entry or a
// change is not a JSON object, or object or entry do not have their JSON types; an entry
// or change with other bad fields carries DecodeError. What is inside a change's value is
// decoded later, per change (DecodeMessages).
func DecodeNotification(body []byte) (Notification, error) {
	var n Notification
	if err := json.Unmarshal(body, &n); err != nil {
		return Notification{}, fmt.Errorf("whatsapp: webhook body: %w", err)
	}
	return n, nil
}

// UnmarshalJSON keeps the raw body; the envelope's own fields must decode.
func (n *Notification) UnmarshalJSON(b []byte) error {
	type plain Notification
	raw, bad, err := keep(b, (*plain)(n))
	if err == nil && bad != "" {
		err = errors.New(bad)
	}
	n.Raw = raw
	return err
}

// MarshalJSON writes Raw when set.
func (n Notification) MarshalJSON() ([]byte, error) {
	type plain Notification
	return encode(n.Raw, plain(n))
}

// UnmarshalJSON keeps the raw entry; an entry whose id, time or changes do not decode
// sets DecodeError (and has no changes).
func (e *NotificationEntry) UnmarshalJSON(b []byte) (err error) {
	type plain NotificationEntry
	e.Raw, e.DecodeError, err = keepLenient(b, (*plain)(e), func(json.RawMessage) { *e = NotificationEntry{} })
	return err
}

// MarshalJSON writes Raw when set.
func (e NotificationEntry) MarshalJSON() ([]byte, error) {
	type plain NotificationEntry
	return encode(e.Raw, plain(e))
}

// UnmarshalJSON keeps the raw change; a change whose field is not a string sets
// DecodeError.
func (c *NotificationChange) UnmarshalJSON(b []byte) (err error) {
	type plain NotificationChange
	c.Raw, c.DecodeError, err = keepLenient(b, (*plain)(c), func(json.RawMessage) { *c = NotificationChange{} })
	return err
}

// MarshalJSON writes Raw when set.
func (c NotificationChange) MarshalJSON() ([]byte, error) {
	type plain NotificationChange
	return encode(c.Raw, plain(c))
}

// InboundValue is the value of a "messages" change: inbound messages with their senders'
// profiles, statuses of messages the business sent, or errors (Meta "Messages webhook
// reference").
type InboundValue struct {
	MessagingProduct string           `json:"messaging_product"`
	Metadata         Metadata         `json:"metadata"`
	Contacts         []InboundContact `json:"contacts,omitempty"`
	Messages         []Inbound        `json:"messages,omitempty"`
	Statuses         []InboundStatus  `json:"statuses,omitempty"`
	Errors           []StatusError    `json:"errors,omitempty"`
	Raw              json.RawMessage  `json:"-"`
}

// DecodeMessages decodes the value of a "messages" change. It fails only when the value,
// or one of its messages, statuses or contacts, is not a JSON object, or metadata or the
// lists do not have their JSON types.
func (c NotificationChange) DecodeMessages() (InboundValue, error) {
	var v InboundValue
	if err := json.Unmarshal(c.Value, &v); err != nil {
		return InboundValue{}, fmt.Errorf("whatsapp: %s change: %w", c.Field, err)
	}
	return v, nil
}

// UnmarshalJSON keeps the raw value.
func (v *InboundValue) UnmarshalJSON(b []byte) error {
	type plain InboundValue
	raw, bad, err := keep(b, (*plain)(v))
	if err == nil && bad != "" {
		err = fmt.Errorf("value: %s", bad)
	}
	v.Raw = raw
	return err
}

// MarshalJSON writes Raw when set.
func (v InboundValue) MarshalJSON() ([]byte, error) {
	type plain InboundValue
	return encode(v.Raw, plain(v))
}

// InboundContact is the profile of the WhatsApp user who sent a message; WAID is the
// user's WhatsApp id (digits), which may differ from the phone number they typed.
type InboundContact struct {
	Profile     InboundProfile  `json:"profile"`
	WAID        string          `json:"wa_id"`
	UserID      string          `json:"user_id,omitempty"` // business-scoped user id (BSUID)
	Raw         json.RawMessage `json:"-"`
	DecodeError string          `json:"-"`
}

// InboundProfile is a contact's public profile.
type InboundProfile struct {
	Name string `json:"name"`
}

// UnmarshalJSON keeps the raw contact.
func (c *InboundContact) UnmarshalJSON(b []byte) error {
	type plain InboundContact
	raw, bad, err := keep(b, (*plain)(c))
	c.Raw, c.DecodeError = raw, bad
	return err
}

// MarshalJSON writes Raw when set.
func (c InboundContact) MarshalJSON() ([]byte, error) {
	type plain InboundContact
	return encode(c.Raw, plain(c))
}

// Inbound is a message a WhatsApp user sent to the business: From (wa_id), ID (wamid),
// Timestamp (Unix seconds as a string) and Type, with the object named by Type. Raw is
// the whole message object as Meta sent it.
type Inbound struct {
	Context     *MessageContext      `json:"context,omitempty"`
	From        string               `json:"from"`
	ID          string               `json:"id"`
	Timestamp   string               `json:"timestamp"`
	Type        string               `json:"type"`
	Text        *Text                `json:"text,omitempty"`
	Image       *ReceivedMedia       `json:"image,omitempty"`
	Document    *ReceivedMedia       `json:"document,omitempty"`
	Audio       *ReceivedMedia       `json:"audio,omitempty"`
	Video       *ReceivedMedia       `json:"video,omitempty"`
	Sticker     *ReceivedMedia       `json:"sticker,omitempty"`
	Location    *ReceivedLocation    `json:"location,omitempty"`
	Contacts    []SharedContact      `json:"contacts,omitempty"`
	Interactive *ReceivedInteractive `json:"interactive,omitempty"`
	Button      *InboundButton       `json:"button,omitempty"`
	Reaction    *Reaction            `json:"reaction,omitempty"`
	Order       *ReceivedOrder       `json:"order,omitempty"`
	System      *SystemUpdate        `json:"system,omitempty"`
	Referral    *Referral            `json:"referral,omitempty"`
	Errors      []StatusError        `json:"errors,omitempty"`
	Raw         json.RawMessage      `json:"-"`
	// DecodeError is set when the typed view did not decode; Raw is still the message.
	DecodeError string `json:"-"`
}

// UnmarshalJSON keeps the raw message; a typed view that does not decode sets
// DecodeError and keeps whichever of id, from, timestamp and type are strings.
func (m *Inbound) UnmarshalJSON(b []byte) (err error) {
	type plain Inbound
	m.Raw, m.DecodeError, err = keepLenient(b, (*plain)(m), func(raw json.RawMessage) {
		*m = Inbound{}
		m.ID, m.From, m.Timestamp, m.Type = lenientStrings(raw, "id", "from", "timestamp", "type")
	})
	return err
}

// MarshalJSON writes Raw when set.
func (m Inbound) MarshalJSON() ([]byte, error) {
	type plain Inbound
	return encode(m.Raw, plain(m))
}

// lenientStrings returns the string values of four keys of a JSON object ("" for a key
// that is missing or not a string).
func lenientStrings(raw []byte, k1, k2, k3, k4 string) (string, string, string, string) {
	var obj map[string]json.RawMessage
	_ = json.Unmarshal(raw, &obj)
	get := func(k string) string {
		var s string
		_ = json.Unmarshal(obj[k], &s)
		return s
	}
	return get(k1), get(k2), get(k3), get(k4)
}

// Body is the text an agent or a keyword rule reads in the message: the text body, a
// media caption, the title of a tapped button or list row, a quick-reply button's text,
// or "" for the other types.
func (m Inbound) Body() string {
	switch {
	case m.Text != nil:
		return m.Text.Body
	case m.Interactive != nil:
		return m.Interactive.Title()
	case m.Button != nil:
		return m.Button.Text
	}
	if media := m.Media(); media != nil {
		return media.Caption
	}
	return ""
}

// Media returns the message's media object (image, document, audio, video or sticker),
// or nil.
func (m Inbound) Media() *ReceivedMedia {
	for _, media := range []*ReceivedMedia{m.Image, m.Document, m.Audio, m.Video, m.Sticker} {
		if media != nil {
			return media
		}
	}
	return nil
}

// MessageContext is what an inbound message answers: the business message ID replied to
// or tapped (From is the business number), a product asked about, or a forward.
type MessageContext struct {
	From            string           `json:"from,omitempty"`
	ID              string           `json:"id,omitempty"`
	Forwarded       bool             `json:"forwarded,omitempty"`
	FrequentlyFwd   bool             `json:"frequently_forwarded,omitempty"`
	ReferredProduct *ReferredProduct `json:"referred_product,omitempty"`
}

// ReferredProduct is the catalog product a message asks about.
type ReferredProduct struct {
	CatalogID         string `json:"catalog_id"`
	ProductRetailerID string `json:"product_retailer_id"`
}

// ReceivedMedia is received media (download it by ID from the Graph API); SHA256 is
// base64. Filename is set on documents, Voice on voice notes, Animated on stickers.
type ReceivedMedia struct {
	ID       string `json:"id"`
	MimeType string `json:"mime_type,omitempty"`
	SHA256   string `json:"sha256,omitempty"`
	Caption  string `json:"caption,omitempty"`
	Filename string `json:"filename,omitempty"`
	Voice    bool   `json:"voice,omitempty"`
	Animated bool   `json:"animated,omitempty"`
	URL      string `json:"url,omitempty"`
}

// ReceivedLocation is a shared location (degrees).
type ReceivedLocation struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
	Name      string  `json:"name,omitempty"`
	Address   string  `json:"address,omitempty"`
	URL       string  `json:"url,omitempty"`
}

// SharedContact is a contact card the user shared; its nested objects (name, phones,
// emails, addresses, org, urls, birthday) are kept as JSON.
type SharedContact struct {
	Name   json.RawMessage   `json:"name,omitempty"`
	Phones []SharedPhone     `json:"phones,omitempty"`
	Emails []json.RawMessage `json:"emails,omitempty"`
}

// SharedPhone is one phone of a shared contact card.
type SharedPhone struct {
	Phone string `json:"phone,omitempty"`
	WAID  string `json:"wa_id,omitempty"`
	Type  string `json:"type,omitempty"`
}

// ReceivedInteractive is a tap on a reply button (button_reply), a list row
// (list_reply), or a WhatsApp Flow's answer (nfm_reply, whose response_json is a JSON
// string).
type ReceivedInteractive struct {
	Type        string     `json:"type"`
	ButtonReply *ReplyPick `json:"button_reply,omitempty"`
	ListReply   *ReplyPick `json:"list_reply,omitempty"`
	NFMReply    *NFMReply  `json:"nfm_reply,omitempty"`
}

// Title is the tapped button's or row's title, or the flow reply's body.
func (i ReceivedInteractive) Title() string {
	switch {
	case i.ButtonReply != nil:
		return i.ButtonReply.Title
	case i.ListReply != nil:
		return i.ListReply.Title
	case i.NFMReply != nil:
		return i.NFMReply.Body
	}
	return ""
}

// NFMReply is a WhatsApp Flow's completion message.
type NFMReply struct {
	Name         string `json:"name,omitempty"`
	Body         string `json:"body,omitempty"`
	ResponseJSON string `json:"response_json,omitempty"`
}

// ReceivedOrder is a cart sent from a catalog (item_price in the currency's units).
type ReceivedOrder struct {
	CatalogID    string        `json:"catalog_id"`
	Text         string        `json:"text,omitempty"`
	ProductItems []ProductItem `json:"product_items"`
}

// ProductItem is one line of an order.
type ProductItem struct {
	ProductRetailerID string  `json:"product_retailer_id"`
	Quantity          float64 `json:"quantity"`
	ItemPrice         float64 `json:"item_price"`
	Currency          string  `json:"currency"`
}

// SystemUpdate is a system message, such as user_changed_number (WAID is the new wa_id).
type SystemUpdate struct {
	Body     string `json:"body,omitempty"`
	Identity string `json:"identity,omitempty"`
	WAID     string `json:"wa_id,omitempty"`
	Type     string `json:"type,omitempty"`
	Customer string `json:"customer,omitempty"`
}

// Referral is set on a message that came from a click-to-WhatsApp ad or post.
type Referral struct {
	SourceURL  string `json:"source_url,omitempty"`
	SourceID   string `json:"source_id,omitempty"`
	SourceType string `json:"source_type,omitempty"`
	Headline   string `json:"headline,omitempty"`
	Body       string `json:"body,omitempty"`
	MediaType  string `json:"media_type,omitempty"`
	ImageURL   string `json:"image_url,omitempty"`
	VideoURL   string `json:"video_url,omitempty"`
	CTWAClid   string `json:"ctwa_clid,omitempty"`
}

// InboundStatus is the progress of a message the business sent (sent, delivered, read,
// played, failed), with its pricing and, before v24.0, its conversation; a failed one
// carries Errors (Meta "Status messages webhook reference").
type InboundStatus struct {
	ID                    string          `json:"id"`
	Status                string          `json:"status"`
	Timestamp             string          `json:"timestamp"`
	RecipientID           string          `json:"recipient_id"`
	RecipientType         string          `json:"recipient_type,omitempty"`
	BizOpaqueCallbackData string          `json:"biz_opaque_callback_data,omitempty"`
	Conversation          *Conversation   `json:"conversation,omitempty"`
	Pricing               *Pricing        `json:"pricing,omitempty"`
	Errors                []StatusError   `json:"errors,omitempty"`
	Raw                   json.RawMessage `json:"-"`
	DecodeError           string          `json:"-"`
}

// UnmarshalJSON keeps the raw status; a typed view that does not decode sets DecodeError
// and keeps whichever of id, status, timestamp and recipient_id are strings.
func (s *InboundStatus) UnmarshalJSON(b []byte) (err error) {
	type plain InboundStatus
	s.Raw, s.DecodeError, err = keepLenient(b, (*plain)(s), func(raw json.RawMessage) {
		*s = InboundStatus{}
		s.ID, s.Status, s.Timestamp, s.RecipientID = lenientStrings(raw, "id", "status", "timestamp", "recipient_id")
	})
	return err
}

// MarshalJSON writes Raw when set.
func (s InboundStatus) MarshalJSON() ([]byte, error) {
	type plain InboundStatus
	return encode(s.Raw, plain(s))
}

// FirstError is the status's first error, or a zero StatusError.
func (s InboundStatus) FirstError() StatusError {
	if len(s.Errors) == 0 {
		return StatusError{}
	}
	return s.Errors[0]
}
