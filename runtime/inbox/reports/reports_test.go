package reports_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox/authz"
	"github.com/switchboard-dev/switchboard/runtime/inbox/conversation"
	"github.com/switchboard-dev/switchboard/runtime/inbox/openapi/openapitest"
	"github.com/switchboard-dev/switchboard/runtime/inbox/reports"
	"github.com/switchboard-dev/switchboard/runtime/store"
	"github.com/switchboard-dev/switchboard/runtime/store/pgtest"
)

var srv *pgtest.Server

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &srv)) }

const ns = "acme"

var (
	nov     = func(d, h int) time.Time { return time.Date(2026, 11, d, h, 0, 0, 0, time.UTC) }
	period  = reports.Period{From: nov(1, 0), To: nov(8, 0)}
	numSale = store.NumberRef{Namespace: ns, Name: "sales"}
)

func newStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(t.Context(), srv.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st
}

func exec(t *testing.T, st *store.Store, sql string, args ...any) {
	t.Helper()
	if err := st.InTx(t.Context(), func(tx pgx.Tx) error { _, err := tx.Exec(t.Context(), sql, args...); return err }); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// conv stores a conversation and returns its id; fr and res are seconds after created
// (negative: none).
func conv(t *testing.T, st *store.Store, number, team, agent, waID string, created time.Time, fr, res int) int64 {
	t.Helper()
	var id int64
	err := st.InTx(t.Context(), func(tx pgx.Tx) error {
		cid, err := conversation.UpsertContact(t.Context(), tx, ns, waID, "")
		if err != nil {
			return err
		}
		var frAt, resAt *time.Time
		if fr >= 0 {
			x := created.Add(time.Duration(fr) * time.Second)
			frAt = &x
		}
		status := "open"
		if res >= 0 {
			x := created.Add(time.Duration(res) * time.Second)
			resAt, status = &x, "resolved"
		}
		return tx.QueryRow(t.Context(), `INSERT INTO conversations (namespace, number, contact_id, team, assignee, status,
			created_at, first_response_at, resolved_at, window_expires_at)
			VALUES ($1, $2, $3, NULLIF($4, ''), NULLIF($5, ''), $6, $7, $8, $9, $10) RETURNING id`,
			ns, number, cid, team, agent, status, created, frAt, resAt, created.Add(24*time.Hour)).Scan(&id)
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func seed(t *testing.T, st *store.Store) []int64 {
	t.Helper()
	ids := []int64{
		conv(t, st, "sales", "es", "ana", "34600000001", nov(2, 10), 60, 600),
		conv(t, st, "sales", "es", "ana", "34600000002", nov(2, 11), 120, 1200),
		conv(t, st, "sales", "es", "bob", "34600000003", nov(3, 9), 300, -1),
		conv(t, st, "support", "en", "bob", "34600000004", nov(4, 9), -1, 3600),
		conv(t, st, "support", "en", "", "34600000005", time.Date(2026, 10, 25, 12, 0, 0, 0, time.UTC), -1, 11*24*3600),
		conv(t, st, "sales", "es", "ana", "34600000006", nov(10, 9), 10, 20), // after the period
	}
	// The routing assigned conversation 1 after 3 s, conversation 2 after 10 s.
	exec(t, st, `UPDATE conversations SET first_assigned_at = created_at + interval '3 seconds' WHERE id = $1`, ids[0])
	exec(t, st, `UPDATE conversations SET first_assigned_at = created_at + interval '10 seconds' WHERE id = $1`, ids[1])
	// A keyword rule answered conversation 4.
	exec(t, st, `INSERT INTO messages (namespace, conversation_id, direction, type, text, content, status, author)
		VALUES ($1, $2, 'out', 'text', 'Our hours…', '{}', 'queued', 'keyword:hours')`, ns, ids[3])
	return ids
}

func f(v float64) *float64 { return &v }

func TestConversationsReport(t *testing.T) {
	st := newStore(t)
	seed(t, st)
	read := func(by reports.By, filter reports.Filter) []reports.ConversationRow {
		var rows []reports.ConversationRow
		err := st.ReadTx(t.Context(), func(tx pgx.Tx) (err error) {
			rows, err = reports.Conversations(t.Context(), tx, ns, period, by, filter)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return rows
	}
	// By hand: sales opened 1, 2, 3 (first responses 60, 120, 300 s: median 120,
	// p90 = 120 + 0.8 × 180 = 264) and resolved 1, 2 (600, 1200 s: median 900,
	// p90 = 600 + 0.9 × 600 = 1140). support opened 4 (no first response, answered by a
	// keyword rule) and resolved 4 and 5 (3600 s and 11 days = 950400 s: median 477000,
	// p90 = 3600 + 0.9 × 946800 = 855720). Of sales' three, one was assigned within 5 s.
	want := []reports.ConversationRow{
		{Key: "sales", Opened: 3, Resolved: 2, FirstResponseP50: f(120), FirstResponseP90: f(264), ResolutionP50: f(900), ResolutionP90: f(1140),
			AssignedWithin5s: 1.0 / 3},
		{Key: "support", Opened: 1, Resolved: 2, ResolutionP50: f(477000), ResolutionP90: f(855720), AutoKeywordShare: 1},
	}
	if got := read(reports.ByNumber, reports.Filter{}); !equalRows(got, want) {
		t.Errorf("by number:\n got %s\nwant %s", js(got), js(want))
	}
	byAgent := read(reports.ByAgent, reports.Filter{})
	if len(byAgent) != 3 || byAgent[0].Key != "" || byAgent[0].Opened != 0 || byAgent[0].Resolved != 1 ||
		byAgent[1].Key != "ana" || byAgent[1].Opened != 2 || byAgent[1].Resolved != 2 ||
		byAgent[2].Key != "bob" || byAgent[2].Opened != 2 || byAgent[2].Resolved != 1 || byAgent[2].AutoKeywordShare != 0.5 {
		t.Errorf("by agent: %s", js(byAgent))
	}
	if got := read(reports.ByTeam, reports.Filter{Number: "support"}); len(got) != 1 || got[0].Key != "en" || got[0].Resolved != 2 {
		t.Errorf("team of support: %s", js(got))
	}
}

func equalRows(a, b []reports.ConversationRow) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		for _, p := range [][2]*float64{{x.FirstResponseP50, y.FirstResponseP50}, {x.FirstResponseP90, y.FirstResponseP90},
			{x.ResolutionP50, y.ResolutionP50}, {x.ResolutionP90, y.ResolutionP90}} {
			if (p[0] == nil) != (p[1] == nil) || p[0] != nil && math.Abs(*p[0]-*p[1]) > 1e-6 {
				return false
			}
		}
		x.FirstResponseP50, x.FirstResponseP90, x.ResolutionP50, x.ResolutionP90 = nil, nil, nil, nil
		y.FirstResponseP50, y.FirstResponseP90, y.ResolutionP50, y.ResolutionP90 = nil, nil, nil, nil
		if x != y {
			return false
		}
	}
	return true
}

func js(v any) string { b, _ := json.Marshal(v); return string(b) }

// TestSatisfactionSurvey: the survey goes out as an interactive list when a conversation
// is resolved in the window; the customer's answer (in a conversation of its own, which
// it resolves) rates it; a forged answer from another contact does not.
func TestSatisfactionSurvey(t *testing.T) {
	st := newStore(t)
	ids := seed(t, st)
	survey := func(id int64, waID, agent, team string, at time.Time) (int64, error) {
		var out int64
		err := st.InTx(t.Context(), func(tx pgx.Tx) (err error) {
			exp := at.Add(time.Hour)
			c := conversation.Conversation{ID: id, Number: numSale, WindowExpiresAt: &exp}
			out, err = reports.SendSurvey(t.Context(), tx, c, waID, agent, team, reports.DefaultSurvey, at)
			return err
		})
		return out, err
	}
	for i, id := range ids[:3] {
		if out, err := survey(id, fmt.Sprintf("3460000000%d", i+1), []string{"ana", "ana", "bob"}[i], "es", nov(3, 12)); err != nil || out == 0 {
			t.Fatalf("survey %d: %d, %v", id, out, err)
		}
	}
	if out, err := survey(ids[0], "34600000001", "ana", "es", nov(3, 12)); err != nil || out != 0 {
		t.Fatalf("a second survey of one conversation: %d, %v", out, err)
	}
	closed := conversation.Conversation{ID: ids[3], Number: numSale}
	if err := st.InTx(t.Context(), func(tx pgx.Tx) error {
		_, err := reports.SendSurvey(t.Context(), tx, closed, "34600000004", "bob", "en", reports.DefaultSurvey, nov(5, 0))
		return err
	}); !errors.Is(err, reports.ErrSurveyWindowClosed) {
		t.Fatalf("closed window: %v", err)
	}
	var payload string
	if err := st.ReadTx(t.Context(), func(tx pgx.Tx) error {
		return tx.QueryRow(t.Context(), `SELECT o.payload::text FROM csat_surveys s JOIN outbox o ON o.id = s.outbox_id
			WHERE s.conversation_id = $1`, ids[0]).Scan(&payload)
	}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(payload, fmt.Sprintf(`"id": "csat:%d:5"`, ids[0])) || !strings.Contains(payload, `"type": "list"`) {
		t.Fatalf("survey payload %s", payload)
	}
	// Answers: contact 1 rates 5 and contact 2 rates 4, each from a new conversation;
	// contact 4 tries to rate contact 1's conversation 1.
	answer := func(waID string, surveyed int64, rating int) int64 {
		id := conv(t, st, "sales", "", "", waID, nov(3, 13), -1, -1)
		exec(t, st, `INSERT INTO messages (namespace, conversation_id, direction, type, content, status, created_at)
			VALUES ($1, $2, 'in', 'interactive', $3, 'received', $4)`, ns, id,
			fmt.Sprintf(`{"type":"interactive","interactive":{"type":"list_reply","list_reply":{"id":"csat:%d:%d","title":"x"}}}`, surveyed, rating),
			nov(3, 13))
		return id
	}
	answer("34600000004", ids[0], 1)
	first := answer("34600000001", ids[0], 5)
	answer("34600000002", ids[1], 4)
	var rows []reports.SatisfactionRow
	if err := st.ReadTx(t.Context(), func(tx pgx.Tx) (err error) {
		rows, err = reports.Satisfaction(t.Context(), tx, ns, period, reports.ByAgent, reports.Filter{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	want := []reports.SatisfactionRow{
		{Key: "ana", Sent: 2, Answered: 2, Distribution: [5]int64{0, 0, 0, 1, 1}, Mean: f(4.5)},
		{Key: "bob", Sent: 1},
	}
	if !reflect.DeepEqual(js(rows), js(want)) {
		t.Errorf("satisfaction by agent:\n got %s\nwant %s", js(rows), js(want))
	}
	var status string
	if err := st.ReadTx(t.Context(), func(tx pgx.Tx) error {
		return tx.QueryRow(t.Context(), `SELECT status FROM conversations WHERE id = $1`, first).Scan(&status)
	}); err != nil || status != "resolved" {
		t.Errorf("the answer's own conversation: %q, %v; want resolved", status, err)
	}
}

const rateCard = "Market,Currency,Marketing,Utility,Authentication,Authentication-International,Service\n" +
	"Spain,USD,0.0615,0.02,0.02,,Free\n" +
	"Brazil,USD,0.0625,0.0068,0.0068,,Free\n" +
	"North America,USD,0.025,0.004,0.0135,,Free\n" +
	"Rest of Africa,USD,0.0225,0.004,0.004,,Free\n" +
	"Other,USD,0.0604,0.0077,0.0077,,Free\n"

func TestCostReport(t *testing.T) {
	st := newStore(t)
	rc, err := reports.ParseRateCard(strings.NewReader(rateCard))
	if err != nil {
		t.Fatal(err)
	}
	if rc.Countries != 5 || !reflect.DeepEqual(rc.Unmapped, []string{"Rest of Africa"}) || len(rc.Rates) != 20 {
		t.Fatalf("rate card: %s", js(rc))
	}
	if err := st.InTx(t.Context(), func(tx pgx.Tx) error { return reports.StoreRateCard(t.Context(), tx, ns, rc) }); err != nil {
		t.Fatal(err)
	}
	priced := func(wamid, number, to, category, typ string, statuses ...string) {
		exec(t, st, `INSERT INTO outbox (namespace, number, recipient, lane, payload, state, wamid) VALUES ($1, $2, $3, 'campaign', '{}', 'sent', $4)`,
			ns, number, to, wamid)
		for i, s := range statuses {
			exec(t, st, `INSERT INTO message_statuses (namespace, wamid, status, at, recipient_id, payload) VALUES ($1, $2, $3, $4, $5, $6)`,
				ns, wamid, s, nov(2, 10+i), to, fmt.Sprintf(`{"pricing":{"billable":%t,"pricing_model":"PMP","type":%q,"category":%q}}`,
					typ == "regular", typ, category))
		}
	}
	priced("wamid.A", "sales", "34611111111", "marketing", "regular", "sent", "delivered")
	priced("wamid.B", "sales", "5511987654321", "utility", "regular", "sent", "read")
	priced("wamid.C", "sales", "34611111112", "service", "free_customer_service", "sent")
	priced("wamid.D", "support", "14155550123", "marketing", "regular", "delivered")
	priced("wamid.E", "support", "447700900123", "authentication", "regular", "sent")
	var rows []reports.CostRow
	if err := st.ReadTx(t.Context(), func(tx pgx.Tx) (err error) {
		rows, err = reports.Cost(t.Context(), tx, ns, period, reports.Filter{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	want := []reports.CostRow{
		{Number: "sales", Country: "BR", Category: "utility", Messages: 1, Currency: "USD", CostMicros: 6800, Priced: true},
		{Number: "sales", Country: "ES", Category: "marketing", Messages: 1, Currency: "USD", CostMicros: 61500, Priced: true},
		{Number: "sales", Country: "ES", Category: "service", Free: 1, Priced: true},
		{Number: "support", Country: "GB", Category: "authentication", Messages: 1, Currency: "USD", CostMicros: 7700, Priced: true},
		{Number: "support", Country: "US", Category: "marketing", Messages: 1, Currency: "USD", CostMicros: 25000, Priced: true},
	}
	if js(rows) != js(want) {
		t.Errorf("cost:\n got %s\nwant %s", js(rows), js(want))
	}
}

func TestRateCardErrorsNameTheLine(t *testing.T) {
	for in, want := range map[string]string{
		"Country,Price\nES,1\n":                                    "line 1: the header needs Market",
		"Market,Currency,Marketing\nSpain,USD,0.06x\n":             `line 2, column Marketing: "0.06x" is not a price`,
		"Market,Currency,Marketing\nSpain,US Dollar,0.06\n":        `line 2: Currency "US DOLLAR" is not an ISO 4217 code`,
		"Market,Currency,Marketing\nSpain,USD,0.06\nES,USD,0.07\n": "line 3: the market ES is already priced on line 2",
	} {
		if _, err := reports.ParseRateCard(strings.NewReader(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}

func TestAPI(t *testing.T) {
	st := newStore(t)
	seed(t, st)
	principals := map[string]*authz.Principal{}
	for _, role := range []string{authz.RoleAgent, authz.RoleSupervisor, authz.RoleAuditor} {
		principals[role] = authz.NewPrincipal(ns, "main", authz.KindAgent, role+"-1", role, authz.Predefined()[role])
	}
	auth := authz.AuthenticatorFunc(func(r *http.Request) (*authz.Principal, error) {
		return principals[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")], nil
	})
	mux := http.NewServeMux()
	(&reports.API{Store: st, Namespace: ns, Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return nov(8, 0) }}).Register(mux, auth)
	h := httptest.NewServer(mux)
	t.Cleanup(h.Close)
	client := openapitest.Client(t) // every answer is checked against the OpenAPI document
	do := func(method, path, who, body string) (int, string, string) {
		req, _ := http.NewRequestWithContext(context.Background(), method, h.URL+path, strings.NewReader(body))
		if who != "" {
			req.Header.Set("Authorization", "Bearer "+who)
		}
		if body != "" {
			req.Header.Set("Content-Type", "text/csv")
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}
	for _, c := range []struct {
		method, path, who string
		code              int
		says              string
	}{
		{"GET", "/api/v1/reports/conversations", "", 401, "authentication is required"},
		{"GET", "/api/v1/reports/conversations", "agent", 403, `"permission":"reports.read"`},
		{"PUT", "/api/v1/reports/rate-card", "auditor", 403, `"permission":"reports.manage"`},
		{"GET", "/api/v1/reports/conversations?from=yesterday", "auditor", 400, `"field":"from"`},
		{"GET", "/api/v1/reports/conversations?by=country", "auditor", 400, `"field":"by"`},
		{"GET", "/api/v1/reports/conversations?format=xml", "auditor", 400, `"field":"format"`},
		{"GET", "/api/v1/reports/conversations?from=2026-11-01T00:00:00Z", "auditor", 200, `"key":"support","opened":1,"resolved":2`},
		{"GET", "/api/v1/reports/satisfaction?by=team", "supervisor", 200, `"items":[]`},
		{"GET", "/api/v1/reports/cost", "supervisor", 200, `"items":[]`},
	} {
		code, _, body := do(c.method, c.path, c.who, "")
		if code != c.code || !strings.Contains(body, c.says) {
			t.Errorf("%s %s as %q: %d %s", c.method, c.path, c.who, code, body)
		}
	}
	code, ctype, body := do("GET", "/api/v1/reports/conversations?from=2026-11-01T00:00:00Z&format=csv", "auditor", "")
	recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if code != 200 || !strings.HasPrefix(ctype, "text/csv") || err != nil || len(recs) != 3 || recs[1][0] != "sales" || recs[1][3] != "120.000" {
		t.Errorf("CSV: %d %s %q %v", code, ctype, body, err)
	}
	if code, _, body := do("PUT", "/api/v1/reports/rate-card", "supervisor", "Market,Currency,Marketing\nSpain,USD,abc\n"); code != 400 ||
		!strings.Contains(body, "line 2, column Marketing") {
		t.Errorf("bad rate card: %d %s", code, body)
	}
	if code, _, body := do("PUT", "/api/v1/reports/rate-card", "supervisor", rateCard); code != 200 || !strings.Contains(body, `"unmappedMarkets":["Rest of Africa"]`) {
		t.Errorf("rate card: %d %s", code, body)
	}
	if code, _, body := do("GET", "/api/v1/reports/rate-card", "auditor", ""); code != 200 || !strings.Contains(body, `{"market":"BR","category":"authentication","currency":"USD","priceMicros":6800}`) {
		t.Errorf("rate card read: %d %s", code, body)
	}
	var n int
	if err := st.ReadTx(t.Context(), func(tx pgx.Tx) error {
		return tx.QueryRow(t.Context(), `SELECT count(*) FROM audit_log WHERE action = 'rate-card.replace' AND actor = 'agent:supervisor-1'`).Scan(&n)
	}); err != nil || n != 1 {
		t.Errorf("audit entries of the rate card: %d, %v", n, err)
	}
}
