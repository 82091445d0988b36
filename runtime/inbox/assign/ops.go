package assign

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox/authz"
	"github.com/switchboard-dev/switchboard/runtime/inbox/problem"
	"github.com/switchboard-dev/switchboard/runtime/inbox/routing"
)

// Target is where an assignment or a transfer goes: exactly one of Agent (a login
// name) and Team (a team of the conversation's RoutingPolicy).
type Target struct {
	Agent string `json:"agent,omitempty"`
	Team  string `json:"team,omitempty"`
}

// State is a conversation's routing state, as the operations answer it (after the
// operation's plan: a conversation transferred to a team may already be assigned).
type State struct {
	ID           int64      `json:"id"`
	Number       string     `json:"number"`
	Status       string     `json:"status"`
	Priority     int        `json:"priority"`
	Assignee     string     `json:"assignee,omitempty"`
	Team         string     `json:"team,omitempty"`
	WaitingSince *time.Time `json:"waitingSince,omitempty"` // set while it waits in the queue
	AssignedAt   *time.Time `json:"assignedAt,omitempty"`
	AcceptedAt   *time.Time `json:"acceptedAt,omitempty"`
}

func (c convRow) state() State {
	st := State{ID: c.ID, Number: c.Number, Status: c.Status, Priority: c.Priority, Assignee: c.Assignee, Team: c.Team,
		AssignedAt: c.AssignedAt, AcceptedAt: c.AcceptedAt}
	if c.Assignee == "" && c.Status != "resolved" {
		w := c.WaitingSince
		st.WaitingSince = &w
	}
	return st
}

// notFound is the answer for a conversation that does not exist, is another
// namespace's, or is outside the caller's teams: the three are indistinguishable.
func notFound(id int64) problem.Problem {
	return problem.Field(http.StatusNotFound, "id", fmt.Sprintf("no conversation %d", id))
}

func conflict(detail string) problem.Problem { return problem.New(http.StatusConflict, detail) }

// convOp runs fn on conversation id, visible to p, in a routing transaction, and
// returns the conversation's state after the plan.
func (s *Service) convOp(ctx context.Context, p *authz.Principal, id int64, fn func(*txn, convRow) error) (State, error) {
	if p == nil || p.Namespace != s.cfg.Namespace {
		return State{}, notFound(id)
	}
	var st State
	err := s.inTx(ctx, p.Actor(), func(t *txn) error {
		c, err := t.load(ctx, id, p)
		if err != nil {
			return err
		}
		if err := fn(t, c); err != nil {
			return err
		}
		t.final = func(ctx context.Context) error {
			c, err := t.load(ctx, id, nil)
			st = c.state()
			return err
		}
		return nil
	})
	return st, err
}

