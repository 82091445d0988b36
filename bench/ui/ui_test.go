package ui

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/switchboard-dev/switchboard/bench/internal/latency"
	"github.com/switchboard-dev/switchboard/runtime/inbox"
	"github.com/switchboard-dev/switchboard/runtime/inbox/kube"
	"github.com/switchboard-dev/switchboard/runtime/store"
	"github.com/switchboard-dev/switchboard/runtime/store/pgtest"
)

var (
	flagRequests = flag.Int("ui.requests", 1000, "first pages measured (each as page, api and sql)")
	flagWalks    = flag.Int("ui.walks", 100, "walks of the whole list measured (each as page, api and sql)")
)

var pg *pgtest.Server

// TestMain starts PostgreSQL only when benchmarks run (the package has no tests).
func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f == nil || f.Value.String() == "" {
		os.Exit(m.Run())
	}
	os.Exit(pgtest.Main(m, &pg))
}

const (
	ns            = "bench"
	conversations = 1000
	pageSz        = 50 // the page's own page size (runtime/inbox/ui listQuery)
	password      = "bench-admin-password"
)

// seedSQL stores 1,000 conversations of ns with a named contact, two tags and ten
// messages each.
var seedSQL = []string{
	`INSERT INTO contacts (namespace, wa_id, profile_name)
	 SELECT 'bench', (34600000000 + i)::text, 'Customer ' || i FROM generate_series(1, 1000) i`,
	`INSERT INTO conversations (namespace, number, contact_id, status, team, assignee, tags, window_expires_at,
	                            last_message_at, created_at, resolved_at)
	 SELECT c.namespace, 'sales', c.id, s.status, 'team-' || (c.id % 5), CASE WHEN c.id % 3 = 0 THEN 'agent-' || (c.id % 20) END,
	        ARRAY['tag-' || (c.id % 7), 'vip'], t.at + interval '24 hours', t.at, t.at - interval '1 hour',
	        CASE WHEN s.status = 'resolved' THEN t.at END
	   FROM contacts c,
	        LATERAL (SELECT now() - (hashint4(c.id::int) & 2147483647) % 2592000 * interval '1 second' AS at) t,
	        LATERAL (SELECT CASE WHEN c.id % 10 < 4 THEN 'open' WHEN c.id % 10 = 4 THEN 'pending' ELSE 'resolved' END AS status) s`,
	`INSERT INTO messages (namespace, conversation_id, direction, wamid, type, text, content, status, created_at)
	 SELECT v.namespace, v.id, 'in', 'wamid.' || v.id || '.' || k, 'text', '¿precio? ' || k,
	        '{"type":"text","text":{"body":"hola"}}', 'received', v.last_message_at - (10 - k) * interval '1 minute'
	   FROM conversations v, generate_series(1, 10) k`,
	`VACUUM ANALYZE`,
}

// listSQL is the statement conversation.List builds for a viewer with readAll and no
// filter, then with a cursor (a later page).
const listSQL = `SELECT v.id, v.number, v.contact_id, c.wa_id, COALESCE(c.profile_name, ''), v.status, v.priority, v.tags,
	v.assignee, v.team, v.required_skill, v.window_expires_at, v.last_message_at, v.created_at, v.resolved_at,
	COALESCE(v.last_message_at, v.created_at)
	FROM conversations v JOIN contacts c ON c.id = v.contact_id
	WHERE v.namespace = $1 %s ORDER BY COALESCE(v.last_message_at, v.created_at) DESC, v.id DESC LIMIT %d`

