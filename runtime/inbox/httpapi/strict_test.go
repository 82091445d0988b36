package httpapi_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/runtime/inbox/httpapi"
	"github.com/switchboard-dev/switchboard/runtime/inbox/problem"
)

type inner struct {
	Name string `json:"name"`
}

type Embedded struct {
	Kind string `json:"kind"`
}

type strictBody struct {
	Embedded
	Text   string            `json:"text"`
	Count  int16             `json:"count"`
	Items  []inner           `json:"items"`
	Attrs  map[string]inner  `json:"attrs"`
	Free   map[string]any    `json:"free"`
	Raw    json.RawMessage   `json:"raw"`
	Labels map[string]string `json:"labels"`
}

// TestDecodeStrict: decoding errors name the member by its JSON path and the JSON type
// wanted, never a Go type; duplicate names at any depth and names matching a declared one
// only when case is ignored are refused.
func TestDecodeStrict(t *testing.T) {
	cases := []struct{ name, body, field, detail string }{
		{"array body", `[]`, "body", "body must be a JSON object, got a JSON array"},
		{"string body", `"x"`, "body", "body must be a JSON object, got a string"},
		{"number for text", `{"text":1}`, "text", "text must be a string, got a number"},
		{"string for count", `{"count":"1"}`, "count", "count must be an integer from -32768 to 32767, got a string"},
		{"count out of range", `{"count":40000}`, "count", "count must be an integer from -32768 to 32767, got a number"},
		{"nested type", `{"items":[{"name":true}]}`, "items.name", "items.name must be a string, got a boolean"},
		{"duplicate", `{"text":"a","text":"b"}`, "text", `member "text" appears twice`},
		{"duplicate escaped", `{"text":"a","te\u0078t":"b"}`, "text", `member "text" appears twice`},
		{"duplicate nested", `{"items":[{"name":"a"},{"name":"a","name":"b"}]}`, "items[1].name", `member "items[1].name" appears twice`},
		{"duplicate in free map", `{"free":{"x":{"y":1,"y":2}}}`, "free.x.y", "appears twice"},
		{"case", `{"text":"a","Text":"b"}`, "Text", `unknown member "Text"`},
		{"case only", `{"TEXT":"a"}`, "TEXT", `unknown member "TEXT"`},
		{"case embedded", `{"Kind":"a"}`, "Kind", `unknown member "Kind"`},
		{"case nested", `{"items":[{"Name":"a"}]}`, "items[0].Name", `unknown member "items[0].Name"`},
		{"case in map value", `{"attrs":{"k":{"NAME":"a"}}}`, "attrs.k.NAME", "unknown member"},
	}
	for _, c := range cases {
		r := httptest.NewRequest("POST", "/", strings.NewReader(c.body))
		var b strictBody
		err := httpapi.Decode(r, &b)
		var p problem.Problem
		if !errors.As(err, &p) {
			t.Errorf("%s: %v is not a problem", c.name, err)
			continue
		}
		if p.Status != http.StatusBadRequest || p.Field != c.field || !strings.Contains(p.Detail, c.detail) {
			t.Errorf("%s: %d field %q detail %q; want 400 field %q detail containing %q", c.name, p.Status, p.Field, p.Detail, c.detail, c.detail)
		}
		if strings.Contains(p.Detail, "httpapi") || strings.Contains(p.Detail, "strictBody") {
			t.Errorf("%s: detail %q names a Go type", c.name, p.Detail)
		}
	}
	ok := `{"kind":"k","text":"t","count":3,"items":[{"name":"a"}],"attrs":{"A":{"name":"b"},"a":{"name":"c"}},` +
		`"free":{"X":1,"x":2},"raw":{"Any":1,"any":2},"labels":{"Text":"keys of maps keep their case"}}`
	var b strictBody
	if err := httpapi.Decode(httptest.NewRequest("POST", "/", strings.NewReader(ok)), &b); err != nil {
		t.Fatalf("a good body: %v", err)
	}
	if b.Kind != "k" || b.Text != "t" || len(b.Attrs) != 2 || b.Labels["Text"] == "" {
		t.Errorf("decoded %+v", b)
	}
}

