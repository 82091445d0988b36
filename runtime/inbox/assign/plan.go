package assign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/switchboard-dev/switchboard/runtime/calendar"
	"github.com/switchboard-dev/switchboard/runtime/inbox/kube"
	"github.com/switchboard-dev/switchboard/runtime/inbox/routing"
)

// txn is one routing transaction.
type txn struct {
	s     *Service
	tx    pgx.Tx
	snap  *kube.Snapshot
	ns    string
	now   time.Time
	actor string
	// cursors and queues are routing_state's, read under the lock.
	cursors, oldQueues map[string]any
	// after the commit: metrics and the wake-up.
	firstAssigned []time.Duration
	assigned      map[string]int // by how: auto, manual
	queues        map[string]int // waiting per team label, after the plan
	// stored: the waiting conversations' eligible_teams as read; eligible: the changes
	// the plan writes (nil: none named).
	stored, eligible map[int64][]string
	wake             time.Time
	// final, when set, runs after the plan (an operation reads its answer).
	final func(context.Context) error
	// locked: the routing lock is taken (or queued ahead of the plan's reads).
	locked bool
}

// retryable: PostgreSQL aborted the transaction for a deadlock (40P01) or a
// serialization failure (40001); running it again may succeed.
func retryable(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && slices.Contains([]string{"40P01", "40001"}, pg.Code)
}

// lockSQL creates the namespace's routing_state row if needed; lockRowSQL locks it and
// reads the cursors and queue counts.
// lockRowSQL is a variable only so that the test binary's replica processes can run
// without the lock (export_test.go) to show what the lock prevents.
const lockSQL = `INSERT INTO routing_state (namespace) VALUES ($1) ON CONFLICT DO NOTHING`

var lockRowSQL = `SELECT cursors, queues FROM routing_state WHERE namespace = $1 FOR UPDATE`

// lock takes the namespace's routing lock and reads the cursors and queue counts.
func (t *txn) lock(ctx context.Context) error {
	b := &pgx.Batch{}
	t.queueLock(b)
	return t.tx.SendBatch(ctx, b).Close()
}

// queueLock queues the lock on b; the statements queued after it run once it is granted.
func (t *txn) queueLock(b *pgx.Batch) {
	b.Queue(lockSQL, t.ns)
	b.Queue(lockRowSQL, t.ns).QueryRow(func(row pgx.Row) error {
		var cursors, queues []byte
		if err := row.Scan(&cursors, &queues); err != nil {
			return fmt.Errorf("assign: routing lock: %w", err)
		}
		t.cursors, t.oldQueues = map[string]any{}, map[string]any{}
		if err := json.Unmarshal(cursors, &t.cursors); err != nil {
			return fmt.Errorf("assign: routing_state.cursors: %w", err)
		}
		return json.Unmarshal(queues, &t.oldQueues)
	})
	t.locked = true
}

// convRow is a conversation as routing reads it.
type convRow struct {
	ID           int64
	Number       string
	Status       string
	Priority     int
	WaitingSince time.Time
	Skill        string
	Team         string
	Exclude      string
	Assignee     string
	AssignedAt   *time.Time
	AcceptedAt   *time.Time
	CreatedAt    time.Time
	Eligible     []string // eligible_teams as the last plan wrote them
	ContactID    int64    // read by load only
}

const convColumns = `id, number, status, priority, COALESCE(waiting_since, created_at), COALESCE(required_skill, ''),
	COALESCE(team, ''), COALESCE(exclude_agent, ''), COALESCE(assignee, ''), assigned_at, accepted_at, created_at, eligible_teams`

// convFields are c's fields in convColumns' order.
func (c *convRow) fields() []any {
	return []any{&c.ID, &c.Number, &c.Status, &c.Priority, &c.WaitingSince, &c.Skill, &c.Team, &c.Exclude,
		&c.Assignee, &c.AssignedAt, &c.AcceptedAt, &c.CreatedAt, &c.Eligible}
}

func scanConv(row pgx.CollectableRow) (convRow, error) {
	var c convRow
	err := row.Scan(c.fields()...)
	return c, err
}

