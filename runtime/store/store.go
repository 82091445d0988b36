// Package store is Switchboard's system of record in PostgreSQL: the outbox of
// messages to send now, and (next) contacts, conversations and inbound messages.
//
// The API here is the contract between the sender, `switchboard send` and the inbox.
package store

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"
)

// Lane is the priority class of an outbound message.
type Lane string

const (
	// LaneConversation holds replies inside the 24-hour customer-service window: high
	// priority, limited only by throughput and the per-recipient pair rate.
	LaneConversation Lane = "conversation"
	// LaneCampaign holds business-initiated messages (templates): also limited by the
	// campaign rate and the unique-recipients budget.
	LaneCampaign Lane = "campaign"
)

// State is where an outbound message stands.
type State string

const (
	// StateQueued: waiting in the outbox until NextAttemptAt.
	StateQueued State = "queued"
	// StateSending: claimed by a sender, which is calling Meta. A message found in this
	// state by a new leader may have reached Meta: it is requeued as PossiblyDuplicate.
	StateSending State = "sending"
	// StateSent: Meta accepted it and returned WAMID.
	StateSent State = "sent"
	// StateFailed: failed for good; ErrorCode and ErrorMessage say why.
	StateFailed State = "failed"
)

// NumberRef names a Number object (namespace/name), the unit of sending.
type NumberRef struct {
	Namespace string
	Name      string
}

// String is namespace/name.
func (n NumberRef) String() string { return n.Namespace + "/" + n.Name }

// NewMessage is a message to enqueue.
type NewMessage struct {
	Number NumberRef
	// Recipient is the customer's number: "+" then country code and number (spaces,
	// hyphens and parentheses allowed), or digits read as country code and number. The
	// outbox stores its wa_id form (phone.Canonical: "+34 611 11 11 11" → "34611111111").
	Recipient string
	// RecipientFromMeta marks a Recipient that is a wa_id Meta sent (a webhook's
	// contacts[].wa_id or messages[].from): it is only checked to be digits
	// (phone.FromMeta), never refused for its length or country.
	RecipientFromMeta bool
	Lane              Lane
	// Payload is the Cloud API message object without messaging_product and to: for
	// example {"type":"text","text":{"body":"hi"}}.
	Payload json.RawMessage
	// NotBefore delays the first attempt (zero: now).
	NotBefore time.Time
	// CampaignID is the campaign (table campaigns) a campaign-lane message belongs to, or
	// 0. The sender claims such a message only while its campaign is running, and the
	// outbox holds at most one message per campaign and recipient (docs/campaigns.md).
	CampaignID int64
}

// Message is an outbound message as stored.
type Message struct {
	ID                int64
	Number            NumberRef
	Recipient         string
	Lane              Lane
	Payload           json.RawMessage
	State             State
	Attempts          int
	NextAttemptAt     time.Time
	WAMID             string
	ErrorCode         int
	ErrorMessage      string
	PossiblyDuplicate bool
	// Retry counts the failed calls to Meta of one class that came one after the other
	// (zero before the first failure); the sender bounds them per class.
	Retry RetryState
	// ResolvedWAID is the wa_id Meta answered for the recipient when it accepted the
	// message (contacts[0].wa_id). It can differ from Recipient: Brazil's ninth digit,
	// Mexico's 521. "" before, or when Meta named none.
	ResolvedWAID string
	CreatedAt    time.Time
	// UpdatedAt is when the row last changed state (for a message in StateSending: when
	// it was claimed).
	UpdatedAt time.Time
	SentAt    *time.Time
}

// Sent records Meta's acceptance of one claimed message (see NumberLock.MarkSentBatch).
type Sent struct {
	ID    int64
	WAMID string
	// ResolvedWAID is contacts[0].wa_id of Meta's answer ("" if none: stored as NULL).
	ResolvedWAID string
}

// RetryState counts a message's consecutive failed calls to Meta of one class (columns
// retry_class, retry_count, retry_since).
type RetryState struct {
	Class string    // the sender's retry class, such as "transient"; "" before any failure
	Count int       // failed calls of Class, one after the other
	Since time.Time // when the first of them failed; zero before any failure
}

// Outcome is what NumberLock.Retry and NumberLock.Fail record about a claimed message.
type Outcome struct {
	Code    int    // error_code: Meta's error.code; 0 for a network error or the sender's own reason
	Message string // error_message
	// Retry replaces the message's RetryState when its Class is set (a failed call to
	// Meta); with an empty Class the state is kept (the sender put the message back
	// without calling Meta: pacing, the budget, a shutdown).
	Retry RetryState
	// MaybeSent: the call may have reached Meta. It sets possibly_duplicate, which stays.
	MaybeSent bool
}

// ParseRef reads a NAMESPACE/NAME command-line value (a Number's or an Inbox's); the
// error names the flag ("--number must be NAMESPACE/NAME, got …").
func ParseRef(flag, s string) (NumberRef, error) {
	ns, name, ok := strings.Cut(s, "/")
	if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
		return NumberRef{}, fmt.Errorf("--%s must be NAMESPACE/NAME, got %q", flag, s)
	}
	return NumberRef{Namespace: ns, Name: name}, nil
}

// DSNFromEnv reads the PostgreSQL DSN of a workload from the environment variable env;
// the error says who needs it ("the sender needs the PostgreSQL DSN").
func DSNFromEnv(env, who string) (string, error) {
	dsn := os.Getenv(env)
	if dsn == "" {
		return "", fmt.Errorf("%s is not set: %s needs the PostgreSQL DSN", env, who)
	}
	return dsn, nil
}