// load reads conversation id with its row lock; with p, one p may not see is not found.
func (t *txn) load(ctx context.Context, id int64, p *authz.Principal) (convRow, error) {
	rows, _ := t.tx.Query(ctx, `SELECT `+convColumns+`, contact_id FROM conversations WHERE namespace = $1 AND id = $2 FOR UPDATE`, t.ns, id)
	c, err := pgx.CollectExactlyOneRow(rows, func(row pgx.CollectableRow) (convRow, error) {
		var c convRow
		err := row.Scan(append(c.fields(), &c.ContactID)...)
		return c, err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return convRow{}, notFound(id)
	}
	if err != nil {
		return convRow{}, fmt.Errorf("assign: read conversation %d: %w", id, err)
	}
	if p != nil && !t.visible(p, c) {
		return convRow{}, notFound(id)
	}
	return c, nil
}

// visible: the inbox's one visibility rule (authz.Scope): p reads every conversation
// (conversations.readAll), is its assignee, belongs to its team, or, while it waits,
// to one of its eligible teams.
func (t *txn) visible(p *authz.Principal, c convRow) bool {
	return p.ConversationScope().Sees(c.Team, c.Assignee, c.Eligible)
}

// Assign assigns an unassigned conversation to an agent or a team (conversations.assign).
// To an agent: refused over the agent's capacity.max (409, field agent) unless p holds
// conversations.overrideCapacity, which is then audited as
// "conversation.assigned.overCapacity"; the assignment counts as accepted (a person
// decided). To a team: the conversation waits for that team's agents, keeping its
// place in the queue; the agent it leaves gets it back only when no other agent of the
// team has room (routing.Conversation.Exclude). Errors are problem.Problem values: 404 (no such conversation
// for p), 400/422 naming the field, 409 (resolved, already assigned, over capacity).
func (s *Service) Assign(ctx context.Context, p *authz.Principal, id int64, to Target) (State, error) {
	return s.move(ctx, p, id, to, false)
}

// Transfer is Assign for a conversation that is assigned already: to another agent, or
// back to the queue of a team.
func (s *Service) Transfer(ctx context.Context, p *authz.Principal, id int64, to Target) (State, error) {
	return s.move(ctx, p, id, to, true)
}

func (s *Service) move(ctx context.Context, p *authz.Principal, id int64, to Target, transfer bool) (State, error) {
	if (to.Agent == "") == (to.Team == "") {
		return State{}, problem.Field(http.StatusBadRequest, "agent", "give exactly one of agent and team")
	}
	return s.convOp(ctx, p, id, func(t *txn, c convRow) error {
		switch {
		case c.Status == "resolved":
			return conflict(fmt.Sprintf("conversation %d is resolved; reopen it first", id))
		case !transfer && c.Assignee != "":
			return conflict(fmt.Sprintf("conversation %d is assigned to %q already; transfer it instead", id, c.Assignee))
		case transfer && c.Assignee == "":
			return conflict(fmt.Sprintf("conversation %d is not assigned; assign it instead", id))
		case to.Agent != "" && to.Agent == c.Assignee:
			return conflict(fmt.Sprintf("conversation %d is assigned to %q already", id, c.Assignee))
		}
		action := KindAssigned
		if transfer {
			action = "conversation.transferred"
		}
		if to.Team != "" {
			return t.toTeam(ctx, p, c, to.Team, action)
		}
		return t.toAgent(ctx, p, c, to.Agent, action)
	})
}

func (t *txn) toTeam(ctx context.Context, p *authz.Principal, c convRow, team, action string) error {
	r := t.routingOf(c.Number)
	if r == nil || !slices.ContainsFunc(r.Router.Policy().Teams, func(x routing.Team) bool { return x.Name == team }) {
		return problem.Field(http.StatusUnprocessableEntity, "team",
			fmt.Sprintf("team %q is not a team of the RoutingPolicy of the conversation's Number %s", team, c.Number))
	}
	_, err := t.tx.Exec(ctx, `UPDATE conversations SET assignee = NULL, assigned_at = NULL, accepted_at = NULL, team = $3,
		exclude_agent = NULLIF($4, ''), waiting_since = COALESCE(waiting_since, created_at), updated_at = now()
		WHERE namespace = $1 AND id = $2`, t.ns, c.ID, team, c.Assignee)
	if err != nil {
		return fmt.Errorf("assign: conversation %d to team %s: %w", c.ID, team, err)
	}
	return t.emit(ctx, event{actor: p.Actor(), action: action, kind: KindQueued, conv: c.ID, team: team,
		before: map[string]string{"assignee": c.Assignee, "team": c.Team}, after: map[string]any{"assignee": nil, "team": team}})
}

func (t *txn) toAgent(ctx context.Context, p *authz.Principal, c convRow, agent, action string) error {
	known, err := t.knownAgent(ctx, agent)
	if err != nil {
		return err
	}
	if !known {
		return problem.Field(http.StatusUnprocessableEntity, "agent",
			fmt.Sprintf("no agent %q: not a member of a team of the Inbox's RoutingPolicies, and never set an availability", agent))
	}
	over := false
	if r := t.routingOf(c.Number); r != nil {
		open, err := t.openOf(ctx, agent)
		if err != nil {
			return err
		}
		if err := r.Router.CheckManual(routing.Agent{Login: agent, Open: open}, p.Can(authz.ConversationsOverrideCap)); err != nil {
			pr := problem.Field(http.StatusConflict, "agent", err.Error())
			pr.Permission = string(authz.ConversationsOverrideCap)
			return pr
		}
		over = r.Router.Policy().Max > 0 && open >= r.Router.Policy().Max
	}
	var created time.Time
	var first bool
	err = t.tx.QueryRow(ctx, `UPDATE conversations SET assignee = $3, assigned_at = $4, accepted_at = $4, exclude_agent = NULL, eligible_teams = NULL,
			first_assigned_at = COALESCE(first_assigned_at, $4), updated_at = now()
		WHERE namespace = $1 AND id = $2 RETURNING created_at, first_assigned_at = $4`, t.ns, c.ID, agent, t.now).Scan(&created, &first)
	if err != nil {
		return fmt.Errorf("assign: conversation %d to %s: %w", c.ID, agent, err)
	}
	if first {
		t.firstAssigned = append(t.firstAssigned, max(t.now.Sub(created), 0))
	}
	t.count("manual")
	if over {
		action = actionOverride
	}
	return t.emit(ctx, event{actor: p.Actor(), action: action, kind: KindAssigned, conv: c.ID, agent: agent,
		before: map[string]string{"assignee": c.Assignee}, after: map[string]any{"assignee": agent, "overCapacity": over}})
}

// knownAgent: a member of a team of a served RoutingPolicy, or an agent with an
// availability row.
func (t *txn) knownAgent(ctx context.Context, login string) (bool, error) {
	for _, n := range t.snap.Numbers() {
		if r := n.Policy.Routing; r != nil && len(r.Router.TeamsOf(login)) > 0 {
			return true, nil
		}
	}
	var ok bool
	err := t.tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM agent_availability WHERE namespace = $1 AND login = $2)`, t.ns, login).Scan(&ok)
	return ok, err
}

// openOf counts an agent's unresolved conversations.
func (t *txn) openOf(ctx context.Context, login string) (int, error) {
	var n int
	err := t.tx.QueryRow(ctx, `SELECT count(*) FROM conversations WHERE namespace = $1 AND assignee = $2 AND status <> 'resolved'`,
		t.ns, login).Scan(&n)
	return n, err
}

// Accept records that the assignee accepted the conversation (conversations.update):
// the assignment no longer lapses, and the agent's misses in a row restart from 0. Only
// the assignee accepts (409 otherwise); accepting twice changes nothing.
func (s *Service) Accept(ctx context.Context, p *authz.Principal, id int64) (State, error) {
	return s.convOp(ctx, p, id, func(t *txn, c convRow) error {
		switch {
		case c.Status == "resolved":
			return conflict(fmt.Sprintf("conversation %d is resolved", id))
		case p.Kind != authz.KindAgent || c.Assignee != p.Subject:
			return conflict(fmt.Sprintf("conversation %d is not assigned to you", id))
		case c.AcceptedAt != nil:
			return nil
		}
		if err := t.accepted(ctx, c.ID, p.Subject); err != nil {
			return err
		}
		return t.emit(ctx, event{actor: p.Actor(), action: KindAccepted, kind: KindAccepted, conv: c.ID, agent: p.Subject,
			after: map[string]any{"acceptedAt": t.now}})
	})
}

func (t *txn) accepted(ctx context.Context, id int64, agent string) error {
	b := &pgx.Batch{}
	b.Queue(`UPDATE conversations SET accepted_at = $4, updated_at = now()
		WHERE namespace = $1 AND id = $2 AND assignee = $3 AND accepted_at IS NULL`, t.ns, id, agent, t.now)
	b.Queue(`UPDATE agent_availability SET misses = 0 WHERE namespace = $1 AND login = $2`, t.ns, agent)
	if err := t.tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("assign: accept conversation %d: %w", id, err)
	}
	return nil
}

// Answered records, inside the caller's transaction, that principal p sent a message to
// the customer in conversation id at now (the agents' API calls it for a text reply, a
// template and media, never for a note): when p is the agent the conversation is assigned
// to and it is not accepted yet, it counts as accepted (accepted_at = now, so it no
// longer lapses after assignWithin; a conversation.accepted event with "by": "reply" is
// audited and notified), and an agent who answers has her misses in a row reset to 0
// (docs/routing.md, "Assignments that lapse"). A send by anyone else (a supervisor, an
// integration's token) accepts nothing for the assignee. Call it first in the
// transaction: it takes the routing lock (so that a plan never releases the assignment at
// the same moment), and taking it after locking the conversation's row could deadlock
// with a plan. Most sends have nothing to record (the conversation is accepted already
// and the agent has no misses): a plain read finds that first, so those sends never wait
// for the routing lock. Errors are the database's.
func Answered(ctx context.Context, tx pgx.Tx, namespace string, id int64, p *authz.Principal, now time.Time) error {
	if p == nil || p.Kind != authz.KindAgent || p.Namespace != namespace {
		return nil
	}
	var needed bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM conversations
			WHERE namespace = $1 AND id = $2 AND assignee = $3 AND accepted_at IS NULL AND status <> 'resolved')
		OR EXISTS (SELECT 1 FROM agent_availability WHERE namespace = $1 AND login = $3 AND misses <> 0)`,
		namespace, id, p.Subject).Scan(&needed); err != nil {
		return fmt.Errorf("assign: answered conversation %d: %w", id, err)
	}
	if !needed {
		return nil
	}
	if _, err := tx.Exec(ctx, `SELECT 1 FROM routing_state WHERE namespace = $1 FOR UPDATE`, namespace); err != nil {
		return fmt.Errorf("assign: routing lock: %w", err)
	}
	t := &txn{tx: tx, ns: namespace, now: now}
	tag, err := tx.Exec(ctx, `UPDATE conversations SET accepted_at = $4, updated_at = now()
		WHERE namespace = $1 AND id = $2 AND assignee = $3 AND accepted_at IS NULL AND status <> 'resolved'`,
		namespace, id, p.Subject, now)
	if err != nil {
		return fmt.Errorf("assign: answered conversation %d: %w", id, err)
	}
	if _, err := tx.Exec(ctx, `UPDATE agent_availability SET misses = 0 WHERE namespace = $1 AND login = $2 AND misses <> 0`,
		namespace, p.Subject); err != nil {
		return fmt.Errorf("assign: reset the misses of %s: %w", p.Subject, err)
	}
	if tag.RowsAffected() == 0 {
		return nil
	}
	return t.emit(ctx, event{actor: p.Actor(), action: KindAccepted, kind: KindAccepted, conv: id, agent: p.Subject,
		after: map[string]any{"acceptedAt": now, "by": "reply"}})
}

