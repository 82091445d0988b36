package store

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrNotFound: no such message (for a NumberLock: no such message of its number).
	ErrNotFound = errors.New("not found")
	// ErrLocked: another session holds the number's lock (another sender is active), or
	// the advisory lock TryLock asked for.
	ErrLocked = errors.New("number is locked by another session")
	// ErrLockLost: the NumberLock no longer holds the lock (its connection broke, or it
	// was released). The sender must stop sending and take the lock again.
	ErrLockLost = errors.New("number lock lost")
	// ErrNotClaimed: MarkSent, Retry or Fail on a message that is not in StateSending.
	ErrNotClaimed = errors.New("message is not claimed (not in state sending)")
	// ErrInvalid is matched (errors.Is) by every *ValidationError.
	ErrInvalid = errors.New("invalid input")
)

// ValidationError says which field of the input is wrong and why.
type ValidationError struct {
	Field  string // Go path of the field, for example "Number.Namespace" or "Payload.type"
	Reason string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Reason }

// Is makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

func invalid(field, format string, args ...any) *ValidationError {
	return &ValidationError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

func validateRef(ref NumberRef) error {
	var errs []error
	for _, f := range []struct{ name, value string }{
		{"Number.Namespace", ref.Namespace},
		{"Number.Name", ref.Name},
	} {
		switch {
		case f.value == "":
			errs = append(errs, invalid(f.name, "must not be empty"))
		case strings.Contains(f.value, "/"):
			// Kubernetes names never contain "/"; refusing it keeps "namespace/name"
			// (the NOTIFY payload and the lock key) unambiguous.
			errs = append(errs, invalid(f.name, "must not contain %q", "/"))
		}
	}
	return errors.Join(errs...)
}

func validateLane(lane Lane) error {
	switch lane {
	case LaneConversation, LaneCampaign:
		return nil
	}
	return invalid("Lane", "must be %q or %q, not %q", LaneConversation, LaneCampaign, lane)
}

// redacted hides secrets (the DSN password) from an error's text; errors.Is/As still
// see the wrapped error.
type redacted struct {
	err     error
	secrets []string
}

func (r *redacted) Error() string {
	s := r.err.Error()
	for _, secret := range r.secrets {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "xxxxx")
		}
	}
	return s
}

func (r *redacted) Unwrap() error { return r.err }

func redact(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	return &redacted{err: err, secrets: secrets}
}
