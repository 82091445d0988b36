// Package problem writes the inbox API's errors as RFC 9457 "Problem Details for HTTP
// APIs" (Content-Type application/problem+json):
//
//	{"type":"about:blank","title":"Bad Request","status":400,
//	 "detail":"limit must be an integer from 1 to 500, got \"x\"","field":"limit"}
//
// "type" is about:blank (RFC 9457 §4.2.1: the title is then the status's phrase);
// the extension members field, permission and rule name what was wrong, for programs.
package problem

import (
	"encoding/json"
	"net/http"
)

// ContentType is the media type of a problem document (RFC 9457 §3).
const ContentType = "application/problem+json"

// Problem is one problem document. Status is the HTTP status code; Detail is a sentence
// for people naming the bad value; the other extension members are optional.
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
	// Field is the request field (query parameter, JSON member, path segment) at fault,
	// as a JSON-pointer-like dotted path: "limit", "template.parameters[0]".
	Field string `json:"field,omitempty"`
	// Permission is the permission the caller lacks (403).
	Permission string `json:"permission,omitempty"`
	// Rule and Word name the outbound keyword rule that blocked a message (422).
	Rule string `json:"rule,omitempty"`
	Word string `json:"word,omitempty"`
	// Extra carries further members specific to one operation (for example the
	// templates a closed customer-service window requires); merged into the document.
	Extra map[string]any `json:"-"`
}

// New returns a problem with the status's title and the detail.
func New(status int, detail string) Problem {
	return Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail}
}

// Field returns a problem about one request field.
func Field(status int, field, detail string) Problem {
	p := New(status, detail)
	p.Field = field
	return p
}

// Error makes a Problem usable as an error (the detail).
func (p Problem) Error() string { return p.Detail }

// MarshalJSON merges Extra into the document.
func (p Problem) MarshalJSON() ([]byte, error) {
	type plain Problem
	b, err := json.Marshal(plain(p))
	if err != nil || len(p.Extra) == 0 {
		return b, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for k, v := range p.Extra {
		if _, taken := m[k]; !taken {
			m[k] = v
		}
	}
	return json.Marshal(m)
}

// Write sends p with its status.
func Write(w http.ResponseWriter, p Problem) {
	if p.Type == "" {
		p.Type = "about:blank"
	}
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	w.Header().Set("Content-Type", ContentType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// Respond writes New(status, detail).
func Respond(w http.ResponseWriter, status int, detail string) { Write(w, New(status, detail)) }

// RespondField writes Field(status, field, detail).
func RespondField(w http.ResponseWriter, status int, field, detail string) {
	Write(w, Field(status, field, detail))
}
