package agentapi_test

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/runtime/inbox/agentapi"
	"github.com/switchboard-dev/switchboard/runtime/inbox/conversation"
)

// TestEveryOperationChecksItsPermission calls each operation without credentials (401),
// with wrong ones (401), and as a role holding every permission but the one it requires
// (403 naming it); nothing is written.
func TestEveryOperationChecksItsPermission(t *testing.T) {
	r := newRig(t)
	id := r.seed(conv{waID: "34600000001", windowOpen: true, team: "sales"})
	api, err := agentapi.New(agentapi.Config{Store: nil, Namespace: ns, Log: slog.New(slog.DiscardHandler)})
	if err == nil || api != nil {
		t.Fatal("New accepted a config without a store")
	}
	ops := (&agentapi.API{}).Operations()
	if len(ops) < 12 {
		t.Fatalf("%d operations", len(ops))
	}
	bodies := map[string]any{"messages": map[string]string{"text": "hola"}, "notes": map[string]string{"text": "n"},
		"priority": map[string]int{"priority": 1}, "tags": map[string][]string{"add": {"x"}}, "attributes": map[string]int{"a": 1}}
	before := r.audits()
	for _, op := range ops {
		method, path, _ := strings.Cut(op.Pattern, " ")
		path = strings.ReplaceAll(path, "{id}", fmt.Sprint(id))
		var body any
		if method != "GET" {
			body = bodies[path[strings.LastIndex(path, "/")+1:]]
		}
		code, raw := r.do(r.url, "", method, path, body, nil)
		if code != 401 {
			t.Errorf("%s without credentials: %d %s", op.Pattern, code, raw)
		}
		if code, raw = r.do(r.url, "forged", method, path, body, nil); code != 401 {
			t.Errorf("%s with a wrong token: %d %s", op.Pattern, code, raw)
		}
		code, raw = r.do(r.url, "lacks:"+string(op.Permission), method, path, body, nil)
		if p := problemOf(t, raw); code != 403 || p["permission"] != string(op.Permission) {
			t.Errorf("%s lacking %s: %d %s", op.Pattern, op.Permission, code, raw)
		}
	}
	if n := r.audits(); n != before {
		t.Errorf("refused requests wrote %d audit entries", n-before)
	}
	// The static token is an auditor: it reads, it changes nothing.
	if code, raw := r.do(r.url, staticToken, "GET", "/api/v1/conversations", nil, nil); code != 200 {
		t.Errorf("static token: %d %s", code, raw)
	}
	if code, raw := r.do(r.url, staticToken, "POST", fmt.Sprintf("/api/v1/conversations/%d/notes", id), bodies["notes"], nil); code != 403 ||
		!strings.Contains(raw, "conversations.reply") {
		t.Errorf("static token writing a note: %d %s", code, raw)
	}
}

