// Package integrations connects the inbox to the user's services (docs/integrations.md):
// outbound webhooks for message.received, conversation.assigned and conversation.resolved,
// delivered at least once from a durable queue with retries and a delivery log; a chatbot
// hook that may answer inbound messages; and a CRM lookup beside an opened conversation.
//
// Events are written by database triggers in the same transaction as the change
// (migration 00010), so no code path can change a conversation without its event. The
// Dispatcher turns events into deliveries; the Deliverer and the Chatbot send them,
// claiming rows with FOR UPDATE SKIP LOCKED and a lease, so any number of inbox replicas
// can run them. Every request is signed (Sign) and bounded (Client).
package integrations

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The headers of every request to the user's services.
const (
	// SignatureHeader is "sha256=" and the hex HMAC-SHA256, keyed by the endpoint's secret,
	// of TimestampHeader's value, a ".", and the raw body (for a GET, the request's path
	// and query instead of a body).
	SignatureHeader = "X-Switchboard-Signature"
	// TimestampHeader is when the request was signed, in Unix seconds. Receivers refuse
	// requests older than a few minutes (replays).
	TimestampHeader = "X-Switchboard-Timestamp"
	// DeliveryHeader is the delivery's stable id (a UUID): the same on every attempt of
	// one delivery, so that receivers can drop duplicates (delivery is at least once).
	DeliveryHeader = "X-Switchboard-Delivery"
	// EventHeader is the event type, e.g. message.received.
	EventHeader = "X-Switchboard-Event"
)

// DefaultTolerance is how old a signed request Verify accepts by default.
const DefaultTolerance = 5 * time.Minute

// Sign returns the value of SignatureHeader for payload signed at the Unix time ts.
func Sign(secret []byte, ts int64, payload []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(strconv.FormatInt(ts, 10)))
	mac.Write([]byte{'.'})
	mac.Write(payload)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Verification errors.
var (
	ErrBadSignature = errors.New("integrations: the signature does not match")
	ErrStale        = errors.New("integrations: the timestamp is too old or in the future")
)

// Verify checks a request's TimestampHeader and SignatureHeader values over payload at
// now: the signature must match (compared in constant time) and the timestamp be within
// tolerance of now. It is what a receiver written in Go calls (docs/integrations.md
// shows the same in a few lines).
func Verify(secret []byte, timestamp, signature string, payload []byte, now time.Time, tolerance time.Duration) error {
	ts, err := strconv.ParseInt(strings.TrimSpace(timestamp), 10, 64)
	if err != nil {
		return fmt.Errorf("integrations: %s is not Unix seconds: %q", TimestampHeader, timestamp)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return ErrStale
	}
	if !hmac.Equal([]byte(Sign(secret, ts, payload)), []byte(strings.TrimSpace(signature))) {
		return ErrBadSignature
	}
	return nil
}
