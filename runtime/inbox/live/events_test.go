package live_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox/live"
	"github.com/switchboard-dev/switchboard/runtime/inbox/openapi/openapitest"
	"github.com/switchboard-dev/switchboard/runtime/store"
)

func TestInboundMessageAndStatusesArriveLive(t *testing.T) {
	st := openStore(t, srv.NewDatabase(t))
	r := startReplica(t, st, live.HubOptions{})
	c := connect(t, r.url, "admin", "")

	conv := inbound(t, st, "sales", "hola, ¿tenéis talla 42?")
	e := c.next(t, live.KindMessageCreated)
	var p struct {
		MessageID int64  `json:"messageId"`
		Direction string `json:"direction"`
		Text      string `json:"text"`
		Status    string `json:"status"`
	}
	if err := json.Unmarshal(e.Event.Payload, &p); err != nil {
		t.Fatal(err)
	}
	if *e.Event.ConversationID != conv || p.Direction != "in" || p.Text != "hola, ¿tenéis talla 42?" || p.Status != "received" ||
		e.ID != strconv.FormatInt(e.Event.ID, 10) || len(e.Event.Teams) != 1 || e.Event.Teams[0] != "sales" {
		t.Fatalf("message.created = %+v, payload %+v", e, p)
	}

	// An agent's reply, then Meta's statuses moving it forward.
	exec(t, st, `INSERT INTO messages (namespace, conversation_id, direction, type, text, content, status, author, wamid)
	             VALUES ($1, $2, 'out', 'text', 'sí', '{}', 'sent', 'agent:ana', 'wamid.out1')`, ns, conv)
	if e := c.next(t, live.KindMessageCreated); !json.Valid(e.Event.Payload) || string(e.Event.Payload) == "" {
		t.Fatalf("outbound message.created = %+v", e)
	}
	for _, status := range []string{"delivered", "read"} {
		exec(t, st, `UPDATE messages SET status = $1 WHERE wamid = 'wamid.out1'`, status)
		e := c.next(t, live.KindMessageStatus)
		var s struct{ Status string }
		_ = json.Unmarshal(e.Event.Payload, &s)
		if s.Status != status {
			t.Fatalf("message.status %s, want %s", s.Status, status)
		}
	}

	// Assignment, transfer, resolve.
	exec(t, st, `UPDATE conversations SET assignee = 'ana' WHERE id = $1`, conv)
	c.next(t, live.KindConversationAssigned)
	exec(t, st, `UPDATE conversations SET assignee = 'cai', team = 'support' WHERE id = $1`, conv)
	tr := c.next(t, live.KindConversationTransferred)
	if len(tr.Event.Teams) != 2 {
		t.Fatalf("a transfer concerns the old and the new team: %v", tr.Event.Teams)
	}
	exec(t, st, `UPDATE conversations SET status = 'resolved', resolved_at = now() WHERE id = $1`, conv)
	c.next(t, live.KindConversationStatus)

	// The routing's audited changes: an accept, an availability.
	exec(t, st, `UPDATE conversations SET status = 'open', resolved_at = NULL WHERE id = $1`, conv)
	exec(t, st, `INSERT INTO audit_log (namespace, actor, action, object_kind, object_id, after)
	             VALUES ($1, 'agent:cai', 'conversation.accepted', 'conversation', $2, '{"acceptedAt":"now"}')`, ns, strconv.FormatInt(conv, 10))
	if e := c.next(t, live.KindConversationAccepted); *e.Event.ConversationID != conv || *e.Event.Agent != "cai" {
		t.Fatalf("conversation.accepted = %+v", e.Event)
	}
	exec(t, st, `INSERT INTO audit_log (namespace, actor, action, object_kind, object_id, before, after)
	             VALUES ($1, 'system:routing', 'availability.changed', 'agent', 'ana', '{"availability":"online"}',
	                     '{"availability":"away","reason":"Missed"}')`, ns)
	e = c.next(t, live.KindAvailabilityChanged)
	var a struct{ Agent, Availability, Reason string }
	if err := json.Unmarshal(e.Event.Payload, &a); err != nil || a != struct{ Agent, Availability, Reason string }{"ana", "away", "Missed"} ||
		e.Event.ConversationID != nil || *e.Event.Agent != "ana" {
		t.Fatalf("availability.changed = %+v (%s)", e.Event, e.Event.Payload)
	}
}

