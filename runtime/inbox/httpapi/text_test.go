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

// TestDecodeRefusesTextPostgreSQLCannotStore: a NUL escape anywhere in a JSON body, and
// bytes that are not UTF-8, are 400 problems naming the member; nothing is decoded.
func TestDecodeRefusesTextPostgreSQLCannotStore(t *testing.T) {
	type body struct {
		Text     string            `json:"text"`
		Template map[string]any    `json:"template"`
		Attrs    map[string]string `json:"attributes"`
		Tags     []string          `json:"tags"`
	}
	cases := map[string]struct{ body, field string }{
		"a member":                 {`{"text":"hola\u0000"}`, "text"},
		"an array element":         {`{"tags":["a","b\u0000"]}`, "tags[1]"},
		"nested":                   {`{"template":{"name":"x","parameters":[{"text":"\u0000"}]}}`, "template.parameters[0].text"},
		"a member name":            {`{"attributes":{"k\u0000":"v"}}`, "attributes.k\x00"},
		"after other members":      {`{"text":"ok","tags":[],"attributes":{"a":"\u0000"}}`, "attributes.a"},
		"bytes that are not UTF-8": {"{\"text\":\"\xff\"}", "body"},
	}
	for name, c := range cases {
		r := httptest.NewRequest("POST", "/", strings.NewReader(c.body))
		var b body
		err := httpapi.Decode(r, &b)
		var p problem.Problem
		if !errors.As(err, &p) || p.Status != http.StatusBadRequest || p.Field != c.field {
			t.Errorf("%s: %v (field %q), want 400 naming %q", name, err, p.Field, c.field)
		}
		if b.Text != "" || b.Tags != nil {
			t.Errorf("%s: decoded %+v", name, b)
		}
	}
	r := httptest.NewRequest("POST", "/", strings.NewReader(`{"text":"a \\u0000 is text here"}`))
	var b body
	if err := httpapi.Decode(r, &b); err != nil || b.Text != `a \u0000 is text here` {
		t.Errorf("an escaped backslash before u0000: %v %q", err, b.Text)
	}
}

// TestBodyLimit: a body over the limit is 413 naming the limit, in Decode and ReadBody
// alike, and in LimitBody's streaming readers through TooLarge.
func TestBodyLimit(t *testing.T) {
	big := `{"text":"` + strings.Repeat("x", httpapi.MaxBody) + `"}`
	var v struct{ Text string }
	err := httpapi.Decode(httptest.NewRequest("POST", "/", strings.NewReader(big)), &v)
	var p problem.Problem
	if !errors.As(err, &p) || p.Status != http.StatusRequestEntityTooLarge || p.Extra["limit"] != int64(httpapi.MaxBody) ||
		!strings.Contains(p.Detail, "1 MiB") {
		t.Fatalf("Decode of %d bytes: %+v", len(big), err)
	}
	if _, err := httpapi.ReadBody(httptest.NewRequest("POST", "/", strings.NewReader("12345")), 4); !errors.As(err, &p) ||
		p.Status != http.StatusRequestEntityTooLarge || !strings.Contains(p.Detail, "4 B") {
		t.Fatalf("ReadBody over 4 bytes: %v", err)
	}
	if b, err := httpapi.ReadBody(httptest.NewRequest("POST", "/", strings.NewReader("1234")), 4); err != nil || string(b) != "1234" {
		t.Fatalf("ReadBody of 4 bytes: %q %v", b, err)
	}
	w := httptest.NewRecorder()
	body := httpapi.LimitBody(w, httptest.NewRequest("POST", "/", strings.NewReader("12345")), 4)
	_, err = new(bytes.Buffer).ReadFrom(body)
	if tl := httpapi.TooLarge(err); tl == nil || tl.Status != http.StatusRequestEntityTooLarge || tl.Extra["limit"] != int64(4) {
		t.Fatalf("LimitBody over 4 bytes: %v → %+v", err, tl)
	}
	if httpapi.TooLarge(errors.New("other")) != nil {
		t.Fatal("TooLarge of another error")
	}
}

