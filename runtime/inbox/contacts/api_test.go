package contacts_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox/authz"
	"github.com/switchboard-dev/switchboard/runtime/inbox/contacts"
	"github.com/switchboard-dev/switchboard/runtime/inbox/openapi/openapitest"
	"github.com/switchboard-dev/switchboard/runtime/store"
)

// server serves the contacts API of namespace acme; the X-Role header picks the
// caller's predefined role (none: anonymous).
func server(t *testing.T, st *store.Store) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	contacts.NewAPI(st, "acme", slog.New(slog.NewTextHandler(tWriter{t}, nil))).Register(mux, authz.AuthenticatorFunc(func(r *http.Request) (*authz.Principal, error) {
		role := r.Header.Get("X-Role")
		if role == "" {
			return nil, nil
		}
		return authz.NewPrincipal("acme", "support", authz.KindAgent, "ana", role, authz.Predefined()[role]), nil
	}))
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return ts
}

func call(t *testing.T, ts *httptest.Server, role, method, path, body string, header ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), method, ts.URL+path, strings.NewReader(body))
	if role != "" {
		req.Header.Set("X-Role", role)
	}
	if body != "" { // the import reads the format from ?format=; a client names it too
		switch {
		case strings.Contains(path, "format=csv"):
			req.Header.Set("Content-Type", "text/csv")
		case strings.Contains(path, "format=jsonl"):
			req.Header.Set("Content-Type", "application/x-ndjson")
		default:
			req.Header.Set("Content-Type", "application/json")
		}
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := openapitest.Client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAPIImport(t *testing.T) {
	st, conn := openStore(t)
	ts := server(t, st)
	if code, body := call(t, ts, "agent", "POST", "/api/v1/contacts/import?format=csv", badCSV); code != 403 ||
		!strings.Contains(body, `"permission":"contacts.import"`) {
		t.Errorf("agent: %d %s", code, body)
	}
	if code, _ := call(t, ts, "", "POST", "/api/v1/contacts/import?format=csv", badCSV); code != 401 {
		t.Errorf("anonymous: %d", code)
	}
	code, body := call(t, ts, "supervisor", "POST", "/api/v1/contacts/import", badCSV, "Content-Type", "text/csv")
	var res contacts.Result
	if err := json.Unmarshal([]byte(body), &res); code != 200 || err != nil || res.Inserted != 2 || len(res.Errors) != 6 || res.Errors[0].Line != 4 {
		t.Fatalf("import: %d %s", code, body)
	}
	if code, body := call(t, ts, "supervisor", "POST", "/api/v1/contacts/import?format=xml", ""); code != 400 || !strings.Contains(body, `"field":"format"`) {
		t.Errorf("bad format: %d %s", code, body)
	}
	if code, body := call(t, ts, "supervisor", "POST", "/api/v1/contacts/import?format=csv", "tel,name\n"); code != 400 || !strings.Contains(body, `"field":"header"`) {
		t.Errorf("bad header: %d %s", code, body)
	}

	// NDJSON progress, while the body streams in (12,000 rows: three read batches).
	var b strings.Builder
	b.WriteString("phone,tags\n")
	for i := range 12_000 {
		fmt.Fprintf(&b, "+1 650 %07d,bulk\n", 3000000+i)
	}
	code, body = call(t, ts, "admin", "POST", "/api/v1/contacts/import?format=csv", b.String(), "Accept", "application/x-ndjson")
	sc := bufio.NewScanner(strings.NewReader(body))
	var phases []string
	var final contacts.Result
	for sc.Scan() {
		var line struct {
			Progress *contacts.Progress `json:"progress"`
			Result   *contacts.Result   `json:"result"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatal(err)
		}
		switch {
		case line.Progress != nil:
			phases = append(phases, fmt.Sprintf("%s:%d", line.Progress.Phase, line.Progress.Rows))
		case line.Result != nil:
			final = *line.Result
		}
	}
	if code != 200 || final.Inserted != 12_000 || !slices.Contains(phases, "read:10000") || phases[len(phases)-1] != "write:12000" {
		t.Errorf("ndjson: %d %v %+v", code, phases, final)
	}
	var actors []string
	rows, _ := conn.Query(t.Context(), `SELECT actor FROM audit_log WHERE action = 'contacts.import' ORDER BY id`)
	if actors, _ = pgx.CollectRows(rows, pgx.RowTo[string]); strings.Join(actors, ",") != "agent:ana,agent:ana" {
		t.Errorf("audit actors %v", actors)
	}
}

// A segment's count against a count by hand over random contacts.
func TestSegmentCountAndCRUD(t *testing.T) {
	st, conn := openStore(t)
	ts := server(t, st)
	rng := rand.New(rand.NewPCG(1, 2))
	allTags := []string{"vip", "es", "mx", "churned", "promo"}
	tiers := []string{"gold", "silver", "bronze"}
	type contact struct {
		tags []string
		tier string
	}
	var all []contact
	var jsonl strings.Builder
	for i := range 2000 {
		var c contact
		for _, tag := range allTags {
			if rng.IntN(3) == 0 {
				c.tags = append(c.tags, tag)
			}
		}
		c.tier = tiers[rng.IntN(3)]
		all = append(all, c)
		line, _ := json.Marshal(map[string]any{"phone": fmt.Sprintf("+34 6%08d", i), "tags": c.tags, "attributes": map[string]any{"tier": c.tier}})
		jsonl.Write(append(line, '\n'))
	}
	if code, body := call(t, ts, "admin", "POST", "/api/v1/contacts/import?format=jsonl", jsonl.String()); code != 200 {
		t.Fatalf("import: %d %s", code, body)
	}
	// Another tenant's contacts never count.
	if _, err := contacts.Import(t.Context(), st, contacts.ImportRequest{Namespace: "globex", Actor: "t", Format: contacts.FormatJSONL,
		Body: strings.NewReader(jsonl.String())}); err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, c := range all {
		has := func(t string) bool { return slices.Contains(c.tags, t) }
		if has("vip") && (has("es") || has("mx")) && !has("churned") && c.tier == "gold" {
			want++
		}
	}
	filter := `{"tags":{"allOf":["vip"],"anyOf":["es","mx"],"noneOf":["churned"]},"attributes":{"tier":"gold"}}`
	code, body := call(t, ts, "auditor", "POST", "/api/v1/segments/preview", `{"filter":`+filter+`}`)
	if code != 200 || body != fmt.Sprintf("{\"count\":%d}\n", want) || want == 0 {
		t.Fatalf("preview: %d %s, want %d", code, body, want)
	}
	if code, body := call(t, ts, "auditor", "POST", "/api/v1/segments", `{"name":"gold-vip","filter":`+filter+`}`); code != 403 ||
		!strings.Contains(body, "campaigns.manage") {
		t.Errorf("auditor create: %d %s", code, body)
	}
	if code, body := call(t, ts, "supervisor", "POST", "/api/v1/segments", `{"name":"gold-vip","description":"x","filter":`+filter+`}`); code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	if code, _ := call(t, ts, "supervisor", "POST", "/api/v1/segments", `{"name":"gold-vip","filter":{}}`); code != 409 {
		t.Errorf("duplicate: %d", code)
	}
	for _, tc := range []struct{ body, field string }{
		{`{"name":"Gold VIP","filter":{}}`, "name"},
		{`{"name":"x","filter":{"tags":{"allOf":["a;b"]}}}`, "filter.tags.allOf[0]"},
		{`{"name":"x","filter":{"attributes":{"tier":["gold"]}}}`, "filter.attributes.tier"},
		{`{"name":"x","filter":{"colour":"red"}}`, "filter"},
		{`{"name":"x"}`, "filter"},
	} {
		if code, body := call(t, ts, "admin", "POST", "/api/v1/segments", tc.body); code != 400 || !strings.Contains(body, `"field":"`+tc.field+`"`) {
			t.Errorf("%s: %d %s", tc.body, code, body)
		}
	}
	code, _ = call(t, ts, "agent", "GET", "/api/v1/segments/gold-vip", "")
	if code != 403 {
		t.Errorf("agent read: %d", code)
	}
	code, body = call(t, ts, "auditor", "GET", "/api/v1/segments/gold-vip", "")
	var got struct {
		contacts.Segment
		Count int64 `json:"count"`
	}
	if err := json.Unmarshal([]byte(body), &got); code != 200 || err != nil || got.Count != int64(want) || got.CreatedBy != "agent:ana" {
		t.Fatalf("get: %d %s", code, body)
	}

	// Each streams the same contacts, in id order, across several batches.
	var streamed []int64
	err := st.ReadTx(t.Context(), func(tx pgx.Tx) error {
		return contacts.Each(t.Context(), tx, "acme", contacts.Filter{Tags: contacts.TagFilter{NoneOf: []string{"churned"}}}, func(c contacts.Contact) error {
			streamed = append(streamed, c.ID)
			return nil
		})
	})
	wantNone := 0
	for _, c := range all {
		if !slices.Contains(c.tags, "churned") {
			wantNone++
		}
	}
	if err != nil || len(streamed) != wantNone || !slices.IsSorted(streamed) || wantNone <= contacts.EachBatch {
		t.Errorf("each: %d contacts (want %d), sorted %v, %v", len(streamed), wantNone, slices.IsSorted(streamed), err)
	}

	if code, body := call(t, ts, "supervisor", "PUT", "/api/v1/segments/gold-vip", `{"filter":{"tags":{"allOf":["vip"]}}}`); code != 200 {
		t.Errorf("update: %d %s", code, body)
	}
	if code, body := call(t, ts, "auditor", "GET", "/api/v1/segments", ""); code != 200 || !strings.Contains(body, `"allOf":["vip"]}`) {
		t.Errorf("list: %d %s", code, body)
	}
	if code, _ := call(t, ts, "supervisor", "DELETE", "/api/v1/segments/gold-vip", ""); code != 204 {
		t.Errorf("delete: %d", code)
	}
	if code, _ := call(t, ts, "supervisor", "DELETE", "/api/v1/segments/gold-vip", ""); code != 404 {
		t.Errorf("delete again: %d", code)
	}
	var actions []string
	rows, _ := conn.Query(t.Context(), `SELECT action FROM audit_log WHERE object_kind = 'segment' ORDER BY id`)
	if actions, _ = pgx.CollectRows(rows, pgx.RowTo[string]); strings.Join(actions, ",") != "segment.create,segment.update,segment.delete" {
		t.Errorf("audit %v", actions)
	}
}

// The import reads its body as a stream: the first progress line comes back while the
// client has not finished sending (it waits for that line before sending the rest).
func TestAPIImportStreamsWhileSending(t *testing.T) {
	st, _ := openStore(t)
	ts := server(t, st)
	pr, pw := io.Pipe()
	proceed := make(chan struct{})
	go func() {
		_, _ = io.WriteString(pw, "phone\n")
		for i := range 6000 {
			if i == 5000 {
				<-proceed
			}
			_, _ = fmt.Fprintf(pw, "+1 650 %07d\n", 4000000+i)
		}
		_ = pw.Close()
	}()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, ts.URL+"/api/v1/contacts/import?format=csv", pr)
	req.Header.Set("X-Role", "admin")
	req.Header.Set("Accept", "application/x-ndjson")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		close(proceed)
		t.Fatalf("no answer before the body was sent whole: %v", err)
	}
	defer func() { _ = resp.Body.Close() }()
	sc := bufio.NewScanner(resp.Body)
	if !sc.Scan() || sc.Text() != `{"progress":{"phase":"read","rows":5000}}` {
		t.Fatalf("first line %q", sc.Text())
	}
	close(proceed)
	var last string
	for sc.Scan() {
		last = sc.Text()
	}
	if !strings.Contains(last, `"inserted":6000`) {
		t.Errorf("last line %q", last)
	}
}

// tWriter writes the API's log to the test's.
type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