// With the routing's routing_state table (migration 00007), each change of a team's
// waiting count is a queue.changed event.
func TestQueueEventsFromTheRoutingState(t *testing.T) {
	st := openStore(t, srv.NewDatabase(t))
	// The routing's table as 00007 creates it (when 00007 has not); 00009 attaches its
	// trigger when the table exists, or inbox_live_attach_routing() does afterwards.
	exec(t, st, `CREATE TABLE IF NOT EXISTS routing_state (namespace text PRIMARY KEY, cursors jsonb NOT NULL DEFAULT '{}',
	                                         queues jsonb NOT NULL DEFAULT '{}')`)
	var attached bool
	if err := st.InTx(t.Context(), func(tx pgx.Tx) error {
		if _, err := tx.Exec(t.Context(), `SELECT inbox_live_attach_routing()`); err != nil {
			return err
		}
		return tx.QueryRow(t.Context(), `SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'routing_state_live_event')`).Scan(&attached)
	}); err != nil || !attached {
		t.Fatalf("attach: %v %v", attached, err)
	}
	r := startReplica(t, st, live.HubOptions{})
	c := connect(t, r.url, "support", "")
	exec(t, st, `INSERT INTO routing_state (namespace, queues) VALUES ($1, '{"sales": 2, "support": 1}')`, ns)
	exec(t, st, `UPDATE routing_state SET cursors = '{"x": 1}' WHERE namespace = $1`, ns) // no queue change
	exec(t, st, `UPDATE routing_state SET queues = '{"sales": 2, "support": 3}' WHERE namespace = $1`, ns)
	exec(t, st, `UPDATE routing_state SET queues = '{"sales": 2}' WHERE namespace = $1`, ns)
	var got []string
	for len(got) < 3 {
		e := c.next(t, live.KindQueueChanged)
		got = append(got, string(e.Event.Payload))
	}
	want := `[{"team":"support","waiting":1} {"team":"support","waiting":3} {"team":"support","waiting":0}]`
	if fmtSlice(got) != want {
		t.Fatalf("team support's queue events %v, want %s (and none of team sales)", got, want)
	}
}

// An agent of team sales sees its team's events only; another namespace's events reach
// nobody here.
func TestEventsAreScopedByTeamAndNamespace(t *testing.T) {
	st := openStore(t, srv.NewDatabase(t))
	r := startReplica(t, st, live.HubOptions{})
	sales := connect(t, r.url, "sales", "")
	support := connect(t, r.url, "support", "")

	exec(t, st, `SELECT inbox_event('other', 'message.created', 1, '{sales}', '{"text":"another tenant"}')`)
	bConv := inbound(t, st, "support", "support question")
	aConv := inbound(t, st, "sales", "sales question")
	// A conversation of team support assigned to ana: she sees it as its assignee.
	mine := inbound(t, st, "support", "for ana")
	exec(t, st, `UPDATE conversations SET assignee = 'ana' WHERE id = $1`, mine)
	exec(t, st, `SELECT inbox_event($1, 'queue.changed', NULL, '{support}', '{"length":1}')`, ns)
	exec(t, st, `SELECT inbox_event($1, 'queue.changed', NULL, '{sales}', '{"length":1}')`, ns)

	sawMine := false
	// Events come in id order: everything sales receives before its queue event was
	// written before it, so team support's and the other tenant's would have come first.
	for {
		e := sales.next(t, live.KindMessageCreated, live.KindConversationCreated, live.KindConversationAssigned, live.KindQueueChanged)
		if e.Event.ConversationID != nil && *e.Event.ConversationID != aConv && *e.Event.ConversationID != mine {
			t.Fatalf("team sales received %+v", e)
		}
		if e.Event.ConversationID != nil && *e.Event.ConversationID == mine {
			sawMine = true
		}
		if e.Kind == live.KindQueueChanged {
			if e.Event.Teams[0] != "sales" {
				t.Fatalf("team sales received the queue of %v", e.Event.Teams)
			}
			break
		}
	}
	if !sawMine {
		t.Fatal("ana did not receive the assignment of her conversation of team support")
	}
	e := support.next(t, live.KindMessageCreated)
	if *e.Event.ConversationID != bConv {
		t.Fatalf("team support received %+v", e)
	}
	if q := support.next(t, live.KindQueueChanged); q.Event.Teams[0] != "support" {
		t.Fatalf("team support received the queue of %v", q.Event.Teams)
	}
}

