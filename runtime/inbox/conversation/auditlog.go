package conversation

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// AuditEntry is one row of the audit log as the agents' API shows it.
type AuditEntry struct {
	ID         int64           `json:"id"`
	At         time.Time       `json:"at"`
	Actor      string          `json:"actor"`
	Action     string          `json:"action"`
	ObjectKind string          `json:"objectKind"`
	ObjectID   string          `json:"objectId"`
	Before     json.RawMessage `json:"before,omitempty"`
	After      json.RawMessage `json:"after,omitempty"`
}

// AuditFilter selects audit entries; zero values select everything. Since is
// inclusive, Until exclusive.
type AuditFilter struct {
	Actor, ObjectKind, ObjectID string
	Since, Until                time.Time
}

// AuditLog returns up to limit entries of the namespace matching f, newest first, those
// with an id below beforeID when it is not 0.
func AuditLog(ctx context.Context, tx pgx.Tx, namespace string, f AuditFilter, beforeID int64, limit int) ([]AuditEntry, error) {
	var q query
	q.and("namespace = %s", namespace)
	for _, c := range []struct{ col, v string }{{"actor", f.Actor}, {"object_kind", f.ObjectKind}, {"object_id", f.ObjectID}} {
		if c.v != "" {
			q.and(c.col+" = %s", c.v)
		}
	}
	if !f.Since.IsZero() {
		q.and("at >= %s", f.Since)
	}
	if !f.Until.IsZero() {
		q.and("at < %s", f.Until)
	}
	if beforeID > 0 {
		q.and("id < %s", beforeID)
	}
	rows, _ := tx.Query(ctx, `SELECT id, at, actor, action, object_kind, object_id, before, after FROM audit_log
		WHERE `+q.clause()+` ORDER BY id DESC LIMIT `+q.arg(limit), q.args...)
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[AuditEntry])
	if err != nil {
		return nil, fmt.Errorf("conversation: audit log: %w", err)
	}
	return out, nil
}