// TestCheckRequests: NUL or bytes that are not UTF-8 in a path segment, a query
// parameter or a form field answer 400 naming it before the handler runs.
func TestCheckRequests(t *testing.T) {
	mux := http.NewServeMux()
	reached := 0
	ok := func(w http.ResponseWriter, r *http.Request) { reached++; w.WriteHeader(http.StatusNoContent) }
	mux.HandleFunc("GET /api/v1/agents/{login}", ok)
	mux.HandleFunc("POST /form", ok)
	h := httpapi.CheckRequests(mux)
	cases := []struct {
		name, method, target, form string
		status                     int
		field                      string
	}{
		{"a path wildcard", "GET", "/api/v1/agents/an%00a", "", 400, "login"},
		{"a path wildcard not UTF-8", "GET", "/api/v1/agents/an%FFa", "", 400, "login"},
		{"a literal segment", "GET", "/api/v%001/agents/ana", "", 400, "path"},
		{"a query value", "GET", "/api/v1/agents/ana?q=a%00", "", 400, "q"},
		{"a query name", "GET", "/api/v1/agents/ana?a%00=1", "", 400, "parameter name"},
		{"a form field", "POST", "/form", "text=hola%00", 400, "text"},
		{"clean", "GET", "/api/v1/agents/ana?q=ni%C3%B1o", "", 204, ""},
		{"a clean form", "POST", "/form", "text=hola", 204, ""},
	}
	for _, c := range cases {
		before := reached
		r := httptest.NewRequest(c.method, c.target, strings.NewReader(c.form))
		if c.form != "" {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, w.Code, w.Body, c.status)
			continue
		}
		if c.status != 400 {
			continue
		}
		var p problem.Problem
		if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Field != c.field || w.Header().Get("Content-Type") != problem.ContentType {
			t.Errorf("%s: %s, want a problem naming %q", c.name, w.Body, c.field)
		}
		if reached != before {
			t.Errorf("%s: the handler ran", c.name)
		}
	}
}

// TestCheckRequestsExcept: the requests the predicate names reach their handler
// unchecked (it checks them itself with CheckRequest); the others are still refused.
func TestCheckRequestsExcept(t *testing.T) {
	mux := http.NewServeMux()
	var got error
	mux.HandleFunc("GET /page", func(w http.ResponseWriter, r *http.Request) {
		got = httpapi.CheckRequest(mux, r)
		w.WriteHeader(http.StatusTeapot)
	})
	mux.HandleFunc("GET /api/x", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	h := httpapi.CheckRequestsExcept(mux, func(r *http.Request) bool { return r.URL.Path == "/page" })
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/page?q=a%00", nil))
	var p problem.Problem
	if w.Code != http.StatusTeapot || !errors.As(got, &p) || p.Field != "q" || p.Status != 400 {
		t.Errorf("/page: %d, CheckRequest %v", w.Code, got)
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/api/x?q=a%00", nil))
	if w.Code != 400 || w.Header().Get("Content-Type") != problem.ContentType {
		t.Errorf("/api/x: %d %s", w.Code, w.Body)
	}
}

// TestCleanJSON: what PostgreSQL cannot store becomes U+FFFD, the JSON stays valid and
// means the same otherwise.
func TestCleanJSON(t *testing.T) {
	cases := map[string]struct{ in, want string }{
		"NUL":                   {`{"body":"a\u0000b"}`, "a\uFFFDb"},
		"a lone high surrogate": {`{"body":"a\ud800b"}`, "a\uFFFDb"},
		"a lone low surrogate":  {`{"body":"a\udc00b"}`, "a\uFFFDb"},
		"a pair":                {`{"body":"\ud83d\ude00"}`, "😀"},
		"an escaped backslash":  {`{"body":"\\u0000"}`, `\u0000`},
		"not UTF-8":             {"{\"body\":\"a\xffb\"}", "a\uFFFDb"},
		"clean":                 {`{"body":"¿cuánto cuesta?"}`, "¿cuánto cuesta?"},
	}
	for name, c := range cases {
		in := []byte(c.in)
		out := httpapi.CleanJSON(in)
		var v struct{ Body string }
		if err := json.Unmarshal(out, &v); err != nil || v.Body != c.want {
			t.Errorf("%s: %s → %q, %v; want %q", name, out, v.Body, err, c.want)
		}
		if !httpapi.ValidText(v.Body) || bytes.Contains(out, []byte(`\u0000`)) && name != "an escaped backslash" {
			t.Errorf("%s: %s still holds what PostgreSQL refuses", name, out)
		}
		if string(in) != c.in {
			t.Errorf("%s: the input was changed", name)
		}
	}
}
