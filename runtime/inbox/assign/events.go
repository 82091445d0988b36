package assign

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/switchboard-dev/switchboard/runtime/inbox/routing"
)

// Channel is the PostgreSQL NOTIFY channel of the routing events (docs/routing.md,
// "Events"). Each payload is a JSON object:
//
//	{"id":123,"namespace":"acme","kind":"conversation.assigned","conversation_id":7,"agent":"ana","team":"iberia"}
//
// id is the audit_log row of the change (absent for queue.changed, which has no audit
// row and carries "waiting" instead); conversation_id, agent, team and availability are
// present when they apply. Notifications are sent at commit, never for a rolled back
// transaction.
const Channel = "inbox_events"

// The event kinds (also the audit_log actions of the changes).
const (
	KindAssigned     = "conversation.assigned"              // assigned to an agent (automatically or by hand)
	KindQueued       = "conversation.queued"                // back in the queue: transferred or assigned to a team, reopened
	KindLapsed       = "conversation.lapsed"                // assignWithin passed unaccepted: taken from the agent
	KindAccepted     = "conversation.accepted"              // accepted by its assignee
	KindResolved     = "conversation.resolved"              // resolved
	KindAvailability = "availability.changed"               // an agent's availability changed
	KindQueue        = "queue.changed"                      // a team's count of waiting conversations changed
	objConversation  = "conversation"                       // audit_log.object_kind
	objAgent         = "agent"                              // audit_log.object_kind
	actionOverride   = "conversation.assigned.overCapacity" // audit action of an assignment above capacity.max
)

// event is one audited change with its notification.
type event struct {
	actor, action, kind string
	conv                int64
	agent, team         string
	availability        string
	before, after       any
}

// auditNotifySQL writes the audit row and notifies with its id, in one statement.
const auditNotifySQL = `
	WITH a AS (
		INSERT INTO audit_log (namespace, actor, action, object_kind, object_id, before, after)
		VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb) RETURNING id)
	SELECT pg_notify('` + Channel + `', ($8::jsonb || jsonb_build_object('id', a.id))::text) FROM a`

// queueEvent queues e's statement on b.
func (t *txn) queueEvent(b *pgx.Batch, e event) {
	objKind, objID := objConversation, fmt.Sprint(e.conv)
	if e.conv == 0 {
		objKind, objID = objAgent, e.agent
	}
	b.Queue(auditNotifySQL, t.ns, e.actor, e.action, objKind, objID, jsonOrNil(e.before), jsonOrNil(e.after), t.payload(e))
}

// payload is the notification without its id.
func (t *txn) payload(e event) []byte {
	p := map[string]any{"namespace": t.ns, "kind": e.kind}
	if e.conv != 0 {
		p["conversation_id"] = e.conv
	}
	for k, v := range map[string]string{"agent": e.agent, "team": e.team, "availability": e.availability} {
		if v != "" {
			p[k] = v
		}
	}
	b, _ := json.Marshal(p)
	return b
}