// routingConv is c as the routing package sees a waiting conversation.
func (c convRow) routingConv() routing.Conversation {
	rc := routing.Conversation{ID: c.ID, Priority: c.Priority, WaitingSince: c.WaitingSince, Skill: c.Skill, Exclude: c.Exclude}
	if c.Team != "" {
		rc.Teams = []string{c.Team}
	}
	return rc
}

// routingOf returns the RoutingPolicy of the conversation's Number, or nil.
// chatbot reports whether the Inbox has a chatbot hook (kube.Snapshot.Integrations).
func (t *txn) chatbot() bool {
	return t.snap != nil && t.snap.Integrations != nil && t.snap.Integrations.Chatbot != nil
}

func (t *txn) routingOf(number string) *kube.Routing {
	n, ok := t.snap.ByName(number)
	if !ok {
		return nil
	}
	return n.Policy.Routing
}

// group is one RoutingPolicy's share of the plan.
type group struct {
	routing *kube.Routing
	hours   *calendar.Hours
	waiting []routing.Conversation
	pending []routing.Pending
}

// groups returns the served Numbers' RoutingPolicies, by name.
func (t *txn) groups() map[string]*group {
	out := map[string]*group{}
	for _, n := range t.snap.Numbers() {
		if r := n.Policy.Routing; r != nil && out[r.Name] == nil {
			out[r.Name] = &group{routing: r, hours: n.Policy.Hours}
		}
	}
	return out
}

// snapshotReads are the plan's reads, sent in one round trip.
type snapshotReads struct {
	agents   []routing.Agent
	open     map[string]int
	convs    []convRow
	earliest *time.Time // the earliest pending assignment not read (for the wake-up)
}

// read queues the plan's reads on b (after the lock when b carries it): the agents
// with an availability row, every assignee's open conversations, the waiting
// conversations, and the pending assignments that may lapse now (assigned at least the
// shortest assignWithin ago); of the younger ones only the earliest assignment time.
func (t *txn) read(b *pgx.Batch, within time.Duration, out *snapshotReads) {
	b.Queue(`SELECT login, availability, idle_since, gone_since, misses FROM agent_availability
		WHERE namespace = $1 ORDER BY login`, t.ns).Query(func(rows pgx.Rows) (err error) {
		out.agents, err = pgx.CollectRows(rows, scanAgent)
		return err
	})
	b.Queue(`SELECT assignee, count(*) FROM conversations
		WHERE namespace = $1 AND status <> 'resolved' AND assignee IS NOT NULL GROUP BY assignee`, t.ns).Query(func(rows pgx.Rows) error {
		out.open = map[string]int{}
		var login string
		var n int
		_, err := pgx.ForEachRow(rows, []any{&login, &n}, func() error { out.open[login] = n; return nil })
		return err
	})
	cutoff := t.now.Add(-within)
	// Two branches, so that each uses its partial index (conversations_queue_idx,
	// conversations_pending_idx) instead of scanning every conversation.
	// While the Inbox has a chatbot hook, a new conversation is the chatbot's until it
	// hands over (bot_handoff_at: its answer said so, it timed out or failed; see
	// docs/integrations.md): routing leaves it unassigned until then.
	b.Queue(`SELECT `+convColumns+` FROM conversations WHERE namespace = $1 AND status <> 'resolved' AND assignee IS NULL
			AND (NOT $3 OR bot_handoff_at IS NOT NULL)
		UNION ALL
		SELECT `+convColumns+` FROM conversations WHERE namespace = $1 AND status <> 'resolved' AND assignee IS NOT NULL
			AND accepted_at IS NULL AND assigned_at <= $2`, t.ns, cutoff, t.chatbot()).Query(func(rows pgx.Rows) (err error) {
		out.convs, err = pgx.CollectRows(rows, scanConv)
		return err
	})
	b.Queue(`SELECT min(assigned_at) FROM conversations WHERE namespace = $1 AND status <> 'resolved'
		AND assignee IS NOT NULL AND accepted_at IS NULL AND assigned_at > $2`, t.ns, cutoff).QueryRow(func(row pgx.Row) error {
		return row.Scan(&out.earliest)
	})
}