// Resolve resolves the conversation (conversations.update); its agent's room goes at
// once to the longest-waiting eligible conversation.
func (s *Service) Resolve(ctx context.Context, p *authz.Principal, id int64) (State, error) {
	return s.convOp(ctx, p, id, func(t *txn, c convRow) error {
		if c.Status == "resolved" {
			return conflict(fmt.Sprintf("conversation %d is resolved already", id))
		}
		_, err := t.tx.Exec(ctx, `UPDATE conversations SET status = 'resolved', resolved_at = $3, eligible_teams = NULL, updated_at = now()
			WHERE namespace = $1 AND id = $2`, t.ns, id, t.now)
		if err != nil {
			return fmt.Errorf("assign: resolve conversation %d: %w", id, err)
		}
		return t.emit(ctx, event{actor: p.Actor(), action: KindResolved, kind: KindResolved, conv: id, agent: c.Assignee,
			before: map[string]string{"status": c.Status}, after: map[string]string{"status": "resolved"}})
	})
}

// Reopen reopens a resolved conversation (conversations.update): it goes back to the
// queue, waiting from now, and the plan assigns it like a new one. 409 when it is not
// resolved, or when the contact has opened another conversation on the Number since
// (one unresolved conversation per Number and contact).
func (s *Service) Reopen(ctx context.Context, p *authz.Principal, id int64) (State, error) {
	return s.convOp(ctx, p, id, func(t *txn, c convRow) error {
		if c.Status != "resolved" {
			return conflict(fmt.Sprintf("conversation %d is not resolved", id))
		}
		var other int64
		err := t.tx.QueryRow(ctx, `SELECT id FROM conversations WHERE namespace = $1 AND number = $2 AND contact_id = $3
			AND status <> 'resolved'`, t.ns, c.Number, c.ContactID).Scan(&other)
		if err == nil {
			return conflict(fmt.Sprintf("the contact has an open conversation %d on this Number; conversation %d stays resolved", other, id))
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		_, err = t.tx.Exec(ctx, `UPDATE conversations SET status = 'open', resolved_at = NULL, assignee = NULL, assigned_at = NULL,
			accepted_at = NULL, exclude_agent = NULL, waiting_since = $3, updated_at = now() WHERE namespace = $1 AND id = $2`, t.ns, id, t.now)
		if err != nil {
			return fmt.Errorf("assign: reopen conversation %d: %w", id, err)
		}
		return t.emit(ctx, event{actor: p.Actor(), action: "conversation.reopened", kind: KindQueued, conv: id, team: c.Team,
			before: map[string]string{"status": "resolved", "assignee": c.Assignee}, after: map[string]any{"status": "open", "assignee": nil}})
	})
}
