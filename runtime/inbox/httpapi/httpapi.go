// Package httpapi is how the inbox API's handlers read requests and write answers, the
// same way in every package: JSON bodies (WriteJSON, Decode), pages with an opaque cursor
// (Page, EncodeCursor, DecodeCursor, Limit), path ids (PathID) and errors as RFC 9457
// problem documents naming the field (runtime/inbox/problem; Fail).
package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/switchboard-dev/switchboard/runtime/inbox/problem"
)

// Limits of the limit parameter.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// MaxBody is the largest request body Decode reads (1 MiB).
const MaxBody = 1 << 20

// WriteJSON writes v as JSON with the status code.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Page is one page of a list: Items (never null in JSON) and, when more follow,
// NextCursor to pass back as ?cursor=.
type Page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"nextCursor,omitempty"`
}

// NewPage returns the page of rows, which the caller read with limit+1: when there is
// one more row than limit, it is dropped and NextCursor is cursorOf(the last kept row).
func NewPage[T any](rows []T, limit int, cursorOf func(T) any) Page[T] {
	p := Page[T]{Items: rows}
	if p.Items == nil {
		p.Items = []T{}
	}
	if len(rows) > limit {
		p.Items = rows[:limit]
		p.NextCursor = EncodeCursor(cursorOf(rows[limit-1]))
	}
	return p
}

// EncodeCursor returns v (a position in a list, for example the sort key and id of the
// last row) as an opaque cursor: base64url of its JSON. Clients must not read it; the
// server always applies the caller's own filters and tenant, so a forged cursor can
// only move within what the caller may see.
func EncodeCursor(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Cursor is a position that can tell whether it is one the API wrote.
type Cursor interface{ Valid() bool }

// DecodeCursor reads the ?cursor= parameter into v; it reports whether one was given,
// and a 400 problem naming "cursor" when it is not one EncodeCursor wrote (v.Valid()
// false included).
func DecodeCursor(r *http.Request, v Cursor) (bool, error) {
	s := r.URL.Query().Get("cursor")
	if s == "" {
		return false, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		err = dec.Decode(v)
	}
	if err != nil || !v.Valid() {
		return false, problem.Field(http.StatusBadRequest, "cursor", "cursor is not one this API returned (pass nextCursor back unchanged)")
	}
	return true, nil
}

// Limit reads ?limit= (1 to MaxLimit, DefaultLimit when absent), or a 400 problem
// naming "limit".
func Limit(r *http.Request) (int, error) {
	s := r.URL.Query().Get("limit")
	if s == "" {
		return DefaultLimit, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > MaxLimit {
		return 0, problem.Field(http.StatusBadRequest, "limit", fmt.Sprintf("limit must be an integer from 1 to %d, got %q", MaxLimit, s))
	}
	return n, nil
}

// PathID reads the path segment {name} as a positive integer, or a 400 problem naming it.
func PathID(r *http.Request, name string) (int64, error) {
	s := r.PathValue(name)
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, problem.Field(http.StatusBadRequest, name, fmt.Sprintf("%s must be a positive integer, got %q", name, s))
	}
	return id, nil
}

// Decode is DecodeLimit with MaxBody.
func Decode(r *http.Request, v any) error { return DecodeLimit(r, v, MaxBody) }

// Fail writes err: a problem.Problem as it is; anything else as 503 (logged, never shown:
// it may name tables or values).
func Fail(w http.ResponseWriter, log *slog.Logger, err error) {
	var p problem.Problem
	if errors.As(err, &p) {
		problem.Write(w, p)
		return
	}
	log.Error("inbox API", "error", err)
	problem.Respond(w, http.StatusServiceUnavailable, "the database is unavailable, retry later")
}

// LocalPath reports whether s is a path on this site to send a browser back to after
// signing in: it starts with one "/" and is neither protocol-relative ("//host",
// "/\host", which browsers read as another site) nor holds a control character. Anything
// else would make the redirect an open redirect.
func LocalPath(s string) bool {
	if !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") || strings.HasPrefix(s, "/\\") {
		return false
	}
	return !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}
