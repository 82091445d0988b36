package agentapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/switchboard-dev/switchboard/bench/internal/latency"
	"github.com/switchboard-dev/switchboard/runtime/inbox/agentapi"
	"github.com/switchboard-dev/switchboard/runtime/inbox/authz"
	"github.com/switchboard-dev/switchboard/runtime/store"
	"github.com/switchboard-dev/switchboard/runtime/store/pgtest"
)

var (
	flagRequests      = flag.Int("agentapi.requests", 1000, "requests per page kind")
	flagConversations = flag.Int("agentapi.conversations", 100_000, "conversations stored (ten messages each)")
	flagExplain       = flag.Bool("agentapi.explain", false, "log each page kind's query plan (EXPLAIN ANALYZE)")
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
	ns     = "bench"
	token  = "bench-token"
	pageSz = 50
)

// seedSQL stores $1 conversations of ns with ten messages each, and a tenth as many of
// another namespace.
var seedSQL = []string{
	`INSERT INTO contacts (namespace, wa_id, profile_name)
	 SELECT CASE WHEN i % 11 = 0 THEN 'other' ELSE 'bench' END, (34600000000 + i)::text, 'Customer ' || i
	   FROM generate_series(1, $1::int * 11 / 10) i`,
	`INSERT INTO conversations (namespace, number, contact_id, status, team, assignee, window_expires_at,
	                            last_message_at, created_at, resolved_at, eligible_teams)
	 SELECT c.namespace, 'sales', c.id, s.status, CASE WHEN NOT q.waiting THEN 'team-' || (c.id % 5) END,
	        CASE WHEN c.id % 3 = 0 THEN 'agent-' || (c.id % 200) END,
	        t.at + interval '24 hours', t.at, t.at - interval '1 hour', CASE WHEN s.status = 'resolved' THEN t.at END,
	        CASE WHEN q.waiting THEN ARRAY['team-' || (c.id % 5), 'team-' || ((c.id + 2) % 5)] END
	   FROM contacts c,
	        LATERAL (SELECT now() - (hashint4(c.id::int) & 2147483647) % 2592000 * interval '1 second' AS at) t,
	        LATERAL (SELECT CASE WHEN c.id % 10 < 4 THEN 'open' WHEN c.id % 10 = 4 THEN 'pending' ELSE 'resolved' END AS status) s,
	        LATERAL (SELECT s.status <> 'resolved' AND c.id % 3 <> 0 AND c.id % 2 = 0 AS waiting) q`,
	`INSERT INTO messages (namespace, conversation_id, direction, wamid, type, text, content, status, created_at)
	 SELECT v.namespace, v.id, 'in', 'wamid.' || v.id || '.' || k, 'text', 'hola ' || k,
	        '{"type":"text","text":{"body":"hola"}}', 'received', v.last_message_at - (10 - k) * interval '1 minute'
	   FROM conversations v, generate_series(1, 10) k`,
	`VACUUM ANALYZE`,
}

// listSQL is the statement conversation.List builds for status=open (readAll), then
// with an agent's scope (without readAll: authz.Scope.SQL), the agent's unassigned
// list, or a cursor (a later page).
const listSQL = `SELECT v.id, v.number, v.contact_id, c.wa_id, COALESCE(c.profile_name, ''), v.status, v.priority, v.tags,
	v.assignee, v.team, v.required_skill, CASE WHEN v.assignee IS NULL THEN v.eligible_teams END, v.window_expires_at, v.last_message_at, v.created_at, v.resolved_at,
	COALESCE(v.last_message_at, v.created_at)
	FROM conversations v JOIN contacts c ON c.id = v.contact_id
	WHERE v.namespace = $1 AND v.status = $2 %s ORDER BY COALESCE(v.last_message_at, v.created_at) DESC, v.id DESC LIMIT $3`

// agentScope is authz.Scope.SQL of an agent of one team ($4: its teams, $5: its login).
const agentScope = "(v.team = ANY($4) OR v.assignee IS NULL AND v.eligible_teams && $4 OR v.assignee = $5)"

// sqlOf returns the bare statement and arguments of a page kind; after is the fifth
// page's position.
func sqlOf(kind string, after position) (string, []any) {
	args := []any{ns, "open", pageSz + 1}
	switch kind {
	case "team":
		return fmt.Sprintf(listSQL, "AND "+agentScope), append(args, []string{"team-1"}, "agent-1")
	case "queue":
		return fmt.Sprintf(listSQL, "AND "+agentScope+" AND v.assignee IS NULL"), append(args, []string{"team-1"}, "agent-1")
	case "fifth":
		return fmt.Sprintf(listSQL, "AND (COALESCE(v.last_message_at, v.created_at), v.id) < ($4, $5)"), append(args, after.At, after.ID)
	}
	return fmt.Sprintf(listSQL, ""), args
}

// position is what the API's cursor holds (runtime/inbox/conversation.Position).
type position struct {
	At time.Time `json:"a"`
	ID int64     `json:"i"`
}

