package agentapi_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/runtime/inbox/conversation"
)

// TestPaginationStableUnderInserts: conversations added while a client pages through the
// list neither repeat nor push older ones out of the pages that follow.
func TestPaginationStableUnderInserts(t *testing.T) {
	r := newRig(t)
	t0 := time.Now().Add(-time.Hour)
	var want []int64
	for i := range 25 {
		// Pairs share a timestamp, so the id breaks ties.
		want = append([]int64{r.seed(conv{waID: fmt.Sprintf("3460000%04d", i), at: t0.Add(time.Duration(i/2) * time.Second)})}, want...)
	}
	var got []int64
	cursor := ""
	for page := 0; ; page++ {
		var p struct {
			Items      []conversation.View `json:"items"`
			NextCursor string              `json:"nextCursor"`
		}
		q := "?status=open&limit=10"
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		if code, raw := r.do(r.url, "admin", "GET", "/api/v1/conversations"+q, nil, &p); code != 200 {
			t.Fatalf("%d %s", code, raw)
		}
		for _, v := range p.Items {
			got = append(got, v.ID)
		}
		for i := range 3 { // newer conversations arrive between pages
			r.seed(conv{waID: fmt.Sprintf("3461%02d%04d", page, i)})
		}
		if cursor = p.NextCursor; cursor == "" {
			break
		}
		if page > 5 {
			t.Fatal("no last page")
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("pages gave %v, want %v", got, want)
	}
}

// TestChangesAudited: notes, priority, tags and attributes change what they say and
// each writes one audit entry with the actor; bad input names the field and changes
// nothing; the audit log is queried by actor, object and time.
func TestChangesAudited(t *testing.T) {
	r := newRig(t)
	id := r.seed(conv{waID: "34600000001", team: "sales"})
	path := func(s string) string { return fmt.Sprintf("/api/v1/conversations/%d/%s", id, s) }
	var v conversation.View
	if code, raw := r.do(r.url, "sales", "PUT", path("priority"), map[string]int{"priority": 7}, &v); code != 200 || v.Priority != 7 {
		t.Fatalf("priority: %d %s", code, raw)
	}
	if code, raw := r.do(r.url, "sales", "POST", path("tags"), map[string][]string{"add": {"vip", "es", "vip"}}, &v); code != 200 ||
		!slices.Equal(v.Tags, []string{"vip", "es"}) {
		t.Fatalf("tags: %d %s", code, raw)
	}
	if code, raw := r.do(r.url, "sales", "POST", path("tags"), map[string][]string{"remove": {"vip"}, "add": {"new"}}, &v); code != 200 ||
		!slices.Equal(v.Tags, []string{"es", "new"}) {
		t.Fatalf("tags: %d %s", code, raw)
	}
	if code, raw := r.do(r.url, "sales", "PUT", path("tags"), map[string][]string{"tags": {"es", "new", "es"}}, &v); code != 200 ||
		!slices.Equal(v.Tags, []string{"es", "new"}) {
		t.Fatalf("put tags: %d %s", code, raw)
	}
	if code, raw := r.do(r.url, "sales", "POST", path("notes"), map[string]string{"text": "nota interna"}, nil); code != 201 {
		t.Fatalf("note: %d %s", code, raw)
	}
	var outbox int
	_ = r.conn.QueryRow(t.Context(), `SELECT count(*) FROM outbox`).Scan(&outbox)
	if outbox != 0 {
		t.Errorf("a note reached the outbox")
	}
	contact := fmt.Sprintf("/api/v1/contacts/%d", v.ContactID)
	var c conversation.ContactView
	tags := make([]string, 30)
	for i := range tags {
		tags[i] = fmt.Sprintf("t%02d", i)
	}
	if code, raw := r.do(r.url, "sales", "POST", contact+"/tags", map[string][]string{"add": tags}, &c); code != 200 || len(c.Tags) != 30 {
		t.Fatalf("30 contact tags: %d %s", code, raw)
	}
	if code, raw := r.do(r.url, "sales", "PATCH", contact+"/attributes", map[string]any{"plan": "gold", "crm": map[string]int{"id": 7}}, &c); code != 200 {
		t.Fatalf("attributes: %d %s", code, raw)
	}
	if code, raw := r.do(r.url, "sales", "PATCH", contact+"/attributes", map[string]any{"plan": nil, "crm": map[string]int{"score": 3}}, &c); code != 200 ||
		string(c.Attributes) != `{"crm":{"id":7,"score":3}}` {
		t.Fatalf("merge patch: %d %s", code, raw)
	}
	if n := r.audits(); n != 8 {
		t.Errorf("%d audit entries, want 8", n)
	}
	before := r.audits()
	for _, c := range []struct {
		method, path string
		body         any
		field        string
	}{
		{"PUT", path("priority"), map[string]int{"priority": 11}, "priority"},
		{"PUT", path("priority"), map[string]string{"priority": "high"}, "priority"},
		{"PUT", path("priority"), map[string]int{}, "priority"},
		{"POST", path("tags"), map[string][]string{"add": {"ok", ""}}, "add[1]"},
		{"PUT", path("tags"), map[string][]string{"tags": {"ok", "a\tb"}}, "tags[1]"},
		{"PUT", path("tags"), map[string][]string{}, "tags"},
		{"POST", contact + "/tags", map[string][]string{"add": append(slices.Clone(tags), "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r", "s", "u", "v")}, "add"},
		{"POST", path("notes"), map[string]string{"text": "  "}, "text"},
		{"POST", path("notes"), map[string]string{"txt": "x"}, "txt"},
		{"PATCH", contact + "/attributes", []int{1}, "attributes"},
		{"POST", path("messages"), map[string]any{"text": "a", "template": map[string]string{"name": "x"}}, "text"},
		{"POST", path("messages"), map[string]any{"template": map[string]string{"name": "hello_world"}}, "template.language"},
	} {
		code, raw := r.do(r.url, "sales", c.method, c.path, c.body, nil)
		if p := problemOf(t, raw); code != 400 || p["field"] != c.field {
			t.Errorf("%s %s %v: %d %s, want 400 naming %s", c.method, c.path, c.body, code, raw, c.field)
		}
	}
	if n := r.audits(); n != before {
		t.Errorf("refused changes wrote %d audit entries", n-before)
	}
	// The audit log, by actor, object and time; newest first, paged.
	var page struct {
		Items      []conversation.AuditEntry `json:"items"`
		NextCursor string                    `json:"nextCursor"`
	}
	q := url.Values{"actor": {"agent:sam"}, "objectKind": {"conversation"}, "objectId": {fmt.Sprint(id)}, "limit": {"2"},
		"since": {time.Now().Add(-time.Minute).Format(time.RFC3339)}}
	if code, raw := r.do(r.url, "supervisor", "GET", "/api/v1/audit?"+q.Encode(), nil, &page); code != 200 || len(page.Items) != 2 ||
		page.Items[0].Action != "conversation.note" || page.NextCursor == "" {
		t.Fatalf("audit: %d %s", code, raw)
	}
	var all []string
	for cursor := ""; ; {
		q.Set("cursor", cursor)
		if cursor == "" {
			q.Del("cursor")
		}
		page.NextCursor = ""
		r.do(r.url, "supervisor", "GET", "/api/v1/audit?"+q.Encode(), nil, &page)
		for _, e := range page.Items {
			all = append(all, e.Action)
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	if want := []string{"conversation.note", "conversation.tags", "conversation.tags", "conversation.tags", "conversation.priority"}; !slices.Equal(all, want) {
		t.Errorf("audit actions %v, want %v", all, want)
	}
	var pr conversation.AuditEntry
	r.do(r.url, "supervisor", "GET", "/api/v1/audit?"+url.Values{"objectKind": {"conversation"}, "limit": {"1"}, "until": {time.Now().Add(time.Minute).Format(time.RFC3339)}}.Encode(), nil, &page)
	if len(page.Items) == 1 {
		pr = page.Items[0]
	}
	var after map[string]any
	_ = json.Unmarshal(pr.After, &after)
	if pr.Actor != "agent:sam" || after["note"] == nil {
		t.Errorf("latest conversation entry %+v", pr)
	}
	if code, raw := r.do(r.url, "supervisor", "GET", "/api/v1/audit?since=yesterday", nil, nil); code != 400 || problemOf(t, raw)["field"] != "since" {
		t.Errorf("since=yesterday: %d %s", code, raw)
	}
	// Contacts: by phone, name and tag.
	for query, want := range map[string]int{"phone=%2B34+600": 1, "phone=3499": 0, "tag=t05": 1, "tag=zz": 0, "name=": 1} {
		var cp struct {
			Items []conversation.ContactView `json:"items"`
		}
		if code, raw := r.do(r.url, "sales", "GET", "/api/v1/contacts?"+query, nil, &cp); code != 200 || len(cp.Items) != want {
			t.Errorf("contacts?%s: %d %s", query, code, raw)
		}
	}
}
