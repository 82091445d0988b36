package agentapi_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/runtime/inbox/agentapi"
	"github.com/switchboard-dev/switchboard/runtime/inbox/openapi"
)

// TestEveryOperationIsDocumented: each registered operation has its path and method in
// the OpenAPI document, with 401 and 403 answers.
func TestEveryOperationIsDocumented(t *testing.T) {
	raw, err := openapi.Document()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"` // operations, and path-level "parameters"
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	for _, op := range (&agentapi.API{}).Operations() {
		method, path, _ := strings.Cut(op.Pattern, " ")
		rawOp, ok := doc.Paths[path][strings.ToLower(method)]
		if !ok {
			t.Errorf("%s is not in the OpenAPI document", op.Pattern)
			continue
		}
		var o struct {
			Responses map[string]any `json:"responses"`
		}
		if err := json.Unmarshal(rawOp, &o); err != nil {
			t.Fatalf("%s: %v", op.Pattern, err)
		}
		for _, code := range []string{"401", "403"} {
			if o.Responses[code] == nil {
				t.Errorf("%s does not document %s", op.Pattern, code)
			}
		}
	}
}
