package auth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox/auth"
	"github.com/switchboard-dev/switchboard/runtime/inbox/authz"
	"github.com/switchboard-dev/switchboard/runtime/inbox/openapi/openapitest"
	"github.com/switchboard-dev/switchboard/runtime/store"
	"github.com/switchboard-dev/switchboard/runtime/store/pgtest"
)

var srv *pgtest.Server

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &srv)) }

// cheap argon2 parameters keep the tests fast; the format and the code path are the same.
var cheap = auth.Argon2Params{Memory: 64, Time: 1, Threads: 1}

// syncBuffer is a log sink tests read back.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// rig is one Inbox's Service on a fresh database, its handlers on a mux (requests are
// served in-process so that tests choose the source address).
type rig struct {
	t    *testing.T
	st   *store.Store
	svc  *auth.Service
	mux  *http.ServeMux
	logs *syncBuffer
	dir  auth.Directory
	mu   sync.Mutex
}

func newRig(t *testing.T, dsn, namespace, inbox string, mutate ...func(*auth.Config)) *rig {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	roles, err := authz.NewRoles([]authz.CustomRole{{Name: "reader", Permissions: []string{"conversations.read", "agents.read"}}})
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, st: st, mux: http.NewServeMux(), logs: &syncBuffer{},
		dir: auth.Directory{Roles: roles, Teams: map[string][]string{"ana": {"billing", "iberia"}}}}
	cfg := auth.Config{Store: st, Namespace: namespace, Inbox: inbox, Argon2: cheap,
		Directory: func() auth.Directory { r.mu.Lock(); defer r.mu.Unlock(); return r.dir },
		Limits:    auth.Limits{PerAccount: 3, PerAddress: 6, Window: 15 * 60e9},
		Log:       slog.New(slog.NewJSONHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	for _, m := range mutate {
		m(&cfg)
	}
	if r.svc, err = auth.New(cfg); err != nil {
		t.Fatal(err)
	}
	r.svc.Register(r.mux)
	return r
}

func (r *rig) setDirectory(f func(*auth.Directory)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(&r.dir)
}

// req is one request: the source address, a bearer token, a session cookie and a CSRF
// token are optional.
type req struct {
	method, path string
	body         any
	from         string // RemoteAddr, default 192.0.2.1:1234
	bearer       string
	cookie       *http.Cookie
	csrf         string
	header       map[string]string
}

type resp struct {
	code    int
	header  http.Header
	cookies []*http.Cookie
	body    string
}

func (x resp) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(x.body), v); err != nil {
		t.Fatalf("%s: %v", x.body, err)
	}
}

func (r *rig) do(q req) resp {
	r.t.Helper()
	var body io.Reader
	var raw []byte
	if q.body != nil {
		raw, _ = json.Marshal(q.body)
		body = bytes.NewReader(raw)
	}
	hr := httptest.NewRequest(q.method, q.path, body)
	hr.RemoteAddr = "192.0.2.1:1234"
	if q.from != "" {
		hr.RemoteAddr = q.from
	}
	if q.body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if q.bearer != "" {
		hr.Header.Set("Authorization", "Bearer "+q.bearer)
	}
	if q.cookie != nil {
		hr.AddCookie(q.cookie)
	}
	for k, v := range q.header {
		hr.Header.Set(k, v)
	}
	if q.csrf != "" {
		hr.Header.Set(auth.CSRFHeader, q.csrf)
	}
	rec := httptest.NewRecorder()
	r.mux.ServeHTTP(rec, hr)
	openapitest.Recorded(r.t, hr, raw, rec)
	res := rec.Result()
	return resp{code: rec.Code, header: rec.Header(), cookies: res.Cookies(), body: rec.Body.String()}
}

// login logs in and returns the session cookie and the CSRF token.
func (r *rig) login(login, password string) (*http.Cookie, string) {
	r.t.Helper()
	res := r.do(req{method: "POST", path: "/api/v1/login", body: map[string]string{"login": login, "password": password}})
	if res.code != 200 {
		r.t.Fatalf("login %s: %d %s", login, res.code, res.body)
	}
	var v auth.PrincipalView
	res.json(r.t, &v)
	for _, c := range res.cookies {
		if c.Name == auth.SessionCookie {
			return c, v.CSRFToken
		}
	}
	r.t.Fatalf("login %s: no session cookie in %v", login, res.cookies)
	return nil, ""
}

// seedAdmin creates the initial admin through Sync and returns its session.
func (r *rig) seedAdmin(password string) (*http.Cookie, string) {
	r.t.Helper()
	r.setDirectory(func(d *auth.Directory) { d.InitialAdminPassword = password })
	if err := r.svc.Sync(context.Background(), r.svc.Directory()); err != nil {
		r.t.Fatal(err)
	}
	return r.login(auth.InitialAdmin, password)
}

// count runs a count query.
func (r *rig) count(sql string, args ...any) int {
	r.t.Helper()
	var n int
	if err := r.st.ReadTx(context.Background(), func(tx pgx.Tx) error {
		return tx.QueryRow(context.Background(), sql, args...).Scan(&n)
	}); err != nil {
		r.t.Fatal(err)
	}
	return n
}

// exec runs a statement (tests move times into the past with it).
func (r *rig) exec(sql string, args ...any) {
	r.t.Helper()
	if err := r.st.InTx(context.Background(), func(tx pgx.Tx) error {
		_, err := tx.Exec(context.Background(), sql, args...)
		return err
	}); err != nil {
		r.t.Fatal(err)
	}
}

func contains(s string, subs ...string) string {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return sub
		}
	}
	return ""
}
