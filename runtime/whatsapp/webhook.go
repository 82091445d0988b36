package whatsapp

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
)

// SignatureHeader carries the webhook body's HMAC-SHA256.
const SignatureHeader = "X-Hub-Signature-256"

// Sign returns the X-Hub-Signature-256 value for body: "sha256=" + hex
// HMAC-SHA256 of the raw body keyed with the app secret.
func Sign(appSecret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(appSecret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// VerifySignature reports whether header is a valid signature of body for
// appSecret, in constant time.
func VerifySignature(appSecret string, body []byte, header string) bool {
	hexSum, ok := strings.CutPrefix(strings.TrimSpace(header), "sha256=")
	if !ok || appSecret == "" {
		return false
	}
	got, err := hex.DecodeString(hexSum)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, []byte(appSecret))
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

// The verification request Meta sends when a callback URL is configured:
//
//	GET <callback>?hub.mode=subscribe&hub.challenge=<challenge>&hub.verify_token=<token>
//
// The endpoint proves it knows the verify token by answering 200 with the challenge as
// the body; anything else and Meta refuses the callback URL.
const (
	HubMode        = "hub.mode"
	HubChallenge   = "hub.challenge"
	HubVerifyToken = "hub.verify_token"
	HubSubscribe   = "subscribe"
)

// VerificationQuery is the query of Meta's verification request.
func VerificationQuery(verifyToken, challenge string) url.Values {
	return url.Values{HubMode: {HubSubscribe}, HubChallenge: {challenge}, HubVerifyToken: {verifyToken}}
}

// ErrVerification is returned by AnswerVerification for a request that is not Meta's
// verification for this endpoint; the endpoint should answer 403.
var ErrVerification = errors.New("whatsapp: not a webhook verification request for this verify token")

// AnswerVerification checks a verification request's query against the endpoint's verify
// token (in constant time) and returns the challenge to echo.
func AnswerVerification(q url.Values, verifyToken string) (string, error) {
	got := q.Get(HubVerifyToken)
	if q.Get(HubMode) != HubSubscribe || verifyToken == "" || q.Get(HubChallenge) == "" ||
		subtle.ConstantTimeCompare([]byte(got), []byte(verifyToken)) != 1 {
		return "", ErrVerification
	}
	return q.Get(HubChallenge), nil
}

// Webhook fields Switchboard handles (change.field).
const (
	FieldMessages                 = "messages"
	FieldPhoneNumberQualityUpdate = "phone_number_quality_update"
	FieldAccountUpdate            = "account_update"
)

// WebhookObject is the envelope's object for WhatsApp Business webhooks.
const WebhookObject = "whatsapp_business_account"

// WebhookPayload is the body Meta POSTs to a webhook callback URL.
type WebhookPayload struct {
	Object string         `json:"object"`
	Entry  []WebhookEntry `json:"entry"`
}

// WebhookEntry groups changes for one WhatsApp Business Account (ID).
// Time (Unix seconds) is set on account-level fields such as account_update.
type WebhookEntry struct {
	ID      string          `json:"id"`
	Time    int64           `json:"time,omitempty"`
	Changes []WebhookChange `json:"changes"`
}

// WebhookChange is one update; Value's shape depends on Field (decode it into
// MessagesValue, QualityUpdateValue or AccountUpdateValue).
type WebhookChange struct {
	Value json.RawMessage `json:"value"`
	Field string          `json:"field"`
}

// NewChange builds a change for field from a typed value.
func NewChange(field string, value any) (WebhookChange, error) {
	raw, err := json.Marshal(value)
	return WebhookChange{Value: raw, Field: field}, err
}

// Decode unmarshals the change's value into v.
func (c WebhookChange) Decode(v any) error { return json.Unmarshal(c.Value, v) }

// MessagesValue is the value of a "messages" change: inbound messages with
// their senders' profiles, or statuses of messages the business sent.
type MessagesValue struct {
	MessagingProduct string           `json:"messaging_product"`
	Metadata         Metadata         `json:"metadata"`
	Contacts         []WebhookContact `json:"contacts,omitempty"`
	Messages         []InboundMessage `json:"messages,omitempty"`
	Statuses         []Status         `json:"statuses,omitempty"`
	Errors           []StatusError    `json:"errors,omitempty"`
}

// Metadata names the business number a webhook is about.
type Metadata struct {
	DisplayPhoneNumber string `json:"display_phone_number"`
	PhoneNumberID      string `json:"phone_number_id"`
}

// WebhookContact is an inbound sender's profile.
type WebhookContact struct {
	Profile Profile `json:"profile"`
	WAID    string  `json:"wa_id"`
}

// Profile is a WhatsApp user's public profile.
type Profile struct {
	Name string `json:"name"`
}

// InboundMessage is a message a WhatsApp user sent to the business.
type InboundMessage struct {
	Context     *InboundContext     `json:"context,omitempty"`
	From        string              `json:"from"`
	ID          string              `json:"id"`
	Timestamp   string              `json:"timestamp"` // Unix seconds, as a string
	Type        string              `json:"type"`
	Text        *Text               `json:"text,omitempty"`
	Image       *InboundMedia       `json:"image,omitempty"`
	Interactive *InboundInteractive `json:"interactive,omitempty"`
	Button      *InboundButton      `json:"button,omitempty"`
	Reaction    *Reaction           `json:"reaction,omitempty"`
	Errors      []StatusError       `json:"errors,omitempty"`
}

// InboundContext points at the business message a user replied to or tapped.
type InboundContext struct {
	From string `json:"from"`
	ID   string `json:"id"`
}

// InboundMedia is received media (download it by ID).
type InboundMedia struct {
	Caption  string `json:"caption,omitempty"`
	MimeType string `json:"mime_type"`
	SHA256   string `json:"sha256"`
	ID       string `json:"id"`
}

// InboundInteractive is a tap on a reply button or a list row.
type InboundInteractive struct {
	Type        string     `json:"type"` // button_reply | list_reply
	ButtonReply *ReplyPick `json:"button_reply,omitempty"`
	ListReply   *ReplyPick `json:"list_reply,omitempty"`
}

// ReplyPick is the chosen button or row.
type ReplyPick struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
}

// InboundButton is a tap on a template's quick-reply button.
type InboundButton struct {
	Payload string `json:"payload"`
	Text    string `json:"text"`
}

// Message statuses.
const (
	StatusSent      = "sent"
	StatusDelivered = "delivered"
	StatusRead      = "read"
	StatusFailed    = "failed"
)

// Status reports progress of a message the business sent.
type Status struct {
	ID           string        `json:"id"`
	Status       string        `json:"status"`
	Timestamp    string        `json:"timestamp"`
	RecipientID  string        `json:"recipient_id"`
	Conversation *Conversation `json:"conversation,omitempty"`
	Pricing      *Pricing      `json:"pricing,omitempty"`
	Errors       []StatusError `json:"errors,omitempty"`
}

// Conversation is the (pre-v24) conversation a status belongs to.
type Conversation struct {
	ID                  string             `json:"id"`
	ExpirationTimestamp string             `json:"expiration_timestamp,omitempty"`
	Origin              ConversationOrigin `json:"origin"`
}

// ConversationOrigin is the conversation's category.
type ConversationOrigin struct {
	Type string `json:"type"`
}

// Pricing is how a message is billed (per-message pricing, PMP).
type Pricing struct {
	Billable     bool   `json:"billable"`
	PricingModel string `json:"pricing_model"`
	Type         string `json:"type,omitempty"` // regular | free_customer_service | free_entry_point
	Category     string `json:"category"`
}

// StatusError is an error inside a webhook (failed status, unsupported message).
type StatusError struct {
	Code      int        `json:"code"`
	Title     string     `json:"title"`
	Message   string     `json:"message,omitempty"`
	ErrorData *ErrorData `json:"error_data,omitempty"`
	Href      string     `json:"href,omitempty"`
}

// ErrorData carries an error's details.
type ErrorData struct {
	Details string `json:"details"`
}

// QualityUpdateValue is the value of a phone_number_quality_update change.
type QualityUpdateValue struct {
	DisplayPhoneNumber               string `json:"display_phone_number"`
	Event                            string `json:"event"` // FLAGGED, UNFLAGGED, UPGRADE, DOWNGRADE, THROUGHPUT_UPGRADE, ONBOARDING
	CurrentLimit                     string `json:"current_limit,omitempty"`
	OldLimit                         string `json:"old_limit,omitempty"`
	MaxDailyConversationsPerBusiness string `json:"max_daily_conversations_per_business,omitempty"`
}

// AccountUpdateValue is the value of an account_update change.
type AccountUpdateValue struct {
	PhoneNumber     string            `json:"phone_number,omitempty"`
	Event           string            `json:"event"` // ACCOUNT_RESTRICTION, ACCOUNT_VIOLATION, DISABLED_UPDATE, …
	RestrictionInfo []RestrictionInfo `json:"restriction_info,omitempty"`
	ViolationInfo   *ViolationInfo    `json:"violation_info,omitempty"`
	BanInfo         *BanInfo          `json:"ban_info,omitempty"`
}

// RestrictionInfo is one restriction on the account.
type RestrictionInfo struct {
	RestrictionType string `json:"restriction_type"` // e.g. RESTRICTED_BIZ_INITIATED_MESSAGING
	Expiration      int64  `json:"expiration,omitempty"`
}

// ViolationInfo names a policy violation.
type ViolationInfo struct {
	ViolationType string `json:"violation_type"`
}

// BanInfo describes an account ban state.
type BanInfo struct {
	WabaBanState string `json:"waba_ban_state"` // DISABLE, REINSTATE, SCHEDULE_FOR_DISABLE
	WabaBanDate  string `json:"waba_ban_date,omitempty"`
}
