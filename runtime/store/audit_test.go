package store_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/runtime/store"
)

// TestFailAudited: the row fails and its audit entry is written together; bad input and
// a message that is not claimed change nothing.
func TestFailAudited(t *testing.T) {
	t.Parallel()
	s, dsn := newStore(t)
	conn := sqlConn(t, dsn)
	id := enqueue(t, s, numA, store.LaneConversation, "1", time.Now().Add(-time.Minute))
	l := lockNumber(t, s, numA)
	audit := store.Audit{Actor: "switchboard-sender", Action: "outbound.blocked", After: json.RawMessage(`{"rule":"ns/r"}`)}
	out := store.Outcome{Code: -1, Message: "blocked"}
	var verr *store.ValidationError
	if err := l.FailAudited(testCtx(t), id, out, store.Audit{Action: "x"}); !errors.As(err, &verr) || verr.Field != "Audit.Actor" {
		t.Fatalf("an audit entry without actor: %v, want a ValidationError on Audit.Actor", err)
	}
	if err := l.FailAudited(testCtx(t), id, out, audit); !errors.Is(err, store.ErrNotClaimed) {
		t.Fatalf("a queued message: %v, want ErrNotClaimed", err)
	}
	if n := queryInt(t, conn, `SELECT count(*) FROM audit_log`); n != 0 {
		t.Fatalf("%d audit entries after refused calls, want 0", n)
	}
	claim(t, l, store.LaneConversation, 1)
	if err := l.FailAudited(testCtx(t), id, out, audit); err != nil {
		t.Fatal(err)
	}
	if m := get(t, s, id); m.State != store.StateFailed || m.ErrorCode != -1 || m.ErrorMessage != "blocked" {
		t.Errorf("message after FailAudited: %+v", m)
	}
	if n := queryInt(t, conn, `SELECT count(*) FROM audit_log WHERE namespace = $1 AND object_kind = 'outbox'
		AND object_id = $2 AND actor = 'switchboard-sender' AND action = 'outbound.blocked' AND after->>'rule' = 'ns/r'`,
		numA.Namespace, fmt.Sprint(id)); n != 1 {
		t.Errorf("%d matching audit entries, want 1", n)
	}
}
