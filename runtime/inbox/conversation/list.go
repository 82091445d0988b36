package conversation

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// View is a conversation as the agents' API shows it.
type View struct {
	ID            int64    `json:"id"`
	Number        string   `json:"number"`
	ContactID     int64    `json:"contactId"`
	WAID          string   `json:"waId"`
	ProfileName   string   `json:"profileName,omitempty"`
	Status        string   `json:"status"`
	Priority      int      `json:"priority"`
	Tags          []string `json:"tags"`
	Assignee      *string  `json:"assignee,omitempty"`
	Team          *string  `json:"team,omitempty"`
	RequiredSkill *string  `json:"requiredSkill,omitempty"`
	// EligibleTeams are, while it waits unassigned, the teams that may take it
	// (conversations.eligible_teams, written by the routing's plan); nil when none is named.
	EligibleTeams   []string   `json:"eligibleTeams,omitempty"`
	WindowExpiresAt *time.Time `json:"windowExpiresAt,omitempty"`
	LastMessageAt   *time.Time `json:"lastMessageAt,omitempty"`
	CreatedAt       time.Time  `json:"createdAt"`
	ResolvedAt      *time.Time `json:"resolvedAt,omitempty"`
	// WaitingSince is when it began to wait for an agent (unassigned and unresolved only).
	WaitingSince *time.Time `json:"waitingSince,omitempty"`
	// AssignedAt is when its assignee got it; AcceptedAt when she accepted it or first
	// answered the customer (nil while the assignment can still lapse after the
	// RoutingPolicy's assignWithin; docs/routing.md).
	AssignedAt *time.Time `json:"assignedAt,omitempty"`
	AcceptedAt *time.Time `json:"acceptedAt,omitempty"`
	// Activity is the list's sort key: LastMessageAt, or CreatedAt before any message.
	Activity time.Time `json:"-"`
}

// Filter selects conversations; zero values select everything. Unassigned: true only
// those without an assignee, false only those with one. Waiting: true only those
// waiting for an agent (unresolved and unassigned), false only the others. Query: the
// contact's profile name contains it (any case), or its wa_id starts with its digits.
type Filter struct {
	Status, Assignee, Team, Tag, Number, Query string
	Unassigned, Waiting                        *bool
}

// Position is where a page of the list starts: after the conversation with this sort key
// and id (both descending).
type Position struct {
	Activity time.Time `json:"a"`
	ID       int64     `json:"i"`
}

// Valid reports whether p can be a position in the list (a cursor the API wrote).
func (p *Position) Valid() bool { return p.ID > 0 && !p.Activity.IsZero() }

const activity = "COALESCE(v.last_message_at, v.created_at)"

const viewColumns = `v.id, v.number, v.contact_id, c.wa_id, COALESCE(c.profile_name, ''), v.status, v.priority, v.tags,
	v.assignee, v.team, v.required_skill, CASE WHEN v.assignee IS NULL THEN v.eligible_teams END, v.window_expires_at, v.last_message_at, v.created_at, v.resolved_at,
	CASE WHEN v.assignee IS NULL AND v.status <> 'resolved' THEN v.waiting_since END, v.assigned_at, v.accepted_at, ` + activity

func scanView(row pgx.CollectableRow) (View, error) {
	var v View
	err := row.Scan(&v.ID, &v.Number, &v.ContactID, &v.WAID, &v.ProfileName, &v.Status, &v.Priority, &v.Tags,
		&v.Assignee, &v.Team, &v.RequiredSkill, &v.EligibleTeams, &v.WindowExpiresAt, &v.LastMessageAt, &v.CreatedAt, &v.ResolvedAt,
		&v.WaitingSince, &v.AssignedAt, &v.AcceptedAt, &v.Activity)
	return v, err
}

// List returns up to limit conversations the viewer may see that match f, latest
// activity first (then id, descending), starting after `after` when it is not nil. The
// order is on values a new conversation cannot fall behind, so pages stay stable while
// conversations are added; a conversation with a new message moves to the front.
func List(ctx context.Context, tx pgx.Tx, vw Viewer, f Filter, after *Position, limit int) ([]View, error) {
	var q query
	q.visible(vw)
	f.apply(&q)
	if after != nil {
		q.and("("+activity+", v.id) < (%s, %s)", after.Activity, after.ID)
	}
	rows, _ := tx.Query(ctx, `SELECT `+viewColumns+` FROM conversations v JOIN contacts c ON c.id = v.contact_id
		WHERE `+q.clause()+` ORDER BY `+activity+` DESC, v.id DESC LIMIT `+q.arg(limit), q.args...)
	out, err := pgx.CollectRows(rows, scanView)
	if err != nil {
		return nil, fmt.Errorf("conversation: list: %w", err)
	}
	return out, nil
}

func (f Filter) apply(q *query) {
	for _, c := range []struct{ col, v string }{{"v.status", f.Status}, {"v.assignee", f.Assignee},
		{"v.team", f.Team}, {"v.number", f.Number}} {
		if c.v != "" {
			q.and(c.col+" = %s", c.v)
		}
	}
	if f.Tag != "" {
		q.and("v.tags @> ARRAY[%s]::text[]", f.Tag)
	}
	if f.Query != "" {
		phone := digits(f.Query)
		if phone == "" {
			phone = "-" // no wa_id starts with it
		}
		q.and("(c.profile_name ILIKE %s OR c.wa_id LIKE %s)", "%"+likeEscape(f.Query)+"%", phone+"%")
	}
	if f.Unassigned != nil {
		q.where = append(q.where, map[bool]string{true: "v.assignee IS NULL", false: "v.assignee IS NOT NULL"}[*f.Unassigned])
	}
	if f.Waiting != nil {
		w := "(v.status <> 'resolved' AND v.assignee IS NULL)"
		if !*f.Waiting {
			w = "NOT " + w
		}
		q.where = append(q.where, w)
	}
}

// Get returns the conversation if the viewer may see it, or ErrNoConversation.
// forUpdate locks its row until the transaction ends.
func Get(ctx context.Context, tx pgx.Tx, vw Viewer, id int64, forUpdate bool) (View, error) {
	var q query
	q.visible(vw)
	q.and("v.id = %s", id)
	lock := ""
	if forUpdate {
		lock = " FOR UPDATE OF v"
	}
	rows, _ := tx.Query(ctx, `SELECT `+viewColumns+` FROM conversations v JOIN contacts c ON c.id = v.contact_id
		WHERE `+q.clause()+lock, q.args...)
	v, err := pgx.CollectExactlyOneRow(rows, scanView)
	switch {
	case err == pgx.ErrNoRows:
		return View{}, ErrNoConversation
	case err != nil:
		return View{}, fmt.Errorf("conversation: get: %w", err)
	}
	return v, nil
}

// Latest returns the conversation's latest limit messages, oldest first. The caller has
// checked that the viewer may see the conversation (Get).
func Latest(ctx context.Context, tx pgx.Tx, namespace string, id int64, limit int) ([]Message, error) {
	rows, _ := tx.Query(ctx, `SELECT * FROM (SELECT `+messageColumns+` FROM messages
		 WHERE namespace = $1 AND conversation_id = $2 ORDER BY created_at DESC, id DESC LIMIT $3) m
		 ORDER BY created_at, id`, namespace, id, limit)
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Message])
	if err != nil {
		return nil, fmt.Errorf("conversation: latest messages: %w", err)
	}
	return out, nil
}
