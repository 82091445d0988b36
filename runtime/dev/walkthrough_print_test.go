package dev

import (
	"bytes"
	"strings"
	"testing"
)

// TestRoutingWalkthroughNamesTheOperations: what make dev prints for an agent's day uses
// the routes the inbox serves, with the CSRF header on every change.
func TestRoutingWalkthroughNamesTheOperations(t *testing.T) {
	var b bytes.Buffer
	printRoutingWalkthrough(&b, "127.0.0.1:18080")
	out := b.String()
	for _, want := range []string{"/api/v1/login", "PUT -d '{\"availability\":\"online\"}' http://127.0.0.1:18080/api/v1/me/availability",
		"conversations?assignee=ana", "conversations?waiting=true", "/api/v1/conversations/ID/messages", "/api/v1/conversations/ID/resolve",
		"ana-dev-password"} {
		if !strings.Contains(out, want) {
			t.Errorf("the walkthrough lacks %q:\n%s", want, out)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "-d '") && !strings.Contains(line, "/api/v1/login") && !strings.Contains(line, "X-CSRF-Token: $CSRF") {
			t.Errorf("a change without the CSRF header: %s", line)
		}
	}
}
