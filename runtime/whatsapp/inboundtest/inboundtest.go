// Package inboundtest holds webhook bodies for tests of receivers: every webhook example
// in Meta's OpenAPI description (POST /whatsapp/webhooks) and CONTRACT.md, and, where
// Meta gives no example, bodies built from the field lists of Meta's webhook reference
// pages (media types, Flow replies, statuses with pricing, failed statuses, quality,
// account and capability updates, an unknown message type). Tests only.
package inboundtest

import (
	"embed"
	"encoding/json"
	"path"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/runtime/simulator/spectest"
)

//go:embed testdata/inbound/*.json
var files embed.FS

// Examples returns the bodies by name: "openapi/<example name>" for Meta's and
// "<file name without .json>" for the built ones. It fails t when the spec cannot be read.
func Examples(t testing.TB) map[string][]byte {
	t.Helper()
	ex, err := spectest.Meta(t).RequestExamples("/whatsapp/webhooks", "post")
	if err != nil {
		t.Fatalf("Meta's webhook examples: %v", err)
	}
	out := map[string][]byte{}
	for name, body := range ex {
		out["openapi/"+name] = body
	}
	entries, err := files.ReadDir("testdata/inbound")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := files.ReadFile(path.Join("testdata/inbound", e.Name()))
		if err != nil || !json.Valid(b) {
			t.Fatalf("fixture %s: %v (valid JSON: %t)", e.Name(), err, json.Valid(b))
		}
		out[strings.TrimSuffix(e.Name(), ".json")] = b
	}
	return out
}
