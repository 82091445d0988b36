package ui

import (
	"encoding/json"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"testing"
	"time"
)

// TestListRows: the list's cells as the page shows them, from the API's JSON — the contact's name, else its
// number; the number beside a name; the waiting time only while nobody is assigned,
// from waitingSince when the API gives it, else from the conversation's creation.
func TestListRows(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	var items []listItem
	if err := json.Unmarshal([]byte(`[
		{"id": 7, "waId": "34600000001", "profileName": "Ana", "number": "sales", "status": "open", "tags": ["vip"],
		 "createdAt": "2026-12-01T09:58:00Z", "lastMessageAt": "2026-12-01T09:59:00Z"},
		{"id": 8, "waId": "34600000002", "number": "sales", "status": "open", "assignee": "sam", "team": "ventas",
		 "createdAt": "2026-11-30T08:00:00Z", "lastMessageAt": "2026-11-30T08:00:00Z"},
		{"id": 9, "waId": "34600000003", "number": "sales", "status": "pending",
		 "createdAt": "2026-12-01T08:00:00Z", "waitingSince": "2026-12-01T09:59:30Z"}]`), &items); err != nil {
		t.Fatal(err)
	}
	got := listRows(items, now)
	want := []listRow{
		{ID: "7", Name: "Ana", WAID: "34600000001", Number: "sales", Status: "open", Last: "09:59", Waiting: "2m 00s"},
		{ID: "8", Name: "34600000002", Number: "sales", Status: "open", Assignee: "sam", Team: "ventas", Last: "2026-11-30 08:00"},
		{ID: "9", Name: "34600000003", Number: "sales", Status: "pending", Waiting: "30s"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("row %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

// TestListKeepsFilters: the list's live refresh and its "more" link ask for the same
// view and filters the page shows (the filters' "=" is not escaped into a parameter's
// name, which would lose them).
func TestListKeepsFilters(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/me", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"login":"ana","role":"agent","permissions":["conversations.read"]}`))
	})
	mux.HandleFunc("GET /api/v1/conversations", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"items":[{"id":7,"number":"sales","waId":"34600000001","status":"open",
			"createdAt":"2026-11-30T09:58:00Z"}],"nextCursor":"eyJpIjo3fQ"}`))
	})
	u, err := New(Config{API: mux})
	if err != nil {
		t.Fatal(err)
	}
	pages := http.NewServeMux()
	u.Register(pages)
	rec := httptest.NewRecorder()
	pages.ServeHTTP(rec, httptest.NewRequest("GET", "/conversations?view=unassigned&status=open&q=ana", nil))
	body := rec.Body.String()
	for _, c := range []struct {
		attr string
		want url.Values
	}{
		{"hx-get", url.Values{"view": {"unassigned"}, "status": {"open"}, "q": {"ana"}, "fragment": {"rows"}}},
		{"data-live", url.Values{"view": {"unassigned"}, "status": {"open"}, "q": {"ana"}, "fragment": {"rows"}}},
		{"href", url.Values{"view": {"unassigned"}, "status": {"open"}, "q": {"ana"}, "cursor": {"eyJpIjo3fQ"}}},
	} {
		m := regexp.MustCompile(` ` + c.attr + `="(/conversations\?[^"]*)"`).FindStringSubmatch(body)
		if m == nil {
			t.Errorf("no %s to the list in the page:\n%s", c.attr, body)
			continue
		}
		got, err := url.Parse(html.UnescapeString(m[1]))
		if err != nil {
			t.Fatal(err)
		}
		if got.Query().Encode() != c.want.Encode() {
			t.Errorf("%s asks for %s, want /conversations?%s", c.attr, m[1], c.want.Encode())
		}
	}
}
