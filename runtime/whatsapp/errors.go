package whatsapp

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Class says what a caller should do about a failed Cloud API call.
type Class string

const (
	// RetryLater: a transient or throughput problem; retry the same call after
	// Error.RetryAfter (throughput 130429, maintenance 131057, unknown or
	// unavailable 131000/131016/2, app or WABA rate limits 4/80007, and
	// network failures).
	RetryLater Class = "RetryLater"
	// RetryRecipientLater: the pair rate to one recipient was exceeded (131056);
	// keep sending to others, retry this recipient with PairRateBackoff.
	RetryRecipientLater Class = "RetryRecipientLater"
	// PauseNumber: the number or its account is restricted (131048, 368,
	// 131031, 130497); stop business-initiated sending, do not hammer.
	PauseNumber Class = "PauseNumber"
	// WindowClosed: the 24-hour customer-service window is closed (131047);
	// only a template can reach this user now.
	WindowClosed Class = "WindowClosed"
	// Permanent: retrying the same request will not help (invalid parameters,
	// template problems, undeliverable, opted out, auth, and unknown codes).
	Permanent Class = "Permanent"
)

// Error is a failed Cloud API call: Meta's error envelope, or a network
// failure (Code 0 with Err set and Class RetryLater).
//
// Ambiguous says the request may have reached Meta, and Meta may have accepted it,
// although the caller saw no acceptance: the request body was written before the call
// failed (a timeout or a dropped connection while waiting for the answer), or the answer
// is not Meta's JSON error envelope and not a 4xx (a proxy's 502 page, a 2xx that cannot
// be read). It is false when the request was never written (connection refused, a DNS
// failure, a dial timeout) and for Meta's own errors, which say Meta refused it. The
// Cloud API has no idempotency key, so sending an ambiguous call again may duplicate it.
type Error struct {
	Code        int           // Meta's error.code; 0 for network failures
	Subcode     int           // error.error_subcode (deprecated by Meta, still sent)
	Type        string        // error.type, e.g. OAuthException
	Message     string        // error.message, e.g. "(#130429) Rate limit hit"
	Details     string        // error.error_data.details
	FBTraceID   string        // error.fbtrace_id, for Meta support
	Transient   bool          // error.is_transient
	HTTPStatus  int           // HTTP status of the response; 0 if none
	Class       Class         // what to do about it
	RetryAfter  time.Duration // suggested wait for RetryLater/RetryRecipientLater
	Err         error         // underlying network or decoding error, if any
	Ambiguous   bool          // the request may have reached Meta (see above)
	networkFail bool
}

// Error returns a one-line description. It never contains the access token.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("whatsapp: ")
	if e.networkFail {
		b.WriteString(e.Message)
	} else {
		fmt.Fprintf(&b, "code %d", e.Code)
		if e.Message != "" {
			b.WriteString(": " + e.Message)
		}
		if e.Details != "" {
			b.WriteString(" (" + e.Details + ")")
		}
	}
	fmt.Fprintf(&b, " [class %s", e.Class)
	if e.HTTPStatus != 0 {
		fmt.Fprintf(&b, ", http %d", e.HTTPStatus)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, ", retry after %s", e.RetryAfter)
	}
	if e.Ambiguous {
		b.WriteString(", may have reached Meta")
	}
	if e.FBTraceID != "" {
		b.WriteString(", fbtrace_id " + e.FBTraceID)
	}
	b.WriteString("]")
	return b.String()
}

// Unwrap returns the underlying network or decoding error, if any.
func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, &Error{Code: 131047}) match by code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code != 0 && t.Code == e.Code
}

