package conversation

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox/authz"
)

// Viewer is who reads or changes conversations through the agents' API: the tenant,
// the actor the audit log records ("agent:<login>", "token:<name>"), and which
// conversations it may see (authz.Scope, the inbox's one visibility rule). A
// conversation the viewer may not see is ErrNoConversation, exactly like one that does
// not exist.
type Viewer struct {
	Namespace string
	Actor     string
	Scope     authz.Scope
}

// ViewerOf returns p's Viewer in namespace; a nil p sees nothing.
func ViewerOf(namespace string, p *authz.Principal) Viewer {
	if p == nil {
		return Viewer{Namespace: namespace}
	}
	return Viewer{Namespace: namespace, Actor: p.Actor(), Scope: p.ConversationScope()}
}

// query builds a statement's WHERE clause and arguments.
type query struct {
	where []string
	args  []any
}

// arg adds v and returns its placeholder.
func (q *query) arg(v any) string {
	q.args = append(q.args, v)
	return "$" + strconv.Itoa(len(q.args))
}

func (q *query) and(format string, vs ...any) {
	ph := make([]any, len(vs))
	for i, v := range vs {
		ph[i] = q.arg(v)
	}
	q.where = append(q.where, fmt.Sprintf(format, ph...))
}

func (q *query) clause() string { return strings.Join(q.where, " AND ") }

// visible restricts conversations (alias v) to what the viewer may see.
func (q *query) visible(vw Viewer) {
	q.and("v.namespace = %s", vw.Namespace)
	if !vw.Scope.All {
		q.where = append(q.where, vw.Scope.SQL("v", q.arg))
	}
}

// Audit appends one entry to the audit log in the caller's transaction: actor did action
// to the object (kind, id), with what it was and what it became (any JSON values, nil for
// NULL).
func Audit(ctx context.Context, tx pgx.Tx, namespace, actor, action, kind, id string, before, after any) error {
	b, err := jsonOrNil(before)
	if err != nil {
		return err
	}
	a, err := jsonOrNil(after)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `
		INSERT INTO audit_log (namespace, actor, action, object_kind, object_id, before, after)
		VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb)`, namespace, actor, action, kind, id, b, a); err != nil {
		return fmt.Errorf("conversation: audit %s: %w", action, err)
	}
	return nil
}

func jsonOrNil(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("conversation: audit value: %w", err)
	}
	return string(b), nil
}
