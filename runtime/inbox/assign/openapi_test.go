package assign_test

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/switchboard-dev/switchboard/api/v1alpha1"
)

// TestOpenAPIFragmentNamesTheRegisteredRoutes: every operation of
// runtime/inbox/openapi/routing.yaml is served (401 without credentials), and its
// error answers are problem documents.
func TestOpenAPIFragmentNamesTheRegisteredRoutes(t *testing.T) {
	raw, err := os.ReadFile("../openapi/routing.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Paths) != 7 {
		t.Fatalf("%d paths, want the 7 routing paths", len(doc.Paths))
	}
	r := newRig(t, policy(v1alpha1.LeastLoaded, 0, 0, time.Hour), nil)
	s := r.serve()
	ops := 0
	for path, methods := range doc.Paths {
		for method := range methods {
			ops++
			status, _ := call(t, s, strings.ToUpper(method), strings.ReplaceAll(path, "{id}", "1"), "", `{}`)
			if status != http.StatusUnauthorized {
				t.Errorf("%s %s answered %d without credentials, want 401 (a registered, protected route)", method, path, status)
			}
		}
	}
	if ops != 7 {
		t.Errorf("%d operations in the fragment, want 7", ops)
	}
}
