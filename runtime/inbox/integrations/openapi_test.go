package integrations

import (
	"bytes"
	"os"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"sigs.k8s.io/yaml"
)

// The OpenAPI fragment of these endpoints, compiled once per test binary.
var (
	fragmentOnce     sync.Once
	fragmentCompiler *jsonschema.Compiler
	fragmentErr      error
)

const fragmentURL = "file:///openapi/integrations.json"

// checkAnswer validates an answer's body against the fragment's schema for it:
// components/schemas/<schema>.
func checkAnswer(t *testing.T, schema, body string) {
	t.Helper()
	fragmentOnce.Do(func() {
		raw, err := os.ReadFile("../openapi/integrations.yaml")
		if err != nil {
			fragmentErr = err
			return
		}
		js, err := yaml.YAMLToJSON(raw)
		if err != nil {
			fragmentErr = err
			return
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
		if err != nil {
			fragmentErr = err
			return
		}
		fragmentCompiler = jsonschema.NewCompiler()
		fragmentCompiler.DefaultDraft(jsonschema.Draft2020)
		fragmentErr = fragmentCompiler.AddResource(fragmentURL, doc)
	})
	if fragmentErr != nil {
		t.Fatalf("loading the OpenAPI fragment: %v", fragmentErr)
	}
	sch, err := fragmentCompiler.Compile(fragmentURL + "#/components/schemas/" + schema)
	if err != nil {
		t.Fatalf("compiling %s: %v", schema, err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatalf("the answer is not JSON: %s", body)
	}
	if err := sch.Validate(v); err != nil {
		t.Errorf("the answer does not match the fragment's %s: %v\n%s", schema, err, body)
	}
}
