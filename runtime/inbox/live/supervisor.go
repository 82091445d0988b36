package live

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox/kube"
	"github.com/switchboard-dev/switchboard/runtime/inbox/problem"
)

// Team is a team of agents as the RoutingPolicies declare it.
type Team struct {
	Name    string
	Members []string // agents' login names
}

// Roster is the declared teams (sorted by name, members sorted): the only agents and
// teams the supervisor view and its metrics report on.
type Roster struct{ Teams []Team }

// Agents returns every member of every team, sorted, once each.
func (r Roster) Agents() []string {
	var out []string
	for _, t := range r.Teams {
		out = append(out, t.Members...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// TeamsOf returns the names of the teams login belongs to.
func (r Roster) TeamsOf(login string) []string {
	out := []string{}
	for _, t := range r.Teams {
		if slices.Contains(t.Members, login) {
			out = append(out, t.Name)
		}
	}
	return out
}

// RosterOf reads the teams of the RoutingPolicies that select the snapshot's Numbers
// (a team of the same name in two policies: the union of its members).
func RosterOf(snapshot func() *kube.Snapshot) func() Roster {
	return func() Roster {
		snap := snapshot()
		if snap == nil {
			return Roster{}
		}
		members := map[string][]string{}
		for _, n := range snap.Numbers() {
			for _, t := range n.Policy.Teams {
				members[t.Name] = append(members[t.Name], t.Members...)
			}
		}
		var r Roster
		for name, m := range members {
			slices.Sort(m)
			r.Teams = append(r.Teams, Team{Name: name, Members: slices.Compact(m)})
		}
		slices.SortFunc(r.Teams, func(a, b Team) int { return strings.Compare(a.Name, b.Name) })
		return r
	}
}

// View is the supervisor view: GET /api/v1/supervisor's answer.
type View struct {
	At time.Time `json:"at"`
	// WindowSeconds is the span the averages and the assignment share are taken over.
	WindowSeconds int64          `json:"windowSeconds"`
	Agents        []AgentFigures `json:"agents"`
	Teams         []TeamFigures  `json:"teams"`
	// Unrouted: waiting conversations with no team and no eligible team: their Number has
	// no RoutingPolicy, or its policy has no teams (any agent may take them).
	Unrouted   QueueFigures    `json:"unrouted"`
	Assignment AssignmentShare `json:"assignment"`
}

// AgentFigures are one agent's figures. Averages are in seconds, nil without a sample.
type AgentFigures struct {
	Login string   `json:"login"`
	Teams []string `json:"teams"`
	// Availability is online, away or offline; AvailabilitySource says where it comes
	// from: "routing" (the agent_availability table) or "assignments" (online while the
	// agent holds an open conversation, else offline: no availability table yet).
	Availability       string `json:"availability"`
	AvailabilitySource string `json:"availabilitySource"`
	OpenConversations  int    `json:"openConversations"`
	// Mean of first_response_at - created_at over the agent's conversations first
	// answered in the window; FirstResponses is how many.
	AvgFirstResponseSeconds *float64 `json:"avgFirstResponseSeconds"`
	FirstResponses          int      `json:"firstResponses"`
	// Mean time from a customer message to the agent reply that answered it (from the
	// first customer message after the previous agent reply), over the agent's replies
	// in the window; Responses is how many replies answered one.
	AvgResponseSeconds *float64 `json:"avgResponseSeconds"`
	Responses          int      `json:"responses"`
	// ResolvedLastHour counts the agent's conversations resolved in the last hour.
	ResolvedLastHour int `json:"resolvedLastHour"`
}

// QueueFigures are the waiting conversations (open or pending, no assignee).
type QueueFigures struct {
	QueueLength int `json:"queueLength"`
	// OldestWaitingSeconds is now minus the oldest waiting_since; nil for an empty queue.
	OldestWaitingSeconds *float64 `json:"oldestWaitingSeconds"`
}

// TeamFigures are one team's queue.
type TeamFigures struct {
	Name string `json:"name"`
	QueueFigures
}

// AssignmentShare is the share of new conversations assigned within 5 s: of those
// created in the window and at least 5 s ago, how many had an assignee 5 s after opening.
type AssignmentShare struct {
	Conversations    int      `json:"conversations"`
	AssignedWithin5s int      `json:"assignedWithin5s"`
	Ratio            *float64 `json:"ratio"` // nil without conversations
}

// Window limits for the supervisor view's window parameter.
const (
	DefaultWindow = 8 * time.Hour
	MinWindow     = time.Minute
	MaxWindow     = 7 * 24 * time.Hour
)

// Supervise computes the view over window for the roster's agents and teams, in one
// read-only transaction. All SQL of the supervisor view is here and in availability.
func (s *Service) Supervise(ctx context.Context, roster Roster, window time.Duration) (View, error) {
	agents := roster.Agents()
	teams := make([]string, len(roster.Teams))
	for i, t := range roster.Teams {
		teams[i] = t.Name
	}
	v := View{WindowSeconds: int64(window / time.Second), Agents: make([]AgentFigures, len(agents)), Teams: make([]TeamFigures, len(teams))}
	byLogin := make(map[string]*AgentFigures, len(agents))
	for i, a := range agents {
		v.Agents[i] = AgentFigures{Login: a, Teams: roster.TeamsOf(a), Availability: "offline", AvailabilitySource: "assignments"}
		byLogin[a] = &v.Agents[i]
	}
	byTeam := make(map[string]*QueueFigures, len(teams))
	for i, t := range teams {
		v.Teams[i].Name = t
		byTeam[t] = &v.Teams[i].QueueFigures
	}
	err := s.store.ReadTx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT now()`).Scan(&v.At); err != nil {
			return err
		}
		if err := agentFigures(ctx, tx, s.namespace, agents, window, byLogin); err != nil {
			return err
		}
		if err := queues(ctx, tx, s.namespace, teams, byTeam, &v.Unrouted); err != nil {
			return err
		}
		if err := availability(ctx, tx, s.namespace, agents, byLogin, s.log); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `
			SELECT count(*), count(*) FILTER (WHERE first_assigned_at <= created_at + interval '5 seconds')
			  FROM conversations
			 WHERE namespace = $1 AND created_at > now() - $2::interval AND created_at <= now() - interval '5 seconds'`,
			s.namespace, window).Scan(&v.Assignment.Conversations, &v.Assignment.AssignedWithin5s)
	})
	if err != nil {
		return View{}, fmt.Errorf("live: supervisor view: %w", err)
	}
	if v.Assignment.Conversations > 0 {
		r := float64(v.Assignment.AssignedWithin5s) / float64(v.Assignment.Conversations)
		v.Assignment.Ratio = &r
	}
	return v, nil
}

func agentFigures(ctx context.Context, tx pgx.Tx, ns string, agents []string, window time.Duration, by map[string]*AgentFigures) error {
	authors := make([]string, len(agents))
	for i, a := range agents {
		authors[i] = "agent:" + a
	}
	rows, err := tx.Query(ctx, `
		WITH open AS (
		    SELECT assignee AS login, count(*) AS n FROM conversations
		     WHERE namespace = $1 AND status <> 'resolved' AND assignee = ANY($2) GROUP BY assignee),
		resolved AS (
		    SELECT assignee AS login, count(*) AS n FROM conversations
		     WHERE namespace = $1 AND status = 'resolved' AND resolved_at > now() - interval '1 hour'
		       AND assignee = ANY($2) GROUP BY assignee),
		first AS (
		    SELECT assignee AS login, avg(extract(epoch FROM first_response_at - created_at))::float8 AS s, count(*) AS n
		      FROM conversations
		     WHERE namespace = $1 AND first_response_at > now() - $4::interval AND assignee = ANY($2) GROUP BY assignee),
		replies AS (
		    SELECT substr(r.author, 7) AS login, extract(epoch FROM r.created_at - w.since)::float8 AS s
		      FROM messages r
		      CROSS JOIN LATERAL (
		          SELECT min(m.created_at) AS since FROM messages m
		           WHERE m.conversation_id = r.conversation_id AND m.direction = 'in'
		             AND m.created_at <= r.created_at
		             AND m.created_at > COALESCE((
		                 SELECT max(p.created_at) FROM messages p
		                  WHERE p.conversation_id = r.conversation_id AND p.direction = 'out'
		                    AND p.author LIKE 'agent:%' AND (p.created_at, p.id) < (r.created_at, r.id)), '-infinity')) w
		     WHERE r.namespace = $1 AND r.direction = 'out' AND r.author LIKE 'agent:%' AND r.author = ANY($3)
		       AND r.created_at > now() - $4::interval AND w.since IS NOT NULL),
		response AS (SELECT login, avg(s) AS s, count(*) AS n FROM replies GROUP BY login)
		SELECT a.login, COALESCE(open.n, 0), COALESCE(resolved.n, 0), first.s, COALESCE(first.n, 0),
		       response.s, COALESCE(response.n, 0)
		  FROM unnest($2::text[]) AS a(login)
		  LEFT JOIN open USING (login) LEFT JOIN resolved USING (login)
		  LEFT JOIN first USING (login) LEFT JOIN response USING (login)`,
		ns, agents, authors, window)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var login string
		var f AgentFigures
		if err := rows.Scan(&login, &f.OpenConversations, &f.ResolvedLastHour, &f.AvgFirstResponseSeconds,
			&f.FirstResponses, &f.AvgResponseSeconds, &f.Responses); err != nil {
			return err
		}
		a := by[login]
		a.OpenConversations, a.ResolvedLastHour = f.OpenConversations, f.ResolvedLastHour
		a.AvgFirstResponseSeconds, a.FirstResponses = f.AvgFirstResponseSeconds, f.FirstResponses
		a.AvgResponseSeconds, a.Responses = f.AvgResponseSeconds, f.Responses
		if a.OpenConversations > 0 {
			a.Availability = "online"
		}
	}
	return rows.Err()
}

// queues reads the waiting (unresolved, unassigned) conversations per team into by: a
// conversation counts in its team, else in each of its eligible teams (migration 00018),
// else in unrouted.
func queues(ctx context.Context, tx pgx.Tx, ns string, teams []string, by map[string]*QueueFigures, unrouted *QueueFigures) error {
	rows, err := tx.Query(ctx, `
		SELECT q.team, count(*), extract(epoch FROM now() - min(COALESCE(c.waiting_since, c.created_at)))::float8
		  FROM conversations c
		 CROSS JOIN LATERAL unnest(CASE WHEN c.team IS NOT NULL THEN ARRAY[c.team]
			ELSE COALESCE(NULLIF(c.eligible_teams, '{}'), ARRAY[NULL::text]) END) AS q(team)
		 WHERE c.namespace = $1 AND c.status <> 'resolved' AND c.assignee IS NULL AND (q.team IS NULL OR q.team = ANY($2))
		 GROUP BY q.team`, ns, teams)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var team *string
		var q QueueFigures
		if err := rows.Scan(&team, &q.QueueLength, &q.OldestWaitingSeconds); err != nil {
			return err
		}
		if q.OldestWaitingSeconds != nil {
			q.OldestWaitingSeconds = new(math.Max(0, *q.OldestWaitingSeconds))
		}
		if team == nil {
			*unrouted = q
		} else {
			*by[*team] = q
		}
	}
	return rows.Err()
}

// AvailabilityTable is the routing's table of agents' availability: (namespace, login,
// availability) with availability online, away or offline. While it does not exist the
// view derives availability from assignments (see AgentFigures.Availability).
const AvailabilityTable = "agent_availability"

// availability reads AvailabilityTable when it exists. It reads under a savepoint: a
// table of another shape is logged and the derived availability kept.
func availability(ctx context.Context, tx pgx.Tx, ns string, agents []string, by map[string]*AgentFigures, log *slog.Logger) error {
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, AvailabilityTable).Scan(&exists); err != nil || !exists {
		return err
	}
	states := map[string]string{}
	err := pgx.BeginFunc(ctx, tx, func(sp pgx.Tx) error {
		rows, err := sp.Query(ctx, `SELECT login, availability FROM `+AvailabilityTable+` WHERE namespace = $1 AND login = ANY($2)`, ns, agents)
		if err != nil {
			return err
		}
		var login, state string
		_, err = pgx.ForEachRow(rows, []any{&login, &state}, func() error {
			states[login] = state
			return nil
		})
		return err
	})
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		log.Error("supervisor view: reading "+AvailabilityTable+"; availability derived from assignments", "error", err)
		return nil
	}
	for login, a := range by {
		a.AvailabilitySource = "routing"
		a.Availability = cmp.Or(states[login], "offline")
	}
	return nil
}

// supervisor serves GET /api/v1/supervisor?window=<Go duration>.
func (s *Service) supervisor(w http.ResponseWriter, r *http.Request) {
	window := DefaultWindow
	if v := r.URL.Query().Get("window"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < MinWindow || d > MaxWindow {
			problem.RespondField(w, http.StatusBadRequest, "window",
				fmt.Sprintf("window must be a duration from %s to %s (such as 8h or 30m), got %q", MinWindow, MaxWindow, v))
			return
		}
		window = d
	}
	v, err := s.Supervise(r.Context(), s.roster(), window)
	if err != nil {
		s.log.Error("supervisor view", "error", err)
		problem.Respond(w, http.StatusServiceUnavailable, "the supervisor view cannot be read from the database now; retry")
		return
	}
	for i := range v.Agents {
		v.Agents[i].AvgFirstResponseSeconds = round(v.Agents[i].AvgFirstResponseSeconds)
		v.Agents[i].AvgResponseSeconds = round(v.Agents[i].AvgResponseSeconds)
	}
	for i := range v.Teams {
		v.Teams[i].OldestWaitingSeconds = round(v.Teams[i].OldestWaitingSeconds)
	}
	v.Unrouted.OldestWaitingSeconds = round(v.Unrouted.OldestWaitingSeconds)
	writeJSON(w, v)
}

// round rounds seconds to the second ("to the second").
func round(s *float64) *float64 {
	if s == nil {
		return nil
	}
	return new(math.Round(*s))
}
