package retention

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/calendar"
	"github.com/switchboard-dev/switchboard/runtime/inbox/kube"
	"github.com/switchboard-dev/switchboard/runtime/inbox/media"
	"github.com/switchboard-dev/switchboard/runtime/inbox/media/archive"
	"github.com/switchboard-dev/switchboard/runtime/store"
	"github.com/switchboard-dev/switchboard/runtime/store/pgtest"
)

var srv *pgtest.Server

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &srv)) }

const ns = "acme"

var day = 24 * time.Hour

// policies stands in for kube.Source (its Retention and PatchRetentionStatus are tested
// against a real API server in runtime/inbox/kube).
type policies struct {
	mu     sync.Mutex
	pols   []kube.Retention
	status map[string]kube.RetentionRun
}

func (p *policies) Retention() ([]kube.Retention, []error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]kube.Retention(nil), p.pols...), nil
}

func (p *policies) PatchRetentionStatus(_ context.Context, policy string, run kube.RetentionRun) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.status == nil {
		p.status = map[string]kube.RetentionRun{}
	}
	p.status[policy] = run
	return nil
}

type rig struct {
	st    *store.Store
	media *media.Store
	now   time.Time
	pols  *policies
	r     *Runner
}

func newRig(t *testing.T) *rig {
	t.Helper()
	st, err := store.Open(t.Context(), srv.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	ms, err := media.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	g := &rig{st: st, media: ms, now: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC), pols: &policies{}}
	g.r = New(Config{Store: st, Namespace: ns, Policies: g.pols, Media: ms, BatchSize: 2,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return g.now }})
	return g
}

func (g *rig) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	if err := g.st.InTx(t.Context(), func(tx pgx.Tx) error { _, err := tx.Exec(t.Context(), sql, args...); return err }); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func (g *rig) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := g.st.ReadTx(t.Context(), func(tx pgx.Tx) error { return tx.QueryRow(t.Context(), sql, args...).Scan(&n) }); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// seed gives number a resolved conversation 400 days old with three messages (an image
// among them, archived, and a status), and an open one with a message of 100 days
// (an archived document) and one of yesterday.
func (g *rig) seed(t *testing.T, number, waID string) {
	t.Helper()
	old, mid, recent := g.now.Add(-400*day), g.now.Add(-100*day), g.now.Add(-day)
	g.exec(t, `INSERT INTO contacts (namespace, wa_id) VALUES ($1, $2)`, ns, waID)
	g.exec(t, `INSERT INTO conversations (namespace, number, contact_id, status, resolved_at, created_at)
		SELECT $1, $2, id, 'resolved', $4, $4 FROM contacts WHERE namespace = $1 AND wa_id = $3`, ns, number, waID, old)
	g.exec(t, `INSERT INTO conversations (namespace, number, contact_id, created_at)
		SELECT $1, $2, id, $4 FROM contacts WHERE namespace = $1 AND wa_id = $3`, ns, number, waID, mid)
	msg := func(status string, at time.Time, wamid, mediaID string) {
		dir := "in"
		if status != "received" {
			dir = "out"
		}
		g.exec(t, `INSERT INTO messages (namespace, conversation_id, direction, wamid, type, text, content, media_id, status, created_at)
			SELECT $1, c.id, $3, $4, 'text', 'hello', '{}', NULLIF($5, ''), $6, $7::timestamptz FROM conversations c
			WHERE c.namespace = $1 AND c.number = $2 AND c.status = CASE WHEN $7::timestamptz < $8::timestamptz THEN 'resolved' ELSE 'open' END`,
			ns, number, dir, wamid, mediaID, status, at, g.now.Add(-300*day))
		if mediaID != "" {
			g.archive(t, number, mediaID, at)
		}
	}
	msg("received", old, "wamid.in1."+number, "m1"+number)
	msg("sent", old.Add(time.Minute), "wamid.out1."+number, "")
	msg("received", old.Add(2*time.Minute), "wamid.in2."+number, "")
	g.exec(t, `INSERT INTO message_statuses (namespace, wamid, status, at, payload) VALUES ($1, $2, 'delivered', $3, '{}')`,
		ns, "wamid.out1."+number, old)
	msg("received", mid, "wamid.in3."+number, "m2"+number)
	msg("received", recent, "wamid.in4."+number, "")
}