// Two inbox processes (two pools, two hubs) both deliver an event one of them writes.
func TestTwoReplicasBothDeliver(t *testing.T) {
	dsn := srv.NewDatabase(t)
	st1, st2 := openStore(t, dsn), openStore(t, dsn)
	r1, r2 := startReplica(t, st1, live.HubOptions{}), startReplica(t, st2, live.HubOptions{})
	c1, c2 := connect(t, r1.url, "admin", ""), connect(t, r2.url, "admin", "")
	conv := inbound(t, st1, "sales", "to both")
	for _, c := range []*client{c1, c2} {
		if e := c.next(t, live.KindMessageCreated); *e.Event.ConversationID != conv {
			t.Fatalf("received %+v", e)
		}
	}
}

// A client that reconnects with Last-Event-ID gets exactly what it missed, in order,
// from the same replica or another one.
func TestResumeWithLastEventID(t *testing.T) {
	dsn := srv.NewDatabase(t)
	st1, st2 := openStore(t, dsn), openStore(t, dsn)
	r1, r2 := startReplica(t, st1, live.HubOptions{}), startReplica(t, st2, live.HubOptions{})
	c := connect(t, r1.url, "admin", "")
	inbound(t, st1, "sales", "first")
	last := c.next(t, live.KindMessageCreated)
	_ = c.resp.Body.Close()
	<-c.closed

	for _, text := range []string{"second", "third", "fourth"} {
		inbound(t, st1, "sales", text)
	}
	for _, r := range []*replica{r1, r2} {
		missed := idsAfter(t, st1, last.Event.ID)
		if len(missed) < 9 {
			t.Fatalf("missed %v", missed)
		}
		again := connect(t, r.url, "admin", last.ID)
		for _, want := range missed {
			if e := again.next(t, live.Kinds...); e.Event.ID != want {
				t.Fatalf("after Last-Event-ID %s got event %d, want %d", last.ID, e.Event.ID, want)
			}
		}
		// And live events follow the replay.
		inbound(t, st2, "sales", "live again")
		if e := again.next(t, live.Kinds...); e.Event.ID <= missed[len(missed)-1] {
			t.Fatalf("live event %d after the replay up to %d", e.Event.ID, missed[len(missed)-1])
		}
		_ = again.resp.Body.Close()
	}
}

