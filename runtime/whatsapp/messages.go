package whatsapp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// Message types the client builds (Meta's `type` values).
const (
	TypeText        = "text"
	TypeTemplate    = "template"
	TypeImage       = "image"
	TypeDocument    = "document"
	TypeAudio       = "audio"
	TypeVideo       = "video"
	TypeSticker     = "sticker"
	TypeInteractive = "interactive"
	TypeReaction    = "reaction"
)

// Message is the body of POST /{version}/{phone-number-id}/messages. Build one
// with the constructors (Text, Template, Media, Buttons, List, Reaction) and
// set Context to reply to a message.
//
// Message is a builder of payloads (see Payload), not a filter: it knows only some of
// the fields Meta accepts. A stored payload is sent with SendPayload, which passes every
// field through, so producers may store any message object Meta's description allows.
type Message struct {
	MessagingProduct string       `json:"messaging_product"`
	RecipientType    string       `json:"recipient_type,omitempty"`
	To               string       `json:"to"`
	Type             string       `json:"type"`
	Context          *Context     `json:"context,omitempty"`
	Text             *Text        `json:"text,omitempty"`
	Template         *Template    `json:"template,omitempty"`
	Image            *Media       `json:"image,omitempty"`
	Document         *Media       `json:"document,omitempty"`
	Audio            *Media       `json:"audio,omitempty"`
	Video            *Media       `json:"video,omitempty"`
	Sticker          *Media       `json:"sticker,omitempty"`
	Interactive      *Interactive `json:"interactive,omitempty"`
	Reaction         *Reaction    `json:"reaction,omitempty"`
}

// Context makes a message a reply to MessageID (a wamid).
type Context struct {
	MessageID string `json:"message_id"`
}

// Text is a text message body.
type Text struct {
	Body       string `json:"body"`
	PreviewURL bool   `json:"preview_url,omitempty"`
}

// Media is an image, document, audio, video or sticker, by uploaded ID or by
// link. Caption applies to image, video and document; Filename to document.
type Media struct {
	ID       string `json:"id,omitempty"`
	Link     string `json:"link,omitempty"`
	Caption  string `json:"caption,omitempty"`
	Filename string `json:"filename,omitempty"`
}

// Template is a template message: an approved template by name and language,
// with parameters per component.
type Template struct {
	Name       string              `json:"name"`
	Language   Language            `json:"language"`
	Components []TemplateComponent `json:"components,omitempty"`
}

// Language selects the template translation, e.g. {Code: "en_US"}.
type Language struct {
	Code   string `json:"code"`
	Policy string `json:"policy,omitempty"`
}

// TemplateComponent fills one component ("header", "body", "button").
// Buttons also need SubType ("quick_reply", "url", …) and Index ("0"…).
type TemplateComponent struct {
	Type       string              `json:"type"`
	SubType    string              `json:"sub_type,omitempty"`
	Index      string              `json:"index,omitempty"`
	Parameters []TemplateParameter `json:"parameters,omitempty"`
}

// TemplateParameter is one parameter: text, currency, date_time, image,
// document, video or payload, per Type.
type TemplateParameter struct {
	Type     string    `json:"type"`
	Text     string    `json:"text,omitempty"`
	Currency *Currency `json:"currency,omitempty"`
	DateTime *DateTime `json:"date_time,omitempty"`
	Image    *Media    `json:"image,omitempty"`
	Document *Media    `json:"document,omitempty"`
	Video    *Media    `json:"video,omitempty"`
	Payload  string    `json:"payload,omitempty"`
}

// Currency is a currency parameter; Amount1000 is the amount × 1000.
type Currency struct {
	FallbackValue string `json:"fallback_value"`
	Code          string `json:"code"`
	Amount1000    int64  `json:"amount_1000"`
}

// DateTime is a date_time parameter (Meta renders FallbackValue).
type DateTime struct {
	FallbackValue string `json:"fallback_value"`
	Calendar      string `json:"calendar,omitempty"`
	DayOfMonth    int    `json:"day_of_month,omitempty"`
	DayOfWeek     int    `json:"day_of_week,omitempty"`
	Hour          int    `json:"hour,omitempty"`
	Minute        int    `json:"minute,omitempty"`
	Month         int    `json:"month,omitempty"`
	Year          int    `json:"year,omitempty"`
}

// TextParam is a text template parameter.
func TextParam(s string) TemplateParameter { return TemplateParameter{Type: "text", Text: s} }