func jsonOrNil(v any) any {
	if v == nil {
		return nil
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// emit writes one event now.
func (t *txn) emit(ctx context.Context, e event) error {
	b := &pgx.Batch{}
	t.queueEvent(b, e)
	if err := t.tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("assign: audit %s: %w", e.action, err)
	}
	return nil
}

// queueNotify queues the notification of a team's new count of waiting conversations.
func (t *txn) queueNotify(b *pgx.Batch, team string, n int) {
	p, _ := json.Marshal(map[string]any{"namespace": t.ns, "kind": KindQueue, "team": team, "waiting": n})
	b.Queue(`SELECT pg_notify('`+Channel+`', $1)`, string(p))
}

// writes are a plan's decisions, written in one pipelined round trip in the order
// docs/routing.md gives: away marks, releases, assignments.
type writes struct {
	t        *txn
	away     []routing.MarkAway
	released []routing.Release
	assigned []routing.Assignment
}

// guard is one guarded statement of the batch: it must change exactly one row.
type guard struct {
	what string
}

// flush writes the decisions and then the routing state (saveState), in one round trip.
func (w *writes) flush(ctx context.Context) error {
	t := w.t
	b := &pgx.Batch{}
	var guards []*guard // nil entries: event statements
	for _, a := range w.away {
		b.Queue(`UPDATE agent_availability SET availability = 'away', reason = $3, changed_at = $4
			WHERE namespace = $1 AND login = $2 AND availability = 'online'`, t.ns, a.Agent, string(a.Reason), t.now)
		guards = append(guards, &guard{what: "mark " + a.Agent + " away"})
		t.queueEvent(b, event{actor: SystemActor, action: KindAvailability, kind: KindAvailability, agent: a.Agent,
			availability: string(routing.Away), before: map[string]string{"availability": "online"},
			after: map[string]string{"availability": "away", "reason": string(a.Reason)}})
		guards = append(guards, nil)
	}
	for _, r := range w.released {
		b.Queue(`UPDATE conversations SET assignee = NULL, assigned_at = NULL, exclude_agent = $3, updated_at = now()
			WHERE namespace = $1 AND id = $2 AND assignee = $3 AND accepted_at IS NULL AND status <> 'resolved'`, t.ns, r.Conversation, r.Agent)
		guards = append(guards, &guard{what: fmt.Sprintf("release conversation %d from %s", r.Conversation, r.Agent)})
		b.Queue(`UPDATE agent_availability SET misses = $3 WHERE namespace = $1 AND login = $2`, t.ns, r.Agent, r.Misses)
		guards = append(guards, nil)
		t.queueEvent(b, event{actor: SystemActor, action: KindLapsed, kind: KindLapsed, conv: r.Conversation, agent: r.Agent,
			before: map[string]string{"assignee": r.Agent}, after: map[string]any{"assignee": nil, "misses": r.Misses}})
		guards = append(guards, nil)
	}
	if len(w.assigned) > 0 {
		ids, agents := make([]int64, len(w.assigned)), make([]string, len(w.assigned))
		for i, a := range w.assigned {
			ids[i], agents[i] = a.Conversation, a.Agent
		}
		b.Queue(assignSQL, t.ns, ids, agents, t.now, SystemActor, KindAssigned).Query(func(rows pgx.Rows) error {
			return t.scanAssigned(rows, len(w.assigned))
		})
	}
	t.saveState(b)
	return t.runGuarded(ctx, b, guards)
}

// runGuarded sends b and checks each guarded statement changed one row (the
// assignments check their own).
func (t *txn) runGuarded(ctx context.Context, b *pgx.Batch, guards []*guard) error {
	for i, g := range guards {
		if g == nil {
			continue
		}
		b.QueuedQueries[i].Exec(func(tag pgconn.CommandTag) error {
			if tag.RowsAffected() != 1 {
				return fmt.Errorf("assign: %s: the row changed under the routing lock", g.what)
			}
			return nil
		})
	}
	if err := t.tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("assign: write plan: %w", err)
	}
	return nil
}

// assignSQL makes the assignments $2 (conversation ids) → $3 (logins) at $4, guarded
// by "still waiting", sets the agents' idle_since, and writes an audit row (actor $5,
// action $6) and a notification for each, in one statement. It returns each
// conversation's created_at and whether this is its first assignment.
const assignSQL = `
	WITH a AS (SELECT * FROM unnest($2::bigint[], $3::text[]) AS a(id, agent)),
	u AS (
		UPDATE conversations c SET assignee = a.agent, assigned_at = $4, accepted_at = NULL, eligible_teams = NULL,
			first_assigned_at = COALESCE(c.first_assigned_at, $4), updated_at = now()
		FROM a WHERE c.namespace = $1 AND c.id = a.id AND c.assignee IS NULL AND c.status <> 'resolved'
		RETURNING c.id, a.agent, c.created_at, c.first_assigned_at = $4 AS first),
	i AS (
		UPDATE agent_availability SET idle_since = $4 WHERE namespace = $1 AND login = ANY ($3::text[])),
	au AS (
		INSERT INTO audit_log (namespace, actor, action, object_kind, object_id, after)
		SELECT $1, $5, $6, 'conversation', u.id::text, jsonb_build_object('assignee', u.agent, 'automatic', true) FROM u
		RETURNING id, object_id)
	SELECT u.created_at, u.first, pg_notify('` + Channel + `', jsonb_build_object('id', au.id, 'namespace', $1::text,
		'kind', $6::text, 'conversation_id', u.id, 'agent', u.agent)::text) IS NULL
	FROM u JOIN au ON au.object_id = u.id::text`

// scanAssigned reads the assignments' creation times and first-assignment flags, for
// the assignment latency histogram, and fails unless all want were made.
func (t *txn) scanAssigned(rows pgx.Rows, want int) error {
	var created time.Time
	var first, null bool
	n, err := pgx.ForEachRow(rows, []any{&created, &first, &null}, func() error {
		if first {
			t.firstAssigned = append(t.firstAssigned, max(t.now.Sub(created), 0))
		}
		t.count("auto")
		return nil
	})
	if err != nil {
		return err
	}
	if int(n.RowsAffected()) != want {
		return fmt.Errorf("assign: %d of %d assignments made: a conversation changed under the routing lock", n.RowsAffected(), want)
	}
	return nil
}

func (t *txn) count(how string) {
	if t.assigned == nil {
		t.assigned = map[string]int{}
	}
	t.assigned[how]++
}
