package httpapi_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/runtime/inbox/httpapi"
	"github.com/switchboard-dev/switchboard/runtime/inbox/problem"
)

func fieldOf(t *testing.T, err error) string {
	t.Helper()
	var p problem.Problem
	if !errors.As(err, &p) {
		t.Fatalf("%v is not a problem", err)
	}
	return p.Field
}

// TestDecode: bad bodies are 400 problems naming the member.
func TestDecode(t *testing.T) {
	type body struct {
		Text     string `json:"text"`
		Priority int    `json:"priority"`
	}
	cases := map[string]struct{ body, field string }{
		"type":    {`{"priority":"high"}`, "priority"},
		"unknown": {`{"txt":"hi"}`, "txt"},
		"empty":   {``, "body"},
		"syntax":  {`{"text":`, "body"},
		"two":     {`{} {}`, "body"},
	}
	for name, c := range cases {
		r := httptest.NewRequest("POST", "/", strings.NewReader(c.body))
		var b body
		if got := fieldOf(t, httpapi.Decode(r, &b)); got != c.field {
			t.Errorf("%s: field %q, want %q", name, got, c.field)
		}
	}
	r := httptest.NewRequest("POST", "/", strings.NewReader(`{"text":"hi","priority":2}`))
	var b body
	if err := httpapi.Decode(r, &b); err != nil || b.Text != "hi" || b.Priority != 2 {
		t.Fatalf("Decode = %v, %+v", err, b)
	}
}

type pos struct {
	ID int64 `json:"i"`
}

func (p *pos) Valid() bool { return p.ID > 0 }

// TestCursor: a cursor round-trips; a forged one is a 400 naming "cursor".
func TestCursor(t *testing.T) {
	rows := []pos{{5}, {4}, {3}}
	page := httpapi.NewPage(rows, 2, func(p pos) any { return p })
	if len(page.Items) != 2 || page.NextCursor == "" {
		t.Fatalf("page %+v", page)
	}
	var got pos
	r := httptest.NewRequest("GET", "/?cursor="+page.NextCursor, nil)
	if ok, err := httpapi.DecodeCursor(r, &got); !ok || err != nil || got.ID != 4 {
		t.Fatalf("DecodeCursor = %v, %v, %+v", ok, err, got)
	}
	for _, c := range []string{"not-a-cursor", httpapi.EncodeCursor(pos{}), httpapi.EncodeCursor(map[string]int{"x": 1})} {
		r = httptest.NewRequest("GET", "/?cursor="+c, nil)
		if _, err := httpapi.DecodeCursor(r, &got); fieldOf(t, err) != "cursor" {
			t.Errorf("cursor %s: %v", c, err)
		}
	}
	if last := httpapi.NewPage(rows, 3, func(p pos) any { return p }); last.NextCursor != "" {
		t.Errorf("the last page has a cursor")
	}
	if empty := httpapi.NewPage[pos](nil, 3, nil); empty.Items == nil {
		t.Error("an empty page's items are null")
	}
}

// TestLimitAndPathID: out-of-range values are 400 problems naming the parameter.
func TestLimitAndPathID(t *testing.T) {
	for _, q := range []string{"0", "501", "x"} {
		if _, err := httpapi.Limit(httptest.NewRequest("GET", "/?limit="+q, nil)); fieldOf(t, err) != "limit" {
			t.Errorf("limit=%s accepted", q)
		}
	}
	if n, err := httpapi.Limit(httptest.NewRequest("GET", "/", nil)); err != nil || n != httpapi.DefaultLimit {
		t.Errorf("default limit %d, %v", n, err)
	}
	mux := http.NewServeMux()
	var err error
	mux.HandleFunc("/c/{id}", func(_ http.ResponseWriter, r *http.Request) { _, err = httpapi.PathID(r, "id") })
	mux.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/c/-1", nil))
	if fieldOf(t, err) != "id" {
		t.Error(err)
	}
}
