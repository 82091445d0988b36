package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/switchboard-dev/switchboard/runtime/inbox/problem"
)

// ValidText reports whether PostgreSQL's text and jsonb can store s: valid UTF-8 without
// the NUL character (PostgreSQL refuses both; docs/api.md#text).
func ValidText(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// CheckText is a 400 problem naming field when s is not ValidText, else nil.
func CheckText(field, s string) error {
	if ValidText(s) {
		return nil
	}
	return problem.Field(http.StatusBadRequest, field, fmt.Sprintf("%s must be UTF-8 text without the NUL character (U+0000)", field))
}

// CheckJSON is a 400 problem when a JSON body holds text that is not ValidText: "body"
// for bytes that are not UTF-8, else the member (name or value) holding a NUL escape
// (\u0000), as a dotted path such as "template.parameters[0]". A body that is not JSON
// passes: the decoder reports it.
func CheckJSON(raw []byte) error {
	if !utf8.Valid(raw) {
		return problem.Field(http.StatusBadRequest, "body", "the body must be UTF-8")
	}
	if !bytes.Contains(raw, []byte(`\u0000`)) {
		return nil // the only way JSON text can carry NUL (a raw control byte is not JSON)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var w jsonWalk
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		if field, bad := w.step(tok); bad {
			return CheckText(field, "\x00")
		}
	}
}

// jsonWalk follows the tokens of a JSON value and knows the path of the current one.
type jsonWalk struct{ stack []jsonFrame }

type jsonFrame struct {
	object  bool
	key     string // object: the current member's name
	wantKey bool   // object: the next string is a name
	index   int    // array: the current element's index
}

// step takes the next token; it reports the path of a string that is not ValidText.
func (w *jsonWalk) step(tok json.Token) (string, bool) {
	top := len(w.stack) - 1
	switch t := tok.(type) {
	case json.Delim:
		if t == '{' || t == '[' {
			w.stack = append(w.stack, jsonFrame{object: t == '{', wantKey: t == '{'})
			return "", false
		}
		w.stack = w.stack[:top]
	case string:
		if top >= 0 && w.stack[top].wantKey {
			w.stack[top].key, w.stack[top].wantKey = t, false
			return w.path(), !ValidText(t)
		}
		if !ValidText(t) {
			return w.path(), true
		}
	}
	w.next()
	return "", false
}

// next moves past a complete value.
func (w *jsonWalk) next() {
	if top := len(w.stack) - 1; top >= 0 {
		if w.stack[top].object {
			w.stack[top].wantKey = true
		} else {
			w.stack[top].index++
		}
	}
}

func (w *jsonWalk) path() string {
	var b strings.Builder
	for _, f := range w.stack {
		if f.object {
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(f.key)
		} else {
			b.WriteString("[" + strconv.Itoa(f.index) + "]")
		}
	}
	if b.Len() == 0 {
		return "body"
	}
	return b.String()
}

// CheckRequests answers 400 (a problem naming the field) for a request to mux whose
// path segments, query parameters or URL-encoded form fields (names or values) are not
// ValidText, so that no handler ever passes such text to PostgreSQL; other requests go
// to mux. A path segment is named by its wildcard in the route mux chose ("login" for
// /api/v1/agents/{login}), else "path". JSON bodies are checked where they are decoded
// (DecodeLimit). A known API path asked with a method it is not served with is a 405
// problem with an Allow header (allowed).
func CheckRequests(mux *http.ServeMux) http.Handler { return CheckRequestsExcept(mux, nil) }

// CheckRequestsExcept is CheckRequests but for the requests selfChecked reports (nil:
// none), which go to mux unchecked because their handler runs CheckRequest itself and
// answers in its own form: the web pages (runtime/inbox/ui) answer a browser with an
// HTML page, not a problem document.
func CheckRequestsExcept(mux *http.ServeMux, selfChecked func(*http.Request) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if selfChecked == nil || !selfChecked(r) {
			var p problem.Problem
			if err := CheckRequest(mux, r); errors.As(err, &p) {
				problem.Write(w, p)
				return
			}
		}
		if allow := allowed(mux, r); allow != nil {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			problem.Respond(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, strings.Join(allow, ", ")))
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// methods are the methods allowed probes for.
var methods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// allowed lists the methods an API path (under /api/) is served with when r's method is
// not one of them, for the 405 answer and its Allow header (RFC 9110 §15.5.6); nil when
// the method is served, or the path is not an API operation at all (a 404), or is not
// under /api/. ServeMux would answer 405 itself, but the pages' catch-all "/" route
// matches every method first.
func allowed(mux *http.ServeMux, r *http.Request) []string {
	if !strings.HasPrefix(r.URL.Path, "/api/") || hasMethod(mux, r) {
		return nil
	}
	var allow []string
	for _, m := range methods {
		probe := r.Clone(r.Context())
		probe.Method = m
		if hasMethod(mux, probe) {
			allow = append(allow, m)
		}
	}
	return allow
}

// hasMethod reports whether the route mux chooses for r names a method.
func hasMethod(mux *http.ServeMux, r *http.Request) bool {
	_, pattern := mux.Handler(r)
	m, _, ok := strings.Cut(pattern, " ")
	return ok && m != ""
}

// CheckRequest is CheckRequests' check of one request to mux: nil, or a 400
// problem.Problem naming the path segment (by its wildcard in mux's route, else "path"),
// query parameter or form field (a name: "parameter name") whose text is not ValidText;
// "body" when a URL-encoded form cannot be read. It parses the form (r.ParseForm).
func CheckRequest(mux *http.ServeMux, r *http.Request) error {
	segments := strings.Split(r.URL.EscapedPath(), "/")
	for i, seg := range segments {
		s, err := url.PathUnescape(seg)
		if err != nil {
			s = seg
		}
		if !ValidText(s) {
			return CheckText(wildcard(mux, r, i), s)
		}
	}
	if err := checkValues(r.URL.Query()); err != nil {
		return err
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/x-www-form-urlencoded" {
		if err := r.ParseForm(); err != nil {
			return problem.Field(http.StatusBadRequest, "body", "the form could not be read: "+err.Error())
		}
		return checkValues(r.PostForm)
	}
	return nil
}

// checkValues checks the names and values of query parameters or form fields.
func checkValues(vs url.Values) error {
	for _, name := range slices.Sorted(maps.Keys(vs)) {
		if !ValidText(name) {
			return CheckText("parameter name", name)
		}
		for _, v := range vs[name] {
			if err := CheckText(name, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// wildcard names path segment i of r from the pattern of the route mux chooses for it:
// the wildcard's name, or "path" when the segment is literal or no route matches.
func wildcard(mux *http.ServeMux, r *http.Request, i int) string {
	_, pattern := mux.Handler(r)
	if _, path, ok := strings.Cut(pattern, " "); ok {
		pattern = path
	}
	if j := strings.Index(pattern, "/"); j > 0 {
		pattern = pattern[j:] // a host
	}
	parts := strings.Split(pattern, "/")
	if i < len(parts) {
		if name, ok := strings.CutPrefix(parts[i], "{"); ok {
			return strings.TrimSuffix(strings.TrimSuffix(name, "}"), "...")
		}
	}
	return "path"
}

// CleanJSON returns raw JSON with the text PostgreSQL cannot store replaced by U+FFFD
// (the Unicode replacement character), for bodies that must be stored whatever they
// hold (Meta's webhooks): a NUL escape (\u0000) and a lone UTF-16 surrogate escape
// become \ufffd (same length, so the JSON stays valid), and bytes that are not UTF-8
// become U+FFFD. raw itself is not changed; valid text comes back as it is.
func CleanJSON(raw []byte) []byte {
	out := raw
	if !utf8.Valid(raw) {
		out = bytes.ToValidUTF8(raw, []byte("\uFFFD"))
	}
	if !bytes.Contains(out, []byte(`\u`)) {
		return out
	}
	out = bytes.Clone(out)
	inString := false
	for i := 0; i < len(out); i++ {
		switch c := out[i]; {
		case c == '"':
			inString = !inString
		case c == '\\' && inString && i+1 < len(out) && out[i+1] == 'u':
			i += cleanEscape(out, i) - 1
		case c == '\\' && inString:
			i++ // an escaped quote, backslash or control character
		}
	}
	return out
}

// cleanEscape replaces the \uXXXX escape at out[i:] with \ufffd when it is NUL or a lone
// surrogate, and returns how many bytes it looked at: 12 for a surrogate pair, else 6.
func cleanEscape(out []byte, i int) int {
	r, ok := escapeAt(out, i)
	switch {
	case !ok:
		return 2 // not JSON: the decoder refuses it
	case r >= 0xD800 && r <= 0xDBFF:
		if low, ok := escapeAt(out, i+6); ok && low >= 0xDC00 && low <= 0xDFFF {
			return 12
		}
	case r != 0 && (r < 0xDC00 || r > 0xDFFF):
		return 6
	}
	copy(out[i:i+6], `\ufffd`)
	return 6
}

// escapeAt reads the \uXXXX escape at b[i:].
func escapeAt(b []byte, i int) (rune, bool) {
	if i+6 > len(b) || b[i] != '\\' || b[i+1] != 'u' {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b[i+2:i+6]), 16, 32)
	return rune(n), err == nil
}
