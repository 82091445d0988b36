// Package contacts is the inbox's contact book in bulk: importing contacts from CSV or
// JSONL (Import), and segments, stored filters over contacts' tags and attributes
// (Filter, Count, Each, and the segments table of migration 00011). docs/contacts.md
// describes the formats and the API; the HTTP handlers are in api.go and
// `switchboard contacts import` in cli.go.
//
// Contacts are keyed by (namespace, wa_id): the wa_id is the canonical form of
// runtime/phone (phone.Canonical), so "+34 611 11 11 11" and "34611111111" are one
// contact.
package contacts

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Querier is what the read functions need: a pgx.Tx, a *pgx.Conn or a pool.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Execer is a Querier that also executes statements (a pgx.Tx).
type Execer interface {
	Querier
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Limits of a contact's tags and attributes.
const (
	// MaxTags is the most tags a contact has (the contacts table's CHECK, migration 00003).
	MaxTags = 50
	// MaxTagLength is the longest tag, in characters.
	MaxTagLength = 100
	// MaxAttributeKeyLength is the longest attribute key, in characters.
	MaxAttributeKeyLength = 64
	// MaxNameLength is the longest name, in characters.
	MaxNameLength = 256
)

// Contact is a contact as segments stream it. Attributes is the JSON object stored.
type Contact struct {
	ID              int64           `json:"id"`
	WAID            string          `json:"waId"`
	ProfileName     string          `json:"profileName,omitempty"`
	Tags            []string        `json:"tags"`
	Attributes      json.RawMessage `json:"attributes"`
	MarketingOptOut bool            `json:"marketingOptOut"`
}

// CheckTag returns why tag is not a valid tag, or "": a tag is 1 to MaxTagLength
// characters, with no control character, no leading or trailing space, and none of the
// separators ";", "|" and "," (the import's tag separators, and the CSV exports').
func CheckTag(tag string) string {
	switch n := utf8.RuneCountInString(tag); {
	case n == 0:
		return "a tag must not be empty"
	case n > MaxTagLength:
		return fmt.Sprintf("tag %.20q… has %d characters; at most %d", tag, n, MaxTagLength)
	case !utf8.ValidString(tag):
		return fmt.Sprintf("tag %q is not valid UTF-8", tag)
	case strings.TrimSpace(tag) != tag:
		return fmt.Sprintf("tag %q has leading or trailing spaces", tag)
	case strings.ContainsAny(tag, ";|,"):
		return fmt.Sprintf("tag %q contains a separator (; | ,)", tag)
	case strings.IndexFunc(tag, unicode.IsControl) >= 0:
		return fmt.Sprintf("tag %q contains a control character", tag)
	}
	return ""
}

// CheckAttributeKey returns why key is not a valid attribute key, or "": 1 to
// MaxAttributeKeyLength characters, none of them a control character or a space.
func CheckAttributeKey(key string) string {
	switch n := utf8.RuneCountInString(key); {
	case n == 0:
		return "an attribute key must not be empty"
	case n > MaxAttributeKeyLength:
		return fmt.Sprintf("attribute key %.20q… has %d characters; at most %d", key, n, MaxAttributeKeyLength)
	case !utf8.ValidString(key):
		return fmt.Sprintf("attribute key %q is not valid UTF-8", key)
	case strings.IndexFunc(key, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) >= 0:
		return fmt.Sprintf("attribute key %q contains a space or a control character", key)
	}
	return ""
}