func scanAgent(row pgx.CollectableRow) (routing.Agent, error) {
	var a routing.Agent
	var idle, gone *time.Time
	err := row.Scan(&a.Login, &a.Availability, &idle, &gone, &a.Misses)
	if idle != nil {
		a.IdleSince = *idle
	}
	if gone != nil {
		a.GoneSince = *gone
	}
	return a, err
}

// openCounts returns the unresolved conversations of each assignee.
func (t *txn) openCounts(ctx context.Context) (map[string]int, error) {
	rows, _ := t.tx.Query(ctx, `SELECT assignee, count(*) FROM conversations
		WHERE namespace = $1 AND status <> 'resolved' AND assignee IS NOT NULL GROUP BY assignee`, t.ns)
	out := map[string]int{}
	var login string
	var n int
	_, err := pgx.ForEachRow(rows, []any{&login, &n}, func() error { out[login] = n; return nil })
	if err != nil {
		return nil, fmt.Errorf("assign: count open conversations: %w", err)
	}
	return out, nil
}

// sort puts the conversations read into their RoutingPolicy's group and returns the
// waiting ones of Numbers without a policy.
func (t *txn) sort(convs []convRow, groups map[string]*group) int {
	unrouted := 0
	for _, c := range convs {
		r := t.routingOf(c.Number)
		if c.Assignee == "" {
			t.stored[c.ID] = c.Eligible
		}
		if r == nil {
			if c.Assignee == "" {
				unrouted++
				t.setEligible(c.ID, nil)
			}
			continue
		}
		g := groups[r.Name]
		if c.Assignee == "" {
			g.waiting = append(g.waiting, c.routingConv())
			continue
		}
		at := t.now
		if c.AssignedAt != nil {
			at = *c.AssignedAt
		}
		g.pending = append(g.pending, routing.Pending{Conversation: c.routingConv(), Agent: c.Assignee, AssignedAt: at})
	}
	return unrouted
}

// Team labels of the queue counts that are not a team's name.
const (
	AnyTeam      = "(any)"      // a policy without teams: any agent may take them
	UnroutedTeam = "(unrouted)" // the Number has no RoutingPolicy: assigned by hand only
)

// plan runs routing.Plan for each RoutingPolicy of the served Numbers in turn (by
// name), carrying the agents' loads from one to the next, and writes the results.
func (t *txn) plan(ctx context.Context) error {
	groups := t.groups()
	within := time.Duration(0)
	for _, g := range groups {
		if w := g.routing.Router.Policy().AssignWithin; within == 0 || w < within {
			within = w
		}
	}
	b := &pgx.Batch{}
	if !t.locked {
		t.queueLock(b)
	}
	var rd snapshotReads
	t.read(b, within, &rd)
	if err := t.tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("assign: read the routing snapshot: %w", err)
	}
	for i := range rd.agents {
		rd.agents[i].Open = rd.open[rd.agents[i].Login]
	}
	t.queues, t.stored, t.eligible = map[string]int{}, map[int64][]string{}, map[int64][]string{}
	if unrouted := t.sort(rd.convs, groups); unrouted > 0 {
		t.queues[UnroutedTeam] = unrouted
	}
	if rd.earliest != nil {
		t.wake = rd.earliest.Add(within) // early at worst: the plan then finds nothing to release
	}
	w := &writes{t: t}
	for _, name := range slices.Sorted(maps.Keys(groups)) {
		if err := t.planGroup(name, groups[name], rd.agents, w); err != nil {
			return err
		}
	}
	return w.flush(ctx)
}

