// Package openapitest checks API tests' requests and responses against the inbox's
// OpenAPI document (runtime/inbox/openapi), with github.com/pb33f/libopenapi-validator
// (OpenAPI 3.1, JSON Schema 2020-12). Any package's API test uses it:
//
//	c := openapitest.Client(t) // an *http.Client that checks every exchange
//	resp, err := c.Get(base + "/api/v1/conversations")
//
// Every response must be documented: its path and method, its status code, its content
// type and its body's schema. The request is checked too when the answer is a success
// (a request the server accepted must be one the document allows); a refused request
// (400, 401, 403, 404, 422) may break the document on purpose, and its problem document
// is still checked. Security requirements are not checked here: the server's own tests
// assert 401 and 403.
//
// An application/x-ndjson body is checked line by line: the document gives its schema
// as an array whose items are the lines.
//
// Only the API is described: a request whose path is not under /api/ or /auth/oidc/
// (the web pages, the webhook, the probes, an OIDC provider's pages) passes unchecked.
// A text/event-stream answer is checked without its body (status, content type,
// headers) and streamed through unread. Tests that call a handler with
// httptest.NewRecorder check the exchange with Recorded.
package openapitest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	"github.com/pb33f/libopenapi-validator/content"
	verrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/schema_validation"
	"github.com/pb33f/libopenapi/datamodel/high/base"

	"github.com/switchboard-dev/switchboard/runtime/inbox/openapi"
)

// parsed is the served document, parsed.
var parsed = sync.OnceValues(func() (libopenapi.Document, error) {
	raw, err := openapi.Document()
	if err != nil {
		return nil, err
	}
	doc, err := libopenapi.NewDocument(raw)
	if err != nil {
		return nil, fmt.Errorf("openapitest: parse the document: %w", err)
	}
	return doc, nil
})

var load = sync.OnceValues(func() (validator.Validator, error) {
	doc, err := parsed()
	if err != nil {
		return nil, err
	}
	v, errs := validator.NewValidator(doc, config.WithoutSecurityValidation(),
		config.WithBodyDecoder("application/x-ndjson", content.DecoderFunc(ndjsonLines)))
	if len(errs) > 0 {
		return nil, fmt.Errorf("openapitest: build the validator: %v", errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		return nil, fmt.Errorf("openapitest: the document is not valid OpenAPI: %s", describe(verrs))
	}
	return v, nil
})

// ndjsonLines decodes an application/x-ndjson body (one JSON value per line, empty
// lines ignored) into the array of its lines, so that the document's schema of such a
// body, an array whose items are the lines, checks every line.
func ndjsonLines(in *content.DecodeInput) (any, error) {
	sc := bufio.NewScanner(in.Body)
	sc.Buffer(make([]byte, 0, 64*1024), 16<<20)
	lines := []any{}
	for n := 1; sc.Scan(); n++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var v any
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		lines = append(lines, v)
	}
	return lines, sc.Err()
}

// schemas are the document's components/schemas, for Schema.
var schemas = sync.OnceValues(func() (func(string) *base.Schema, error) {
	doc, err := parsed()
	if err != nil {
		return nil, err
	}
	m, err := doc.BuildV3Model()
	if err != nil {
		return nil, fmt.Errorf("openapitest: build the document's model: %w", err)
	}
	return func(name string) *base.Schema {
		if p := m.Model.Components.Schemas.GetOrZero(name); p != nil {
			return p.Schema()
		}
		return nil
	}, nil
})

// Schema checks data, a JSON value, against the document's components/schemas/<name>:
// for what an exchange carries inside its body, such as each Server-Sent Event's data
// line (LiveEvent). It returns an error describing every mismatch.
func Schema(name string, data []byte) error {
	lookup, err := schemas()
	if err != nil {
		return err
	}
	mu.Lock()
	defer mu.Unlock()
	sch := lookup(name)
	if sch == nil {
		return fmt.Errorf("openapitest: the document has no schema %s", name)
	}
	checked.Add(1)
	if ok, errs := schema_validation.NewSchemaValidator().ValidateSchemaStringWithVersion(sch, string(data), 3.1); !ok {
		return fmt.Errorf("%s does not match the document's schema %s: %s", data, name, describe(errs))
	}
	return nil
}

