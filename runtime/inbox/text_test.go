package inbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox"
	"github.com/switchboard-dev/switchboard/runtime/inbox/auth"
	"github.com/switchboard-dev/switchboard/runtime/inbox/problem"
	"github.com/switchboard-dev/switchboard/runtime/simulator"
)

// adminServer serves numA with one conversation (id) and returns the admin's session.
func adminServer(t *testing.T) (s *server, dsn, cookie, csrf string, id int64) {
	t.Helper()
	dsn = srv.NewDatabase(t)
	snap := served(numA)
	snap.Access.InitialAdminPassword = "acme-admin-password"
	s = startServer(t, dsn, snap, func(o *inbox.Options) { o.Inbox = "support" })
	cookie, csrf = session(t, s, "admin", "acme-admin-password")
	return s, dsn, cookie, csrf, seedVisibility(t, dsn, [2]string{"", ""})[0]
}

// stored counts the rows an API call may write.
func stored(t *testing.T, dsn string) string {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	var out []string
	for _, table := range []string{"audit_log", "messages", "conversation_notes", "contacts", "agents", "segments", "campaigns", "api_tokens"} {
		var n int
		if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM `+table).Scan(&n); err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		out = append(out, fmt.Sprintf("%s=%d", table, n))
	}
	var attrs string
	if err := conn.QueryRow(context.Background(), `SELECT COALESCE(string_agg(attributes::text || array_to_string(tags, ','), ';'), '') FROM contacts`).Scan(&attrs); err != nil {
		t.Fatal(err)
	}
	return strings.Join(out, " ") + " " + attrs
}

// A NUL character (%00 in a query or a path, \u0000 in a JSON body) or bytes that are
// not UTF-8 answer 400 naming the field, on every kind of endpoint, and store nothing;
// PostgreSQL never sees them (it refuses them, which answered 503 before).
func TestTextPostgreSQLCannotStoreIs400(t *testing.T) {
	s, dsn, admin, csrf, id := adminServer(t)
	var contact int64
	getJSONAs := func(path string, v any) {
		code, body, _ := call(t, "GET", s.traffic+path, "", "Cookie", admin)
		if code != 200 || json.Unmarshal([]byte(body), v) != nil {
			t.Fatalf("GET %s: %d %s", path, code, body)
		}
	}
	var conv struct{ ContactID int64 }
	getJSONAs(fmt.Sprintf("/api/v1/conversations/%d", id), &conv)
	contact = conv.ContactID
	c := fmt.Sprintf("/api/v1/conversations/%d", id)
	before := stored(t, dsn)

	for _, tc := range []struct {
		name, method, path, body, field string
	}{
		{"list filter (query)", "GET", "/api/v1/conversations?q=ana%00", "", "q"},
		{"list tag (query)", "GET", "/api/v1/conversations?tag=%FF", "", "tag"},
		{"contacts search (query)", "GET", "/api/v1/contacts?q=%00", "", "q"},
		{"audit actor (query)", "GET", "/api/v1/audit?actor=agent:%00", "", "actor"},
		{"report number (query)", "GET", "/api/v1/reports/conversations?number=sales%00", "", "number"},
		{"export (query)", "GET", "/api/v1/export/conversations?number=%00", "", "number"},
		{"agent login (path)", "PATCH", "/api/v1/agents/an%00a", `{"displayName":"Ana"}`, "login"},
		{"segment name (path)", "GET", "/api/v1/segments/vip%00", "", "name"},
		{"reply (JSON)", "POST", c + "/messages", `{"text":"hola\u0000"}`, "text"},
		{"note (JSON)", "POST", c + "/notes", `{"text":"\u0000"}`, "text"},
		{"tags (JSON)", "PUT", c + "/tags", `{"tags":["vip","a\u0000"]}`, "tags[1]"},
		{"attributes (JSON)", "PATCH", fmt.Sprintf("/api/v1/contacts/%d/attributes", contact), `{"note":"a\u0000"}`, "note"},
		{"contact tags (JSON)", "POST", fmt.Sprintf("/api/v1/contacts/%d/tags", contact), `{"add":["\u0000"]}`, "add[0]"},
		{"create agent (JSON)", "POST", "/api/v1/agents", `{"login":"eva","role":"agent","password":"eva-password-123","displayName":"E\u0000"}`, "displayName"},
		{"token (JSON)", "POST", "/api/v1/tokens", `{"name":"ci\u0000","role":"auditor"}`, "name"},
		{"login (JSON)", "POST", "/api/v1/login", `{"login":"ad\u0000min","password":"x"}`, "login"},
		{"segment (JSON)", "POST", "/api/v1/segments", `{"name":"vip","filter":{"tag":"\u0000"}}`, "filter.tag"},
		{"campaign (JSON)", "POST", "/api/v1/campaigns", `{"name":"c\u0000","number":"sales-es","template":"hello_world","language":"en_US"}`, "name"},
		{"transfer (JSON)", "POST", c + "/assign", `{"agent":"an\u0000a"}`, "agent"},
		{"body not UTF-8", "POST", c + "/notes", "{\"text\":\"\xff\"}", "body"},
	} {
		code, body, res := call(t, tc.method, s.traffic+tc.path, tc.body, "Cookie", admin, auth.CSRFHeader, csrf)
		var p problem.Problem
		_ = json.Unmarshal([]byte(body), &p)
		if code != http.StatusBadRequest || p.Field != tc.field || res.Header.Get("Content-Type") != problem.ContentType {
			t.Errorf("%s: %d %s, want 400 naming %q", tc.name, code, body, tc.field)
		}
	}
	if after := stored(t, dsn); after != before {
		t.Errorf("refused requests stored something:\n before %s\n after  %s", before, after)
	}

	// A contacts import refuses the row, naming the column, and imports the others.
	code, body, _ := call(t, "POST", s.traffic+"/api/v1/contacts/import?format=csv",
		"phone,name\n+34611111111,a\x00b\n+34611111112,Bea\n+34611111113,\xff\n", "Cookie", admin, auth.CSRFHeader, csrf, "Content-Type", "text/csv")
	var res struct {
		Rejected int
		Errors   []struct {
			Line  int
			Field string
		}
	}
	if err := json.Unmarshal([]byte(body), &res); code != 200 || err != nil || res.Rejected != 2 || len(res.Errors) != 2 ||
		res.Errors[0].Line != 2 || res.Errors[0].Field != "name" || res.Errors[1].Line != 4 {
		t.Errorf("import: %d %s", code, body)
	}
	var list struct{ Items []struct{ WAID string } }
	getJSONAs("/api/v1/contacts?limit=100", &list)
	got := map[string]bool{}
	for _, it := range list.Items {
		got[it.WAID] = true
	}
	if !got["34611111112"] || got["34611111111"] || got["34611111113"] {
		t.Errorf("imported contacts: %+v", list.Items)
	}
}

// The web pages answer such text with a translated HTML page naming the field in words
// (a conversation's form: its page with the problem inline and the draft kept), never
// with the API's problem document, and store nothing (docs/ui.md).
func TestPageRefusesTextPostgreSQLCannotStore(t *testing.T) {
	s, dsn, admin, _, id := adminServer(t)
	before := stored(t, dsn)
	for _, tc := range []struct {
		name, method, path, body, lang, want string
	}{
		{"the list's search", "GET", "/conversations?q=%00", "", "", "Phone or name holds a character the inbox cannot store"},
		{"the list's search (es)", "GET", "/conversations?q=%00", "", "es", "Teléfono o nombre contiene un carácter"},
		{"a note", "POST", fmt.Sprintf("/conversations/%d/note", id), "text=a%00b", "", "The text holds a character"},
		{"a reply (pt)", "POST", fmt.Sprintf("/conversations/%d/reply", id), "text=a%FFb", "pt", "O texto contém um caractere"},
		{"a conversation's path", "GET", "/conversations/1%00", "", "", "The conversation&#39;s number holds a character"},
	} {
		header := []string{"Cookie", admin, "Accept-Language", tc.lang}
		if tc.method == "POST" {
			header = append(header, "Content-Type", "application/x-www-form-urlencoded")
		}
		code, body, res := callUnchecked(t, tc.method, s.traffic+tc.path, tc.body, header...)
		if code != http.StatusBadRequest || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %s\n%.3000s", tc.name, code, res.Header.Get("Content-Type"), body)
		}
		if tc.method == "POST" && !strings.Contains(body, "a\uFFFDb</textarea>") {
			t.Errorf("%s: the draft is not kept", tc.name)
		}
	}
	if after := stored(t, dsn); after != before {
		t.Errorf("refused requests stored something:\n before %s\n after  %s", before, after)
	}
}

// A body over an operation's limit is 413 Content Too Large, a problem naming the limit,
// on the agents' API (20 MB to a 1 MiB operation) and the others.
func TestBodyOverTheLimitIs413(t *testing.T) {
	s, dsn, admin, csrf, id := adminServer(t)
	before := stored(t, dsn)
	for _, tc := range []struct {
		name, method, path string
		size               int
		limit              int64
	}{
		{"a note, 20 MB", "POST", fmt.Sprintf("/api/v1/conversations/%d/notes", id), 20 << 20, 1 << 20},
		{"an assignment", "POST", fmt.Sprintf("/api/v1/conversations/%d/assign", id), 8 << 10, 4 << 10},
		{"a login", "POST", "/api/v1/login", 128 << 10, 64 << 10},
		{"a segment", "POST", "/api/v1/segments", 2 << 20, 1 << 20},
	} {
		body := `{"text":"` + strings.Repeat("x", tc.size) + `"}`
		code, out, res := call(t, tc.method, s.traffic+tc.path, body, "Cookie", admin, auth.CSRFHeader, csrf)
		var p struct {
			Status int
			Field  string
			Detail string
			Limit  int64
		}
		_ = json.Unmarshal([]byte(out), &p)
		if code != http.StatusRequestEntityTooLarge || res.Header.Get("Content-Type") != problem.ContentType ||
			p.Limit != tc.limit || p.Field != "body" || !strings.Contains(p.Detail, fmt.Sprint(tc.limit)) {
			t.Errorf("%s: %d %.300s, want 413 naming the limit %d", tc.name, code, out, tc.limit)
		}
	}
	if after := stored(t, dsn); after != before {
		t.Errorf("refused requests stored something:\n before %s\n after  %s", before, after)
	}
}

// A customer's message holding a NUL character is stored, with U+FFFD in its place
// (docs/inbox.md), and acknowledged: a 503 would make Meta retry it for days.
func TestWebhookWithNULIsStored(t *testing.T) {
	s := startServer(t, srv.NewDatabase(t), served(numA))
	waitStatus(t, s.probes+"/readyz", 200)
	sim := newSimulator(t, s)
	if _, err := sim.Inject(numA.PhoneNumberID, simulator.Inbound{From: "34600000009", Name: "N\x00o", Text: "hola\x00adiós"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := sim.WaitIdle(ctx); err != nil || sim.Counters().Webhooks.Delivered != 1 {
		t.Fatalf("webhooks: %+v (%v)", sim.Counters().Webhooks, err)
	}
	var convs struct {
		Items []struct {
			ID          int64
			ProfileName string
		}
	}
	getJSON(t, s.traffic+"/api/v1/conversations", &convs)
	if len(convs.Items) != 1 || convs.Items[0].ProfileName != "N\uFFFDo" {
		t.Fatalf("conversations: %+v", convs)
	}
	var msgs struct{ Items []struct{ Text string } }
	getJSON(t, fmt.Sprintf("%s/api/v1/conversations/%d/messages", s.traffic, convs.Items[0].ID), &msgs)
	if len(msgs.Items) != 1 || msgs.Items[0].Text != "hola\uFFFDadiós" {
		t.Fatalf("messages: %+v", msgs.Items)
	}
}