func idsAfter(t *testing.T, st *store.Store, after int64) []int64 {
	t.Helper()
	var ids []int64
	if err := st.ReadTx(t.Context(), func(tx pgx.Tx) error {
		rows, err := tx.Query(t.Context(), `SELECT id FROM inbox_events WHERE id > $1 ORDER BY id`, after)
		if err != nil {
			return err
		}
		ids, err = pgx.CollectRows(rows, pgx.RowTo[int64])
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestLastEventIDMustBeAnID(t *testing.T) {
	st := openStore(t, srv.NewDatabase(t))
	r := startReplica(t, st, live.HubOptions{})
	for _, tc := range []struct{ token, last string }{{"admin", "abc"}, {"admin", "-1"}, {"nobody", ""}, {"", ""}} {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, r.url+"/api/v1/events", nil)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		if tc.last != "" {
			req.Header.Set("Last-Event-ID", tc.last)
		}
		resp, err := openapitest.Client(t).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var pr struct {
			Status     int
			Field      string
			Permission string
		}
		_ = json.NewDecoder(resp.Body).Decode(&pr)
		_ = resp.Body.Close()
		want := map[string]int{"admin": 400, "nobody": 403, "": 401}[tc.token]
		if resp.StatusCode != want || resp.Header.Get("Content-Type") != "application/problem+json" ||
			tc.token == "admin" && pr.Field != "Last-Event-ID" || tc.token == "nobody" && pr.Permission != "conversations.read" {
			t.Fatalf("%+v: %s %+v", tc, resp.Status, pr)
		}
	}
}

// A subscriber that does not read is dropped when its buffer is full; the others get
// every event.
func TestSlowSubscriberIsDroppedOthersKeepUp(t *testing.T) {
	st := openStore(t, srv.NewDatabase(t))
	r := startReplica(t, st, live.HubOptions{Buffer: 4})
	admin := principal("admin")
	slow, err := r.svc.Hub().Subscribe(t.Context(), admin)
	if err != nil {
		t.Fatal(err)
	}
	fast, err := r.svc.Hub().Subscribe(t.Context(), admin)
	if err != nil {
		t.Fatal(err)
	}
	// The writer waits for the fast subscriber to receive each event before it writes the
	// next: the fast one never has more than one waiting, the slow one fills up.
	const n = 20
	for i := range n {
		exec(t, st, `SELECT inbox_event($1, 'queue.changed', NULL, '{sales}', jsonb_build_object('i', $2::int))`, ns, i)
		select {
		case e, ok := <-fast.C:
			var p struct{ I int }
			if err := json.Unmarshal(e.Payload, &p); !ok || err != nil || p.I != i {
				t.Fatalf("fast subscriber: event %s (open %v), want i=%d", e.Payload, ok, i)
			}
		case <-time.After(wait):
			t.Fatalf("the fast subscriber got %d of %d events", i, n)
		}
	}
	got := 0
	for open, timeout := true, time.After(wait); open; {
		select {
		case _, open = <-slow.C:
			if open {
				got++
			}
		case <-timeout:
			t.Fatal("the slow subscriber was not dropped")
		}
	}
	if got > 4 {
		t.Fatalf("the slow subscriber's channel held %d events, buffer 4", got)
	}
}

// An event whose transaction commits after a later id's is not passed over: the hub
// holds the later one back until the earlier commits, or rolls back.
func TestEventsInCommitOrderGapsAreWaitedFor(t *testing.T) {
	st := openStore(t, srv.NewDatabase(t))
	r := startReplica(t, st, live.HubOptions{GapTimeout: time.Hour})
	sub, err := r.svc.Hub().Subscribe(t.Context(), principal("admin"))
	if err != nil {
		t.Fatal(err)
	}
	for _, outcome := range []string{"commit", "rollback"} {
		held := make(chan error, 1)
		release := make(chan struct{})
		var early int64
		go func() {
			held <- st.InTx(t.Context(), func(tx pgx.Tx) error {
				if err := tx.QueryRow(t.Context(), `SELECT inbox_event($1, 'queue.changed', NULL, '{sales}', '{"n":"early"}')`, ns).Scan(&early); err != nil {
					return err
				}
				held <- nil
				<-release
				if outcome == "rollback" {
					return errRollback
				}
				return nil
			})
		}()
		if err := <-held; err != nil {
			t.Fatal(err)
		}
		exec(t, st, `SELECT inbox_event($1, 'queue.changed', NULL, '{sales}', '{"n":"late"}')`, ns)
		select {
		case e := <-sub.C:
			t.Fatalf("%s: event %d (%s) delivered while id %d is uncommitted", outcome, e.ID, e.Payload, early)
		case <-time.After(300 * time.Millisecond):
		}
		close(release)
		if err := <-held; err != nil && outcome == "commit" {
			t.Fatal(err)
		}
		var order []string
		for len(order) < map[string]int{"commit": 2, "rollback": 1}[outcome] {
			select {
			case e := <-sub.C:
				var p struct{ N string }
				_ = json.Unmarshal(e.Payload, &p)
				order = append(order, p.N)
			case <-time.After(wait):
				t.Fatalf("%s: got %v", outcome, order)
			}
		}
		if want := map[string]string{"commit": "[early late]", "rollback": "[late]"}[outcome]; fmtSlice(order) != want {
			t.Fatalf("%s: order %v, want %s", outcome, order, want)
		}
	}
}

// Events older than the retention are pruned; a client resuming from before them is
// told to reload (a reset event) rather than silently missing them.
func TestPrunedEventsAskForAReset(t *testing.T) {
	st := openStore(t, srv.NewDatabase(t))
	r := startReplica(t, st, live.HubOptions{Retention: time.Second, PruneEvery: 50 * time.Millisecond})
	exec(t, st, `SELECT inbox_event($1, 'queue.changed', NULL, '{sales}', '{}')`, ns)
	exec(t, st, `SELECT inbox_event($1, 'queue.changed', NULL, '{sales}', '{}')`, ns)
	deadline := time.Now().Add(wait)
	for len(idsAfter(t, st, 0)) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("events older than the retention are still stored")
		}
		time.Sleep(50 * time.Millisecond)
	}
	exec(t, st, `SELECT inbox_event($1, 'queue.changed', NULL, '{sales}', '{}')`, ns)
	for r.svc.Hub().Cursor() < 3 {
		if time.Now().After(deadline) {
			t.Fatal("the hub did not read the third event")
		}
		time.Sleep(10 * time.Millisecond)
	}
	c := connect(t, r.url, "admin", "1")
	c.next(t, "reset")
	if e := c.next(t, live.KindQueueChanged); e.Event.ID != 3 {
		t.Fatalf("after the reset: event %d, want 3", e.Event.ID)
	}
}

