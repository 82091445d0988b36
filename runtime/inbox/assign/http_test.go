package assign_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/inbox/assign"
	"github.com/switchboard-dev/switchboard/runtime/inbox/authz"
	"github.com/switchboard-dev/switchboard/runtime/inbox/openapi/openapitest"
	"github.com/switchboard-dev/switchboard/runtime/inbox/problem"
)

// serve registers the endpoints with an authenticator that maps "Bearer <login>" to
// the principals given.
func (r *rig) serve(principals ...*authz.Principal) *httptest.Server {
	byToken := map[string]*authz.Principal{}
	for _, p := range principals {
		byToken[p.Subject] = p
	}
	auth := authz.AuthenticatorFunc(func(req *http.Request) (*authz.Principal, error) {
		tok, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
		if !ok {
			return nil, nil
		}
		return byToken[tok], nil
	})
	mux := http.NewServeMux()
	assign.Register(mux, r.svc, auth, slog.New(slog.DiscardHandler))
	s := httptest.NewServer(mux)
	r.t.Cleanup(s.Close)
	return s
}

func call(t *testing.T, s *httptest.Server, method, path, who, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if who != "" {
		req.Header.Set("Authorization", "Bearer "+who)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := openapitest.Client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode >= 400 && resp.Header.Get("Content-Type") != problem.ContentType {
		t.Errorf("%s %s: error answered as %q, want %s", method, path, resp.Header.Get("Content-Type"), problem.ContentType)
	}
	return resp.StatusCode, out
}

func TestEndpoints(t *testing.T) {
	r := newRig(t, policy(v1alpha1.Skills, 1, 1, time.Hour), nil)
	auditor := authz.NewPrincipal(ns, "inbox", authz.KindToken, "reader", authz.RoleAuditor, authz.Predefined()[authz.RoleAuditor])
	s := r.serve(agent("ana", authz.RoleAgent, "iberia"), agent("diego", authz.RoleAgent, "billing"),
		agent("sofia", authz.RoleSupervisor), auditor)
	c := r.conv(wa(1), 0, "es")
	path := "/api/v1/conversations/" + id(c)

	for _, tc := range []struct {
		method, path, who, body string
		status                  int
		field, permission       string
	}{
		{"POST", path + "/assign", "", `{"agent":"ana"}`, 401, "", ""},
		{"POST", path + "/assign", "reader", `{"agent":"ana"}`, 403, "", "conversations.assign"},
		{"POST", path + "/resolve", "reader", ``, 403, "", "conversations.update"},
		{"PUT", "/api/v1/me/availability", "reader", `{"availability":"online"}`, 403, "", "availability.set"},
		{"POST", path + "/assign", "diego", `{"agent":"diego"}`, 404, "id", ""},
		{"POST", "/api/v1/conversations/x/assign", "ana", `{"agent":"ana"}`, 400, "id", ""},
		{"POST", path + "/assign", "ana", `{"agent":"ana","team":"iberia"}`, 400, "agent", ""},
		{"POST", path + "/assign", "ana", `{"agnt":"ana"}`, 400, "agnt", ""},
		{"PUT", "/api/v1/me/availability", "ana", `{"availability":"busy"}`, 422, "availability", ""},
	} {
		status, body := call(t, s, tc.method, tc.path, tc.who, tc.body)
		if status != tc.status || (tc.field != "" && body["field"] != tc.field) || (tc.permission != "" && body["permission"] != tc.permission) {
			t.Errorf("%s %s as %q %s: %d %v, want %d field %q permission %q", tc.method, tc.path, tc.who, tc.body, status, body,
				tc.status, tc.field, tc.permission)
		}
	}
	if n := r.audits(assign.KindAssigned, id(c)); n != 0 {
		t.Fatalf("refused calls wrote %d audit rows", n)
	}

	if status, body := call(t, s, "PUT", "/api/v1/me/availability", "ana", `{"availability":"online"}`); status != 200 || body["availability"] != "online" {
		t.Fatalf("ana goes online: %d %v", status, body)
	}
	if a := r.assignee(c); a != "ana" {
		t.Fatalf("ana came online; the es conversation went to %q", a)
	}
	if status, body := call(t, s, "POST", path+"/accept", "ana", ``); status != 200 || body["acceptedAt"] == nil {
		t.Fatalf("accept: %d %v", status, body)
	}
	if status, _ := call(t, s, "POST", path+"/transfer", "diego", `{"agent":"diego"}`); status != 404 {
		t.Fatalf("diego transfers iberia's conversation: %d, want 404", status)
	}
	if status, body := call(t, s, "POST", path+"/transfer", "sofia", `{"agent":"diego"}`); status != 200 || body["assignee"] != "diego" {
		t.Fatalf("the supervisor transfers to diego: %d %v", status, body)
	}
	if status, body := call(t, s, "POST", path+"/resolve", "diego", ``); status != 200 || body["status"] != "resolved" {
		t.Fatalf("diego (now the assignee) resolves: %d %v", status, body)
	}
	if status, body := call(t, s, "POST", path+"/resolve", "diego", ``); status != 409 {
		t.Fatalf("resolve twice: %d %v, want 409", status, body)
	}
	if status, body := call(t, s, "POST", path+"/reopen", "sofia", ``); status != 200 || body["status"] != "open" {
		t.Fatalf("reopen: %d %v", status, body)
	}
	status, body := call(t, s, "GET", "/api/v1/agents/availability", "reader", ``)
	items, _ := body["items"].([]any)
	if status != 200 || len(items) != 4 {
		t.Fatalf("agents: %d %v, want the 4 members of the policy's teams", status, body)
	}
	if first, _ := items[0].(map[string]any); first["login"] != "ana" || first["availability"] != "online" {
		t.Errorf("agents[0] = %v, want ana online", items[0])
	}
}

func TestEventsAreNotifiedWithTheirAuditRow(t *testing.T) {
	r := newRig(t, policy(v1alpha1.LeastLoaded, 0, 0, time.Hour), nil)
	conn, err := pgx.Connect(t.Context(), r.dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(t.Context()) })
	if _, err := conn.Exec(t.Context(), "LISTEN "+assign.Channel); err != nil {
		t.Fatal(err)
	}
	r.online("ana")
	c := r.conv(wa(1), 0, "")
	r.plan()
	seen := map[string]map[string]any{}
	for len(seen) < 2 || seen[assign.KindAssigned] == nil {
		n, err := conn.WaitForNotification(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var p map[string]any
		if err := json.Unmarshal([]byte(n.Payload), &p); err != nil {
			t.Fatalf("payload %q: %v", n.Payload, err)
		}
		seen[p["kind"].(string)] = p
	}
	av := seen[assign.KindAvailability]
	if av["agent"] != "ana" || av["availability"] != "online" || av["namespace"] != ns || av["id"] == nil {
		t.Errorf("availability event %v", av)
	}
	as := seen[assign.KindAssigned]
	if as["agent"] != "ana" || as["conversation_id"] != float64(c) || as["id"] == nil {
		t.Fatalf("assignment event %v", as)
	}
	var action string
	r.query(`SELECT action FROM audit_log WHERE id = $1`, []any{int64(as["id"].(float64))}, &action)
	if action != assign.KindAssigned {
		t.Errorf("the event's id names audit row of %q", action)
	}
}

func TestMetrics(t *testing.T) {
	r := newRig(t, policy(v1alpha1.Skills, 1, 1, time.Hour), nil)
	r.online("ana")
	r.conv(wa(1), 0, "")
	r.conv(wa(2), 0, "billing") // ana is full: waits, eligible for iberia and billing
	r.plan()
	got := map[string]float64{}
	mfs, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				key += "/" + l.GetValue()
			}
			switch {
			case m.GetHistogram() != nil:
				got[key] = float64(m.GetHistogram().GetSampleCount())
			case m.GetGauge() != nil:
				got[key] = m.GetGauge().GetValue()
			case m.GetCounter() != nil:
				got[key] = m.GetCounter().GetValue()
			}
		}
	}
	for key, want := range map[string]float64{
		"switchboard_inbox_assignment_seconds":          1,
		"switchboard_inbox_assignments_total/auto":      1,
		"switchboard_inbox_queue_conversations/iberia":  1,
		"switchboard_inbox_queue_conversations/billing": 1,
	} {
		if got[key] != want {
			t.Errorf("%s = %v, want %v (all: %v)", key, got[key], want, got)
		}
	}
}
