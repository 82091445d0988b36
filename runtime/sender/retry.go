package sender

import (
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/store"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// RetryClass groups the failures a sender retries; each class has its own RetryBound.
// docs/sender.md lists the codes of each class (from Meta's error-codes page).
type RetryClass string

const (
	// RetryTransient: one message failed for a reason that may pass (131000, 131016, 2,
	// errors Meta marks is_transient, network errors, answers that are not Meta's). The
	// message alone waits, with an exponential backoff; nothing else is held up.
	RetryTransient RetryClass = "transient"
	// RetryPairRate: too many messages to one recipient (131056). That recipient waits
	// 4^(n-1) seconds after the n-th failure in a row; the others are not affected.
	RetryPairRate RetryClass = "pair-rate"
	// RetryThroughput: the number's or its account's rate (130429, 131057, 4, 80007).
	// Both lanes stop for Meta's delay.
	RetryThroughput RetryClass = "throughput"
	// RetryPaused: Meta restricted or paused the number (131048, 368, 131031, 130497), or
	// refused the access token (190, 102, 10, 200). Both lanes stop and the pause is
	// reported on the Number.
	RetryPaused RetryClass = "paused"
)

// retryClasses are the classes in the order the docs and flags list them.
var retryClasses = []RetryClass{RetryTransient, RetryPairRate, RetryThroughput, RetryPaused}

// RetryBound bounds the retries of one class: a message fails, with the last error, at
// its MaxAttempts-th failed call of the class in a row, or at a failure of the class
// MaxAge or more after the first of them. A failure of another class counts anew.
type RetryBound struct {
	MaxAttempts int
	MaxAge      time.Duration
}

// String is ATTEMPTS/AGE, the form of the --retry-* flags, e.g. "10/1h0m0s".
func (b RetryBound) String() string { return fmt.Sprintf("%d/%s", b.MaxAttempts, b.MaxAge) }

// ParseRetryBound reads ATTEMPTS/AGE, such as 10/1h: ATTEMPTS at least 1, AGE a positive
// Go duration.
func ParseRetryBound(s string) (RetryBound, error) {
	attempts, age, ok := strings.Cut(s, "/")
	n, errN := strconv.Atoi(attempts)
	d, errD := time.ParseDuration(age)
	if !ok || errN != nil || errD != nil || n < 1 || d <= 0 {
		return RetryBound{}, fmt.Errorf("must be ATTEMPTS/AGE with ATTEMPTS at least 1 and AGE a positive duration, like 10/1h; got %q", s)
	}
	return RetryBound{MaxAttempts: n, MaxAge: d}, nil
}

// RetryPolicy is the bound of each RetryClass.
type RetryPolicy map[RetryClass]RetryBound

// DefaultRetryPolicy is the bounds a sender applies unless told otherwise (documented in
// docs/sender.md).
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{
		RetryTransient:  {MaxAttempts: 10, MaxAge: time.Hour},
		RetryPairRate:   {MaxAttempts: 8, MaxAge: 24 * time.Hour},
		RetryThroughput: {MaxAttempts: 50, MaxAge: 24 * time.Hour},
		RetryPaused:     {MaxAttempts: 200, MaxAge: 72 * time.Hour},
	}
}

// withDefaults fills the classes p leaves out from DefaultRetryPolicy.
func (p RetryPolicy) withDefaults() RetryPolicy {
	out := DefaultRetryPolicy()
	for class, b := range p {
		out[class] = b
	}
	return out
}

// WithSpec is p with the bounds a Number's spec.sending.retry sets on top (nil: p as is).
func (p RetryPolicy) WithSpec(s *sbv1.SendingSpec) RetryPolicy {
	out := maps.Clone(p)
	if s == nil || s.Retry == nil {
		return out
	}
	spec := map[RetryClass]*sbv1.RetryBound{RetryTransient: s.Retry.Transient, RetryPairRate: s.Retry.PairRate,
		RetryThroughput: s.Retry.Throughput, RetryPaused: s.Retry.Paused}
	for class, b := range spec {
		if b != nil {
			out[class] = RetryBound{MaxAttempts: int(b.MaxAttempts), MaxAge: b.MaxAge.Duration}
		}
	}
	return out
}

// count adds a failure of class at now to the message's retry state, and tells whether
// the class's bound still allows another attempt.
func (p RetryPolicy) count(m store.Message, class RetryClass, now time.Time) (store.RetryState, bool) {
	st := m.Retry
	if st.Class != string(class) {
		st = store.RetryState{Class: string(class), Since: now}
	}
	st.Count++
	b := p[class]
	return st, st.Count < b.MaxAttempts && now.Sub(st.Since) < b.MaxAge
}

// retryClassOf is the class of a failed call, or "" for a failure that is not retried
// (a permanent error, a closed window, a payload the client refused).
func retryClassOf(e *whatsapp.Error) RetryClass {
	switch {
	case e == nil:
		return ""
	case e.Class == whatsapp.PauseNumber || e.TokenRefused():
		return RetryPaused
	case e.Class == whatsapp.RetryRecipientLater:
		return RetryPairRate
	case e.Class == whatsapp.RetryLater && e.NumberWide():
		return RetryThroughput
	case e.Class == whatsapp.RetryLater:
		return RetryTransient
	}
	return ""
}

// maxTransientBackoff caps the wait between two attempts of a transient failure.
const maxTransientBackoff = 10 * time.Minute

// transientBackoff is the wait after the n-th transient failure in a row: Meta's delay
// (at least 1 s) doubled for each earlier failure, at most maxTransientBackoff.
func transientBackoff(metaDelay time.Duration, n int) time.Duration {
	wait := max(metaDelay, time.Second)
	for i := 1; i < n && wait < maxTransientBackoff; i++ {
		wait *= 2
	}
	return min(wait, maxTransientBackoff)
}

// retryFlag is the flag.Value of one class's bound in a RetryPolicy.
type retryFlag struct {
	policy RetryPolicy
	class  RetryClass
}

func (f retryFlag) String() string {
	if f.policy == nil {
		return ""
	}
	return f.policy[f.class].String()
}

func (f retryFlag) Set(v string) error {
	b, err := ParseRetryBound(v)
	if err == nil {
		f.policy[f.class] = b
	}
	return err
}