func BenchmarkConversationList(b *testing.B) {
	for range b.N {
		ctx := context.Background()
		dsn := pg.NewDatabase(b)
		st, err := store.Open(ctx, dsn) // applies the migrations
		if err != nil {
			b.Fatal(err)
		}
		st.Close()
		pool, err := pgxpool.New(ctx, dsn)
		if err != nil {
			b.Fatal(err)
		}
		for _, q := range seedSQL {
			if _, err := pool.Exec(ctx, q); err != nil {
				b.Fatalf("seed: %v", err)
			}
		}
		c := &client{base: serve(b, dsn)}
		c.signIn(b)

		first := measure(b, *flagRequests, c.timed(func() int { return c.page(b, "") }), c.timed(func() int { return c.api(b, "") }),
			wall(func() int { return bareSQL(b, pool, nil) }), pageSz)
		report(b, "first-page", first)
		walk := measure(b, *flagWalks, c.timed(func() int { return c.walk(b, c.page) }), c.timed(func() int { return c.walk(b, c.api) }),
			wall(func() int { return walkSQL(b, pool) }), conversations)
		report(b, "whole-list", walk)
		b.ReportMetric(0, "ns/op")
		pool.Close()
	}
}

// serve starts the real inbox on free loopback ports and returns its base URL.
func serve(b *testing.B, dsn string) string {
	snap := kube.NewSnapshot(ns, []kube.Number{{Ref: store.NumberRef{Namespace: ns, Name: "sales"}, PhoneNumberID: "106540352242922",
		WABAID: "102290129340398", DisplayDigits: "15550783881", AppSecret: "secret", VerifyToken: "verify"}})
	snap.Access.InitialAdminPassword = password
	tr, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	pr, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- inbox.Serve(ctx, inbox.Options{Namespace: ns, Inbox: "support", DSN: dsn, Snapshot: func() *kube.Snapshot { return snap },
			Traffic: tr, Probes: pr, InsecureLoopbackCookies: true, RequestTimeout: 10 * time.Second, MaxAutoRepliesPerHour: 5,
			Log: slog.New(slog.DiscardHandler)})
	}()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("Serve: %v", err)
		}
	})
	return "http://" + tr.Addr().String()
}

// client is the browser: the admin's session cookie. next is the last page's cursor to
// the next one; spent the time of its requests (sent to body read), so that the
// client's own parsing is not counted.
type client struct {
	base, cookie, next string
	spent              time.Duration
}

// signIn waits for the initial admin to exist (the inbox creates it) and signs in.
func (c *client) signIn(b *testing.B) {
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Post(c.base+"/api/v1/login", "application/json",
			strings.NewReader(fmt.Sprintf(`{"login":"admin","password":%q}`, password)))
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				var parts []string
				for _, ck := range resp.Cookies() {
					parts = append(parts, ck.Name+"="+ck.Value)
				}
				c.cookie = strings.Join(parts, "; ")
				return
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("the admin could not sign in: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (c *client) get(b *testing.B, path string) []byte {
	req, _ := http.NewRequest(http.MethodGet, c.base+path, nil)
	req.Header.Set("Cookie", c.cookie)
	t0 := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	c.spent += time.Since(t0)
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("GET %s: %d %.300s", path, resp.StatusCode, body)
	}
	return body
}

// rowRE is one conversation's row in the page; moreRE the "more" link.
var (
	rowRE  = regexp.MustCompile(`<tr class="row" data-id="\d+">`)
	moreRE = regexp.MustCompile(`href="(/conversations\?[^"]*cursor=[^"]*)"`)
)

// page loads /conversations?view=all, or the "more" link next when not "", returns the
// rows shown and leaves the page's own "more" link in c.next.
func (c *client) page(b *testing.B, next string) int {
	path := "/conversations?view=all"
	if next != "" {
		path = html.UnescapeString(next)
	}
	body := c.get(b, path)
	c.next = ""
	if m := moreRE.FindSubmatch(body); m != nil {
		c.next = string(m[1])
	}
	return len(rowRE.FindAll(body, -1))
}

// api asks the agents' API for the same rows the page shows.
func (c *client) api(b *testing.B, cursor string) int {
	q := url.Values{"scope": {"all"}, "limit": {fmt.Sprint(pageSz)}}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	var p struct {
		Items      []json.RawMessage `json:"items"`
		NextCursor string            `json:"nextCursor"`
	}
	if err := json.Unmarshal(c.get(b, "/api/v1/conversations?"+q.Encode()), &p); err != nil {
		b.Fatal(err)
	}
	c.next = p.NextCursor
	return len(p.Items)
}