// archive stores an object for the media row the message's trigger queued.
func (g *rig) archive(t *testing.T, number, mediaID string, at time.Time) {
	t.Helper()
	body := []byte("bytes of " + mediaID)
	sum := sha256.Sum256(body)
	key := media.Key{Namespace: ns, Number: number, MediaID: mediaID}
	if _, err := g.media.Put(t.Context(), key, bytes.NewReader(body), media.Expect{SHA256: hex.EncodeToString(sum[:]), Size: int64(len(body))}); err != nil {
		t.Fatal(err)
	}
	g.exec(t, `UPDATE media SET state = 'stored', object_key = $4, sha256 = $5, size_bytes = $6, created_at = $7
		WHERE namespace = $1 AND number = $2 AND media_id = $3`, ns, number, mediaID, key.String(), hex.EncodeToString(sum[:]), len(body), at)
}

func (g *rig) objectExists(t *testing.T, number, mediaID string) bool {
	t.Helper()
	_, ok, err := g.media.Stat(t.Context(), media.Key{Namespace: ns, Number: number, MediaID: mediaID})
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func schedule(t *testing.T, expr string) *calendar.Schedule {
	t.Helper()
	s, err := calendar.ParseSchedule(expr, "Europe/Madrid")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRunPurgesOldDataAndKeepsHeldNumbers(t *testing.T) {
	g := newRig(t)
	g.seed(t, "sales", "34600000001")
	g.seed(t, "legal", "34600000002")
	g.exec(t, `INSERT INTO audit_log (namespace, at, actor, action, object_kind, object_id) VALUES
		($1, $2, 'agent:ana', 'conversation.resolve', 'conversation', '1'),
		($1, $2, 'agent:ana', 'conversation.reopen', 'conversation', '1'),
		($1, $3, 'agent:ana', 'conversation.resolve', 'conversation', '1')`, ns, g.now.Add(-6*365*day), g.now.Add(-day))

	// One policy selects both Numbers; another holds "legal": it keeps everything.
	p := kube.Retention{Name: "default", Numbers: []string{"sales"}, Held: []string{"legal"},
		Messages: 365 * day, Media: 90 * day, AuditLog: 5 * 365 * day, Schedule: schedule(t, "0 3 * * *")}
	c, err := g.r.RunPolicy(t.Context(), p, "run-now")
	if err != nil {
		t.Fatal(err)
	}
	// Three messages of 400 days; the image of one of them and the document of 100
	// days; the resolved conversation left empty. The audit log is kept: the policy
	// selects a held Number.
	if want := (Counts{Messages: 3, Media: 2, Conversations: 1}); c != want {
		t.Fatalf("purged %+v, want %+v", c, want)
	}
	for _, q := range []struct {
		sql  string
		args []any
		want int
	}{
		{`SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE c.number = $1`, []any{"sales"}, 2},
		{`SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE c.number = $1`, []any{"legal"}, 5},
		{`SELECT count(*) FROM message_statuses WHERE wamid = $1`, []any{"wamid.out1.sales"}, 0},
		{`SELECT count(*) FROM message_statuses WHERE wamid = $1`, []any{"wamid.out1.legal"}, 1},
		{`SELECT count(*) FROM media WHERE number = $1`, []any{"sales"}, 0},
		{`SELECT count(*) FROM media WHERE number = $1`, []any{"legal"}, 2},
		{`SELECT count(*) FROM conversations WHERE number = $1`, []any{"sales"}, 1},
		{`SELECT count(*) FROM conversations WHERE number = $1`, []any{"legal"}, 2},
		{`SELECT count(*) FROM audit_log WHERE action LIKE 'conversation.%'`, nil, 3},
		{`SELECT count(*) FROM audit_log WHERE action = 'retention.run' AND object_id = 'default' AND actor = $1`, []any{Actor}, 1},
		{`SELECT count(*) FROM retention_runs WHERE finished_at IS NOT NULL AND messages = 3 AND media = 2 AND trigger = 'run-now'`, nil, 1},
	} {
		if got := g.count(t, q.sql, q.args...); got != q.want {
			t.Errorf("%s %v = %d, want %d", q.sql, q.args, got, q.want)
		}
	}
	for _, o := range []struct {
		number, id string
		want       bool
	}{{"sales", "m1sales", false}, {"sales", "m2sales", false}, {"legal", "m1legal", true}, {"legal", "m2legal", true}} {
		if got := g.objectExists(t, o.number, o.id); got != o.want {
			t.Errorf("object %s/%s exists = %v, want %v", o.number, o.id, got, o.want)
		}
	}
	if run := g.pols.status["default"]; run != (kube.RetentionRun{Finished: g.now, Messages: 3, Media: 2}) {
		t.Errorf("status = %+v, want lastRun now, 3 messages and 2 media", run)
	}

	// Without a held Number the audit log is purged too, and a second run finds nothing
	// more to delete.
	p.Held = nil
	c, err = g.r.RunPolicy(t.Context(), p, "schedule")
	if err != nil || c != (Counts{AuditLog: 2}) {
		t.Fatalf("second run purged %+v, %v; want only the 2 old audit entries", c, err)
	}
	if got := g.count(t, `SELECT count(*) FROM audit_log WHERE action LIKE 'conversation.%'`); got != 1 {
		t.Errorf("audit entries left: %d, want 1", got)
	}
}

func TestAuditLogStaysAppendOnlyOutsideARun(t *testing.T) {
	g := newRig(t)
	g.exec(t, `INSERT INTO audit_log (namespace, actor, action, object_kind, object_id) VALUES ($1, 'a', 'b', 'c', 'd')`, ns)
	for _, sql := range []string{`DELETE FROM audit_log`, `UPDATE audit_log SET actor = 'x'`, `TRUNCATE audit_log`} {
		err := g.st.InTx(t.Context(), func(tx pgx.Tx) error { _, err := tx.Exec(t.Context(), sql); return err })
		if err == nil {
			t.Errorf("%s was allowed", sql)
		}
	}
	err := g.st.InTx(t.Context(), func(tx pgx.Tx) error {
		_, err := tx.Exec(t.Context(), `SET LOCAL switchboard.audit_purge = 'on'; UPDATE audit_log SET actor = 'x'`)
		return err
	})
	if err == nil {
		t.Error("UPDATE was allowed with switchboard.audit_purge on")
	}
}

func TestCrashMidRunIsFinishedByTheNextRun(t *testing.T) {
	g := newRig(t)
	g.seed(t, "sales", "34600000001")
	p := kube.Retention{Name: "default", Numbers: []string{"sales"}, Messages: 365 * day, Created: g.now.Add(-2 * day),
		Schedule: schedule(t, "0 3 * * *")}
	g.pols.pols = []kube.Retention{p}
	crash := errors.New("the process died")
	g.r.afterBatch = func(kind string) error {
		if kind == "messages" {
			return crash
		}
		return nil
	}
	if _, err := g.r.RunPolicy(t.Context(), p, "schedule"); !errors.Is(err, crash) {
		t.Fatalf("err = %v, want the crash", err)
	}
	if got := g.count(t, `SELECT count(*) FROM retention_runs WHERE finished_at IS NULL AND messages = 2`); got != 1 {
		t.Fatalf("unfinished runs having purged one batch of 2: %d", got)
	}
	g.r.afterBatch = nil
	// The unfinished run makes the policy due at once, and the next run finishes it.
	if ran := g.r.Tick(t.Context()); ran != 1 {
		t.Fatalf("Tick ran %d policies, want 1", ran)
	}
	if got := g.count(t, `SELECT count(*) FROM messages WHERE created_at < $1`, g.now.Add(-365*day)); got != 0 {
		t.Errorf("old messages left: %d", got)
	}
	if got := g.count(t, `SELECT coalesce(sum(messages), 0) FROM retention_runs`); got != 3 {
		t.Errorf("messages purged over both runs: %d, want 3", got)
	}
	if run, ok := g.pols.status["default"]; !ok || run.Messages != 1 || !run.Finished.Equal(g.now) {
		t.Errorf("status = %+v, %v; want lastRun now and the second run's 1 message", run, ok)
	}
}

func TestScheduleAndRunNow(t *testing.T) {
	g := newRig(t)
	// Created at 12:00 Madrid on the 28th: the first run is due at 03:00 Madrid on the 29th.
	p := kube.Retention{Name: "default", Messages: 365 * day, Created: time.Date(2026, 11, 28, 11, 0, 0, 0, time.UTC),
		Schedule: schedule(t, "0 3 * * *")}
	due := func(p kube.Retention) (string, bool) {
		t.Helper()
		trigger, ok, err := g.r.due(t.Context(), p)
		if err != nil {
			t.Fatal(err)
		}
		return trigger, ok
	}
	g.now = time.Date(2026, 11, 29, 1, 59, 0, 0, time.UTC)
	if _, ok := due(p); ok {
		t.Fatal("due before 03:00 Madrid")
	}
	g.now = time.Date(2026, 11, 29, 2, 0, 0, 0, time.UTC)
	if trigger, ok := due(p); !ok || trigger != "schedule" {
		t.Fatalf("at 03:00 Madrid: %q, %v", trigger, ok)
	}
	if _, err := g.r.RunPolicy(t.Context(), p, "schedule"); err != nil {
		t.Fatal(err)
	}
	g.now = g.now.Add(23 * time.Hour)
	if _, ok := due(p); ok {
		t.Fatal("due again within the day")
	}
	p.RunNow = "2026-11-30T01:00:00Z"
	if trigger, ok := due(p); !ok || trigger != "run-now" {
		t.Fatalf("run-now: %q, %v", trigger, ok)
	}
	if _, err := g.r.RunPolicy(t.Context(), p, "run-now"); err != nil {
		t.Fatal(err)
	}
	if _, ok := due(p); ok {
		t.Fatal("the same run-now value ran twice")
	}
	g.now = g.now.Add(time.Hour)
	if trigger, ok := due(p); !ok || trigger != "schedule" {
		t.Fatalf("the schedule after a run-now: %q, %v", trigger, ok)
	}
}

func TestOneReplicaAtATime(t *testing.T) {
	g := newRig(t)
	release, err := g.st.TryLock(t.Context(), "retention:"+ns+"/default")
	if err != nil {
		t.Fatal(err)
	}
	p := kube.Retention{Name: "default", Messages: 365 * day, Schedule: schedule(t, "0 3 * * *")}
	if _, err := g.r.RunPolicy(t.Context(), p, "run-now"); !errors.Is(err, store.ErrLocked) {
		t.Fatalf("err = %v while another replica runs the policy", err)
	}
	release()
	if _, err := g.r.RunPolicy(t.Context(), p, "run-now"); err != nil {
		t.Fatalf("after the other replica finished: %v", err)
	}
}

// TestEveryReferenceToPurgedRowsIsHandled: a table added later that refers to messages,
// conversations, media or outbox rows must let the purge delete them (ON DELETE CASCADE
// or SET NULL), or the purge must delete its rows first (the list below); otherwise
// every retention run would fail on a foreign key.
func TestEveryReferenceToPurgedRowsIsHandled(t *testing.T) {
	g := newRig(t)
	handled := map[string]bool{ // referencing table.column → purged explicitly, before its target
		"messages.conversation_id":     true, // messages go first
		"messages.outbox_id":           true, // outbox rows go only when no message refers to them
		"auto_replies.conversation_id": true, // deleted with their conversation
		"auto_replies.outbox_id":       true, // outbox rows go only when no auto reply refers to them
	}
	rows, err := func() ([][3]string, error) {
		var out [][3]string
		err := g.st.ReadTx(t.Context(), func(tx pgx.Tx) error {
			rs, err := tx.Query(t.Context(), `
				SELECT c.conrelid::regclass::text, a.attname, c.confdeltype::text
				FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
				WHERE c.contype = 'f' AND c.confrelid::regclass::text IN ('messages', 'conversations', 'media', 'outbox')`)
			if err != nil {
				return err
			}
			defer rs.Close()
			for rs.Next() {
				var r [3]string
				if err := rs.Scan(&r[0], &r[1], &r[2]); err != nil {
					return err
				}
				out = append(out, r)
			}
			return rs.Err()
		})
		return out, err
	}()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if col := r[0] + "." + r[1]; !handled[col] && r[2] != "c" && r[2] != "n" {
			t.Errorf("%s refers to a row retention deletes without ON DELETE CASCADE or SET NULL: make it so, or purge it in runtime/inbox/retention", col)
		}
	}
}

// sent records a file an agent sent at `at` in number's open conversation, as the agents'
// API does: its object under namespace/number/out-… (not Meta's media ID), its media row
// stored and outbound. It returns the object's key.
func (g *rig) sent(t *testing.T, number string, at time.Time, body string) media.Key {
	t.Helper()
	key, err := media.NewOutboundKey(ns, number)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(body))
	obj, err := g.media.Put(t.Context(), key, bytes.NewReader([]byte(body)), media.Expect{SHA256: hex.EncodeToString(sum[:]), MimeType: "image/png"})
	if err != nil {
		t.Fatal(err)
	}
	mediaID := "9" + hex.EncodeToString(sum[:4])
	err = g.st.InTx(t.Context(), func(tx pgx.Tx) error {
		var msg int64
		if err := tx.QueryRow(t.Context(), `INSERT INTO messages (namespace, conversation_id, direction, type, content, media_id, status, created_at)
			SELECT $1, id, 'out', 'image', '{}', $3, 'sent', $4 FROM conversations WHERE namespace = $1 AND number = $2 AND status = 'open'
			RETURNING id`, ns, number, mediaID, at).Scan(&msg); err != nil {
			return err
		}
		_, err := archive.RecordOutbound(t.Context(), tx, archive.Outbound{Namespace: ns, Number: number, MediaID: mediaID, MessageID: msg, Object: obj})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	g.exec(t, `UPDATE media SET created_at = $2 WHERE media_id = $1`, mediaID, at)
	return key
}

// TestRunPurgesOutboundMedia: media an agent sent is purged like inbound media, its
// object (kept under its own key) included; a recent one is kept.
func TestRunPurgesOutboundMedia(t *testing.T) {
	g := newRig(t)
	g.seed(t, "sales", "34600000001")
	old := g.sent(t, "sales", g.now.Add(-100*day), "old file")
	recent := g.sent(t, "sales", g.now.Add(-day), "recent file")
	p := kube.Retention{Name: "default", Numbers: []string{"sales"}, Messages: 365 * day, Media: 90 * day,
		AuditLog: 5 * 365 * day, Schedule: schedule(t, "0 3 * * *")}
	c, err := g.r.RunPolicy(t.Context(), p, "run-now")
	if err != nil {
		t.Fatal(err)
	}
	if c.Media != 3 { // the inbound image and document of seed, and the old file sent
		t.Fatalf("purged %+v, want 3 media", c)
	}
	for key, want := range map[media.Key]bool{old: false, recent: true} {
		if _, ok, err := g.media.Stat(t.Context(), key); ok != want || err != nil {
			t.Errorf("object %s exists: %t (%v), want %t", key, ok, err, want)
		}
	}
	var n int
	if err := g.st.ReadTx(t.Context(), func(tx pgx.Tx) error {
		return tx.QueryRow(t.Context(), `SELECT count(*) FROM media WHERE direction = 'out'`).Scan(&n)
	}); err != nil || n != 1 {
		t.Errorf("%d outbound media rows left (%v), want the recent one", n, err)
	}
}