// Interactive is an interactive message: reply buttons ("button") or a list.
type Interactive struct {
	Type   string             `json:"type"`
	Header *InteractiveHeader `json:"header,omitempty"`
	Body   *InteractiveText   `json:"body,omitempty"`
	Footer *InteractiveText   `json:"footer,omitempty"`
	Action InteractiveAction  `json:"action"`
}

// InteractiveHeader is an interactive message header (type "text" here).
type InteractiveHeader struct {
	Type string `json:"type"`
	Text string `json:"text,omitempty"`
}

// InteractiveText is a body or footer text.
type InteractiveText struct {
	Text string `json:"text"`
}

// InteractiveAction holds reply buttons, or a list's button label and sections.
type InteractiveAction struct {
	Buttons  []Button  `json:"buttons,omitempty"`
	Button   string    `json:"button,omitempty"`
	Sections []Section `json:"sections,omitempty"`
}

// Button is a reply button.
type Button struct {
	Type  string      `json:"type"`
	Reply ButtonReply `json:"reply"`
}

// ButtonReply is a reply button's ID (returned in the webhook) and title.
type ButtonReply struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// ReplyButton returns a reply button.
func ReplyButton(id, title string) Button {
	return Button{Type: "reply", Reply: ButtonReply{ID: id, Title: title}}
}

// Section is a list section.
type Section struct {
	Title string `json:"title,omitempty"`
	Rows  []Row  `json:"rows"`
}

// Row is a list row.
type Row struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
}

// Reaction reacts to MessageID with Emoji ("" removes the reaction).
type Reaction struct {
	MessageID string `json:"message_id"`
	Emoji     string `json:"emoji"`
}

func base(to, typ string) Message {
	return Message{MessagingProduct: "whatsapp", RecipientType: "individual", To: to, Type: typ}
}

// TextMessage returns a text message to `to`.
func TextMessage(to, body string) Message {
	m := base(to, TypeText)
	m.Text = &Text{Body: body}
	return m
}

// TemplateMessage returns a template message with optional components.
func TemplateMessage(to, name, language string, components ...TemplateComponent) Message {
	m := base(to, TypeTemplate)
	m.Template = &Template{Name: name, Language: Language{Code: language}, Components: components}
	return m
}

// MediaMessage returns an image, document, audio, video or sticker message.
func MediaMessage(to, mediaType string, media Media) (Message, error) {
	m := base(to, mediaType)
	p := &media
	switch mediaType {
	case TypeImage:
		m.Image = p
	case TypeDocument:
		m.Document = p
	case TypeAudio:
		m.Audio = p
	case TypeVideo:
		m.Video = p
	case TypeSticker:
		m.Sticker = p
	default:
		return Message{}, fmt.Errorf("whatsapp: %q is not a media type", mediaType)
	}
	return m, nil
}

// ButtonsMessage returns an interactive message with up to three reply buttons.
func ButtonsMessage(to, body string, buttons ...Button) Message {
	m := base(to, TypeInteractive)
	m.Interactive = &Interactive{Type: "button", Body: &InteractiveText{Text: body},
		Action: InteractiveAction{Buttons: buttons}}
	return m
}

// ListMessage returns an interactive list message opened by the button label.
func ListMessage(to, body, button string, sections ...Section) Message {
	m := base(to, TypeInteractive)
	m.Interactive = &Interactive{Type: "list", Body: &InteractiveText{Text: body},
		Action: InteractiveAction{Button: button, Sections: sections}}
	return m
}

// ReactionMessage returns a reaction to messageID.
func ReactionMessage(to, messageID, emoji string) Message {
	m := base(to, TypeReaction)
	m.Reaction = &Reaction{MessageID: messageID, Emoji: emoji}
	return m
}

// SendResult is Meta's answer to an accepted message.
type SendResult struct {
	MessagingProduct string        `json:"messaging_product"`
	Contacts         []SentContact `json:"contacts"`
	Messages         []SentMessage `json:"messages"`
}

// SentContact maps the `to` the caller sent to the user's WhatsApp ID.
type SentContact struct {
	Input string `json:"input"`
	WAID  string `json:"wa_id"`
}

// SentMessage identifies an accepted message.
type SentMessage struct {
	ID            string `json:"id"`
	MessageStatus string `json:"message_status,omitempty"` // "accepted", "held_for_quality_assessment", …
}

