package inbox_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/runtime/inbox/auth"
	"github.com/switchboard-dev/switchboard/runtime/inbox/openapi"
	"github.com/switchboard-dev/switchboard/runtime/inbox/problem"
)

// bodyKinds returns the document's state-changing operations ("METHOD /path") and
// whether each takes a JSON body (true), takes none (false); operations with other
// bodies (CSV, multipart) are left out.
func bodyKinds(t *testing.T) map[string]bool {
	t.Helper()
	raw, err := openapi.Document()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for path, item := range doc.Paths {
		for method, rawOp := range item {
			var op struct {
				RequestBody *struct {
					Content map[string]json.RawMessage `json:"content"`
				} `json:"requestBody"`
			}
			if !slices.Contains([]string{"post", "put", "patch", "delete"}, method) || json.Unmarshal(rawOp, &op) != nil {
				continue
			}
			name := strings.ToUpper(method) + " " + path
			switch {
			case op.RequestBody == nil:
				out[name] = false
			case len(op.RequestBody.Content) == 1 && op.RequestBody.Content["application/json"] != nil:
				out[name] = true
			}
		}
	}
	return out
}

// Every state-changing operation refuses a body it cannot take, naming the member, and
// changes nothing: an operation without a body takes none or {} (anything else is 400
// naming body, 415 when not JSON); a JSON body must be an object whose member names are
// unique at any depth and spelled exactly as declared.
func TestBodiesAreStrict(t *testing.T) {
	s, dsn, admin, csrf, id := adminServer(t)
	kinds := bodyKinds(t)
	var none, withJSON int
	for _, b := range kinds {
		if b {
			withJSON++
		} else {
			none++
		}
	}
	if none < 7 || withJSON < 15 {
		t.Fatalf("%d operations without a body and %d with a JSON one; the scan is broken", none, withJSON)
	}
	var conv struct{ ContactID int64 }
	if code, body, _ := call(t, "GET", fmt.Sprintf("%s/api/v1/conversations/%d", s.traffic, id), "", "Cookie", admin); code != 200 || json.Unmarshal([]byte(body), &conv) != nil {
		t.Fatalf("conversation: %d %s", code, body)
	}
	path := func(op string) (string, string) {
		method, p, _ := strings.Cut(op, " ")
		r := strings.NewReplacer("{id}", fmt.Sprint(id), "{login}", "admin", "{name}", "vip", "{action}", "start")
		if strings.HasPrefix(p, "/api/v1/contacts/{id}") {
			p = strings.Replace(p, "{id}", fmt.Sprint(conv.ContactID), 1)
		}
		return method, s.traffic + r.Replace(p)
	}
	type try struct{ name, body, contentType, field, detail string }
	noBody := []try{
		{"syntax", "{bad", "application/json", "body", "takes no body"},
		{"member", `{"zzz":1}`, "application/json", "body", "takes no body"},
		{"array", `[]`, "application/json", "body", "takes no body"},
		{"NUL", "\x00", "application/json", "body", "takes no body"},
		{"text", "hi", "text/plain", "body", "takes no body"},
	}
	jsonBody := []try{
		{"array", `[]`, "application/json", "body", "body must be a JSON object, got a JSON array"},
		{"number", `7`, "application/json", "body", "body must be a JSON object, got a number"},
		{"duplicate", `{"zzz":1,"zzz":2}`, "application/json", "zzz", "appears twice"},
		{"nested duplicate", `{"zzz":{"y":[{"x":1,"x":2}]}}`, "application/json", "zzz.y[0].x", "appears twice"},
	}
	before := stored(t, dsn)
	for op, takesJSON := range kinds {
		tries := noBody
		if takesJSON {
			tries = jsonBody
		}
		method, url := path(op)
		for _, tr := range tries {
			code, body, res := call(t, method, url, tr.body, "Cookie", admin, auth.CSRFHeader, csrf, "Content-Type", tr.contentType)
			var p problem.Problem
			_ = json.Unmarshal([]byte(body), &p)
			want := http.StatusBadRequest
			if code != want || p.Field != tr.field || !strings.Contains(p.Detail, tr.detail) || res.Header.Get("Content-Type") != problem.ContentType {
				t.Errorf("%s, %s: %d %s; want %d naming %q", op, tr.name, code, body, want, tr.field)
			}
		}
	}
	// Members matched loosely before: the last duplicate won, and case was ignored.
	c := fmt.Sprintf("/api/v1/conversations/%d", id)
	for _, tc := range []struct{ method, path, body, field string }{
		{"POST", c + "/notes", `{"text":"a","text":"b"}`, "text"},
		{"POST", c + "/notes", `{"text":"a","Text":"b"}`, "Text"},
		{"POST", c + "/messages", `{"TEXT":"hola"}`, "TEXT"},
		{"PUT", c + "/priority", `{"Priority":3}`, "Priority"},
		{"PUT", c + "/priority", `{"priority":11}`, "priority"}, // 0 to 10 (docs/api.md)
		{"PUT", c + "/priority", `{"priority":-1}`, "priority"},
		{"PUT", c + "/priority", `{"priority":1.5}`, "priority"},
		{"PUT", c + "/tags", `{"tags":["a"],"tags":["b"]}`, "tags"},
		{"POST", c + "/assign", `{"Agent":"admin"}`, "Agent"},
		{"POST", "/api/v1/segments", `{"Name":"vip","filter":{}}`, "Name"},
		{"POST", "/api/v1/segments", `{"name":"vip","filter":{"Tags":{}}}`, "filter.Tags"},
		{"POST", "/api/v1/segments/preview", `{"filter":{"tags":{"AllOf":["a"]}}}`, "filter.tags.AllOf"},
		{"POST", "/api/v1/segments", `{"name":"vip","filter":{"tags":{"allOf":["a"],"allOf":["b"]}}}`, "filter.tags.allOf"},
		{"POST", "/api/v1/login", `{"login":"admin","Password":"x"}`, "Password"},
	} {
		code, body, _ := call(t, tc.method, s.traffic+tc.path, tc.body, "Cookie", admin, auth.CSRFHeader, csrf)
		var p problem.Problem
		_ = json.Unmarshal([]byte(body), &p)
		if code != http.StatusBadRequest || p.Field != tc.field {
			t.Errorf("%s %s %s: %d %s; want 400 naming %q", tc.method, tc.path, tc.body, code, body, tc.field)
		}
	}
	if after := stored(t, dsn); after != before {
		t.Errorf("refused requests stored something:\n before %s\n after  %s", before, after)
	}
	if code, out, _ := call(t, "PUT", s.traffic+c+"/priority", `{"priority":10}`, "Cookie", admin, auth.CSRFHeader, csrf); code != 200 {
		t.Errorf("priority 10: %d %s", code, out)
	}
	// {} and no body are what an operation without a body takes.
	for _, body := range []string{"", "{}"} {
		if code, out, _ := call(t, "POST", s.traffic+c+"/resolve", body, "Cookie", admin, auth.CSRFHeader, csrf); code != 200 {
			t.Errorf("resolve with %q: %d %s", body, code, out)
		}
		if code, out, _ := call(t, "POST", s.traffic+c+"/reopen", body, "Cookie", admin, auth.CSRFHeader, csrf); code != 200 {
			t.Errorf("reopen with %q: %d %s", body, code, out)
		}
	}
}

// A known API path asked with a method it is not served with is 405 with Allow, as a
// problem document; an unknown API path stays a 404 problem.
func TestWrongMethodIs405(t *testing.T) {
	s, _, admin, csrf, id := adminServer(t)
	for _, tc := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"DELETE", fmt.Sprintf("/api/v1/conversations/%d", id), 405, "GET, HEAD"},
		{"GET", fmt.Sprintf("/api/v1/conversations/%d/reopen", id), 405, "POST"},
		{"PATCH", "/api/v1/tokens/1", 405, "DELETE"},
		{"DELETE", "/api/v1/no-such-thing", 404, ""},
		{"GET", "/api/v1/conversations/1/nothing", 404, ""},
	} {
		code, body, res := callUnchecked(t, tc.method, s.traffic+tc.path, "", "Cookie", admin, auth.CSRFHeader, csrf)
		if code != tc.status || res.Header.Get("Allow") != tc.allow || res.Header.Get("Content-Type") != problem.ContentType {
			t.Errorf("%s %s: %d Allow %q %s %s; want %d Allow %q", tc.method, tc.path, code, res.Header.Get("Allow"),
				res.Header.Get("Content-Type"), body, tc.status, tc.allow)
		}
	}
}
