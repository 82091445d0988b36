package store

import (
	"context"
	"encoding/json"
)

// Audit is one entry of the append-only audit log (table audit_log): who did what to
// which object, with what it became. The namespace is the row's.
type Audit struct {
	Actor  string          // for example "switchboard-sender"
	Action string          // for example "outbound.blocked"
	After  json.RawMessage // a JSON object, or nil for NULL
}

// FailAudited is Fail for a message that Switchboard itself refused, with an audit
// entry about the outbox row (object_kind "outbox", object_id its id) written in the
// same statement: both or neither.
func (l *NumberLock) FailAudited(ctx context.Context, id int64, o Outcome, a Audit) error {
	if err := validateAudit(a); err != nil {
		return err
	}
	return l.finish(ctx, "fail", id, `
		WITH f AS (
			UPDATE outbox SET state = 'failed', `+outcomeSet+`, updated_at = now()
			WHERE id = $1 AND namespace = $2 AND number = $3 AND state = 'sending'
			RETURNING id, namespace)
		INSERT INTO audit_log (namespace, actor, action, object_kind, object_id, after)
		SELECT namespace, $10, $11, 'outbox', id::text, $12::jsonb FROM f`,
		append(outcomeArgs(o), a.Actor, a.Action, nullJSON(a.After))...)
}

func validateAudit(a Audit) error {
	switch {
	case a.Actor == "":
		return invalid("Audit.Actor", "must not be empty")
	case a.Action == "":
		return invalid("Audit.Action", "must not be empty")
	}
	return nil
}

func nullJSON(raw json.RawMessage) any {
	if len(raw) == 0 {
		return nil
	}
	return string(raw)
}
