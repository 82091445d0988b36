package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/switchboard-dev/switchboard/runtime/inbox/problem"
)

// ReadBody reads the request's whole body, at most limit bytes. A longer body is a 413
// Content Too Large problem naming the limit (TooLarge); a body that cannot be read is
// a 400 problem naming "body".
func ReadBody(r *http.Request, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	switch {
	case err != nil:
		if p := TooLarge(err); p != nil {
			return nil, *p
		}
		return nil, problem.Field(http.StatusBadRequest, "body", "the body could not be read: "+err.Error())
	case int64(len(b)) > limit:
		return nil, tooLarge(limit)
	}
	return b, nil
}

// LimitBody is r.Body bounded to limit bytes, for handlers that stream the body (contacts
// imports, rate cards): reading past the limit fails with an error that TooLarge turns
// into the 413 problem.
func LimitBody(w http.ResponseWriter, r *http.Request, limit int64) io.ReadCloser {
	return http.MaxBytesReader(w, r.Body, limit)
}

// TooLarge returns the 413 problem for an error of a LimitBody reader (an
// *http.MaxBytesError anywhere in err's chain), or nil for any other error.
func TooLarge(err error) *problem.Problem {
	var mb *http.MaxBytesError
	if !errors.As(err, &mb) {
		return nil
	}
	p := tooLarge(mb.Limit)
	return &p
}

// tooLarge is the 413 problem: field "body", the limit in the detail and in the member
// "limit" (bytes).
func tooLarge(limit int64) problem.Problem {
	p := problem.Field(http.StatusRequestEntityTooLarge, "body",
		fmt.Sprintf("the body is larger than this operation's limit of %s (%d bytes)", size(limit), limit))
	p.Extra = map[string]any{"limit": limit}
	return p
}

// size writes n bytes for people: "1 MiB", "64 KiB", "4096 B".
func size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " B"
}

// DecodeLimit reads the request's JSON body, at most limit bytes, into v: one value, no
// unknown members, text that PostgreSQL can store (CheckJSON). Errors are problems: 413
// over the limit, 415 when the Content-Type is not JSON, 400 naming the member at fault.
func DecodeLimit(r *http.Request, v any, limit int64) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return problem.Field(http.StatusUnsupportedMediaType, "Content-Type", fmt.Sprintf("the body must be application/json, got %q", ct))
	}
	raw, err := ReadBody(r, limit)
	if err != nil {
		return err
	}
	if err := CheckJSON(raw); err != nil {
		return err
	}
	return unmarshal(raw, v, limit)
}

// unmarshal decodes raw strictly into v; errors are 400 problems naming the member.
func unmarshal(raw []byte, v any, limit int64) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("more than one JSON value")
	}
	if err == nil {
		return nil
	}
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typeErr):
		return problem.Field(http.StatusBadRequest, typeErr.Field, fmt.Sprintf("%s must be %s, got a JSON %s", typeErr.Field, typeErr.Type, typeErr.Value))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return problem.Field(http.StatusBadRequest, name, fmt.Sprintf("unknown member %q", name))
	case errors.Is(err, io.EOF):
		return problem.Field(http.StatusBadRequest, "body", "the body is empty: a JSON object is required")
	}
	return problem.Field(http.StatusBadRequest, "body",
		fmt.Sprintf("the body is not valid JSON (at most %s, one object): %v", size(limit), err))
}