// mu serialises validations: the validator's caches are shared.
var mu sync.Mutex

// checked counts the exchanges Validate checked in this process.
var checked atomic.Int64

// Checked returns how many exchanges Validate checked in this process (for a test's
// figures).
func Checked() int64 { return checked.Load() }

// eventStream reports whether resp is a Server-Sent Events stream.
func eventStream(resp *http.Response) bool {
	return strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream")
}

// described reports whether the request's path is under the API the document describes
// (/api/, and the single sign-on redirects under /auth/oidc/).
func described(req *http.Request) bool {
	return strings.HasPrefix(req.URL.Path, "/api/") || strings.HasPrefix(req.URL.Path, "/auth/oidc/")
}

// Validate checks one exchange: the response always, the request when the response is
// a success (2xx). reqBody and respBody are the bodies as sent (nil when empty); req's and
// resp's own bodies are not read. It returns an error describing every mismatch.
func Validate(req *http.Request, reqBody []byte, resp *http.Response, respBody []byte) error {
	v, err := load()
	if err != nil {
		return err
	}
	mu.Lock()
	defer mu.Unlock()
	checked.Add(1)
	rq := req.Clone(req.Context())
	rq.Body = io.NopCloser(bytes.NewReader(reqBody))
	rs := *resp
	rs.Body = io.NopCloser(bytes.NewReader(respBody))
	var all []*verrors.ValidationError
	if resp.StatusCode/100 == 2 {
		if ok, errs := v.ValidateHttpRequestSync(rq); !ok {
			all = append(all, errs...)
		}
		rq.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	if ok, errs := v.ValidateHttpResponse(rq, &rs); !ok {
		all = append(all, errs...)
	}
	if len(all) > 0 {
		return fmt.Errorf("%s %s → %d does not match the OpenAPI document: %s", req.Method, req.URL.RequestURI(),
			resp.StatusCode, describe(all))
	}
	return nil
}

func describe(errs []*verrors.ValidationError) string {
	var b strings.Builder
	for _, e := range errs {
		fmt.Fprintf(&b, "\n  - %s", e.Message)
		if e.Reason != "" {
			fmt.Fprintf(&b, ": %s", e.Reason)
		}
		for _, s := range e.SchemaValidationErrors {
			fmt.Fprintf(&b, "\n      %s: %s", s.FieldPath, s.Reason)
		}
	}
	return b.String()
}

// Client returns an HTTP client whose every exchange is checked with Validate; a
// mismatch fails t (t.Errorf, so the test goes on and its own assertions still run).
func Client(t testing.TB) *http.Client {
	return &http.Client{Transport: Transport(t, http.DefaultTransport)}
}

// Transport wraps base so that every exchange is checked with Validate.
func Transport(t testing.TB, base http.RoundTripper) http.RoundTripper {
	return roundTripper{t: t, base: base}
}

type roundTripper struct {
	t    testing.TB
	base http.RoundTripper
}

func (rt roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil {
		var err error
		if reqBody, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		_ = req.Body.Close()
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	resp, err := rt.base.RoundTrip(req)
	if err != nil || !described(req) {
		return resp, err
	}
	if eventStream(resp) {
		if err := Validate(req, reqBody, resp, nil); err != nil {
			rt.t.Errorf("%v", err)
		}
		return resp, nil
	}
	respBody, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(respBody))
	if err := Validate(req, reqBody, resp, respBody); err != nil {
		rt.t.Errorf("%v", err)
	}
	return resp, nil
}

// Recorded checks one exchange served to a recorder (httptest.NewRecorder): req as
// served, with reqBody its body (nil when empty). A mismatch fails t (t.Errorf). Paths
// outside /api/ and /auth/oidc/ pass unchecked, as with Client.
func Recorded(t testing.TB, req *http.Request, reqBody []byte, rec *httptest.ResponseRecorder) {
	t.Helper()
	if !described(req) {
		return
	}
	resp := rec.Result()
	if err := Validate(req, reqBody, resp, rec.Body.Bytes()); err != nil {
		t.Errorf("%v", err)
	}
}
