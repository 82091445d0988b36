package live_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/switchboard-dev/switchboard/runtime/inbox/live"
	"github.com/switchboard-dev/switchboard/runtime/inbox/openapi/openapitest"
)

// supervisorData stores a fixed data set, all times relative to the transaction's now()
// (T). The figures the supervisor view must give are worked out by hand in the test.
const supervisorData = `
INSERT INTO contacts (id, namespace, wa_id)
SELECT i, CASE WHEN i = 9 THEN 'other' ELSE 'acme' END, i::text FROM generate_series(1, 9) i;
-- id, team, assignee, status, created, first assigned (seconds after created), resolved
INSERT INTO conversations (id, namespace, number, contact_id, team, assignee, status, created_at, first_assigned_at, resolved_at,
                           waiting_since)
SELECT id, ns, 'sales-es', id, team, assignee, status, now() - created, now() - created + assigned, now() - resolved,
       CASE WHEN assignee IS NULL THEN now() - created END
  FROM (VALUES
    (1, 'acme',  1, 'sales',   'ana', 'open',     interval '30 min', interval '2 s',  NULL),
    (2, 'acme',  1, 'sales',   'ana', 'open',     interval '10 min', interval '10 s', NULL),
    (3, 'acme',  1, 'sales',   'ben', 'resolved', interval '50 min', interval '5 s',  interval '30 min'),
    (4, 'acme',  1, 'sales',   'ben', 'resolved', interval '3 h',    interval '1 s',  interval '2 h'),
    (5, 'acme',  1, 'support', NULL,  'open',     interval '5 min',  NULL,            NULL),
    (6, 'acme',  1, 'support', NULL,  'pending',  interval '2 min',  NULL,            NULL),
    (7, 'acme',  1, NULL,      NULL,  'open',     interval '1 min',  NULL,            NULL),
    (8, 'acme',  1, 'sales',   'zed', 'open',     interval '20 min', interval '3 s',  NULL),
    (9, 'other', 2, 'sales',   'ana', 'open',     interval '20 min', interval '1 s',  NULL)
  ) AS d(id, ns, contact, team, assignee, status, created, assigned, resolved);
-- Messages in time order (an agent's first reply sets first_response_at).
INSERT INTO messages (namespace, conversation_id, direction, type, content, status, author, created_at)
SELECT ns, conv, dir, 'text', '{}', CASE dir WHEN 'in' THEN 'received' ELSE 'sent' END, author, now() - ago
  FROM (VALUES
    ('acme', 3, 'in',  NULL,            interval '50 min'),
    ('acme', 3, 'out', 'keyword:hours', interval '49 min'),
    ('acme', 3, 'out', 'agent:ben',     interval '40 min'),
    ('acme', 1, 'in',  NULL,            interval '30 min'),
    ('acme', 1, 'out', 'agent:ana',     interval '29 min'),
    ('acme', 1, 'in',  NULL,            interval '20 min'),
    ('acme', 1, 'in',  NULL,            interval '19 min'),
    ('acme', 1, 'out', 'agent:ana',     interval '18 min'),
    ('acme', 1, 'out', 'agent:ana',     interval '17 min'),
    ('other', 9, 'in', NULL,            interval '20 min'),
    ('other', 9, 'out', 'agent:ana',    interval '19 min'),
    ('acme', 2, 'in',  NULL,            interval '10 min'),
    ('acme', 2, 'out', 'agent:ana',     interval '570 s')
  ) AS d(ns, conv, dir, author, ago)
 ORDER BY ago DESC;
SELECT setval('conversations_id_seq', 100);
`

