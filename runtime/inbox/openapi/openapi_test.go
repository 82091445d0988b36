package openapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/runtime/inbox/openapi"
	"github.com/switchboard-dev/switchboard/runtime/inbox/openapi/openapitest"
)

// TestDocument: the embedded fragments merge into one OpenAPI 3.1 document that
// libopenapi-validator accepts, with base.yaml's head and every fragment's paths.
func TestDocument(t *testing.T) {
	raw, err := openapi.Document()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" || doc.Paths[openapi.Path] == nil {
		t.Fatalf("openapi %q, paths %v", doc.OpenAPI, doc.Paths)
	}
	if len(openapi.Fragments()) < 2 || openapi.Fragments()[0].Name != openapi.BaseFile {
		t.Fatalf("fragments: %v", openapi.Fragments())
	}
}

// TestMergeRefusesDuplicates: a path or a component defined in two fragments, and a
// fragment with other top-level keys, are errors naming the files.
func TestMergeRefusesDuplicates(t *testing.T) {
	base := openapi.File{Name: "base.yaml", Data: []byte("openapi: 3.1.0\npaths:\n  /a: {}\ncomponents:\n  schemas:\n    A: {type: string}\n")}
	cases := map[string]struct {
		frag openapi.File
		want string
	}{
		"path":      {openapi.File{Name: "x.yaml", Data: []byte("paths:\n  /a: {}\n")}, "path /a is defined in base.yaml and in x.yaml"},
		"component": {openapi.File{Name: "y.yaml", Data: []byte("components:\n  schemas:\n    A: {}\n")}, "component schemas/A is defined in base.yaml and in y.yaml"},
		"head":      {openapi.File{Name: "z.yaml", Data: []byte("info: {}\n")}, `z.yaml: top-level key "info"`},
		"yaml":      {openapi.File{Name: "w.yaml", Data: []byte("paths: [\n")}, "w.yaml"},
	}
	for name, c := range cases {
		_, err := openapi.Merge([]openapi.File{base, c.frag})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Merge error %v, want one containing %q", name, err, c.want)
		}
	}
	// The same component name under another kind is not a duplicate.
	ok := openapi.File{Name: "v.yaml", Data: []byte("paths:\n  /b: {}\ncomponents:\n  responses:\n    A: {description: x}\n")}
	if _, err := openapi.Merge([]openapi.File{base, ok}); err != nil {
		t.Errorf("Merge: %v", err)
	}
	// The real fragments, each added twice, collide.
	frags := openapi.Fragments()
	if _, err := openapi.Merge(append(frags, frags[len(frags)-1])); err == nil {
		t.Error("a fragment merged twice was accepted")
	}
}

// TestServe: GET /api/v1/openapi.json answers the document without credentials, and
// the exchange validates against it; an undocumented answer does not.
func TestServe(t *testing.T) {
	mux := http.NewServeMux()
	if err := openapi.Register(mux); err != nil {
		t.Fatal(err)
	}
	mux.HandleFunc("GET /api/v1/undocumented", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{}`))
	})
	mux.HandleFunc("GET /api/v1/conversations", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"items":5}`))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	resp, err := openapitest.Client(t).Get(srv.URL + openapi.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	req, _ := http.NewRequest("GET", srv.URL+"/api/v1/undocumented", nil)
	got, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = got.Body.Close()
	if err := openapitest.Validate(req, nil, got, []byte(`{}`)); err == nil {
		t.Error("an undocumented path validated")
	}
	req, _ = http.NewRequest("GET", srv.URL+"/api/v1/conversations", nil)
	if got, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	_ = got.Body.Close()
	if err := openapitest.Validate(req, nil, got, []byte(`{"items":5}`)); err == nil || !strings.Contains(err.Error(), "items") {
		t.Errorf("a body against the schema validated: %v", err)
	}
	got.StatusCode = 418
	if err := openapitest.Validate(req, nil, got, []byte(`{"items":[]}`)); err == nil {
		t.Error("an undocumented status validated")
	}
}

// TestNDJSONLines: an application/x-ndjson answer is checked line by line against the
// items of its schema.
func TestNDJSONLines(t *testing.T) {
	req, _ := http.NewRequest("POST", "http://inbox/api/v1/contacts/import?format=csv", nil)
	req.Header.Set("Content-Type", "text/csv")
	resp := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/x-ndjson"}}, Request: req}
	good := `{"progress":{"phase":"read","rows":5}}` + "\n" +
		`{"result":{"rows":1,"inserted":1,"updated":0,"unchanged":0,"rejected":0,"errors":[]}}` + "\n"
	if err := openapitest.Validate(req, []byte("wa_id\n+34600000001\n"), resp, []byte(good)); err != nil {
		t.Errorf("good lines: %v", err)
	}
	for _, bad := range []string{`{"progress":{"phase":"read","rows":5}}` + "\n" + `{"bogus":1}` + "\n", "{\n"} {
		if err := openapitest.Validate(req, []byte("wa_id\n+34600000001\n"), resp, []byte(bad)); err == nil {
			t.Errorf("bad lines validated: %q", bad)
		}
	}
}

// TestSchema: a value inside a body (an event's data line) is checked against a named
// schema of the document.
func TestSchema(t *testing.T) {
	good := `{"id":1,"kind":"message.created","conversationId":7,"teams":["sales"],"agent":null,"at":"2026-01-05T10:00:00Z","payload":{}}`
	if err := openapitest.Schema("LiveEvent", []byte(good)); err != nil {
		t.Errorf("a good event: %v", err)
	}
	if err := openapitest.Schema("LiveEvent", []byte(`{"id":"x","kind":"message.created"}`)); err == nil {
		t.Error("an event without its fields validated")
	}
	if err := openapitest.Schema("NoSuchSchema", []byte(`{}`)); err == nil || !strings.Contains(err.Error(), "NoSuchSchema") {
		t.Errorf("an unknown schema: %v", err)
	}
}