// TestListScopesAndFilters: an agent sees its teams' conversations only; another team's
// or another namespace's conversation is 404 by id; each filter selects what it says.
func TestListScopesAndFilters(t *testing.T) {
	r := newRig(t)
	t0 := time.Now().Add(-time.Hour)
	sales := r.seed(conv{waID: "34600000001", name: "Ana", team: "sales", at: t0})
	support := r.seed(conv{waID: "34600000002", team: "support", assignee: "sue", at: t0.Add(time.Minute)})
	resolved := r.seed(conv{waID: "34600000003", team: "sales", status: "resolved", assignee: "sam", at: t0.Add(2 * time.Minute)})
	untagged := r.seed(conv{waID: "34600000004", team: "sales", status: "pending", at: t0.Add(3 * time.Minute)})
	other := r.seed(conv{namespace: "globex", waID: "34600000001", team: "sales", at: t0.Add(4 * time.Minute)})
	if _, err := r.conn.Exec(t.Context(), `UPDATE conversations SET tags = '{vip}' WHERE id = $1`, sales); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		token, query string
		want         []int64
	}{
		{"admin", "", []int64{untagged, resolved, support, sales}},
		{"sales", "", []int64{untagged, resolved, sales}},
		{"admin", "?status=open", []int64{support, sales}},
		{"admin", "?assignee=sue", []int64{support}},
		{"admin", "?team=support", []int64{support}},
		{"sales", "?team=support", nil},
		{"admin", "?tag=vip", []int64{sales}},
		{"admin", "?q=aN", []int64{sales}},
		{"admin", "?q=%2B34+600+000+002", []int64{support}},
		{"admin", "?q=100%25", nil},
		{"admin", "?number=sales-es&unassigned=true", []int64{untagged, sales}},
		{"admin", "?unassigned=false", []int64{resolved, support}},
		{"admin", "?waiting=true", []int64{untagged, sales}},
		{"admin", "?waiting=false", []int64{resolved, support}},
		{"globex", "", nil},
	} {
		base := r.url
		if c.token == "globex" {
			base = r.globex
		}
		var page struct {
			Items []conversation.View `json:"items"`
		}
		if code, raw := r.do(base, c.token, "GET", "/api/v1/conversations"+c.query, nil, &page); code != 200 {
			t.Fatalf("%s %s: %d %s", c.token, c.query, code, raw)
		}
		var got []int64
		for _, v := range page.Items {
			got = append(got, v.ID)
		}
		if c.token == "globex" {
			if len(got) != 1 || got[0] != other {
				t.Errorf("globex sees %v, want only its own %d", got, other)
			}
			continue
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s %q: %v, want %v", c.token, c.query, got, c.want)
		}
	}
	// By id: another team's and another namespace's conversations do not exist.
	for _, c := range []struct {
		base, token string
		id          int64
		want        int
	}{
		{r.url, "sales", sales, 200}, {r.url, "sales", support, 404}, {r.url, "admin", other, 404},
		{r.globex, "globex", sales, 404}, {r.url, "admin", 999999, 404},
	} {
		for _, suffix := range []string{"", "/messages"} {
			code, raw := r.do(c.base, c.token, "GET", fmt.Sprintf("/api/v1/conversations/%d%s", c.id, suffix), nil, nil)
			if code != c.want {
				t.Errorf("%s GET %d%s: %d %s", c.token, c.id, suffix, code, raw)
			}
		}
		if c.want == 404 {
			code, _ := r.do(c.base, c.token, "POST", fmt.Sprintf("/api/v1/conversations/%d/notes", c.id), map[string]string{"text": "x"}, nil)
			if code != 404 {
				t.Errorf("%s note on %d: %d", c.token, c.id, code)
			}
		}
	}
	// Credentials of another Inbox are refused.
	if code, raw := r.do(r.url, "globex", "GET", "/api/v1/conversations", nil, nil); code != 401 {
		t.Errorf("globex's principal on acme's API: %d %s", code, raw)
	}
	// Bad parameters name the field.
	for q, field := range map[string]string{"?status=closed": "status", "?unassigned=maybe": "unassigned",
		"?waiting=2": "waiting", "?limit=0": "limit", "?cursor=!!!": "cursor", "?cursor=e30": "cursor"} {
		code, raw := r.do(r.url, "admin", "GET", "/api/v1/conversations"+q, nil, nil)
		if p := problemOf(t, raw); code != 400 || p["field"] != field {
			t.Errorf("%s: %d %s, want 400 naming %s", q, code, raw, field)
		}
	}
}

// TestDetail: the detail carries the contact, the messages with their statuses, the
// notes and whether the window is open.
func TestDetail(t *testing.T) {
	r := newRig(t)
	id := r.seed(conv{waID: "34600000001", name: "Ana", windowOpen: true, team: "sales"})
	r.do(r.url, "sales", "POST", fmt.Sprintf("/api/v1/conversations/%d/notes", id), map[string]string{"text": "llamar mañana"}, nil)
	var d agentapi.Detail
	if code, raw := r.do(r.url, "sales", "GET", fmt.Sprintf("/api/v1/conversations/%d", id), nil, &d); code != 200 {
		t.Fatalf("%d %s", code, raw)
	}
	if !d.WindowOpen || d.Contact.WAID != "34600000001" || d.Contact.ProfileName != "Ana" || len(d.Messages) != 1 ||
		d.Messages[0].Status != "received" || len(d.Notes) != 1 || d.Notes[0].Author != "agent:sam" || d.Notes[0].Text != "llamar mañana" {
		t.Fatalf("detail %+v", d)
	}
}
