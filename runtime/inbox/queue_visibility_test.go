package inbox_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox"
	"github.com/switchboard-dev/switchboard/runtime/inbox/auth"
	"github.com/switchboard-dev/switchboard/runtime/store"
)

// seedWaiting stores a waiting conversation (no team, no assignee) of number in
// namespace ns, requiring skill, with one inbound message, and returns its id.
func seedWaiting(t *testing.T, dsn, ns, number, waID, skill string) int64 {
	t.Helper()
	var id int64
	inTx(t, dsn, func(ctx context.Context, tx pgx.Tx) error {
		return tx.QueryRow(ctx, `
			WITH c AS (INSERT INTO contacts (namespace, wa_id) VALUES ($1, $3) RETURNING id),
			v AS (INSERT INTO conversations (namespace, number, contact_id, required_skill, last_message_at, window_expires_at)
			      SELECT $1, $2, id, NULLIF($4, ''), now(), now() + interval '1 hour' FROM c RETURNING id),
			m AS (INSERT INTO messages (namespace, conversation_id, direction, wamid, type, text, content, status)
			      SELECT $1, id, 'in', 'wamid.q' || $3, 'text', 'hola', '{}', 'received' FROM v)
			SELECT id FROM v`, ns, number, waID, skill).Scan(&id)
	})
	return id
}

func inTx(t *testing.T, dsn string, fn func(context.Context, pgx.Tx) error) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.InTx(ctx, func(tx pgx.Tx) error { return fn(ctx, tx) }); err != nil {
		t.Fatal(err)
	}
}

