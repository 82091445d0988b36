package export_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox/authz"
	"github.com/switchboard-dev/switchboard/runtime/inbox/export"
	"github.com/switchboard-dev/switchboard/runtime/inbox/openapi/openapitest"
	"github.com/switchboard-dev/switchboard/runtime/store"
)

func open(t *testing.T) (*store.Store, *pgx.Conn) {
	t.Helper()
	dsn := srv.NewDatabase(t)
	st, err := store.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return st, conn
}

func exec(t *testing.T, conn *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := conn.Exec(t.Context(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// seed writes contacts, conversations and messages by SQL: in namespace ns, on Number
// number, conversations contacts with perConv messages each, one second apart from
// 2026-01-01T00:00:00Z; contacts' wa_ids start at base.
func seed(t *testing.T, conn *pgx.Conn, ns, number string, base int64, conversations, perConv int, tag string) {
	t.Helper()
	exec(t, conn, `INSERT INTO contacts (namespace, wa_id, profile_name, tags, attributes)
		SELECT $1, ($2::bigint + g)::text, 'Customer ' || g, ARRAY[$4, 'c' || (g % 2)], jsonb_build_object('n', g)
		  FROM generate_series(1, $3::int) g`, ns, base, conversations, tag)
	exec(t, conn, `INSERT INTO conversations (namespace, number, contact_id, tags, last_message_at)
		SELECT $1, $2, id, ARRAY['conv'], now() FROM contacts WHERE namespace = $1 AND wa_id::bigint > $3::bigint AND wa_id::bigint <= $3::bigint + $4::int`,
		ns, number, base, conversations)
	exec(t, conn, `INSERT INTO messages (namespace, conversation_id, direction, type, text, content, status, created_at, wamid)
		SELECT $1, v.id, 'in', 'text', 'hello "' || g || '", ok', jsonb_build_object('type', 'text', 'text', jsonb_build_object('body', 'hello ' || g)),
		       'received', timestamptz '2026-01-01T00:00:00Z' + g * interval '1 second', 'wamid.' || v.id || '.' || g
		  FROM conversations v, generate_series(1, $3::int) g WHERE v.namespace = $1 AND v.number = $2`, ns, number, perConv)
}

func write(t *testing.T, st *store.Store, req export.Request) (string, export.Stats) {
	t.Helper()
	var buf bytes.Buffer
	stats, err := export.Write(t.Context(), st, "test", req, &buf, nil)
	if err != nil {
		t.Fatal(err)
	}
	return buf.String(), stats
}

func TestFormatsParseBack(t *testing.T) {
	st, conn := open(t)
	seed(t, conn, "acme", "sales", 34600000000, 3, 4, "vip")
	seed(t, conn, "acme", "support", 34700000000, 2, 2, "basic")
	seed(t, conn, "globex", "sales", 34600000000, 5, 5, "vip")
	// A conversation without messages.
	exec(t, conn, `INSERT INTO contacts (namespace, wa_id) VALUES ('acme', '15550001111')`)
	exec(t, conn, `INSERT INTO conversations (namespace, number, contact_id) SELECT 'acme', 'sales', id FROM contacts WHERE wa_id = '15550001111'`)

	out, stats := write(t, st, export.Request{Namespace: "acme", Kind: export.Conversations, Format: export.JSONL})
	var lines []export.ConversationLine
	sc := bufio.NewScanner(strings.NewReader(out))
	msgs := 0
	for sc.Scan() {
		var l export.ConversationLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("line %d: %v\n%s", len(lines)+1, err, sc.Text())
		}
		lines = append(lines, l)
		msgs += len(l.Messages)
	}
	if len(lines) != 6 || msgs != 16 || stats.Conversations != 6 || stats.Rows != 17 {
		t.Fatalf("%d conversations, %d messages, stats %+v", len(lines), msgs, stats)
	}
	first := lines[0]
	if first.Number != "sales" || first.WAID != "34600000001" || len(first.Messages) != 4 ||
		*first.Messages[0].Text != `hello "1", ok` || !first.Messages[0].CreatedAt.Before(first.Messages[1].CreatedAt) {
		t.Errorf("first line %+v", first)
	}
	if last := lines[5]; len(last.Messages) != 0 || last.WAID != "15550001111" {
		t.Errorf("conversation without messages: %+v", last)
	}

	// Filters: a Number, a tag, a time range (messages 2 and 3 of each conversation).
	from, to := time.Date(2026, 1, 1, 0, 0, 2, 0, time.UTC), time.Date(2026, 1, 1, 0, 0, 4, 0, time.UTC)
	out, _ = write(t, st, export.Request{Namespace: "acme", Kind: export.Conversations, Format: export.CSV,
		Filter: export.Filter{Number: "sales", Tag: "vip", From: from, To: to}})
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1+3*2 || recs[0][0] != "conversation_id" || recs[1][1] != "sales" || recs[1][2] != "+34600000001" ||
		recs[1][15] != `hello "2", ok` || recs[1][21] != "2026-01-01T00:00:02Z" {
		t.Fatalf("csv: %q", recs)
	}
	var content map[string]any
	if err := json.Unmarshal([]byte(recs[1][16]), &content); err != nil || content["type"] != "text" {
		t.Errorf("content column %q: %v", recs[1][16], err)
	}

	out, _ = write(t, st, export.Request{Namespace: "acme", Kind: export.Contacts, Format: export.CSV, Filter: export.Filter{Tag: "basic"}})
	recs, err = csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(recs) != 3 || strings.Join(recs[0], ",") != "phone,name,tags,attributes,marketing_opt_out,created_at,updated_at" ||
		recs[1][0] != "+34700000001" || recs[1][2] != "basic;c1" || recs[1][3] != `{"n": 1}` {
		t.Fatalf("contacts: %q %v", recs, err)
	}
	out, _ = write(t, st, export.Request{Namespace: "acme", Kind: export.Contacts, Format: export.CSV, Filter: export.Filter{Number: "nobody"}})
	if strings.Count(out, "\n") != 1 {
		t.Errorf("no contact: %q", out)
	}

	// The audit log holds the exports written so far, each with its filter.
	out, stats = write(t, st, export.Request{Namespace: "acme", Kind: export.Audit, Format: export.JSONL})
	var audits []export.AuditLine
	for l := range strings.Lines(out) {
		var a export.AuditLine
		if err := json.Unmarshal([]byte(l), &a); err != nil {
			t.Fatal(err)
		}
		audits = append(audits, a)
	}
	if len(audits) != 5 || audits[1].Action != "export.conversations" || audits[4].Action != "export.audit" || audits[0].Actor != "test" ||
		!strings.Contains(string(audits[1].After), `"tag":"vip"`) || stats.Rows != 5 {
		t.Errorf("audit: %+v", audits)
	}
	for _, bad := range []export.Request{
		{Namespace: "acme", Kind: "messages", Format: export.JSONL},
		{Namespace: "acme", Kind: export.Contacts, Format: export.JSONL},
		{Namespace: "acme", Kind: export.Audit, Format: export.JSONL, Filter: export.Filter{Number: "sales"}},
		{Namespace: "acme", Kind: export.Audit, Format: export.JSONL, Filter: export.Filter{From: to, To: from}},
	} {
		var fe *export.FieldError
		if _, err := export.Write(t.Context(), st, "test", bad, io.Discard, nil); !errorsAs(err, &fe) {
			t.Errorf("%+v: want a field error, got %v", bad, err)
		}
	}
}

// peakHeap runs fn while sampling the heap in use every 2 ms, and returns the peak.
func peakHeap(fn func()) uint64 {
	runtime.GC()
	var peak uint64
	var mu sync.Mutex
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			mu.Lock()
			peak = max(peak, ms.HeapInuse)
			mu.Unlock()
			select {
			case <-done:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	})
	fn()
	close(done)
	wg.Wait()
	return peak
}

// countingDiscard counts bytes and lines, keeping none.
type countingDiscard struct{ bytes, lines int64 }

func (c *countingDiscard) Write(p []byte) (int, error) {
	c.bytes += int64(len(p))
	c.lines += int64(bytes.Count(p, []byte{'\n'}))
	return len(p), nil
}

// An export of 1,000,000 messages holds no more memory than one of 100,000: the peak
// heap of each is measured while it streams, and must stay under a bound that does not
// depend on the size.
func TestExportConstantMemory(t *testing.T) {
	st, conn := open(t)
	seed(t, conn, "acme", "small", 34600000000, 1_000, 100, "x") // 100,000 messages
	seed(t, conn, "acme", "big", 34700000000, 10_000, 100, "x")  // 1,000,000 messages
	exec(t, conn, `ANALYZE`)
	measure := func(number string, format export.Format) (uint64, export.Stats, *countingDiscard) {
		var stats export.Stats
		out := &countingDiscard{}
		peak := peakHeap(func() {
			var err error
			stats, err = export.Write(t.Context(), st, "test", export.Request{Namespace: "acme", Kind: export.Conversations,
				Format: format, Filter: export.Filter{Number: number}}, out, nil)
			if err != nil {
				t.Error(err)
			}
		})
		return peak, stats, out
	}
	// A first export allocates once what every later one reuses (about 20 MiB measured:
	// the connection's and the encoders' first use), whatever its size: warm up with one.
	measure("small", export.JSONL)
	const bound = 32 << 20 // bytes of heap in use, whatever the size
	for _, format := range []export.Format{export.JSONL, export.CSV} {
		smallPeak, small, _ := measure("small", format)
		bigPeak, big, out := measure("big", format)
		t.Logf("%s: 100,000 messages peak heap %.1f MiB; 1,000,000 messages peak heap %.1f MiB (%d MB written)",
			format, float64(smallPeak)/(1<<20), float64(bigPeak)/(1<<20), out.bytes/1e6)
		if small.Rows != 100_000 || big.Rows != 1_000_000 || big.Conversations != 10_000 {
			t.Fatalf("rows: %+v %+v", small, big)
		}
		if format == export.JSONL && out.lines != 10_000 || format == export.CSV && out.lines < 1_000_001 {
			t.Errorf("%s: %d lines", format, out.lines)
		}
		if bigPeak > bound || smallPeak > bound {
			t.Errorf("%s: peak heap %d (100k) and %d (1M) bytes; want both under %d", format, smallPeak, bigPeak, bound)
		}
		// Ten times the rows may not cost more than a few MiB more (GC pacing noise).
		if bigPeak > smallPeak+8<<20 {
			t.Errorf("%s: peak heap grows with the export: %d (100k) → %d (1M) bytes", format, smallPeak, bigPeak)
		}
	}
}

func TestAPIPermissionAndStreaming(t *testing.T) {
	st, conn := open(t)
	seed(t, conn, "acme", "sales", 34600000000, 3, 2, "vip")
	mux := http.NewServeMux()
	perms := map[string][]authz.Permission{"auditor": authz.Predefined()[authz.RoleAuditor], "agent": authz.Predefined()[authz.RoleAgent]}
	export.NewAPI(st, "acme", slog.New(slog.DiscardHandler)).Register(mux, authz.AuthenticatorFunc(func(r *http.Request) (*authz.Principal, error) {
		role := r.Header.Get("X-Role")
		if role == "" {
			return nil, nil
		}
		return authz.NewPrincipal("acme", "support", authz.KindAgent, "ana", role, perms[role]), nil
	}))
	ts := httptest.NewServer(mux)
	defer ts.Close()
	get := func(role, path string) (*http.Response, string) {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, ts.URL+path, nil)
		if role != "" {
			req.Header.Set("X-Role", role)
		}
		resp, err := openapitest.Client(t).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	if resp, body := get("agent", "/api/v1/export/conversations"); resp.StatusCode != 403 || !strings.Contains(body, `"permission":"export"`) {
		t.Errorf("agent: %d %s", resp.StatusCode, body)
	}
	if resp, _ := get("", "/api/v1/export/conversations"); resp.StatusCode != 401 {
		t.Errorf("anonymous: %d", resp.StatusCode)
	}
	resp, body := get("auditor", "/api/v1/export/conversations?format=csv&number=sales")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" || strings.Count(body, "\n") != 7 {
		t.Errorf("csv: %d %s %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	resp, body = get("auditor", "/api/v1/export/audit?from=yesterday")
	if resp.StatusCode != 400 || !strings.Contains(body, `"field":"from"`) {
		t.Errorf("bad from: %d %s", resp.StatusCode, body)
	}
	resp, body = get("auditor", "/api/v1/export/contacts?format=jsonl")
	if resp.StatusCode != 400 || !strings.Contains(body, `"field":"format"`) {
		t.Errorf("bad format: %d %s", resp.StatusCode, body)
	}
	var n int
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM audit_log WHERE actor = 'agent:ana' AND action = 'export.conversations'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("audited exports: %d %v", n, err)
	}
}

func errorsAs(err error, target any) bool { return errorsAsFn(err, target) }

// TestExportCarriesMedia: a message's archived file, inbound (downloaded) or outbound
// (sent by an agent), is exported with its archive id, direction, state, sha256, type
// and size, in JSONL and CSV; a message without a file has none.
func TestExportCarriesMedia(t *testing.T) {
	st, conn := open(t)
	seed(t, conn, "acme", "sales", 34600000000, 1, 3, "vip")
	sum := strings.Repeat("ab", 32)
	exec(t, conn, `INSERT INTO media (namespace, number, media_id, message_id, direction, state, object_key, sha256, size_bytes, mime_type)
		SELECT 'acme', 'sales', '111', min(id), 'in', 'stored', 'acme/sales/111', $1, 10, 'image/jpeg' FROM messages`, sum)
	exec(t, conn, `INSERT INTO media (namespace, number, media_id, message_id, direction, state, object_key, sha256, size_bytes, mime_type)
		SELECT 'acme', 'sales', '222', max(id), 'out', 'stored', 'acme/sales/out-1', $1, 20, 'application/pdf' FROM messages`, sum)

	out, _ := write(t, st, export.Request{Namespace: "acme", Kind: export.Conversations, Format: export.JSONL})
	var l export.ConversationLine
	if err := json.Unmarshal([]byte(out), &l); err != nil || len(l.Messages) != 3 {
		t.Fatalf("%v: %s", err, out)
	}
	in, none, sent := l.Messages[0].Media, l.Messages[1].Media, l.Messages[2].Media
	if in == nil || in.Direction != "in" || *in.SHA256 != sum || *in.Size != 10 || none != nil ||
		sent == nil || sent.Direction != "out" || sent.State != "stored" || *sent.MimeType != "application/pdf" || sent.ID <= in.ID {
		t.Fatalf("media: %+v %+v %+v", in, none, sent)
	}
	out, _ = write(t, st, export.Request{Namespace: "acme", Kind: export.Conversations, Format: export.CSV})
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(recs) != 4 {
		t.Fatalf("%v: %q", err, recs)
	}
	if got := strings.Join(recs[3][22:], ","); got != fmt.Sprintf("%d,out,stored,%s,application/pdf,20", sent.ID, sum) ||
		recs[0][22] != "media_archive_id" || recs[2][22] != "" {
		t.Errorf("csv media columns: %q / %q", recs[0][22:], recs[3][22:])
	}
}
