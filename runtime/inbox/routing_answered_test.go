package inbox_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox"
	"github.com/switchboard-dev/switchboard/runtime/inbox/auth"
	"github.com/switchboard-dev/switchboard/runtime/inbox/openapi/openapitest"
)

// TestRoutingReplyAcceptsAndOnlineHolds, end to end through Serve (the real router, the
// agents' API, the live events' presence): the routing assigns two conversations to
// ana; she replies in one, which is accepted at once and her misses reset; once
// assignWithin has passed (assigned_at moved back) only the other lapses. Then she opens
// and closes the page's event stream and, its delay passed, is marked away; choosing
// online through the API holds on the next plans; a stream that opens and closes after
// that marks her away again.
func TestRoutingReplyAcceptsAndOnlineHolds(t *testing.T) {
	dsn := srv.NewDatabase(t)
	snap := served(withRouting(t))
	snap.Access.InitialAdminPassword = "acme-admin-password"
	snap.Access.Teams = map[string][]string{"ana": {"iberia"}}
	s := startServer(t, dsn, snap, func(o *inbox.Options) { o.Inbox = "support" })
	admin, adminCSRF := session(t, s, "admin", "acme-admin-password")
	if code, body, _ := call(t, "POST", s.traffic+"/api/v1/agents", `{"login":"ana","role":"agent","password":"ana-password-123"}`,
		"Cookie", admin, auth.CSRFHeader, adminCSRF); code != 201 {
		t.Fatalf("create ana: %d %s", code, body)
	}
	ana, csrf := session(t, s, "ana", "ana-password-123")
	as := func(cookie, csrf, method, path, body string) (int, string) {
		t.Helper()
		code, out, _ := call(t, method, s.traffic+path, body, "Cookie", cookie, auth.CSRFHeader, csrf)
		return code, out
	}
	db, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close(context.Background()) }()
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := db.Exec(t.Context(), sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	scan := func(sql string, args []any, dest ...any) {
		t.Helper()
		if err := db.QueryRow(t.Context(), sql, args...).Scan(dest...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	var ids [2]int64
	for i := range ids {
		scan(`WITH c AS (INSERT INTO contacts (namespace, wa_id) VALUES ('acme', $1) RETURNING id),
			v AS (INSERT INTO conversations (namespace, number, contact_id, team, waiting_since, last_message_at, window_expires_at)
			      SELECT 'acme', 'sales-es', id, 'iberia', now(), now(), now() + interval '1 hour' FROM c RETURNING id),
			m AS (INSERT INTO messages (namespace, conversation_id, direction, wamid, type, text, content, status)
			      SELECT 'acme', id, 'in', 'wamid.ans' || $1, 'text', 'hola', '{}', 'received' FROM v)
			SELECT id FROM v`, []any{fmt.Sprintf("3460000020%d", i)}, &ids[i])
	}
	replied, ignored := ids[0], ids[1]
	online := func() {
		t.Helper()
		if code, body := as(ana, csrf, "PUT", "/api/v1/me/availability", `{"availability":"online"}`); code != 200 ||
			!strings.Contains(body, `"availability":"online"`) {
			t.Fatalf("ana chooses online: %d %s", code, body)
		}
	}
	online() // plans: both conversations go to ana
	state := func(id int64) (assignee string, accepted bool, misses int) {
		t.Helper()
		scan(`SELECT COALESCE(c.assignee, ''), c.accepted_at IS NOT NULL, COALESCE(a.misses, -1) FROM conversations c
			LEFT JOIN agent_availability a ON a.namespace = c.namespace AND a.login = 'ana' WHERE c.id = $1`, []any{id},
			&assignee, &accepted, &misses)
		return
	}
	for _, id := range ids {
		if a, ok, _ := state(id); a != "ana" || ok {
			t.Fatalf("conversation %d: assignee %q accepted %v, want ana, not accepted", id, a, ok)
		}
	}
	exec(`UPDATE agent_availability SET misses = 2 WHERE namespace = 'acme' AND login = 'ana'`)
	if code, body := as(ana, csrf, "POST", fmt.Sprintf("/api/v1/conversations/%d/messages", replied), `{"text":"Hola, soy Ana"}`); code != 201 {
		t.Fatalf("reply: %d %s", code, body)
	}
	if a, ok, misses := state(replied); a != "ana" || !ok || misses != 0 {
		t.Fatalf("after ana's reply: assignee %q accepted %v misses %d, want ana, accepted, 0", a, ok, misses)
	}
	exec(`UPDATE conversations SET assigned_at = now() - interval '1 hour' WHERE id = ANY($1)`, ids[:])
	if code, body := as(admin, adminCSRF, "PUT", "/api/v1/me/availability", `{"availability":"away"}`); code != 200 { // a plan
		t.Fatalf("admin away: %d %s", code, body)
	}
	var lapsed [2]int
	for i, id := range ids {
		scan(`SELECT count(*) FROM audit_log WHERE action = 'conversation.lapsed' AND object_id = $1`, []any{fmt.Sprint(id)}, &lapsed[i])
	}
	if lapsed != [2]int{0, 1} {
		t.Fatalf("lapses after assignWithin: replied %d, ignored %d; want 0, 1", lapsed[0], lapsed[1])
	}
	if _, _, misses := state(ignored); misses != 1 {
		t.Errorf("ana's misses after one lapse: %d, want 1", misses)
	}

	// The page's event stream opens and closes.
	page := func() {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.traffic+"/api/v1/events", nil)
		req.Header.Set("Cookie", ana)
		resp, err := openapitest.Client(t).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 {
			t.Fatalf("events: %s", resp.Status)
		}
		var n int
		for deadline := time.Now().Add(20 * time.Second); n == 0 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			scan(`SELECT connections FROM agent_availability WHERE namespace = 'acme' AND login = 'ana'`, nil, &n)
		}
		cancel()
		_ = resp.Body.Close()
		gone := false
		for deadline := time.Now().Add(20 * time.Second); !gone && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			scan(`SELECT gone_since IS NOT NULL FROM agent_availability WHERE namespace = 'acme' AND login = 'ana'`, nil, &gone)
		}
		if n != 1 || !gone {
			t.Fatalf("the stream's presence: %d connections while open, gone_since set after closing %v", n, gone)
		}
		// its away delay has passed
		exec(`UPDATE agent_availability SET gone_since = gone_since - interval '1 hour' WHERE namespace = 'acme' AND login = 'ana'`)
	}
	availability := func() string {
		t.Helper()
		if code, body := as(admin, adminCSRF, "PUT", "/api/v1/me/availability", `{"availability":"offline"}`); code != 200 { // a plan
			t.Fatalf("admin offline: %d %s", code, body)
		}
		var av, reason string
		scan(`SELECT availability, reason FROM agent_availability WHERE namespace = 'acme' AND login = 'ana'`, nil, &av, &reason)
		return av + " " + reason
	}
	page()
	if got := availability(); got != "away Disconnected" {
		t.Fatalf("after closing the page: %s, want away Disconnected", got)
	}
	online()
	if got := availability(); got != "online set" {
		t.Fatalf("ana chose online through the API, then: %s", got)
	}
	page()
	if got := availability(); got != "away Disconnected" {
		t.Fatalf("after a later page closed: %s, want away Disconnected", got)
	}
}
