package contacts_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/runtime/inbox/openapi"
)

// Every route the contacts and export APIs register is described in the OpenAPI
// fragment, with the same method.
func TestOpenAPIFragmentNamesEveryRoute(t *testing.T) {
	b, err := openapi.Document()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Errorf("openapi %q", doc.OpenAPI)
	}
	for _, route := range []string{
		"POST /api/v1/contacts/import", "POST /api/v1/segments/preview", "GET /api/v1/segments", "POST /api/v1/segments",
		"GET /api/v1/segments/{name}", "PUT /api/v1/segments/{name}", "DELETE /api/v1/segments/{name}", "GET /api/v1/export/{kind}",
	} {
		method, path, _ := strings.Cut(route, " ")
		if _, ok := doc.Paths[path][strings.ToLower(method)]; !ok {
			t.Errorf("%s is not in runtime/inbox/openapi/contacts.yaml", route)
		}
	}
}