// AsError returns err as a *Error if it is one (anywhere in its chain).
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// ClassOf classifies any error a caller might hold: a *Error's Class; a
// context deadline, cancellation or net.Error is RetryLater; nil is "";
// anything else is Permanent.
func ClassOf(err error) Class {
	if err == nil {
		return ""
	}
	if e, ok := AsError(err); ok {
		return e.Class
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || errors.As(err, &ne) {
		return RetryLater
	}
	return Permanent
}

// RetryAfterOf returns the suggested wait carried by err, or 0.
func RetryAfterOf(err error) time.Duration {
	if e, ok := AsError(err); ok {
		return e.RetryAfter
	}
	return 0
}

// PairRateBackoff is Meta's advice after 131056: retry that recipient after
// 4^attempt seconds, attempt starting at 0 (1 s, 4 s, 16 s, 64 s, …). It is
// capped at 4^7 s (about 4.5 h).
func PairRateBackoff(attempt int) time.Duration {
	attempt = min(max(attempt, 0), 7)
	return time.Duration(math.Pow(4, float64(attempt))) * time.Second
}

// classes maps the error codes with a known remedy to their Class.
var classes = map[int]Class{
	130429: RetryLater, 131057: RetryLater, 131000: RetryLater,
	131016: RetryLater, 2: RetryLater, 4: RetryLater, 80007: RetryLater,
	131056: RetryRecipientLater,
	131048: PauseNumber, 368: PauseNumber, 131031: PauseNumber, 130497: PauseNumber,
	131047: WindowClosed,
}

// defaultDelays is the wait suggested when Meta sends no Retry-After header.
var defaultDelays = map[int]time.Duration{
	130429: time.Second,      // per-second throughput: the next second frees it
	131057: time.Minute,      // throughput upgrade / maintenance: ~1 minute
	131000: 5 * time.Second,  // unknown error
	131016: 30 * time.Second, // service temporarily unavailable
	2:      30 * time.Second, // API downtime
	4:      5 * time.Minute,  // app call-rate limit (hourly window)
	80007:  5 * time.Minute,  // WABA rate limit (hourly window)
	131056: PairRateBackoff(0),
}

// networkDelay is the wait suggested after a network failure.
const networkDelay = 2 * time.Second

// Classify returns the Class for a Meta error code. Unknown codes are
// Permanent unless Meta marked the error transient (is_transient: true).
func Classify(code int, transient bool) Class {
	if c, ok := classes[code]; ok {
		return c
	}
	if transient {
		return RetryLater
	}
	return Permanent
}

// DefaultRetryAfter is the wait used for code when no Retry-After header came.
func DefaultRetryAfter(code int) time.Duration {
	if d, ok := defaultDelays[code]; ok {
		return d
	}
	return 0
}

// retryAfter picks the Retry-After header if present, else the default.
func retryAfter(h http.Header, class Class, code int, now time.Time) time.Duration {
	if class != RetryLater && class != RetryRecipientLater {
		return 0
	}
	if d, ok := parseRetryAfter(h.Get("Retry-After"), now); ok {
		return d
	}
	if d := DefaultRetryAfter(code); d > 0 {
		return d
	}
	return networkDelay
}

// parseRetryAfter reads delta-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// NumberWide tells whether the error is about the business number or its account as a
// whole rather than one message or one recipient: the number's throughput (130429),
// throughput upgrade or maintenance (131057), the app's or the WABA's call rate (4,
// 80007), a restriction or a pause (class PauseNumber), or a refused access token (see
// TokenRefused). Every message from the number would meet it now, so a sender stops the
// number for a while instead of retrying the message alone. Codes: Meta's error-codes
// page (developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes). A nil
// *Error is not number-wide.
func (e *Error) NumberWide() bool {
	if e == nil {
		return false
	}
	switch e.Code {
	case 130429, 131057, 4, 80007:
		return true
	}
	return e.Class == PauseNumber || e.TokenRefused()
}

// TokenRefused tells whether Meta refused the access token itself (invalid, expired or
// revoked, or without permission on the object): Graph's codes 190, 102, 10 and 200,
// not a bare HTTP 401. The request is not at fault; the credentials are. A nil *Error
// (an error that did not come from Meta) is no refusal.
func (e *Error) TokenRefused() bool {
	if e == nil {
		return false
	}
	switch e.Code {
	case 190, 102, 10, 200:
		return true
	}
	return false
}
