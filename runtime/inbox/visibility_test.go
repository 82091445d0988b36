package inbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/inbox"
	"github.com/switchboard-dev/switchboard/runtime/inbox/auth"
	"github.com/switchboard-dev/switchboard/runtime/inbox/kube"
	"github.com/switchboard-dev/switchboard/runtime/inbox/routing"
	"github.com/switchboard-dev/switchboard/runtime/store"
)

// session logs login in and returns its Cookie header value and CSRF token.
func session(t *testing.T, s *server, login, password string) (cookie, csrf string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body, res := call(t, "POST", s.traffic+"/api/v1/login", fmt.Sprintf(`{"login":%q,"password":%q}`, login, password))
		if code == 200 {
			var v struct{ CSRFToken string }
			if err := json.Unmarshal([]byte(body), &v); err != nil || v.CSRFToken == "" {
				t.Fatalf("login %s: %s", login, body)
			}
			for _, c := range res.Cookies() {
				if c.Name == auth.SessionCookie {
					return c.Name + "=" + c.Value, v.CSRFToken
				}
			}
			t.Fatalf("no session cookie: %v", res.Cookies())
		}
		if time.Now().After(deadline) {
			t.Fatalf("login %s: %d %s", login, code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// withRouting is numA under a RoutingPolicy with teams iberia (ana, bruno) and billing
// (diego).
func withRouting(t *testing.T) kube.Number {
	t.Helper()
	spec := sbv1.RoutingPolicySpec{Strategy: sbv1.Skills, Teams: []sbv1.Team{
		{Name: "iberia", Skills: []string{"es"}, Members: []string{"ana", "bruno"}},
		{Name: "billing", Skills: []string{"billing"}, Members: []string{"diego"}}}}
	router, err := routing.New(routing.FromSpec(spec))
	if err != nil {
		t.Fatal(err)
	}
	n := numA
	n.Policy = kube.Policy{Routing: &kube.Routing{Name: "sales", Router: router}, Teams: spec.Teams}
	return n
}

// seedVisibility stores conversations of numA with an open window: one per (team,
// assignee) pair given ("" for NULL), and returns their ids in order.
func seedVisibility(t *testing.T, dsn string, convs ...[2]string) []int64 {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var ids []int64
	err = st.InTx(ctx, func(tx pgx.Tx) error {
		for i, c := range convs {
			var id int64
			err := tx.QueryRow(ctx, `
				WITH c AS (INSERT INTO contacts (namespace, wa_id) VALUES ('acme', $1) RETURNING id),
				v AS (INSERT INTO conversations (namespace, number, contact_id, team, assignee, assigned_at, accepted_at,
				                                 last_message_at, window_expires_at)
				      SELECT 'acme', 'sales-es', id, NULLIF($2, ''), NULLIF($3, ''), now(), now(), now(), now() + interval '1 hour' FROM c RETURNING id),
				m AS (INSERT INTO messages (namespace, conversation_id, direction, wamid, type, text, content, status)
				      SELECT 'acme', id, 'in', 'wamid.vis' || $1, 'text', 'hola', '{}', 'received' FROM v)
				SELECT id FROM v`, fmt.Sprintf("3460000010%d", i), c[0], c[1]).Scan(&id)
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// One visibility rule everywhere (authz.Scope): an agent sees, reads the messages of,
// replies to, notes, tags and resolves a conversation with no team that is assigned to
// her; once it is transferred away she gets 404 from every path again, and another
// team's unassigned conversation is 404 throughout.
func TestAssigneeSeesHerConversationWithoutTeam(t *testing.T) {
	dsn := srv.NewDatabase(t)
	snap := served(withRouting(t))
	snap.Access.InitialAdminPassword = "acme-admin-password"
	snap.Access.Teams = map[string][]string{"ana": {"iberia"}, "bruno": {"iberia"}, "diego": {"billing"}}
	s := startServer(t, dsn, snap, func(o *inbox.Options) { o.Inbox = "support" })
	admin, adminCSRF := session(t, s, "admin", "acme-admin-password")
	if code, body, _ := call(t, "POST", s.traffic+"/api/v1/agents", `{"login":"ana","role":"agent","password":"ana-password-123"}`,
		"Cookie", admin, auth.CSRFHeader, adminCSRF); code != 201 {
		t.Fatalf("create ana: %d %s", code, body)
	}
	ana, csrf := session(t, s, "ana", "ana-password-123")
	ids := seedVisibility(t, dsn, [2]string{"", "ana"}, [2]string{"billing", ""})
	mine, billing := ids[0], ids[1]

	as := func(method, path, body string) (int, string) {
		code, out, _ := call(t, method, s.traffic+path, body, "Cookie", ana, auth.CSRFHeader, csrf)
		return code, out
	}
	// paths an agent uses on a conversation, with the status when it is visible.
	paths := func(id int64) []struct {
		method, path, body string
		ok                 int
	} {
		c := fmt.Sprintf("/api/v1/conversations/%d", id)
		return []struct {
			method, path, body string
			ok                 int
		}{
			{"GET", c, "", 200},
			{"GET", c + "/messages", "", 200},
			{"POST", c + "/messages", `{"text":"Hola, soy Ana"}`, 201},
			{"POST", c + "/notes", `{"text":"VIP"}`, 201},
			{"PUT", c + "/tags", `{"tags":["vip"]}`, 200},
			{"PUT", c + "/priority", `{"priority":2}`, 200},
			{"POST", c + "/accept", "", 200},
			{"GET", c + "/crm", "", 200},
		}
	}
	for _, p := range paths(mine) {
		if code, body := as(p.method, p.path, p.body); code != p.ok {
			t.Errorf("ana %s %s on her conversation: %d %s, want %d", p.method, p.path, code, body, p.ok)
		}
	}
	if code, body := as("GET", "/api/v1/conversations", ""); code != 200 || !containsID(body, mine) || containsID(body, billing) {
		t.Errorf("ana's list: %d %s, want %d and not %d", code, body, mine, billing)
	}
	for _, p := range paths(billing) {
		if code, body := as(p.method, p.path, p.body); code != http.StatusNotFound {
			t.Errorf("ana %s %s on billing's unassigned conversation: %d %s, want 404", p.method, p.path, code, body)
		}
	}

	if code, body, _ := call(t, "POST", s.traffic+fmt.Sprintf("/api/v1/conversations/%d/transfer", mine), `{"team":"billing"}`,
		"Cookie", admin, auth.CSRFHeader, adminCSRF); code != 200 {
		t.Fatalf("transfer to billing: %d %s", code, body)
	}
	for _, p := range paths(mine) {
		if code, body := as(p.method, p.path, p.body); code != http.StatusNotFound {
			t.Errorf("ana %s %s after the transfer away: %d %s, want 404", p.method, p.path, code, body)
		}
	}
	if code, body := as("GET", "/api/v1/conversations", ""); code != 200 || containsID(body, mine) {
		t.Errorf("ana's list after the transfer: %d %s", code, body)
	}
}

// containsID reports whether a conversation list names id.
func containsID(body string, id int64) bool {
	var page struct{ Items []struct{ ID int64 } }
	_ = json.Unmarshal([]byte(body), &page)
	for _, it := range page.Items {
		if it.ID == id {
			return true
		}
	}
	return false
}