// eligibleTeams reads conversation id's eligible_teams (nil for NULL).
func eligibleTeams(t *testing.T, dsn string, id int64) []string {
	t.Helper()
	var teams []string
	inTx(t, dsn, func(ctx context.Context, tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT eligible_teams FROM conversations WHERE id = $1`, id).Scan(&teams)
	})
	return teams
}

// A conversation waiting in the queue (no team yet) is visible to the agents of the
// teams that may take it (conversations.eligible_teams, written by the routing's plan):
// ana (iberia, skill es) finds the waiting Skills-es conversation in the unassigned list
// and on the page, opens it and assigns it to herself; diego (billing, no es) gets 404
// throughout; once it is ana's, bruno (iberia) gets 404 again, while a conversation of
// team iberia assigned to ana stays visible to him. readAll still sees everything, and
// another tenant's conversation eligible for iberia stays invisible.
func TestQueueVisibleToEligibleTeams(t *testing.T) {
	dsn := srv.NewDatabase(t)
	snap := served(withRouting(t))
	snap.Access.InitialAdminPassword = "acme-admin-password"
	snap.Access.Teams = map[string][]string{"ana": {"iberia"}, "bruno": {"iberia"}, "diego": {"billing"}}
	s := startServer(t, dsn, snap, func(o *inbox.Options) { o.Inbox = "support" })
	admin, adminCSRF := session(t, s, "admin", "acme-admin-password")
	for _, login := range []string{"ana", "bruno", "diego"} {
		if code, body, _ := call(t, "POST", s.traffic+"/api/v1/agents", fmt.Sprintf(`{"login":%q,"role":"agent","password":"%s-password-123"}`, login, login),
			"Cookie", admin, auth.CSRFHeader, adminCSRF); code != 201 {
			t.Fatalf("create %s: %d %s", login, code, body)
		}
	}
	type agent struct{ cookie, csrf string }
	agents := map[string]agent{}
	for _, login := range []string{"ana", "bruno", "diego"} {
		c, x := session(t, s, login, login+"-password-123")
		agents[login] = agent{c, x}
	}
	as := func(login, method, path, body string) (int, string) {
		t.Helper()
		a := agents[login]
		code, out, _ := call(t, method, s.traffic+path, body, "Cookie", a.cookie, auth.CSRFHeader, a.csrf)
		return code, out
	}

	es := seedWaiting(t, dsn, "acme", "sales-es", "34600000201", "es")
	other := seedWaiting(t, dsn, "globex", "sales-es", "34600000202", "es")
	inTx(t, dsn, func(ctx context.Context, tx pgx.Tx) error { // another tenant's, as if its plan had run
		_, err := tx.Exec(ctx, `UPDATE conversations SET eligible_teams = '{iberia}' WHERE id = $1`, other)
		return err
	})
	team := seedVisibility(t, dsn, [2]string{"iberia", "ana"})[0]

	// A plan runs with every operation; ana stays unavailable so that nobody is assigned.
	if code, body := as("ana", "PUT", "/api/v1/me/availability", `{"availability":"away"}`); code != 200 {
		t.Fatalf("ana away: %d %s", code, body)
	}
	if got := eligibleTeams(t, dsn, es); !slices.Equal(got, []string{"iberia"}) {
		t.Fatalf("eligible teams after the plan: %v, want [iberia]", got)
	}

	c := fmt.Sprintf("/api/v1/conversations/%d", es)
	if code, body := as("ana", "GET", "/api/v1/conversations?unassigned=true", ""); code != 200 || !containsID(body, es) || containsID(body, other) {
		t.Errorf("ana's unassigned list: %d %s, want %d and not %d", code, body, es, other)
	}
	if code, body := as("ana", "GET", c, ""); code != 200 || !strings.Contains(body, `"eligibleTeams":["iberia"]`) {
		t.Errorf("ana opens the waiting conversation: %d %s", code, body)
	}
	if code, body := as("ana", "GET", c+"/messages", ""); code != 200 || !strings.Contains(body, "hola") {
		t.Errorf("ana reads its messages: %d %s", code, body)
	}
	if code, body := as("ana", "GET", fmt.Sprintf("/api/v1/conversations/%d", other), ""); code != http.StatusNotFound {
		t.Errorf("ana opens another tenant's conversation: %d %s, want 404", code, body)
	}
	if code, body := as("ana", "GET", "/conversations?view=unassigned", ""); code != 200 || !strings.Contains(body, fmt.Sprintf(`href="/conversations/%d"`, es)) {
		t.Errorf("ana's unassigned page: %d, want a link to %d", code, es)
	}
	if code, body := as("ana", "GET", fmt.Sprintf("/conversations/%d", es), ""); code != 200 || !strings.Contains(body, `id="take"`) {
		t.Errorf("ana's conversation page: %d, want the take button", code)
	}
	for _, p := range []struct{ method, path, body string }{{"GET", c, ""}, {"GET", c + "/messages", ""},
		{"POST", c + "/assign", `{"agent":"diego"}`}, {"GET", "/api/v1/conversations?unassigned=true", ""}} {
		code, body := as("diego", p.method, p.path, p.body)
		if p.path == "/api/v1/conversations?unassigned=true" {
			if code != 200 || containsID(body, es) {
				t.Errorf("diego's unassigned list: %d %s, want no %d", code, body, es)
			}
		} else if code != http.StatusNotFound {
			t.Errorf("diego %s %s (billing has no es): %d %s, want 404", p.method, p.path, code, body)
		}
	}
	if code, body, _ := call(t, "GET", s.traffic+"/api/v1/conversations?unassigned=true", "", "Cookie", admin); code != 200 || !containsID(body, es) {
		t.Errorf("admin's (readAll) unassigned list: %d %s", code, body)
	}

	// ana takes it from the page: the assign operation, which agents hold
	// (conversations.assign).
	a := agents["ana"]
	if code, body, _ := call(t, "POST", s.traffic+fmt.Sprintf("/conversations/%d/take", es), "csrf="+a.csrf,
		"Cookie", a.cookie, "Content-Type", "application/x-www-form-urlencoded"); code != 200 {
		t.Fatalf("ana takes it: %d %s", code, body)
	}
	if code, body := as("ana", "GET", c, ""); code != 200 || !strings.Contains(body, `"assignee":"ana"`) || strings.Contains(body, "eligibleTeams") {
		t.Errorf("after ana took it: %d %s", code, body)
	}
	if got := eligibleTeams(t, dsn, es); got != nil {
		t.Errorf("eligible teams of an assigned conversation: %v, want NULL", got)
	}
	if code, body := as("bruno", "GET", c, ""); code != http.StatusNotFound {
		t.Errorf("bruno opens ana's conversation without a team: %d %s, want 404", code, body)
	}
	if code, body := as("bruno", "GET", fmt.Sprintf("/api/v1/conversations/%d", team), ""); code != 200 {
		t.Errorf("bruno opens iberia's conversation assigned to ana: %d %s, want 200", code, body)
	}
}
