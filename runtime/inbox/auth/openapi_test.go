package auth_test

import (
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/switchboard-dev/switchboard/runtime/inbox/auth"
)

// Every operation of the OpenAPI fragment is a route of the Service, and the
// fragment's operations count the routes Register adds.
func TestOpenAPIFragmentMatchesRoutes(t *testing.T) {
	b, err := os.ReadFile("../openapi/auth.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil || len(doc.Paths) == 0 {
		t.Fatalf("the fragment: %v (%d paths)", err, len(doc.Paths))
	}
	if _, err := auth.New(auth.Config{Namespace: "acme", Inbox: "support"}); err == nil {
		t.Fatal("New accepted a config without a store")
	}
	mux := newRig(t, srv.NewDatabase(t), "acme", "support").mux
	ops := 0
	for path, methods := range doc.Paths {
		for method := range methods {
			ops++
			concrete := strings.NewReplacer("{login}", "ana", "{id}", "1").Replace(path)
			if _, pattern := mux.Handler(httptest.NewRequest(strings.ToUpper(method), concrete, nil)); pattern == "" {
				t.Errorf("%s %s is in the fragment but not served", strings.ToUpper(method), path)
			}
		}
	}
	if ops != 13 {
		t.Errorf("the fragment has %d operations; Register adds 13", ops)
	}
}
