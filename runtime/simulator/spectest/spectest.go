// Package spectest checks JSON bodies against Meta's OpenAPI description of the
// WhatsApp Cloud API (business-messaging-api_v23.0.yaml). It exists for tests
// of the Cloud API client and the simulator; production code does not import it.
//
// Meta's description is useful but not exact: a few schemas reject Meta's own
// examples. Load applies a short, documented list of repairs (see patches.go)
// and validates everything else as written.
package spectest

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"sigs.k8s.io/yaml"
)

// metaSpec is a copy of Meta's OpenAPI description (MIT, see meta/LICENSE), taken from
// the project's shared reference so that the tests need nothing outside the repository.
//
//go:embed meta/business-messaging-api_v23.0.yaml
var metaSpec []byte

// LoadMeta prepares Meta's own description, as bundled with this package.
func LoadMeta() (*Spec, error) { return parse(metaSpec, "meta/business-messaging-api_v23.0.yaml") }

var (
	metaOnce   sync.Once
	metaLoaded *Spec
	metaErr    error
)

// Meta returns Meta's description, prepared once per test binary; it fails t when the
// description cannot be loaded.
func Meta(t testing.TB) *Spec {
	t.Helper()
	metaOnce.Do(func() { metaLoaded, metaErr = LoadMeta() })
	if metaErr != nil {
		t.Fatal(metaErr)
	}
	return metaLoaded
}

const docURL = "file:///meta/business-messaging-api_v23.0.json"

// Spec is a loaded, repaired OpenAPI description with compiled schemas.
type Spec struct {
	doc      map[string]any
	compiler *jsonschema.Compiler
	mu       sync.Mutex
	schemas  map[string]*jsonschema.Schema
}

// Load reads the YAML description at path, applies the repairs and prepares
// schema compilation. A missing file is an error (tests must fail, not skip).
func Load(path string) (*Spec, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("spectest: read Meta's OpenAPI description: %w", err)
	}
	return parse(raw, path)
}

func parse(raw []byte, path string) (*Spec, error) {
	js, err := yaml.YAMLToJSON(raw)
	if err != nil {
		return nil, fmt.Errorf("spectest: convert YAML: %w", err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		return nil, fmt.Errorf("spectest: decode JSON: %w", err)
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("spectest: %s is not an object", path)
	}
	if err := applyPatches(doc); err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(docURL, doc); err != nil {
		return nil, err
	}
	return &Spec{doc: doc, compiler: c, schemas: map[string]*jsonschema.Schema{}}, nil
}

// Validate checks body (JSON) against components/schemas/<name>. When that
// schema has an OpenAPI discriminator whose mapping names the body's value,
// the mapped schema is used directly (same verdict, shorter error messages).
func (s *Spec) Validate(name string, body []byte) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("spectest: body is not JSON: %w", err)
	}
	name = s.discriminated(name, v)
	sch, err := s.schema(name)
	if err != nil {
		return err
	}
	if err := sch.Validate(v); err != nil {
		return fmt.Errorf("spectest: %s: %w", name, err)
	}
	return nil
}

func (s *Spec) discriminated(name string, v any) string {
	sch := s.componentSchemas()[name]
	prop, _ := dig(sch, "discriminator", "propertyName").(string)
	val, _ := dig(v, prop).(string)
	if target, ok := dig(sch, "discriminator", "mapping", val).(string); ok && prop != "" {
		return refName(map[string]any{"$ref": target})
	}
	return name
}

func (s *Spec) schema(name string) (*jsonschema.Schema, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sch, ok := s.schemas[name]; ok {
		return sch, nil
	}
	if _, ok := s.componentSchemas()[name]; !ok {
		return nil, fmt.Errorf("spectest: no schema %q in the description", name)
	}
	sch, err := s.compiler.Compile(docURL + "#/components/schemas/" + name)
	if err != nil {
		return nil, fmt.Errorf("spectest: compile %s: %w", name, err)
	}
	s.schemas[name] = sch
	return sch, nil
}

func (s *Spec) componentSchemas() map[string]any {
	comps, _ := s.doc["components"].(map[string]any)
	schemas, _ := comps["schemas"].(map[string]any)
	return schemas
}

// RefusedSendExamples are the sendMessage request examples of Meta's
// description that Meta itself refuses, and why; every other one is a valid
// request (the simulator's TestSpecRequestExamplesAccepted checks both).
var RefusedSendExamples = map[string]string{
	// It omits `type`, which Meta then takes to be "text" (the messages
	// reference: "If omitted, defaults to text"); the body has no text object,
	// so Meta answers 100 "The parameter text is required". The other example
	// without `type`, "Send Text Message with Preview URL", is a text message.
	"Send Reply to List Message": "no type, so a text message, without text",
}

// RequestExamples returns the named request-body examples of an operation,
// e.g. ("/{Version}/{Phone-Number-ID}/messages", "post"), as JSON.
func (s *Spec) RequestExamples(path, method string) (map[string]json.RawMessage, error) {
	op, err := s.operation(path, method)
	if err != nil {
		return nil, err
	}
	return examplesOf(dig(op, "requestBody", "content", "application/json"))
}

// ResponseExamples returns the named examples of one response of an operation.
func (s *Spec) ResponseExamples(path, method, status string) (map[string]json.RawMessage, error) {
	op, err := s.operation(path, method)
	if err != nil {
		return nil, err
	}
	return examplesOf(dig(op, "responses", status, "content", "application/json"))
}

func (s *Spec) operation(path, method string) (map[string]any, error) {
	op, ok := dig(s.doc, "paths", path, strings.ToLower(method)).(map[string]any)
	if !ok {
		return nil, fmt.Errorf("spectest: no operation %s %s", method, path)
	}
	return op, nil
}

func examplesOf(media any) (map[string]json.RawMessage, error) {
	exs, ok := dig(media, "examples").(map[string]any)
	if !ok || len(exs) == 0 {
		return nil, fmt.Errorf("spectest: no examples")
	}
	out := make(map[string]json.RawMessage, len(exs))
	for name, ex := range exs {
		b, err := json.Marshal(dig(ex, "value"))
		if err != nil {
			return nil, err
		}
		out[name] = b
	}
	return out, nil
}

// Names returns the keys of m sorted, for deterministic test order.
func Names[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// dig walks nested maps by key; it returns nil when a step is missing.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}
