package live_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox/authz"
	"github.com/switchboard-dev/switchboard/runtime/inbox/conversation"
	"github.com/switchboard-dev/switchboard/runtime/inbox/live"
	"github.com/switchboard-dev/switchboard/runtime/inbox/openapi/openapitest"
	"github.com/switchboard-dev/switchboard/runtime/store"
	"github.com/switchboard-dev/switchboard/runtime/store/pgtest"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

var srv *pgtest.Server

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &srv)) }

const ns = "acme"

var num = store.NumberRef{Namespace: ns, Name: "sales-es"}

// wait is the generous bound for something that normally takes milliseconds.
const wait = 20 * time.Second

func openStore(t *testing.T, dsn string) *store.Store {
	t.Helper()
	st, err := store.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st
}

var roster = live.Roster{Teams: []live.Team{
	{Name: "sales", Members: []string{"ana", "ben"}},
	{Name: "support", Members: []string{"cai"}},
}}

// principals maps bearer tokens to the principals of the tests.
func principal(token string) *authz.Principal {
	roles := authz.Predefined()
	switch token {
	case "admin":
		return authz.NewPrincipal(ns, "inbox", authz.KindAgent, "root", authz.RoleAdmin, roles[authz.RoleAdmin])
	case "sales":
		p := authz.NewPrincipal(ns, "inbox", authz.KindAgent, "ana", authz.RoleAgent, roles[authz.RoleAgent])
		p.Teams = []string{"sales"}
		return p
	case "support":
		p := authz.NewPrincipal(ns, "inbox", authz.KindAgent, "cai", authz.RoleAgent, roles[authz.RoleAgent])
		p.Teams = []string{"support"}
		return p
	case "nobody":
		return authz.NewPrincipal(ns, "inbox", authz.KindAgent, "eve", "viewer", nil)
	}
	return nil
}

var testAuth = authz.AuthenticatorFunc(func(r *http.Request) (*authz.Principal, error) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return nil, nil
	}
	if p := principal(tok); p != nil {
		return p, nil
	}
	return nil, fmt.Errorf("unknown token")
})

// replica is one inbox process's live service on its own pool, served over HTTP.
type replica struct {
	svc    *live.Service
	url    string
	cancel context.CancelFunc
}

func startReplica(t *testing.T, st *store.Store, o live.HubOptions) *replica {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	svc := live.Start(ctx, live.Config{Store: st, Namespace: ns, Roster: func() live.Roster { return roster }, Hub: o})
	mux := http.NewServeMux()
	svc.Register(mux, testAuth)
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	t.Cleanup(cancel)
	return &replica{svc: svc, url: hs.URL, cancel: cancel}
}

// sseEvent is one parsed event of a stream.
type sseEvent struct {
	ID    string
	Kind  string
	Event live.Event
}

// client reads a stream into events until it ends (closed is closed then).
type client struct {
	events chan sseEvent
	closed chan struct{}
	resp   *http.Response
}

func connect(t *testing.T, url, token, lastID string) *client {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url+"/api/v1/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := openapitest.Client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/v1/events: %s", resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	c := &client{events: make(chan sseEvent, 1000), closed: make(chan struct{}), resp: resp}
	t.Cleanup(func() { _ = resp.Body.Close() })
	go c.read(t)
	return c
}

func (c *client) read(t *testing.T) {
	defer close(c.closed)
	sc := bufio.NewScanner(c.resp.Body)
	var cur sseEvent
	var data string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur.Kind != "" {
				if err := json.Unmarshal([]byte(data), &cur.Event); err != nil {
					t.Errorf("event %s: data %q: %v", cur.ID, data, err)
				}
				if cur.Kind != "reset" {
					if err := openapitest.Schema("LiveEvent", []byte(data)); err != nil {
						t.Errorf("event %s: %v", cur.ID, err)
					}
				}
				c.events <- cur
			}
			cur, data = sseEvent{}, ""
		case strings.HasPrefix(line, "id: "):
			cur.ID = line[4:]
		case strings.HasPrefix(line, "event: "):
			cur.Kind = line[7:]
		case strings.HasPrefix(line, "data: "):
			data = line[6:]
		}
	}
}

// next returns the next event of one of kinds, skipping the others.
func (c *client) next(t *testing.T, kinds ...string) sseEvent {
	t.Helper()
	timeout := time.After(wait)
	for {
		select {
		case e := <-c.events:
			for _, k := range kinds {
				if e.Kind == k {
					return e
				}
			}
		case <-c.closed:
			t.Fatalf("the stream ended while waiting for %v", kinds)
		case <-timeout:
			t.Fatalf("no %v event within %s", kinds, wait)
		}
	}
}

var waSeq atomic.Int64

// inbound stores a customer's message through the conversation package (as the webhook
// ingest does) in a conversation of team ("" for none), and returns the conversation id.
func inbound(t *testing.T, st *store.Store, team, text string) int64 {
	t.Helper()
	n := waSeq.Add(1)
	var id int64
	err := st.InTx(t.Context(), func(tx pgx.Tx) error {
		ctx := t.Context()
		contact, err := conversation.UpsertContact(ctx, tx, ns, fmt.Sprintf("3461100%04d", n), "Ana")
		if err != nil {
			return err
		}
		c, err := conversation.Open(ctx, tx, num, contact)
		if err != nil {
			return err
		}
		if team != "" {
			if _, err := tx.Exec(ctx, `UPDATE conversations SET team = $1 WHERE id = $2`, team, c.ID); err != nil {
				return err
			}
		}
		var m whatsapp.Inbound
		raw := fmt.Sprintf(`{"from":"3461100%04d","id":"wamid.in%d","timestamp":"%d","type":"text","text":{"body":%q}}`,
			n, n, time.Now().Unix(), text)
		if err := json.Unmarshal([]byte(raw), &m); err != nil {
			return err
		}
		id = c.ID
		_, err = conversation.InsertInbound(ctx, tx, c, m, time.Now())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func exec(t *testing.T, st *store.Store, sql string, args ...any) {
	t.Helper()
	if err := st.InTx(t.Context(), func(tx pgx.Tx) error {
		_, err := tx.Exec(t.Context(), sql, args...)
		return err
	}); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

var errRollback = fmt.Errorf("rolled back on purpose")

func fmtSlice(s []string) string { return fmt.Sprint(s) }