// Streams end when the server shuts down (the service's context), so that a graceful
// shutdown does not wait for them.
func TestStreamsEndAtShutdown(t *testing.T) {
	st := openStore(t, srv.NewDatabase(t))
	r := startReplica(t, st, live.HubOptions{})
	c := connect(t, r.url, "admin", "")
	r.cancel()
	select {
	case <-c.closed:
	case <-time.After(wait):
		t.Fatal("the stream is still open after the shutdown")
	}
}

type presence struct {
	mu     sync.Mutex
	events []string
}

func (p *presence) Connected(_ context.Context, login string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = append(p.events, "+"+login)
	return nil
}

func (p *presence) Disconnected(_ context.Context, login string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = append(p.events, "-"+login)
	return nil
}

func (p *presence) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return fmt.Sprint(p.events)
}

// An agent's stream is reported to the routing's presence when it opens and closes.
func TestAgentStreamsAreReportedToPresence(t *testing.T) {
	st := openStore(t, srv.NewDatabase(t))
	pr := &presence{}
	svc := live.Start(t.Context(), live.Config{Store: st, Namespace: ns, Roster: func() live.Roster { return roster }, Presence: pr})
	mux := http.NewServeMux()
	svc.Register(mux, testAuth)
	hs := httptest.NewServer(mux)
	defer hs.Close()
	c := connect(t, hs.URL, "sales", "")
	if got := pr.String(); got != "[+ana]" {
		t.Fatalf("after connecting: %s", got)
	}
	_ = c.resp.Body.Close()
	deadline := time.Now().Add(wait)
	for pr.String() != "[+ana -ana]" {
		if time.Now().After(deadline) {
			t.Fatalf("after disconnecting: %s", pr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The events of a conversation waiting with no team reach the agents of its eligible
// teams (conversations.eligible_teams, migration 00018) and no other team's.
func TestQueuedConversationEventsReachItsEligibleTeams(t *testing.T) {
	st := openStore(t, srv.NewDatabase(t))
	r := startReplica(t, st, live.HubOptions{})
	sales := connect(t, r.url, "sales", "")
	support := connect(t, r.url, "support", "")

	waiting := inbound(t, st, "", "first")
	exec(t, st, `UPDATE conversations SET eligible_teams = '{sales}' WHERE id = $1`, waiting)
	exec(t, st, `INSERT INTO messages (namespace, conversation_id, direction, wamid, type, text, content, status)
		VALUES ($1, $2, 'in', 'wamid.queued', 'text', 'again', '{}', 'received')`, ns, waiting)
	exec(t, st, `SELECT inbox_event($1, 'queue.changed', NULL, '{support}', '{"length":1}')`, ns)

	e := sales.next(t, live.KindMessageCreated)
	if *e.Event.ConversationID != waiting || !strings.Contains(string(e.Event.Payload), "again") ||
		!slices.Contains(e.Event.Teams, "sales") {
		t.Fatalf("team sales received %+v, want the second message of the waiting conversation", e)
	}
	if q := support.next(t, live.KindMessageCreated, live.KindQueueChanged); q.Kind != live.KindQueueChanged {
		t.Fatalf("team support (not eligible) received %+v", q)
	}
}