// TestNoBody: an operation without a body takes none or {}; anything else is refused
// before its handler runs.
func TestNoBody(t *testing.T) {
	ran := 0
	h := httpapi.NoBody(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { ran++; w.WriteHeader(http.StatusNoContent) }))
	big := bytes.Repeat([]byte(" "), httpapi.NoBodyLimit+1)
	cases := []struct {
		name, body, ct string
		status         int
		field          string
	}{
		{"none", "", "", 204, ""},
		{"none with JSON type", "", "application/json", 204, ""},
		{"empty object", " { } \n", "application/json", 204, ""},
		{"empty object untyped", "{}", "", 204, ""},
		{"syntax", "{bad", "application/json", 400, "body"},
		{"member", `{"zzz":1}`, "application/json", 400, "body"},
		{"array", `[]`, "application/json", 400, "body"},
		{"null", `null`, "application/json", 400, "body"},
		{"NUL", "\x00", "application/json", 400, "body"},
		{"two objects", "{}{}", "application/json", 400, "body"},
		{"text", "hello", "text/plain", 400, "body"},
		{"empty object as text", "{}", "text/plain", 204, ""},
		{"too large", string(big), "application/json", 413, "body"},
	}
	for _, c := range cases {
		ran = 0
		r := httptest.NewRequest("POST", "/", strings.NewReader(c.body))
		if c.ct != "" {
			r.Header.Set("Content-Type", c.ct)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != c.status {
			t.Errorf("%s: %d, want %d (%s)", c.name, w.Code, c.status, w.Body)
			continue
		}
		if c.status == 204 {
			if ran != 1 {
				t.Errorf("%s: the handler ran %d times", c.name, ran)
			}
			continue
		}
		var p problem.Problem
		if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Field != c.field || ran != 0 ||
			w.Header().Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: field %q (want %q), handler ran %d times, %s %s", c.name, p.Field, c.field, ran, w.Header().Get("Content-Type"), w.Body)
		}
	}
}

// TestMethodNotAllowed: a known API path asked with another method is a 405 problem
// with Allow, also when a catch-all route serves every other path; an unknown API path
// still reaches the catch-all.
func TestMethodNotAllowed(t *testing.T) {
	mux := http.NewServeMux()
	ok := func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }
	mux.HandleFunc("GET /api/v1/things/{id}", ok)
	mux.HandleFunc("POST /api/v1/things/{id}/close", ok)
	mux.HandleFunc("PATCH /api/v1/things/{id}", ok)
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		problem.Respond(w, http.StatusNotFound, "no such operation")
	})
	h := httpapi.CheckRequests(mux)
	cases := []struct {
		method, path string
		status       int
		allow        string
	}{
		{"DELETE", "/api/v1/things/3", 405, "GET, HEAD, PATCH"},
		{"PUT", "/api/v1/things/3", 405, "GET, HEAD, PATCH"},
		{"GET", "/api/v1/things/3/close", 405, "POST"},
		{"GET", "/api/v1/things/3", 204, ""},
		{"HEAD", "/api/v1/things/3", 204, ""},
		{"DELETE", "/api/v1/nothing", 404, ""},
		{"GET", "/api/v1/things/3/open", 404, ""},
		{"DELETE", "/pages/3", 404, ""},
	}
	for _, c := range cases {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(c.method, c.path, nil))
		if w.Code != c.status || w.Header().Get("Allow") != c.allow {
			t.Errorf("%s %s: %d Allow %q, want %d Allow %q", c.method, c.path, w.Code, w.Header().Get("Allow"), c.status, c.allow)
		}
		if c.status >= 400 && w.Header().Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s %s: Content-Type %q", c.method, c.path, w.Header().Get("Content-Type"))
		}
	}
}