// planGroup plans one policy and updates agents with its decisions.
func (t *txn) planGroup(name string, g *group, agents []routing.Agent, w *writes) error {
	cursor, _ := t.cursors[name].(string)
	open := g.hours.Open(t.now)
	res, err := g.routing.Router.Plan(routing.Snapshot{Now: t.now, Open: open, Cursor: cursor,
		Agents: agents, Waiting: g.waiting, Pending: g.pending})
	if err != nil {
		return fmt.Errorf("assign: plan of RoutingPolicy %s: %w", name, err)
	}
	idx := make(map[string]int, len(agents))
	for i, a := range agents {
		idx[a.Login] = i
	}
	for _, a := range res.Away {
		agents[idx[a.Agent]].Availability = routing.Away
		w.away = append(w.away, a)
	}
	for _, r := range res.Released {
		if i, ok := idx[r.Agent]; ok {
			agents[i].Open--
			agents[i].Misses = r.Misses
		}
		w.released = append(w.released, r)
	}
	for _, a := range res.Assignments {
		i := idx[a.Agent]
		agents[i].Open++
		agents[i].IdleSince = t.now
		w.assigned = append(w.assigned, a)
	}
	t.cursors[name] = res.Cursor
	t.countQueue(g, res.Waiting)
	wake := res.Wake
	if period, closed := g.hours.Closed(t.now); closed && (wake.IsZero() || period.End.Before(wake)) {
		wake = period.End
	}
	if !wake.IsZero() && (t.wake.IsZero() || wake.Before(t.wake)) {
		t.wake = wake
	}
	return nil
}

// countQueue adds the group's waiting conversations to the queue counts: a
// conversation counts in each of its eligible teams, which are recorded on it
// (conversations.eligible_teams, setEligible).
func (t *txn) countQueue(g *group, waiting []int64) {
	teams := g.routing.Router.Policy().Teams
	if len(teams) == 0 {
		t.queues[AnyTeam] += 0
	}
	for _, team := range teams {
		t.queues[team.Name] += 0
	}
	byID := make(map[int64]routing.Conversation, len(g.waiting)+len(g.pending))
	for _, c := range g.waiting {
		byID[c.ID] = c
	}
	for _, p := range g.pending {
		byID[p.Conversation.ID] = p.Conversation
	}
	for _, id := range waiting {
		teams := g.routing.Router.EligibleTeams(byID[id])
		t.setEligible(id, teams)
		if teams == nil {
			teams = []string{AnyTeam}
		}
		for _, team := range teams {
			t.queues[team]++
		}
	}
}

// setEligible records that waiting conversation id's eligible teams are teams (nil:
// none named) when they differ from what the last plan wrote.
func (t *txn) setEligible(id int64, teams []string) {
	if len(teams) == 0 {
		teams = nil
	}
	if old, ok := t.stored[id]; ok && !slices.Equal(old, teams) {
		t.eligible[id] = teams
	}
}

// eligibleSQL writes eligible teams: $2 is a JSON object of conversation id → array of
// team names or null. Only unassigned unresolved conversations are changed: one the
// plan assigns keeps NULL (assignSQL clears it).
const eligibleSQL = `UPDATE conversations c SET eligible_teams = CASE WHEN jsonb_typeof(e.value) = 'array'
		THEN ARRAY(SELECT jsonb_array_elements_text(e.value)) END
	FROM jsonb_each($2::jsonb) e
	WHERE c.namespace = $1 AND c.id = e.key::bigint AND c.assignee IS NULL AND c.status <> 'resolved'`

// saveState queues on b the cursors' and queue counts' update, and a queue event for
// each team whose count changed.
func (t *txn) saveState(b *pgx.Batch) {
	for _, team := range slices.Sorted(maps.Keys(t.oldQueues)) {
		if _, still := t.queues[team]; !still {
			t.queueNotify(b, team, 0)
		}
	}
	for _, team := range slices.Sorted(maps.Keys(t.queues)) {
		if old, _ := t.oldQueues[team].(float64); int(old) != t.queues[team] {
			t.queueNotify(b, team, t.queues[team])
		}
	}
	if len(t.eligible) > 0 {
		e, _ := json.Marshal(t.eligible)
		b.Queue(eligibleSQL, t.ns, string(e))
	}
	cursors, _ := json.Marshal(t.cursors)
	queues, _ := json.Marshal(t.queues)
	b.Queue(`UPDATE routing_state SET cursors = $2, queues = $3 WHERE namespace = $1`, t.ns, cursors, queues)
}
