package sender_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox/conversation"
	"github.com/switchboard-dev/switchboard/runtime/sender"
	"github.com/switchboard-dev/switchboard/runtime/store"
)

// TestSendTextNeedsTheServiceWindow: `switchboard send --text` enqueues only when the
// customer wrote to the Number within 24 hours; otherwise (or when they never wrote) it
// is refused up front, nothing enqueued, unless --force-window. Templates are not checked.
func TestSendTextNeedsTheServiceWindow(t *testing.T) {
	dsn := pg.NewDatabase(t)
	t.Setenv(sender.DatabaseURLEnv, dsn)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	wrote(ctx, t, st, "34600000001", time.Now().Add(-time.Hour))    // window open
	wrote(ctx, t, st, "34600000002", time.Now().Add(-25*time.Hour)) // window closed
	send := func(args ...string) error {
		var out bytes.Buffer
		return sender.SendMain(ctx, append([]string{"--number", number.String()}, args...), &out)
	}
	for _, to := range []string{"+34 600 000 002", "34600000003"} {
		err := send("--to", to, "--text", "hola")
		if err == nil || !strings.Contains(err.Error(), "131047") || !strings.Contains(err.Error(), "--force-window") {
			t.Fatalf("--text to %s: %v, want a refusal naming 131047 and --force-window", to, err)
		}
	}
	if n := queued(ctx, t, st); n != 0 {
		t.Fatalf("refused sends left %d messages in the outbox", n)
	}
	for _, args := range [][]string{
		{"--to", "+34 600 000 001", "--text", "hola"},
		{"--to", "34600000003", "--text", "hola", "--force-window"},
		{"--to", "34600000003", "--template", "hello_world"},
	} {
		if err := send(args...); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
	}
	if n := queued(ctx, t, st); n != 3 {
		t.Fatalf("outbox holds %d messages, want 3", n)
	}
}

// wrote stores a conversation in which customer waID last wrote at `at`.
func wrote(ctx context.Context, t *testing.T, st *store.Store, waID string, at time.Time) {
	t.Helper()
	err := st.InTx(ctx, func(tx pgx.Tx) error {
		convs, err := conversation.OpenAll(ctx, tx, []conversation.Party{{Number: number, WAID: waID}})
		if err != nil {
			return err
		}
		return conversation.TouchAll(ctx, tx, []*conversation.Conversation{&convs[0]}, []time.Time{at})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func queued(ctx context.Context, t *testing.T, st *store.Store) int {
	t.Helper()
	counts, _, err := st.Counts(ctx, number)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range counts {
		n += c
	}
	return n
}
