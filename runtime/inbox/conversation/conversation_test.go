package conversation_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox/conversation"
	"github.com/switchboard-dev/switchboard/runtime/store"
	"github.com/switchboard-dev/switchboard/runtime/store/pgtest"
)

var srv *pgtest.Server

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &srv)) }

var num = store.NumberRef{Namespace: "acme", Name: "sales-es"}

func newStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(t.Context(), srv.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st
}

// inTx runs fn in a committed transaction and fails t on error.
func inTx(t *testing.T, st *store.Store, fn func(ctx context.Context, tx pgx.Tx) error) {
	t.Helper()
	if err := st.InTx(t.Context(), func(tx pgx.Tx) error { return fn(t.Context(), tx) }); err != nil {
		t.Fatal(err)
	}
}

func open(t *testing.T, st *store.Store, waID string) conversation.Conversation {
	t.Helper()
	var c conversation.Conversation
	inTx(t, st, func(ctx context.Context, tx pgx.Tx) error {
		id, err := conversation.UpsertContact(ctx, tx, "acme", waID, "Ana")
		if err != nil {
			return err
		}
		c, err = conversation.Open(ctx, tx, num, id)
		return err
	})
	return c
}

func TestCanonicalWAID(t *testing.T) {
	for in, want := range map[string]string{"+34600000001": "34600000001", "15550100": "15550100", "16505551234": "16505551234",
		strings.Repeat("1", 20): strings.Repeat("1", 20)} {
		if got, err := conversation.CanonicalWAID(in); err != nil || got != want {
			t.Errorf("%q: %q %v", in, got, err)
		}
	}
	// Meta writes a wa_id as digits: a phone number as a person writes it is not one.
	for _, bad := range []string{"", "+", "abc", "+34 600-000-001", "(1) 555 0100", "34600000001\n", strings.Repeat("1", 21)} {
		if _, err := conversation.CanonicalWAID(bad); !errors.Is(err, conversation.ErrInvalidWAID) {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestResolvedConversationIsNotReopened(t *testing.T) {
	st := newStore(t)
	first := open(t, st, "34600000001")
	if again := open(t, st, "34600000001"); again.ID != first.ID {
		t.Fatalf("second message opened conversation %d, want %d", again.ID, first.ID)
	}
	inTx(t, st, func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE conversations SET status = 'resolved', resolved_at = now() WHERE id = $1`, first.ID)
		return err
	})
	if next := open(t, st, "34600000001"); next.ID == first.ID || next.Status != "open" {
		t.Fatalf("after resolution: %+v", next)
	}
}

func TestWindowOnlyMovesForward(t *testing.T) {
	st := newStore(t)
	c := open(t, st, "34600000001")
	now := time.Now().UTC().Truncate(time.Second)
	if err := conversation.CheckFreeForm(t.Context(), connOf(t, st), num, "34600000001", now); !errors.Is(err, conversation.ErrWindowClosed) {
		t.Fatalf("no message yet: %v", err)
	}
	for _, at := range []time.Time{now.Add(-2 * time.Hour), now.Add(-5 * time.Hour)} {
		inTx(t, st, func(ctx context.Context, tx pgx.Tx) error { return conversation.Touch(ctx, tx, &c, at) })
	}
	if want := now.Add(22 * time.Hour); !c.WindowExpiresAt.Equal(want) || !c.WindowOpen(now) {
		t.Fatalf("window %v, want %v", c.WindowExpiresAt, want)
	}
	if err := conversation.CheckFreeForm(t.Context(), connOf(t, st), num, "34600000001", now.Add(21*time.Hour)); err != nil {
		t.Fatalf("inside the window: %v", err)
	}
	if err := conversation.CheckFreeForm(t.Context(), connOf(t, st), num, "34600000001", now.Add(23*time.Hour)); !errors.Is(err, conversation.ErrWindowClosed) {
		t.Fatalf("after the window: %v", err)
	}
}

// connOf is a connection to the store's database, closed when the test ends.
func connOf(t *testing.T, st *store.Store) conversation.Querier {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), srv.DSN(currentDB(t, st)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func currentDB(t *testing.T, st *store.Store) string {
	var name string
	inTx(t, st, func(ctx context.Context, tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT current_database()`).Scan(&name)
	})
	return name
}

func TestTagsAreASetOfAtMost50(t *testing.T) {
	st := newStore(t)
	c := open(t, st, "34600000001")
	inTx(t, st, func(ctx context.Context, tx pgx.Tx) error {
		return conversation.Tag(ctx, tx, c, []string{"price", "vip"})
	})
	inTx(t, st, func(ctx context.Context, tx pgx.Tx) error { return conversation.Tag(ctx, tx, c, []string{"price"}) })
	var tags []string
	inTx(t, st, func(ctx context.Context, tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT tags FROM contacts WHERE id = $1`, c.ContactID).Scan(&tags)
	})
	if strings.Join(tags, ",") != "price,vip" {
		t.Fatalf("tags %v", tags)
	}
	many := make([]string, 49)
	for i := range many {
		many[i] = fmt.Sprint("t", i)
	}
	err := st.InTx(t.Context(), func(tx pgx.Tx) error { return conversation.Tag(t.Context(), tx, c, many) })
	if err == nil || !strings.Contains(err.Error(), "check constraint") {
		t.Fatalf("51 tags: %v", err)
	}
}

func TestAutoReplyPolicy(t *testing.T) {
	st := newStore(t)
	c := open(t, st, "34600000001")
	p := conversation.AutoReplyPolicy{Repeat: 24 * time.Hour, MaxPerHour: 3}
	now := time.Now()
	decide := func(key string, once bool, at time.Time) string {
		var r string
		inTx(t, st, func(ctx context.Context, tx pgx.Tx) (err error) {
			r, err = conversation.MayAutoReply(ctx, tx, c, key, once, p, at)
			return err
		})
		return r
	}
	record := func(key string, at time.Time) {
		inTx(t, st, func(ctx context.Context, tx pgx.Tx) error {
			id, err := conversation.Send(ctx, tx, c, "34600000001", conversation.TextReply("hola", "test"))
			if err != nil {
				return err
			}
			return conversation.RecordAutoReply(ctx, tx, c, key, id, at)
		})
	}
	record("keyword:price", now.Add(-23*time.Hour))
	if got := decide("keyword:price", false, now); got != conversation.RefusedRepeat {
		t.Errorf("same reply within 24 h: %q", got)
	}
	if got := decide("keyword:price", false, now.Add(2*time.Hour)); got != conversation.RefusedNothing {
		t.Errorf("same reply after 24 h: %q", got)
	}
	for i := 0; i < 3; i++ {
		record(fmt.Sprint("keyword:r", i), now.Add(-time.Duration(i)*time.Minute))
	}
	if got := decide("keyword:other", false, now); got != conversation.RefusedCap {
		t.Errorf("fourth reply in an hour: %q", got)
	}
	if got := decide("after-hours:2026-11-30T18:00:00Z", true, now.Add(2*time.Hour)); got != conversation.RefusedNothing {
		t.Errorf("first after-hours reply: %q", got)
	}
	record("after-hours:2026-11-30T18:00:00Z", now.Add(2*time.Hour))
	if got := decide("after-hours:2026-11-30T18:00:00Z", true, now.Add(30*time.Hour)); got != conversation.RefusedOnce {
		t.Errorf("second after-hours reply in the same period: %q", got)
	}
}

func TestAuditLogIsAppendOnly(t *testing.T) {
	st := newStore(t)
	inTx(t, st, func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO audit_log (namespace, actor, action, object_kind, object_id, after)
			VALUES ('acme', 'agent:ana', 'resolve', 'conversation', '1', '{"status":"resolved"}')`)
		return err
	})
	for _, sql := range []string{`UPDATE audit_log SET actor = 'x'`, `DELETE FROM audit_log`, `TRUNCATE audit_log`} {
		err := st.InTx(t.Context(), func(tx pgx.Tx) error { _, err := tx.Exec(t.Context(), sql); return err })
		if err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v", sql, err)
		}
	}
}