// walk follows the list to its end and returns the rows seen.
func (c *client) walk(b *testing.B, load func(*testing.B, string) int) int {
	n := load(b, "")
	for c.next != "" {
		n += load(b, c.next)
	}
	return n
}

// bareSQL runs the list's statement for a page (after the position, when not nil) and
// returns the rows of the page and the last one's position.
func bareSQL(b *testing.B, pool *pgxpool.Pool, after *position) int {
	n, _ := sqlPage(b, pool, after)
	return n
}

type position struct {
	At time.Time
	ID int64
}

func sqlPage(b *testing.B, pool *pgxpool.Pool, after *position) (int, *position) {
	where, args := "", []any{ns}
	if after != nil {
		where, args = "AND (COALESCE(v.last_message_at, v.created_at), v.id) < ($2, $3)", append(args, after.At, after.ID)
	}
	rows, err := pool.Query(context.Background(), fmt.Sprintf(listSQL, where, pageSz+1), args...)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	n, last := 0, &position{}
	for rows.Next() {
		n++
		if n <= pageSz {
			vals, err := rows.Values()
			if err != nil {
				b.Fatal(err)
			}
			last.ID, last.At = vals[0].(int64), vals[15].(time.Time)
		}
	}
	if rows.Err() != nil {
		b.Fatal(rows.Err())
	}
	if n <= pageSz {
		return n, nil
	}
	return pageSz, last
}

func walkSQL(b *testing.B, pool *pgxpool.Pool) int {
	total, n, after := 0, 0, (*position)(nil)
	for {
		n, after = sqlPage(b, pool, after)
		total += n
		if after == nil {
			return total
		}
	}
}

// latencies are one measurement's durations, of the page, the API and the bare SQL.
type latencies struct{ page, api, sql []time.Duration }

// timed makes f report the time of its HTTP requests, sent to body read.
func (c *client) timed(f func() int) func() (int, time.Duration) {
	return func() (int, time.Duration) {
		c.spent = 0
		n := f()
		return n, c.spent
	}
}

// wall makes f report the time it takes.
func wall(f func() int) func() (int, time.Duration) {
	return func() (int, time.Duration) {
		t0 := time.Now()
		n := f()
		return n, time.Since(t0)
	}
}

// measure times n rounds of page, api and sql (after ten of each to warm up), each
// round checking that every one returned want rows.
func measure(b *testing.B, n int, page, api, sql func() (int, time.Duration), want int) latencies {
	var l latencies
	for i := range 10 + n {
		for _, m := range []struct {
			name string
			f    func() (int, time.Duration)
			into *[]time.Duration
		}{{"page", page, &l.page}, {"api", api, &l.api}, {"sql", sql, &l.sql}} {
			got, d := m.f()
			if got != want {
				b.Fatalf("%s: %d rows, want %d", m.name, got, want)
			}
			if i >= 10 {
				*m.into = append(*m.into, d)
			}
		}
	}
	return l
}

func report(b *testing.B, kind string, l latencies) {
	p99 := func(d []time.Duration) time.Duration { return latency.Pct(d, 0.99) }
	b.ReportMetric(latency.Ms(p99(l.page)), kind+"-page-p99-ms")
	b.ReportMetric(p99(l.page).Seconds()/p99(l.api).Seconds(), kind+"-page/api")
	b.ReportMetric(p99(l.page).Seconds()/p99(l.sql).Seconds(), kind+"-page/sql")
	b.Logf("%s: page p50 %.2f ms, p99 %.2f ms; api p50 %.2f ms, p99 %.2f ms; bare sql p50 %.2f ms, p99 %.2f ms; page÷api at p99 %.1f, page÷sql %.1f",
		kind, latency.Ms(latency.Pct(l.page, 0.5)), latency.Ms(p99(l.page)), latency.Ms(latency.Pct(l.api, 0.5)), latency.Ms(p99(l.api)),
		latency.Ms(latency.Pct(l.sql, 0.5)), latency.Ms(p99(l.sql)), p99(l.page).Seconds()/p99(l.api).Seconds(), p99(l.page).Seconds()/p99(l.sql).Seconds())
}