func TestSupervisorFiguresOnAFixedDataSet(t *testing.T) {
	st := openStore(t, srv.NewDatabase(t))
	exec(t, st, supervisorData)
	// Availability derived from assignments: without the routing's table (migration 00007).
	exec(t, st, `DROP TABLE IF EXISTS agent_availability`)
	reg := prometheus.NewRegistry()
	svc := live.Start(t.Context(), live.Config{Store: st, Namespace: ns, Roster: func() live.Roster { return roster }, Registry: reg})

	v, err := svc.Supervise(t.Context(), roster, 8*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	agents := map[string]live.AgentFigures{}
	for _, a := range v.Agents {
		agents[a.Login] = a
	}
	if len(v.Agents) != 3 {
		t.Fatalf("agents %+v: want the declared ana, ben, cai (not zed, who is only an assignee)", v.Agents)
	}
	// ana: open c1, c2 (not c9: another namespace). First responses: c1 60 s, c2 30 s →
	// 45. Replies that answered: c1 29 min (60 s after 30 min), c1 18 min (120 s after
	// the first of the two messages at 20 and 19 min; the reply at 17 min answers
	// nothing), c2 (30 s) → 210 / 3 = 70.
	// ben: c3 answered after 600 s (the keyword reply at 49 min is not an agent's);
	// c3 resolved 30 min ago counts, c4 (2 h ago) does not.
	// cai: nothing.
	check := func(login string, open, firsts int, first *float64, resps int, resp *float64, resolved int, avail string) {
		t.Helper()
		a := agents[login]
		if a.OpenConversations != open || a.FirstResponses != firsts || !near(a.AvgFirstResponseSeconds, first) ||
			a.Responses != resps || !near(a.AvgResponseSeconds, resp) || a.ResolvedLastHour != resolved ||
			a.Availability != avail || a.AvailabilitySource != "assignments" {
			t.Errorf("%s: %+v (first %v, response %v)", login, a, deref(a.AvgFirstResponseSeconds), deref(a.AvgResponseSeconds))
		}
	}
	check("ana", 2, 2, ptr(45), 3, ptr(70), 0, "online")
	check("ben", 0, 1, ptr(600), 1, ptr(600), 1, "offline")
	check("cai", 0, 0, nil, 0, nil, 0, "offline")
	if a := agents["ana"]; len(a.Teams) != 1 || a.Teams[0] != "sales" {
		t.Errorf("ana's teams %v", a.Teams)
	}

	// Queues: support c5 (5 min) and c6 (pending, 2 min); sales none (c8 has an assignee
	// even if not a declared one); c7 has no team.
	teams := map[string]live.TeamFigures{}
	for _, q := range v.Teams {
		teams[q.Name] = q
	}
	if q := teams["sales"]; q.QueueLength != 0 || q.OldestWaitingSeconds != nil {
		t.Errorf("sales queue %+v", q)
	}
	if q := teams["support"]; q.QueueLength != 2 || !waited(q.OldestWaitingSeconds, 300) {
		t.Errorf("support queue %+v (oldest %v)", q, deref(q.OldestWaitingSeconds))
	}
	if q := v.Unrouted; q.QueueLength != 1 || !waited(q.OldestWaitingSeconds, 60) {
		t.Errorf("unrouted %+v (oldest %v)", q, deref(q.OldestWaitingSeconds))
	}
	// Assigned within 5 s: c1 (2 s), c3 (5 s), c4 (1 s), c8 (3 s) of c1…c8 → 4/8.
	if a := v.Assignment; a.Conversations != 8 || a.AssignedWithin5s != 4 || !near(a.Ratio, ptr(0.5)) {
		t.Errorf("assignment %+v", a)
	}

	// The metrics give the same figures.
	metrics := gather(t, reg)
	for name, want := range map[string]float64{
		`switchboard_inbox_agent_open_conversations{agent="ana"}`:                  2,
		`switchboard_inbox_agent_response_seconds{agent="ana"}`:                    70,
		`switchboard_inbox_agent_first_response_seconds{agent="ben"}`:              600,
		`switchboard_inbox_agent_resolved_last_hour{agent="ben"}`:                  1,
		`switchboard_inbox_agent_availability{agent="cai",availability="offline"}`: 1,
		`switchboard_inbox_team_queue_length{team="support"}`:                      2,
		`switchboard_inbox_team_queue_length{team=""}`:                             1,
		`switchboard_inbox_assigned_within_5s_ratio`:                               0.5,
		`switchboard_inbox_supervisor_up`:                                          1,
	} {
		if got, ok := metrics[name]; !ok || got < want-0.001 || got > want+0.001 {
			t.Errorf("%s = %v (present %v), want %v", name, got, ok, want)
		}
	}
	for name := range metrics {
		if strings.Contains(name, `"zed"`) {
			t.Errorf("an undeclared assignee has a series: %s", name)
		}
	}
}

// A conversation waiting with no team counts in the queue of each of its eligible
// teams (migration 00018), not as one of no team.
func TestSupervisorQueuesCountEligibleTeams(t *testing.T) {
	st := openStore(t, srv.NewDatabase(t))
	exec(t, st, supervisorData)
	exec(t, st, `INSERT INTO contacts (id, namespace, wa_id) VALUES (10, 'acme', '10')`)
	exec(t, st, `INSERT INTO conversations (namespace, number, contact_id, status, created_at, waiting_since, eligible_teams)
		VALUES ('acme', 'sales-es', 10, 'open', now() - interval '15 min', now() - interval '15 min', '{sales,support}')`)
	svc := live.Start(t.Context(), live.Config{Store: st, Namespace: ns, Roster: func() live.Roster { return roster }, Registry: prometheus.NewRegistry()})
	v, err := svc.Supervise(t.Context(), roster, 8*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	teams := map[string]live.TeamFigures{}
	for _, q := range v.Teams {
		teams[q.Name] = q
	}
	if q := teams["sales"]; q.QueueLength != 1 || !waited(q.OldestWaitingSeconds, 900) {
		t.Errorf("sales queue %+v (oldest %v)", q, deref(q.OldestWaitingSeconds))
	}
	if q := teams["support"]; q.QueueLength != 3 || !waited(q.OldestWaitingSeconds, 900) {
		t.Errorf("support queue %+v (oldest %v)", q, deref(q.OldestWaitingSeconds))
	}
	if q := v.Unrouted; q.QueueLength != 1 || !waited(q.OldestWaitingSeconds, 60) {
		t.Errorf("no eligible team %+v (oldest %v)", q, deref(q.OldestWaitingSeconds))
	}
}

func TestSupervisorEndpoint(t *testing.T) {
	st := openStore(t, srv.NewDatabase(t))
	exec(t, st, supervisorData)
	r := startReplica(t, st, live.HubOptions{})
	get := func(token, query string) (*http.Response, map[string]any) {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, r.url+"/api/v1/supervisor"+query, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := openapitest.Client(t).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp, body
	}
	if resp, body := get("sales", ""); resp.StatusCode != http.StatusForbidden || body["permission"] != "supervisor.read" {
		t.Fatalf("an agent: %s %v", resp.Status, body)
	}
	if resp, body := get("admin", "?window=1s"); resp.StatusCode != http.StatusBadRequest || body["field"] != "window" {
		t.Fatalf("window=1s: %s %v", resp.Status, body)
	}
	resp, body := get("admin", "?window=1h")
	if resp.StatusCode != http.StatusOK || body["windowSeconds"] != 3600.0 {
		t.Fatalf("%s %v", resp.Status, body)
	}
	// In the last hour c4 (3 h old) is out: 3 of c1, c2, c3, c5…c8 assigned within 5 s.
	if a := body["assignment"].(map[string]any); a["conversations"] != 7.0 || a["assignedWithin5s"] != 3.0 {
		t.Fatalf("assignment %v", a)
	}
	ana := body["agents"].([]any)[0].(map[string]any)
	if ana["login"] != "ana" || ana["avgResponseSeconds"] != 70.0 || ana["avgFirstResponseSeconds"] != 45.0 {
		t.Fatalf("ana %v", ana)
	}
}

func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			out[f.GetName()+labels(m)] = m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	return out
}

func labels(m *dto.Metric) string {
	if len(m.GetLabel()) == 0 {
		return ""
	}
	var parts []string
	for _, l := range m.GetLabel() {
		parts = append(parts, l.GetName()+`="`+l.GetValue()+`"`)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func ptr(f float64) *float64 { return &f }

func deref(f *float64) any {
	if f == nil {
		return nil
	}
	return *f
}

// near compares averages computed from exact intervals (equal up to float rounding).
func near(got, want *float64) bool {
	if got == nil || want == nil {
		return got == want
	}
	return *got > *want-0.001 && *got < *want+0.001
}

// waited accepts an age of at least want seconds (the data set's), plus however long
// the test took between storing it and reading the view.
func waited(got *float64, want float64) bool {
	return got != nil && *got >= want && *got < want+wait.Seconds()
}

// With the routing's agent_availability table the view reads availability from it (an
// agent without a row is offline); a table of another shape leaves it derived.
func TestSupervisorAvailabilityFromTheRoutingTable(t *testing.T) {
	for _, tc := range []struct {
		table  string
		source string
		want   map[string]string
	}{
		{`CREATE TABLE IF NOT EXISTS agent_availability (namespace text, login text, availability text, PRIMARY KEY (namespace, login));
		  INSERT INTO agent_availability (namespace, login, availability) VALUES ('acme', 'ana', 'away'), ('acme', 'cai', 'online'), ('other', 'ben', 'online')`,
			"routing", map[string]string{"ana": "away", "ben": "offline", "cai": "online"}},
		{`DROP TABLE IF EXISTS agent_availability; CREATE TABLE agent_availability (namespace text, login text, state text)`,
			"assignments", map[string]string{"ana": "online", "ben": "offline", "cai": "offline"}},
	} {
		st := openStore(t, srv.NewDatabase(t))
		exec(t, st, supervisorData)
		exec(t, st, tc.table)
		svc := live.Start(t.Context(), live.Config{Store: st, Namespace: ns, Roster: func() live.Roster { return roster }})
		v, err := svc.Supervise(t.Context(), roster, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range v.Agents {
			if a.Availability != tc.want[a.Login] || a.AvailabilitySource != tc.source {
				t.Errorf("%s: %s from %s, want %s from %s", a.Login, a.Availability, a.AvailabilitySource, tc.want[a.Login], tc.source)
			}
		}
		if v.Assignment.Conversations != 7 {
			t.Errorf("the rest of the view after the availability: %+v", v.Assignment)
		}
	}
}
