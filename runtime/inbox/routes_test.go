package inbox_test

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	gotoken "go/token"
	"io/fs"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/runtime/inbox"
	"github.com/switchboard-dev/switchboard/runtime/inbox/media"
	"github.com/switchboard-dev/switchboard/runtime/inbox/openapi"
	"github.com/switchboard-dev/switchboard/runtime/inbox/openapi/openapitest"
)

var (
	apiRoute   = regexp.MustCompile(`^(GET|POST|PUT|PATCH|DELETE) (/api/\S*)$`)
	pathParams = regexp.MustCompile(`\{[^}]*\}`)
)

// documented returns the document's operations as "METHOD /path" with every path
// parameter written {}.
func documented(t *testing.T) []string {
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
	var ops []string
	for path, item := range doc.Paths {
		for method := range item {
			switch method {
			case "get", "post", "put", "patch", "delete", "head", "options", "trace":
				ops = append(ops, strings.ToUpper(method)+" "+pathParams.ReplaceAllString(path, "{}"))
			}
		}
	}
	slices.Sort(ops)
	return ops
}

// sourceRoutes returns the API routes written in the inbox's source (outside tests):
// every string literal "METHOD /api/…", the way each package registers its routes.
func sourceRoutes(t *testing.T) map[string]string {
	t.Helper()
	routes := map[string]string{} // route → file
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(gotoken.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != gotoken.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if m := apiRoute.FindStringSubmatch(s); err == nil && m != nil {
				routes[m[1]+" "+pathParams.ReplaceAllString(m[2], "{}")] = path
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return routes
}

// TestDocumentAndRoutesAgree: every API route registered in the inbox's source is an
// operation of the served OpenAPI document, and every operation of the document is a
// route of the running inbox: called without credentials, it answers from its handler
// (a problem document, or the document itself), never the router's own 404 or 405, and
// the answer validates against the document.
func TestDocumentAndRoutesAgree(t *testing.T) {
	ops := documented(t)
	src := sourceRoutes(t)
	if len(src) < 50 {
		t.Fatalf("found %d API routes in the source; the scan is broken", len(src))
	}
	for route, file := range src {
		if !slices.Contains(ops, route) {
			t.Errorf("%s (%s) is served but not in the OpenAPI document", route, file)
		}
	}
	archive, err := media.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, srv.NewDatabase(t), served(numA), func(o *inbox.Options) { o.Media = archive }) // media routes too
	waitStatus(t, s.probes+"/readyz", 200)
	c := openapitest.Client(t)
	for _, op := range ops {
		method, path, _ := strings.Cut(op, " ")
		req, _ := http.NewRequestWithContext(t.Context(), method, s.traffic+strings.ReplaceAll(path, "{}", "1"), nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		ct := resp.Header.Get("Content-Type")
		if (resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed) && strings.HasPrefix(ct, "text/plain") {
			t.Errorf("%s is in the OpenAPI document but not served: %d %s", op, resp.StatusCode, ct)
		}
	}
	t.Logf("%d operations in the document, %d API routes in the source", len(ops), len(src))
}
