package dev

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/switchboard-dev/switchboard/config/samples"
)

// TestRoutingWalkthroughNamesTheOperations: what make dev prints for an agent's day uses
// the routes the inbox serves, with the CSRF header on every change, and says how to go
// on outside business hours (a supervisor's manual assignment).
func TestRoutingWalkthroughNamesTheOperations(t *testing.T) {
	var b bytes.Buffer
	printRoutingWalkthrough(&b, "127.0.0.1:18080", "/state/inbox-token")
	out := b.String()
	for _, want := range []string{"/api/v1/login", "PUT -d '{\"availability\":\"online\"}' http://127.0.0.1:18080/api/v1/me/availability",
		"conversations?assignee=ana", `Bearer $(cat /state/inbox-token)" 'http://127.0.0.1:18080/api/v1/conversations?waiting=true'`,
		"/api/v1/conversations/ID/accept", "assignWithin (5m in the sample)", "/api/v1/conversations/ID/messages", "/api/v1/conversations/ID/resolve",
		"ana-dev-password", "after-hours", "Europe/Madrid", "sofia-dev-password", "-b /tmp/sb-sofia",
		`-d '{"agent":"ana"}' http://127.0.0.1:18080/api/v1/conversations/ID/assign`} {
		if !strings.Contains(out, want) {
			t.Errorf("the walkthrough lacks %q:\n%s", want, out)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "-d '") && !strings.Contains(line, "/api/v1/login") && !strings.Contains(line, "X-CSRF-Token: $CSRF") &&
			!strings.Contains(line, "-b /tmp/sb-sofia -H \"X-CSRF-Token: $SOFIA_CSRF\"") {
			t.Errorf("a change without its session's CSRF header: %s", line)
		}
	}
}

// TestSampleAssignWithinSuitsAPerson: the sample RoutingPolicies give a person typing the
// walkthrough minutes to accept (issue 9), and the walkthrough prints the sample's value.
func TestSampleAssignWithinSuitsAPerson(t *testing.T) {
	objs, err := samples.Read("../../config/samples")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	printRoutingWalkthrough(&b, "127.0.0.1:18080", "/state/inbox-token")
	policies := 0
	for _, o := range objs {
		if o.GetKind() != "RoutingPolicy" {
			continue
		}
		policies++
		s, _, _ := unstructured.NestedString(o.Object, "spec", "assignWithin")
		d, err := time.ParseDuration(s)
		if err != nil || d < time.Minute {
			t.Errorf("RoutingPolicy %s: assignWithin %q, want minutes", o.GetName(), s)
		}
		if o.GetName() == "sales" && !strings.Contains(b.String(), "assignWithin ("+s+" in the sample)") {
			t.Errorf("the walkthrough does not print sales' assignWithin %s:\n%s", s, b.String())
		}
		if o.GetName() == "sales" {
			expectSalesHours(t, o.Object, b.String())
		}
	}
	if policies == 0 {
		t.Fatal("no RoutingPolicy in the samples")
	}
}

// expectSalesHours: the walkthrough prints RoutingPolicy sales' business hours as the
// sample has them (time zone and every range).
func expectSalesHours(t *testing.T, policy map[string]any, out string) {
	t.Helper()
	tz, _, _ := unstructured.NestedString(policy, "spec", "businessHours", "timeZone")
	ranges, _, _ := unstructured.NestedSlice(policy, "spec", "businessHours", "weekly")
	if tz == "" || len(ranges) == 0 || !strings.Contains(out, tz+":") {
		t.Fatalf("sales' business hours %q %v are not printed:\n%s", tz, ranges, out)
	}
	for _, r := range ranges {
		m, _ := r.(map[string]any)
		span := fmt.Sprintf("%v–%v", m["from"], m["to"])
		if !strings.Contains(out, span) {
			t.Errorf("the walkthrough lacks sales' hours %s (%v):\n%s", span, m["days"], out)
		}
	}
}