func BenchmarkListOpenConversations(b *testing.B) {
	for range b.N {
		ctx := context.Background()
		dsn := pg.NewDatabase(b)
		st, err := store.Open(ctx, dsn)
		if err != nil {
			b.Fatal(err)
		}
		pool, err := pgxpool.New(ctx, dsn)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		for _, q := range seedSQL {
			var args []any
			if q != `VACUUM ANALYZE` && !slices.Contains([]string{seedSQL[1], seedSQL[2]}, q) {
				args = []any{*flagConversations}
			}
			if _, err := pool.Exec(ctx, q, args...); err != nil {
				b.Fatalf("seed: %v", err)
			}
		}
		var convs, msgs int
		_ = pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM conversations WHERE namespace = $1),
			(SELECT count(*) FROM messages WHERE namespace = $1)`, ns).Scan(&convs, &msgs)
		b.Logf("seeded %d conversations and %d messages of %s in %s", convs, msgs, ns, time.Since(start).Round(time.Second))
		base := serve(b, st)
		for _, kind := range []string{"first", "fifth", "team", "queue"} {
			explain(b, pool, kind)
			sqlLat, apiLat := measure(b, pool, base, kind)
			report(b, kind, sqlLat, apiLat)
		}
		pool.Close()
		st.Close()
	}
}

func serve(b *testing.B, st *store.Store) string {
	agent := authz.NewPrincipal(ns, "support", authz.KindAgent, "agent-1", authz.RoleAgent, authz.Predefined()[authz.RoleAgent])
	agent.Teams = []string{"team-1"}
	api, err := agentapi.New(agentapi.Config{Store: st, Namespace: ns, Token: token, Log: slog.New(slog.DiscardHandler),
		Authenticator: authz.AuthenticatorFunc(func(r *http.Request) (*authz.Principal, error) {
			if r.Header.Get("Authorization") == "Bearer agent" {
				return agent, nil
			}
			return nil, nil
		})})
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	api.Register(mux)
	hs := httptest.NewServer(mux)
	b.Cleanup(hs.Close)
	return hs.URL
}

// query runs a bare statement and checks it returns a full page (and one more row).
func query(b *testing.B, pool *pgxpool.Pool, sql string, args []any) {
	rows, err := pool.Query(context.Background(), sql, args...)
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for rows.Next() {
		n++
	}
	rows.Close()
	if rows.Err() != nil || n != pageSz+1 {
		b.Fatalf("sql: %d rows, %v", n, rows.Err())
	}
}

type page struct {
	Items      []json.RawMessage `json:"items"`
	NextCursor string            `json:"nextCursor"`
}

func get(b *testing.B, base, bearer, query string) page {
	req, _ := http.NewRequest("GET", base+"/api/v1/conversations?"+query, nil)
	req.Header.Set("Authorization", "Bearer "+bearer)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var p page
	if resp.StatusCode != 200 || json.Unmarshal(raw, &p) != nil || len(p.Items) != pageSz {
		b.Fatalf("GET %s: %d %.200s", query, resp.StatusCode, raw)
	}
	return p
}

// measure times the page kind through the API and as bare SQL, alternating one of each
// so that both see the same load, after 20 of each to warm up.
func measure(b *testing.B, pool *pgxpool.Pool, base, kind string) (sqlLat, apiLat []time.Duration) {
	q := url.Values{"status": {"open"}, "limit": {fmt.Sprint(pageSz)}}
	bearer := token
	var after position
	switch kind {
	case "fifth":
		for range 4 {
			q.Set("cursor", get(b, base, bearer, q.Encode()).NextCursor)
		}
		raw, _ := base64.RawURLEncoding.DecodeString(q.Get("cursor"))
		if err := json.Unmarshal(raw, &after); err != nil {
			b.Fatal(err)
		}
	case "team":
		bearer = "agent"
	case "queue":
		bearer = "agent"
		q.Set("unassigned", "true")
	}
	sql, args := sqlOf(kind, after)
	for i := range 20 + *flagRequests {
		t0 := time.Now()
		query(b, pool, sql, args)
		t1 := time.Now()
		get(b, base, bearer, q.Encode())
		if i >= 20 {
			sqlLat, apiLat = append(sqlLat, t1.Sub(t0)), append(apiLat, time.Since(t1))
		}
	}
	return sqlLat, apiLat
}

// explain logs the plan of a page kind's statement (EXPLAIN ANALYZE), with
// -agentapi.explain.
func explain(b *testing.B, pool *pgxpool.Pool, kind string) {
	if !*flagExplain {
		return
	}
	sql, args := sqlOf(kind, position{At: time.Now(), ID: 1 << 62})
	rows, err := pool.Query(context.Background(), "EXPLAIN (ANALYZE, BUFFERS) "+sql, args...)
	if err != nil {
		b.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		b.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "%s page plan:\n%s\n", kind, strings.Join(lines, "\n")) // b.Log truncates a benchmark's log
}

func report(b *testing.B, kind string, sqlLat, apiLat []time.Duration) {
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(latency.Ms(latency.Pct(apiLat, 0.99)), kind+"-p99-ms")
	b.ReportMetric(latency.Pct(apiLat, 0.99).Seconds()/latency.Pct(sqlLat, 0.99).Seconds(), kind+"-ratio")
	b.Logf("%s page: api p50 %.2f ms, p99 %.2f ms; bare sql p50 %.2f ms, p99 %.2f ms; api÷sql at p99 %.1f",
		kind, latency.Ms(latency.Pct(apiLat, 0.5)), latency.Ms(latency.Pct(apiLat, 0.99)), latency.Ms(latency.Pct(sqlLat, 0.5)), latency.Ms(latency.Pct(sqlLat, 0.99)),
		latency.Pct(apiLat, 0.99).Seconds()/latency.Pct(sqlLat, 0.99).Seconds())
}