// ResolvedWAID is the WhatsApp ID Meta resolved the recipient to (contacts[0].wa_id),
// which can differ from the `to` sent (Brazil's ninth digit, Mexico's 521 prefix); ""
// when Meta named none.
func (r SendResult) ResolvedWAID() string {
	if len(r.Contacts) == 0 {
		return ""
	}
	return r.Contacts[0].WAID
}

// WAMID returns the accepted message's ID ("wamid.…").
func (r SendResult) WAMID() string {
	if len(r.Messages) == 0 {
		return ""
	}
	return r.Messages[0].ID
}

// ErrInvalidMessage is returned (wrapped) for a message the client refuses
// to send; it never reached Meta. ClassOf reports it as Permanent.
var ErrInvalidMessage = errors.New("whatsapp: invalid message")

// Send posts m from the business number phoneNumberID: it is SendPayload with m's
// Payload and m.To. The returned error is a *Error (or wraps ErrInvalidMessage).
func (c *Client) Send(ctx context.Context, phoneNumberID string, m Message) (SendResult, error) {
	if m.Type == "" {
		return SendResult{}, fmt.Errorf("%w: type is required", ErrInvalidMessage)
	}
	payload, err := m.Payload()
	if err != nil {
		return SendResult{}, err
	}
	return c.SendPayload(ctx, phoneNumberID, m.To, payload)
}

// SendPayload posts a message object, as a producer stored it, from the business number
// phoneNumberID to `to`: the object goes to Meta exactly as given (every field, known to
// this package or not), with "messaging_product":"whatsapp" and "to" set (replacing any
// value the object holds). payload must be a JSON object, such as
// {"type":"location","location":{"latitude":1,"longitude":2}}; Meta checks the rest
// (POST /{Version}/{Phone-Number-ID}/messages in Meta's OpenAPI description). The
// returned error is a *Error, or wraps ErrInvalidMessage when phoneNumberID, to or
// payload is unusable (the request is then not sent).
func (c *Client) SendPayload(ctx context.Context, phoneNumberID, to string, payload json.RawMessage) (SendResult, error) {
	if !validID(phoneNumberID) || to == "" {
		return SendResult{}, fmt.Errorf("%w: phone number ID and to are required", ErrInvalidMessage)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(payload, &obj); err != nil || obj == nil {
		return SendResult{}, fmt.Errorf("%w: the payload must be a JSON object", ErrInvalidMessage)
	}
	obj["messaging_product"] = json.RawMessage(`"whatsapp"`)
	obj["to"], _ = json.Marshal(to)
	var res SendResult
	err := c.do(ctx, "POST", c.endpoint(nil, phoneNumberID, "messages"), obj, &res)
	if err == nil && res.WAMID() == "" {
		err = c.failure("accepted response without a message id", 200, nil, nil)
	}
	return res, err
}

// Payload is m as an outbox stores it and SendPayload takes it: the message object
// without messaging_product and to.
func (m Message) Payload() (json.RawMessage, error) {
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidMessage, err)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidMessage, err)
	}
	delete(obj, "messaging_product")
	delete(obj, "to")
	return json.Marshal(obj)
}

// readReceipt is the mark-as-read body.
type readReceipt struct {
	MessagingProduct string           `json:"messaging_product"`
	Status           string           `json:"status"`
	MessageID        string           `json:"message_id"`
	TypingIndicator  *typingIndicator `json:"typing_indicator,omitempty"`
}

type typingIndicator struct {
	Type string `json:"type"`
}

// MarkRead marks the inbound message messageID as read (blue ticks); with
// typing it also shows a typing indicator until the reply or 25 s.
func (c *Client) MarkRead(ctx context.Context, phoneNumberID, messageID string, typing bool) error {
	if !validID(phoneNumberID) || messageID == "" {
		return fmt.Errorf("%w: phone number ID and message ID are required", ErrInvalidMessage)
	}
	body := readReceipt{MessagingProduct: "whatsapp", Status: "read", MessageID: messageID}
	if typing {
		body.TypingIndicator = &typingIndicator{Type: "text"}
	}
	var res struct {
		Success bool `json:"success"`
	}
	if err := c.do(ctx, "POST", c.endpoint(nil, phoneNumberID, "messages"), body, &res); err != nil {
		return err
	}
	if !res.Success {
		return c.failure("mark-as-read answered without success", 200, nil, nil)
	}
	return nil
}
