package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"reflect"
	"slices"
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
// unknown members, text that PostgreSQL can store (CheckJSON), member names unique in
// every object (RFC 8259 §4, I-JSON RFC 7493 §2.3; Unique) and spelled exactly as
// declared (encoding/json alone would match "Text" to "text"). Errors are problems: 413
// over the limit, 415 when the Content-Type is not JSON, 400 naming the member at fault
// by its JSON path ("body" for the whole body).
func DecodeLimit(r *http.Request, v any, limit int64) error {
	if err := checkType(r); err != nil {
		return err
	}
	raw, err := ReadBody(r, limit)
	if err != nil {
		return err
	}
	if err := CheckJSON(raw); err != nil {
		return err
	}
	if err := Unique(raw); err != nil {
		return err
	}
	if err := unmarshal(raw, v, limit); err != nil {
		return err
	}
	return exactNames(raw, reflect.TypeOf(v))
}

// Strict is the checks DecodeLimit adds to encoding/json, for JSON decoded elsewhere (a
// member decoded later, an NDJSON line) into v already: a 400 problem naming the member
// (its path within raw) whose name appears twice in an object (Unique) or matches a
// declared one of v only when case is ignored; nil otherwise.
func Strict(raw []byte, v any) error {
	if err := Unique(raw); err != nil {
		return err
	}
	return exactNames(raw, reflect.TypeOf(v))
}

// checkType is a 415 problem naming Content-Type when the request says its body is not
// JSON (no Content-Type passes).
func checkType(r *http.Request) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return problem.Field(http.StatusUnsupportedMediaType, "Content-Type", fmt.Sprintf("the body must be application/json, got %q", ct))
	}
	return nil
}

// NoBodyLimit bounds the body of an operation that takes none (NoBody): 4 KiB, room for
// {} and whitespace.
const NoBodyLimit = 4 << 10

// NoBody wraps the handler of an operation that takes no request body (docs/api.md#bodies):
// the request may carry none, or the empty JSON object {} (what some clients always
// send), whatever the Content-Type. Anything else is refused before h runs, so nothing
// changes: 413 over NoBodyLimit, else 400 naming "body".
func NoBody(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := noBody(r); err != nil {
			problem.Write(w, err.(problem.Problem))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// NoBodyFunc is NoBody for a handler function.
func NoBodyFunc(h http.HandlerFunc) http.HandlerFunc { return NoBody(h).ServeHTTP }

func noBody(r *http.Request) error {
	raw, err := ReadBody(r, NoBodyLimit)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil || m == nil || len(m) > 0 {
		return problem.Field(http.StatusBadRequest, "body", "this operation takes no body: send none, or the empty JSON object {}")
	}
	return nil
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
		field := typeErr.Field
		if field == "" {
			field = "body"
		}
		got, _, _ := strings.Cut(typeErr.Value, " ") // "number 300" for a number out of range
		return problem.Field(http.StatusBadRequest, field, fmt.Sprintf("%s must be %s, got %s", field, jsonKind(typeErr.Type), article(got)))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return unknown(name)
	case errors.Is(err, io.EOF):
		return problem.Field(http.StatusBadRequest, "body", "the body is empty: a JSON object is required")
	}
	return problem.Field(http.StatusBadRequest, "body",
		fmt.Sprintf("the body is not valid JSON (at most %s, one object): %v", size(limit), err))
}

func unknown(name string) problem.Problem {
	return problem.Field(http.StatusBadRequest, name, fmt.Sprintf("unknown member %q", name))
}

// jsonKind names the JSON values a Go type accepts, for people: "a JSON object",
// "a string", "an integer from 0 to 255".
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "a JSON object"
	case reflect.Slice, reflect.Array:
		return "a JSON array"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		bits := t.Bits() - 1
		return fmt.Sprintf("an integer from %d to %d", int64(-1)<<bits, int64(1)<<bits-1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return fmt.Sprintf("an integer from 0 to %d", uint64(1)<<(t.Bits()-1)*2-1)
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "a JSON value"
}

// article writes the JSON type encoding/json names ("array", "number", "bool") for people.
func article(v string) string {
	switch v {
	case "array", "object":
		return "a JSON " + v
	case "bool":
		return "a boolean"
	case "":
		return "something else"
	}
	return "a " + v
}

// Unique is a 400 problem naming the member when an object in the JSON text raw holds
// a member name twice, at any depth (RFC 8259 §4: names SHOULD be unique; I-JSON, RFC
// 7493 §2.3: MUST; encoding/json would keep the last silently). Names are compared after
// unescaping. Text that is not JSON passes: the decoder reports it.
func Unique(raw []byte) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var w jsonWalk
	var seen []map[string]bool // per open container; nil for arrays
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		key := len(w.stack) > 0 && w.stack[len(w.stack)-1].wantKey
		w.step(tok)
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				seen = append(seen, map[string]bool{})
			case '[':
				seen = append(seen, nil)
			default:
				seen = seen[:len(seen)-1]
			}
		case string:
			if !key {
				continue
			}
			if s := seen[len(seen)-1]; s[t] {
				return problem.Field(http.StatusBadRequest, w.path(), fmt.Sprintf("member %q appears twice (names must be unique, RFC 8259 §4)", w.path()))
			}
			seen[len(seen)-1][t] = true
		}
	}
}

// exactNames is the unknown-member problem for a member of the JSON text raw (decoded
// into a t already) whose name matches a declared one only when case is ignored, as
// encoding/json matches them: each object is compared with the json names of the
// struct it decodes into, at any depth (maps and slices followed; types with their own
// UnmarshalJSON and interfaces are left alone).
func exactNames(raw []byte, t reflect.Type) error {
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if dec.Decode(&v) != nil {
		return nil
	}
	return exactValue(v, t, "")
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

func exactValue(v any, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return nil
	}
	switch x := v.(type) {
	case map[string]any:
		switch t.Kind() {
		case reflect.Map:
			for _, k := range slices.Sorted(maps.Keys(x)) {
				if err := exactValue(x[k], t.Elem(), join(path, k)); err != nil {
					return err
				}
			}
		case reflect.Struct:
			fields := jsonFields(t)
			for _, k := range slices.Sorted(maps.Keys(x)) {
				ft, ok := fields[k]
				if !ok {
					return unknown(join(path, k))
				}
				if err := exactValue(x[k], ft, join(path, k)); err != nil {
					return err
				}
			}
		}
	case []any:
		if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			for i, e := range x {
				if err := exactValue(e, t.Elem(), path+"["+strconv.Itoa(i)+"]"); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// jsonFields maps the JSON member names of struct t (embedded structs' included, as
// encoding/json promotes them) to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for _, f := range reflect.VisibleFields(t) {
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		switch {
		case name == "-" && tag == "-", !f.IsExported() && !f.Anonymous:
			continue
		case f.Anonymous && name == "":
			continue // its fields are among VisibleFields
		case name == "":
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}
