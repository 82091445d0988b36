package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/store"
	"github.com/switchboard-dev/switchboard/runtime/store/pgtest"
)

var srv *pgtest.Server

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &srv)) }

var (
	numA = store.NumberRef{Namespace: "acme", Name: "sales-es"}
	numB = store.NumberRef{Namespace: "acme", Name: "support"}
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// newStore opens a Store on a fresh database.
func newStore(t *testing.T) (*store.Store, string) {
	t.Helper()
	dsn := srv.NewDatabase(t)
	return openStore(t, dsn), dsn
}

func openStore(t *testing.T, dsn string) *store.Store {
	t.Helper()
	s, err := store.Open(testCtx(t), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func sqlConn(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(testCtx(t), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func textPayload(body string) json.RawMessage {
	b, _ := json.Marshal(map[string]any{"type": "text", "text": map[string]string{"body": body}})
	return b
}

// waID is the recipient a test labels "r1": a Spanish mobile number derived from the label.
func waID(label string) string {
	h := fnv.New32a()
	h.Write([]byte(label))
	return fmt.Sprintf("346%08d", h.Sum32()%100_000_000)
}

func enqueue(t *testing.T, s *store.Store, ref store.NumberRef, lane store.Lane, recipient string, notBefore time.Time) int64 {
	t.Helper()
	id, err := s.Enqueue(testCtx(t), store.NewMessage{
		Number: ref, Recipient: waID(recipient), Lane: lane, Payload: textPayload("hi " + recipient), NotBefore: notBefore,
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func get(t *testing.T, s *store.Store, id int64) store.Message {
	t.Helper()
	m, err := s.Get(testCtx(t), id)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func queryInt(t *testing.T, conn *pgx.Conn, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := conn.QueryRow(testCtx(t), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func TestMigrationsApplyAndAreIdempotent(t *testing.T) {
	t.Parallel()
	dsn := srv.NewDatabase(t)
	openStore(t, dsn)
	openStore(t, dsn) // second start: nothing to apply
	conn := sqlConn(t, dsn)
	if n := queryInt(t, conn, "SELECT count(*) FROM goose_db_version WHERE version_id = 1 AND is_applied"); n != 1 {
		t.Fatalf("version 1 recorded %d times", n)
	}
	for _, table := range []string{"outbox", "campaign_recipients"} {
		if n := queryInt(t, conn, "SELECT count(*) FROM pg_tables WHERE tablename = $1", table); n != 1 {
			t.Errorf("table %s missing", table)
		}
	}
}

func TestMigrationsConcurrentOpens(t *testing.T) {
	t.Parallel()
	dsn := srv.NewDatabase(t)
	const n = 4
	var (
		wg     sync.WaitGroup
		errs   = make([]error, n)
		stores = make([]*store.Store, n)
		start  = make(chan struct{})
	)
	for i := range n {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = store.Open(testCtx(t), dsn)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d: %v", i, err)
		} else {
			stores[i].Close()
		}
	}
	conn := sqlConn(t, dsn)
	if n := queryInt(t, conn, "SELECT count(*) FROM goose_db_version WHERE version_id = 1"); n != 1 {
		t.Fatalf("version 1 recorded %d times", n)
	}
}

func TestOpenErrorsHideThePassword(t *testing.T) {
	t.Parallel()
	const secret = "Sw1tchb0ard-wrong-secret"
	good := srv.DSN("postgres")
	for name, dsn := range map[string]string{
		"wrong password (URL)":     strings.Replace(good, srv.Password(), secret, 1),
		"wrong password (keyword)": fmt.Sprintf("host=127.0.0.1 port=%d user=postgres password=%s dbname=postgres sslmode=disable", srv.Port, secret),
		"nothing listening":        fmt.Sprintf("host=127.0.0.1 port=1 user=postgres password='%s' dbname=postgres connect_timeout=2", secret),
		"unparsable URL":           "postgres://postgres:" + secret + "@127.0.0.1:notaport/postgres",
		"unparsable keywords":      "host=127.0.0.1 password=" + secret + " port='unterminated",
	} {
		t.Run(name, func(t *testing.T) {
			s, err := store.Open(testCtx(t), dsn)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("error contains the password: %v", err)
			}
			t.Log(err)
		})
	}
}

func TestEnqueueAndGet(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := testCtx(t)
	before := time.Now().Add(-time.Second)
	payload := json.RawMessage(`{"type":"template","template":{"name":"welcome","language":{"code":"es"}}}`)
	id, err := s.Enqueue(ctx, store.NewMessage{Number: numA, Recipient: "34600000001", Lane: store.LaneCampaign, Payload: payload})
	if err != nil {
		t.Fatal(err)
	}
	m := get(t, s, id)
	if m.ID != id || m.Number != numA || m.Recipient != "34600000001" || m.Lane != store.LaneCampaign ||
		m.State != store.StateQueued || m.Attempts != 0 || m.WAMID != "" || m.ErrorCode != 0 ||
		m.ErrorMessage != "" || m.PossiblyDuplicate || m.SentAt != nil {
		t.Fatalf("unexpected message: %+v", m)
	}
	var got, want any
	_ = json.Unmarshal(m.Payload, &got)
	_ = json.Unmarshal(payload, &want)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("payload %s, want %s", m.Payload, payload)
	}
	if m.NextAttemptAt.Before(before) || m.NextAttemptAt.After(time.Now().Add(time.Second)) || m.CreatedAt.Before(before) {
		t.Errorf("times: next %v created %v (test started %v)", m.NextAttemptAt, m.CreatedAt, before)
	}

	later := time.Now().Add(time.Hour).Truncate(time.Microsecond)
	id2 := enqueue(t, s, numA, store.LaneConversation, "34600000002", later)
	if m2 := get(t, s, id2); !m2.NextAttemptAt.Equal(later) {
		t.Errorf("NotBefore: next attempt %v, want %v", m2.NextAttemptAt, later)
	}

	if _, err := s.Get(ctx, 999999); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get(missing) = %v, want ErrNotFound", err)
	}
}

// TestEnqueueStoresTheWAID: every spelling of one customer is stored as the same wa_id,
// the key of pacing and of the unique-recipients budget; a wa_id Meta sent is kept even
// when libphonenumber calls its length impossible.
func TestEnqueueStoresTheWAID(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	for _, tc := range []struct {
		in, want string
		fromMeta bool
	}{
		{"+34 611 11 11 11", "34611111111", false},
		{"+34-611-111-111", "34611111111", false},
		{"34611111111", "34611111111", false},
		{"+52 1 55 1234 5678", "5215512345678", false},
		{"3423456", "3423456", true},
	} {
		id, err := s.Enqueue(testCtx(t), store.NewMessage{Number: numA, Recipient: tc.in, RecipientFromMeta: tc.fromMeta,
			Lane: store.LaneConversation, Payload: textPayload("hi")})
		if err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		if got := get(t, s, id).Recipient; got != tc.want {
			t.Errorf("Enqueue(%q) stored %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestEnqueueValidation(t *testing.T) {
	t.Parallel()
	s, dsn := newStore(t)
	ok := store.NewMessage{Number: numA, Recipient: "34600000001", Lane: store.LaneConversation, Payload: textPayload("hi")}
	for _, tc := range []struct {
		field  string
		mutate func(*store.NewMessage)
	}{
		{"Number.Namespace", func(m *store.NewMessage) { m.Number.Namespace = "" }},
		{"Number.Name", func(m *store.NewMessage) { m.Number.Name = "" }},
		{"Number.Name", func(m *store.NewMessage) { m.Number.Name = "a/b" }},
		{"Recipient", func(m *store.NewMessage) { m.Recipient = "" }},
		{"Recipient", func(m *store.NewMessage) { m.Recipient = "0034611111111" }},
		{"Recipient", func(m *store.NewMessage) { m.Recipient = "611 111" }},
		{"Recipient", func(m *store.NewMessage) { m.Recipient = "+34 6111 111 111" }},
		{"Recipient", func(m *store.NewMessage) { m.Recipient = "0611111111" }},
		{"Recipient", func(m *store.NewMessage) { m.Recipient = "+1-800-FLOWERS" }},
		{"Recipient", func(m *store.NewMessage) { m.Recipient, m.RecipientFromMeta = "wa:34611111111", true }},
		{"Lane", func(m *store.NewMessage) { m.Lane = "" }},
		{"Lane", func(m *store.NewMessage) { m.Lane = "marketing" }},
		{"Payload", func(m *store.NewMessage) { m.Payload = nil }},
		{"Payload", func(m *store.NewMessage) { m.Payload = json.RawMessage(`[1,2]`) }},
		{"Payload", func(m *store.NewMessage) { m.Payload = json.RawMessage(`null`) }},
		{"Payload", func(m *store.NewMessage) { m.Payload = json.RawMessage(`{"type":`) }},
		{"Payload.type", func(m *store.NewMessage) { m.Payload = json.RawMessage(`{"text":{"body":"x"}}`) }},
		{"Payload.type", func(m *store.NewMessage) { m.Payload = json.RawMessage(`{"type":7}`) }},
		{"Payload.type", func(m *store.NewMessage) { m.Payload = json.RawMessage(`{"type":""}`) }},
	} {
		m := ok
		tc.mutate(&m)
		_, err := s.Enqueue(testCtx(t), m)
		var ve *store.ValidationError
		if !errors.As(err, &ve) || !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: error %v is not a ValidationError", tc.field, err)
			continue
		}
		if ve.Field != tc.field || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: error %q names field %q", tc.field, err, ve.Field)
		}
	}
	// Several problems are all reported.
	_, err := s.Enqueue(testCtx(t), store.NewMessage{})
	for _, f := range []string{"Number.Namespace", "Number.Name", "Recipient", "Lane", "Payload"} {
		if !strings.Contains(fmt.Sprint(err), f) {
			t.Errorf("empty message: error %q does not name %s", err, f)
		}
	}
	if n := queryInt(t, sqlConn(t, dsn), "SELECT count(*) FROM outbox"); n != 0 {
		t.Fatalf("invalid messages inserted %d rows", n)
	}
}

func waitSignal(t *testing.T, ch <-chan struct{}, within time.Duration) {
	t.Helper()
	select {
	case _, ok := <-ch:
		if !ok {
			t.Fatal("listen channel closed")
		}
	case <-time.After(within):
		t.Fatalf("no signal within %v", within)
	}
}

func noSignal(t *testing.T, ch <-chan struct{}, during time.Duration) {
	t.Helper()
	select {
	case <-ch:
		t.Fatal("unexpected signal")
	case <-time.After(during):
	}
}

func TestListenSignalsOnlyForItsNumber(t *testing.T) {
	t.Parallel()
	s, dsn := newStore(t)
	ctx, cancel := context.WithCancel(testCtx(t))
	ch, err := s.Listen(ctx, numA)
	if err != nil {
		t.Fatal(err)
	}
	enqueue(t, s, numB, store.LaneConversation, "1", time.Time{})
	// Same namespace, a name that has numA's as a prefix.
	enqueue(t, s, store.NumberRef{Namespace: numA.Namespace, Name: numA.Name + "-2"}, store.LaneConversation, "1", time.Time{})
	noSignal(t, ch, 300*time.Millisecond)

	enqueue(t, s, numA, store.LaneConversation, "1", time.Time{})
	waitSignal(t, ch, 5*time.Second)

	// Coalesced: ten notifications while nobody reads leave one pending signal.
	for i := range 10 {
		enqueue(t, s, numA, store.LaneCampaign, fmt.Sprint(i), time.Time{})
	}
	time.Sleep(300 * time.Millisecond)
	waitSignal(t, ch, time.Second)
	noSignal(t, ch, 200*time.Millisecond)

	// A rolled-back enqueue notifies nobody.
	conn := sqlConn(t, dsn)
	tx, err := conn.Begin(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.EnqueueTx(testCtx(t), tx, store.NewMessage{Number: numA, Recipient: "34600000001", Lane: store.LaneConversation, Payload: textPayload("x")}); err != nil {
		t.Fatal(err)
	}
	_ = tx.Rollback(testCtx(t))
	noSignal(t, ch, 300*time.Millisecond)

	cancel()
	select {
	case _, ok := <-ch:
		if ok {
			t.Fatal("signal after cancel")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("channel not closed after ctx ended")
	}
}

func TestListenReconnects(t *testing.T) {
	t.Parallel()
	s, dsn := newStore(t)
	ch, err := s.Listen(testCtx(t), numA)
	if err != nil {
		t.Fatal(err)
	}
	admin := sqlConn(t, dsn)
	var killed int
	if err := admin.QueryRow(testCtx(t), `
		SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = $1`,
		"switchboard-listen "+numA.String()).Scan(&killed); err != nil || killed != 1 {
		t.Fatalf("terminate the listener: %d sessions, %v", killed, err)
	}
	waitSignal(t, ch, 10*time.Second) // after reconnecting: notifications may have been missed
	noSignal(t, ch, 200*time.Millisecond)
	enqueue(t, s, numA, store.LaneConversation, "1", time.Time{})
	waitSignal(t, ch, 5*time.Second)
}

func TestWatchSignalsOnAnyPayloadOfItsChannel(t *testing.T) {
	t.Parallel()
	s, dsn := newStore(t)
	for _, bad := range []string{"", "Upper", "1st", "a;b", "x y"} {
		if _, err := s.Watch(testCtx(t), bad); err == nil || !strings.Contains(err.Error(), "plain SQL identifier") {
			t.Errorf("Watch(%q): %v", bad, err)
		}
	}
	ch, err := s.Watch(testCtx(t), "switchboard_test_watch")
	if err != nil {
		t.Fatal(err)
	}
	admin := sqlConn(t, dsn)
	if _, err := admin.Exec(testCtx(t), `NOTIFY switchboard_test_other, 'x'`); err != nil {
		t.Fatal(err)
	}
	noSignal(t, ch, 200*time.Millisecond)
	for _, payload := range []string{"acme", "other"} {
		if _, err := admin.Exec(testCtx(t), `SELECT pg_notify('switchboard_test_watch', $1)`, payload); err != nil {
			t.Fatal(err)
		}
		waitSignal(t, ch, 5*time.Second)
	}
	var killed int
	if err := admin.QueryRow(testCtx(t), `
		SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = 'switchboard-watch switchboard_test_watch'`).Scan(&killed); err != nil || killed != 1 {
		t.Fatalf("terminate the watcher: %d sessions, %v", killed, err)
	}
	waitSignal(t, ch, 10*time.Second) // after reconnecting
}
