package auth_test

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox/auth"
	"github.com/switchboard-dev/switchboard/runtime/inbox/authz"
)

func TestPasswordHash(t *testing.T) {
	h, err := auth.HashPassword("correct horse battery", auth.DefaultArgon2)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") || strings.Contains(h, "correct horse") {
		t.Fatalf("hash %q", h)
	}
	if err := auth.VerifyPassword(h, "correct horse battery"); err != nil {
		t.Fatalf("right password: %v", err)
	}
	if err := auth.VerifyPassword(h, "correct horse batterz"); !errors.Is(err, auth.ErrMismatch) {
		t.Fatalf("wrong password: %v", err)
	}
	h2, _ := auth.HashPassword("correct horse battery", auth.DefaultArgon2)
	if h2 == h {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}
	for _, bad := range []string{"", "$2a$10$abc", "$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHQ$" + strings.Repeat("A", 43),
		"$argon2id$v=18$m=64,t=1,p=1$c2FsdHNhbHQ$" + strings.Repeat("A", 43)} {
		if err := auth.VerifyPassword(bad, "x"); err == nil || errors.Is(err, auth.ErrMismatch) {
			t.Errorf("VerifyPassword(%q) = %v, want a format error", bad, err)
		}
	}
	if err := auth.CheckPassword("short"); err == nil {
		t.Error("a 5-character password is accepted")
	}
}

func TestLoginSessionAndCookie(t *testing.T) {
	r := newRig(t, srv.NewDatabase(t), "acme", "support")
	cookie, csrf := r.seedAdmin("initial-admin-password-1")
	if !cookie.Secure || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Path != "/" || len(cookie.Value) < 40 {
		t.Fatalf("session cookie %+v", cookie)
	}
	if n := r.count(`SELECT count(*) FROM agent_sessions WHERE id_hash = sha256(convert_to($1, 'UTF8'))`, cookie.Value); n != 1 {
		t.Fatalf("sessions stored by the cookie's hash: %d", n)
	}
	if n := r.count(`SELECT count(*) FROM agent_sessions WHERE position(convert_to($1, 'UTF8') IN id_hash) > 0 OR csrf_token = $1`, cookie.Value); n != 0 {
		t.Fatal("the session id is stored in clear")
	}
	var me auth.PrincipalView
	res := r.do(req{method: "GET", path: "/api/v1/me", cookie: cookie})
	res.json(t, &me)
	if res.code != 200 || me.Subject != "admin" || me.DisplayName != "Administrator" || me.Role != "admin" || me.Kind != "agent" || me.CSRFToken != csrf || len(me.Permissions) != len(authz.All) {
		t.Fatalf("me: %d %+v", res.code, me)
	}
	// Wrong password, unknown login: the same 401.
	for _, body := range []map[string]string{{"login": "admin", "password": "nope-nope-nope"}, {"login": "ghost", "password": "nope-nope-nope"}} {
		res := r.do(req{method: "POST", path: "/api/v1/login", body: body, from: "198.51.100.7:1"})
		if res.code != 401 || !strings.Contains(res.body, "the login or the password is wrong") {
			t.Errorf("login %v: %d %s", body, res.code, res.body)
		}
	}
	if res := r.do(req{method: "POST", path: "/api/v1/login", body: map[string]string{"login": "admin"}}); res.code != 400 || !strings.Contains(res.body, `"field":"password"`) {
		t.Errorf("no password: %d %s", res.code, res.body)
	}
	if res := r.do(req{method: "POST", path: "/api/v1/login", body: map[string]any{"login": "admin", "password": "x", "otp": 1}}); res.code != 400 || !strings.Contains(res.body, `"field":"otp"`) {
		t.Errorf("unknown member: %d %s", res.code, res.body)
	}
	// Logout needs the CSRF token, then ends the session.
	if res := r.do(req{method: "POST", path: "/api/v1/logout", cookie: cookie}); res.code != 403 || !strings.Contains(res.body, `"field":"X-CSRF-Token"`) {
		t.Fatalf("logout without CSRF: %d %s", res.code, res.body)
	}
	if res := r.do(req{method: "POST", path: "/api/v1/logout", cookie: cookie, csrf: csrf}); res.code != 204 {
		t.Fatalf("logout: %d %s", res.code, res.body)
	}
	if res := r.do(req{method: "GET", path: "/api/v1/me", cookie: cookie}); res.code != 401 {
		t.Fatalf("me after logout: %d %s", res.code, res.body)
	}
	if n := r.count(`SELECT count(*) FROM audit_log WHERE actor = 'agent:admin' AND action IN ('session.started', 'session.ended')`); n != 2 {
		t.Fatalf("audit entries of login and logout: %d", n)
	}
}

// In dev mode a plain-HTTP request from loopback gets a cookie without Secure (and
// without the __Host- prefix, which requires Secure); any other request a Secure one.
func TestInsecureLoopbackCookie(t *testing.T) {
	r := newRig(t, srv.NewDatabase(t), "acme", "support", func(c *auth.Config) { c.InsecureLoopbackCookies = true })
	r.seedAdmin("initial-admin-password-1")
	body := map[string]string{"login": "admin", "password": "initial-admin-password-1"}
	res := r.do(req{method: "POST", path: "/api/v1/login", body: body, from: "127.0.0.1:5555"})
	if len(res.cookies) != 1 || res.cookies[0].Name != auth.InsecureSessionCookie || res.cookies[0].Secure || !res.cookies[0].HttpOnly {
		t.Fatalf("loopback cookie %+v", res.cookies)
	}
	if me := r.do(req{method: "GET", path: "/api/v1/me", cookie: res.cookies[0], from: "127.0.0.1:5555"}); me.code != 200 {
		t.Fatalf("me with the dev cookie: %d %s", me.code, me.body)
	}
	res = r.do(req{method: "POST", path: "/api/v1/login", body: body, from: "203.0.113.9:5555"})
	if len(res.cookies) != 1 || res.cookies[0].Name != auth.SessionCookie || !res.cookies[0].Secure {
		t.Fatalf("remote cookie %+v", res.cookies)
	}
}

func TestThrottling(t *testing.T) {
	r := newRig(t, srv.NewDatabase(t), "acme", "support") // 3 per account, 6 per address
	r.seedAdmin("initial-admin-password-1")
	wrong := map[string]string{"login": "admin", "password": "wrong-password-1"}
	right := map[string]string{"login": "admin", "password": "initial-admin-password-1"}
	// Per account: three failures from three addresses, then even the right password waits.
	for i := range 3 {
		if res := r.do(req{method: "POST", path: "/api/v1/login", body: wrong, from: "198.51.100." + strconv.Itoa(i+1) + ":1"}); res.code != 401 {
			t.Fatalf("failure %d: %d %s", i, res.code, res.body)
		}
	}
	res := r.do(req{method: "POST", path: "/api/v1/login", body: right, from: "198.51.100.9:1"})
	if res.code != 429 || !strings.Contains(res.body, "this account") {
		t.Fatalf("fourth attempt: %d %s", res.code, res.body)
	}
	if ra, err := strconv.Atoi(res.header.Get("Retry-After")); err != nil || ra < 1 || ra > 15*60 {
		t.Fatalf("Retry-After %q", res.header.Get("Retry-After"))
	}
	// The window passes (moved back in the database): the right password works again and
	// starts the account's count afresh.
	r.exec(`UPDATE login_attempts SET at = at - interval '16 minutes'`)
	if res := r.do(req{method: "POST", path: "/api/v1/login", body: right, from: "198.51.100.9:1"}); res.code != 200 {
		t.Fatalf("after the window: %d %s", res.code, res.body)
	}
	// Per address: six failures on different logins from one address, then that address
	// waits, for any login, while another address does not.
	for i := range 6 {
		body := map[string]string{"login": "user" + strconv.Itoa(i), "password": "wrong-password-1"}
		if res := r.do(req{method: "POST", path: "/api/v1/login", body: body, from: "203.0.113.5:1"}); res.code != 401 {
			t.Fatalf("address failure %d: %d %s", i, res.code, res.body)
		}
	}
	if res := r.do(req{method: "POST", path: "/api/v1/login", body: right, from: "203.0.113.5:2"}); res.code != 429 || !strings.Contains(res.body, "this address") {
		t.Fatalf("address throttled: %d %s", res.code, res.body)
	}
	if res := r.do(req{method: "POST", path: "/api/v1/login", body: right, from: "203.0.113.6:2"}); res.code != 200 {
		t.Fatalf("another address: %d %s", res.code, res.body)
	}
}

func TestAgentsAndDisabled(t *testing.T) {
	r := newRig(t, srv.NewDatabase(t), "acme", "support")
	admin, csrf := r.seedAdmin("initial-admin-password-1")
	create := func(body map[string]any) resp {
		return r.do(req{method: "POST", path: "/api/v1/agents", body: body, cookie: admin, csrf: csrf})
	}
	res := create(map[string]any{"login": "ana", "displayName": "Ana", "role": "agent", "password": "ana-password-123"})
	var ana auth.AgentView
	res.json(t, &ana)
	if res.code != 201 || ana.Login != "ana" || ana.Role != "agent" || !ana.HasPassword || strings.Join(ana.Teams, ",") != "billing,iberia" {
		t.Fatalf("create: %d %s", res.code, res.body)
	}
	for _, tc := range []struct {
		body  map[string]any
		code  int
		field string
	}{
		{map[string]any{"login": "Ana!", "role": "agent", "password": "ana-password-123"}, 400, "login"},
		{map[string]any{"login": "bruno", "role": "boss", "password": "bruno-password-1"}, 400, "role"},
		{map[string]any{"login": "bruno", "role": "agent", "password": "short"}, 400, "password"},
		{map[string]any{"login": "ana", "role": "agent", "password": "ana-password-123"}, 409, "login"},
	} {
		if res := create(tc.body); res.code != tc.code || !strings.Contains(res.body, `"field":"`+tc.field+`"`) {
			t.Errorf("create %v: %d %s", tc.body, res.code, res.body)
		}
	}
	anaCookie, anaCSRF := r.login("ana", "ana-password-123")
	// ana lacks agents.manage.
	if res := r.do(req{method: "POST", path: "/api/v1/agents", body: map[string]any{"login": "x1", "role": "agent", "password": "xxxxxxxxxxxxxx"},
		cookie: anaCookie, csrf: anaCSRF}); res.code != 403 || !strings.Contains(res.body, `"permission":"agents.manage"`) {
		t.Fatalf("agent creating an agent: %d %s", res.code, res.body)
	}
	// Disabling ends ana's session and refuses her login.
	if res := r.do(req{method: "PATCH", path: "/api/v1/agents/ana", body: map[string]any{"disabled": true}, cookie: admin, csrf: csrf}); res.code != 200 {
		t.Fatalf("disable: %d %s", res.code, res.body)
	}
	if res := r.do(req{method: "GET", path: "/api/v1/me", cookie: anaCookie}); res.code != 401 {
		t.Fatalf("disabled agent's session: %d %s", res.code, res.body)
	}
	if res := r.do(req{method: "POST", path: "/api/v1/login", body: map[string]string{"login": "ana", "password": "ana-password-123"}}); res.code != 403 || !strings.Contains(res.body, "disabled") {
		t.Fatalf("disabled agent's login: %d %s", res.code, res.body)
	}
	// The last admin cannot be disabled; reset-password works and ends sessions.
	if res := r.do(req{method: "PATCH", path: "/api/v1/agents/admin", body: map[string]any{"disabled": true}, cookie: admin, csrf: csrf}); res.code != 409 {
		t.Fatalf("disable the last admin: %d %s", res.code, res.body)
	}
	if res := r.do(req{method: "POST", path: "/api/v1/agents/ana/reset-password", body: map[string]any{"password": "ana-new-password-1"}, cookie: admin, csrf: csrf}); res.code != 204 {
		t.Fatalf("reset: %d %s", res.code, res.body)
	}
	if res := r.do(req{method: "POST", path: "/api/v1/agents/nobody/reset-password", body: map[string]any{"password": "ana-new-password-1"}, cookie: admin, csrf: csrf}); res.code != 404 {
		t.Fatalf("reset unknown: %d %s", res.code, res.body)
	}
	var list struct{ Items []auth.AgentView }
	res = r.do(req{method: "GET", path: "/api/v1/agents", cookie: admin})
	res.json(t, &list)
	if res.code != 200 || len(list.Items) != 2 || !list.Items[1].Disabled || strings.Contains(res.body, "argon2") {
		t.Fatalf("list: %d %s", res.code, res.body)
	}
	for action, want := range map[string]int{"agent.created": 2, "agent.updated": 1, "agent.password_reset": 1} {
		if n := r.count(`SELECT count(*) FROM audit_log WHERE action = $1`, action); n != want {
			t.Errorf("audit %s: %d, want %d", action, n, want)
		}
	}
}

func TestTokens(t *testing.T) {
	r := newRig(t, srv.NewDatabase(t), "acme", "support")
	admin, csrf := r.seedAdmin("initial-admin-password-1")
	res := r.do(req{method: "POST", path: "/api/v1/tokens", body: map[string]any{"name": "crm", "role": "reader", "expiresIn": "720h"}, cookie: admin, csrf: csrf})
	var tok auth.TokenView
	res.json(t, &tok)
	if res.code != 201 || !strings.HasPrefix(tok.Token, "sbt_") || tok.ExpiresAt == nil || tok.CreatedBy != "agent:admin" {
		t.Fatalf("create: %d %s", res.code, res.body)
	}
	// Bearer requests need no CSRF token; the token's role decides.
	var me auth.PrincipalView
	res = r.do(req{method: "GET", path: "/api/v1/me", bearer: tok.Token})
	res.json(t, &me)
	if res.code != 200 || me.Kind != "token" || me.Subject != "crm" || me.Role != "reader" || me.CSRFToken != "" {
		t.Fatalf("me by token: %d %s", res.code, res.body)
	}
	if res := r.do(req{method: "GET", path: "/api/v1/agents", bearer: tok.Token}); res.code != 200 {
		t.Fatalf("agents.read by token: %d %s", res.code, res.body)
	}
	if res := r.do(req{method: "GET", path: "/api/v1/tokens", bearer: tok.Token}); res.code != 403 {
		t.Fatalf("tokens.manage by a reader token: %d %s", res.code, res.body)
	}
	res = r.do(req{method: "GET", path: "/api/v1/tokens", cookie: admin})
	if res.code != 200 || strings.Contains(res.body, tok.Token) || strings.Contains(res.body, `"token"`) || !strings.Contains(res.body, `"lastUsedAt":"`) {
		t.Fatalf("list: %d %s", res.code, res.body)
	}
	if n := r.count(`SELECT count(*) FROM api_tokens WHERE hash = sha256(convert_to($1, 'UTF8'))`, tok.Token); n != 1 {
		t.Fatal("the token is not stored as its SHA-256")
	}
	for _, tc := range []struct {
		body  map[string]any
		code  int
		field string
	}{
		{map[string]any{"name": "crm", "role": "reader"}, 409, "name"},
		{map[string]any{"name": "Bad Name", "role": "reader"}, 400, "name"},
		{map[string]any{"name": "x", "role": "nope"}, 400, "role"},
		{map[string]any{"name": "x", "role": "reader", "expiresIn": "2s"}, 400, "expiresIn"},
	} {
		if res := r.do(req{method: "POST", path: "/api/v1/tokens", body: tc.body, cookie: admin, csrf: csrf}); res.code != tc.code || !strings.Contains(res.body, `"field":"`+tc.field+`"`) {
			t.Errorf("create %v: %d %s", tc.body, res.code, res.body)
		}
	}
	// Expiry (moved into the past in the database) and revocation.
	r.exec(`UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE id = $1`, tok.ID)
	if res := r.do(req{method: "GET", path: "/api/v1/me", bearer: tok.Token}); res.code != 401 || !strings.Contains(res.body, "expired") {
		t.Fatalf("expired token: %d %s", res.code, res.body)
	}
	res = r.do(req{method: "POST", path: "/api/v1/tokens", body: map[string]any{"name": "bot", "role": "agent"}, cookie: admin, csrf: csrf})
	var bot auth.TokenView
	res.json(t, &bot)
	if res := r.do(req{method: "DELETE", path: "/api/v1/tokens/" + strconv.FormatInt(bot.ID, 10), cookie: admin, csrf: csrf}); res.code != 204 {
		t.Fatalf("revoke: %d %s", res.code, res.body)
	}
	if res := r.do(req{method: "GET", path: "/api/v1/me", bearer: bot.Token}); res.code != 401 || !strings.Contains(res.body, "revoked") {
		t.Fatalf("revoked token: %d %s", res.code, res.body)
	}
	if res := r.do(req{method: "DELETE", path: "/api/v1/tokens/" + strconv.FormatInt(bot.ID, 10), cookie: admin, csrf: csrf}); res.code != 404 {
		t.Fatalf("revoke twice: %d %s", res.code, res.body)
	}
	if res := r.do(req{method: "GET", path: "/api/v1/me", bearer: "sbt_made_up"}); res.code != 401 {
		t.Fatalf("unknown token: %d %s", res.code, res.body)
	}
	// A token may not hold more than its creator: a supervisor cannot mint an admin token.
	r.do(req{method: "POST", path: "/api/v1/agents", body: map[string]any{"login": "sofia", "role": "supervisor", "password": "sofia-password-1"}, cookie: admin, csrf: csrf})
	roles := r.svc.Directory().Roles
	roles["tokenmaker"] = append(roles["supervisor"], authz.TokensManage)
	r.setDirectory(func(d *auth.Directory) { d.Roles = roles })
	r.do(req{method: "PATCH", path: "/api/v1/agents/sofia", body: map[string]any{"role": "tokenmaker"}, cookie: admin, csrf: csrf})
	sofia, sofiaCSRF := r.login("sofia", "sofia-password-1")
	if res := r.do(req{method: "POST", path: "/api/v1/tokens", body: map[string]any{"name": "root", "role": "admin"}, cookie: sofia, csrf: sofiaCSRF}); res.code != 403 || !strings.Contains(res.body, `"field":"role"`) {
		t.Fatalf("escalation: %d %s", res.code, res.body)
	}
	if n := r.count(`SELECT count(*) FROM audit_log WHERE action IN ('token.created', 'token.revoked')`); n != 3 {
		t.Fatalf("token audit entries: %d", n)
	}
}

// An agent and a token of one Inbox are nobody in another namespace's Inbox on the
// same database, and its agents are not listed there.
func TestTenantIsolation(t *testing.T) {
	dsn := srv.NewDatabase(t)
	a := newRig(t, dsn, "acme", "support")
	b := newRig(t, dsn, "globex", "support")
	cookieA, csrfA := a.seedAdmin("initial-admin-password-a")
	b.seedAdmin("initial-admin-password-b")
	res := a.do(req{method: "POST", path: "/api/v1/tokens", body: map[string]any{"name": "crm", "role": "admin"}, cookie: cookieA, csrf: csrfA})
	var tok auth.TokenView
	res.json(t, &tok)
	for _, q := range []req{{method: "GET", path: "/api/v1/agents", cookie: cookieA}, {method: "GET", path: "/api/v1/agents", bearer: tok.Token}} {
		if res := b.do(q); res.code != 401 {
			t.Errorf("A's credential on B: %d %s", res.code, res.body)
		}
	}
	// A's admin password is not B's admin's.
	if res := b.do(req{method: "POST", path: "/api/v1/login", body: map[string]string{"login": "admin", "password": "initial-admin-password-a"}}); res.code != 401 {
		t.Errorf("A's password on B: %d %s", res.code, res.body)
	}
	a.do(req{method: "POST", path: "/api/v1/agents", body: map[string]any{"login": "only-in-a", "role": "agent", "password": "only-in-a-password"}, cookie: cookieA, csrf: csrfA})
	cookieB, _ := b.login("admin", "initial-admin-password-b")
	if res := b.do(req{method: "GET", path: "/api/v1/agents", cookie: cookieB}); strings.Contains(res.body, "only-in-a") {
		t.Errorf("B lists A's agent: %s", res.body)
	}
}

// Spec-declared agents are created without a password, updated and deleted by Sync; the
// initial admin is made once.
func TestSync(t *testing.T) {
	r := newRig(t, srv.NewDatabase(t), "acme", "support")
	ctx := context.Background()
	r.setDirectory(func(d *auth.Directory) {
		d.Agents = []auth.DeclaredAgent{{Login: "ana", DisplayName: "Ana", Role: "agent"}, {Login: "sofia", Role: "supervisor"},
			{Login: "ghost", Role: "no-such-role"}}
		d.InitialAdminPassword = "initial-admin-password-1"
	})
	for range 2 { // idempotent
		if err := r.svc.Sync(ctx, r.svc.Directory()); err != nil {
			t.Fatal(err)
		}
	}
	if n := r.count(`SELECT count(*) FROM agents WHERE source = 'spec' AND password_hash IS NULL`); n != 2 {
		t.Fatalf("declared agents: %d", n)
	}
	if n := r.count(`SELECT count(*) FROM audit_log WHERE actor = $1 AND action = 'agent.created'`, auth.SyncActor); n != 3 {
		t.Fatalf("sync audit entries: %d", n)
	}
	// An account without a password cannot log in.
	if res := r.do(req{method: "POST", path: "/api/v1/login", body: map[string]string{"login": "ana", "password": "anything-at-all"}}); res.code != 401 {
		t.Fatalf("passwordless login: %d %s", res.code, res.body)
	}
	r.setDirectory(func(d *auth.Directory) {
		d.Agents = []auth.DeclaredAgent{{Login: "ana", DisplayName: "Ana B.", Role: "supervisor"}}
		d.InitialAdminPassword = "a-changed-secret-value"
	})
	if err := r.svc.Sync(ctx, r.svc.Directory()); err != nil {
		t.Fatal(err)
	}
	if n := r.count(`SELECT count(*) FROM agents WHERE login = 'ana' AND role = 'supervisor' AND display_name = 'Ana B.'`); n != 1 {
		t.Fatal("ana's role and name did not follow the spec")
	}
	if n := r.count(`SELECT count(*) FROM agents WHERE login = 'sofia'`); n != 0 {
		t.Fatal("sofia is still there after leaving spec.agents")
	}
	// The admin keeps its first password: the Secret is read only to create it.
	r.login("admin", "initial-admin-password-1")
}

// Nothing secret reaches the log, the audit log or an answer (except the new token,
// once).
func TestSecretsNeverLogged(t *testing.T) {
	r := newRig(t, srv.NewDatabase(t), "acme", "support")
	const adminPW, anaPW, resetPW = "initial-admin-password-1", "ana-password-123", "ana-reset-password-1"
	admin, csrf := r.seedAdmin(adminPW)
	r.do(req{method: "POST", path: "/api/v1/agents", body: map[string]any{"login": "ana", "role": "agent", "password": anaPW}, cookie: admin, csrf: csrf})
	r.do(req{method: "POST", path: "/api/v1/login", body: map[string]string{"login": "ana", "password": "a-wrong-password-1"}})
	r.do(req{method: "POST", path: "/api/v1/agents/ana/reset-password", body: map[string]any{"password": resetPW}, cookie: admin, csrf: csrf})
	res := r.do(req{method: "POST", path: "/api/v1/tokens", body: map[string]any{"name": "crm", "role": "agent"}, cookie: admin, csrf: csrf})
	var tok auth.TokenView
	res.json(t, &tok)
	r.do(req{method: "GET", path: "/api/v1/me", bearer: tok.Token})
	r.do(req{method: "GET", path: "/api/v1/me", bearer: tok.Token + "x"})
	// A broken hash makes the login log an error: still nothing secret in it.
	r.exec(`UPDATE agents SET password_hash = '$argon2id$broken' WHERE login = 'ana'`)
	r.do(req{method: "POST", path: "/api/v1/login", body: map[string]string{"login": "ana", "password": resetPW}})
	secrets := []string{adminPW, anaPW, resetPW, "a-wrong-password-1", tok.Token, strings.TrimPrefix(tok.Token, "sbt_"), admin.Value, csrf}
	if s := contains(r.logs.String(), secrets...); s != "" {
		t.Fatalf("the log holds a secret: %s", r.logs.String())
	}
	if !strings.Contains(r.logs.String(), "password hash cannot be read") {
		t.Fatalf("the log lacks the broken hash's error: %s", r.logs.String())
	}
	var audit string
	if err := r.st.ReadTx(context.Background(), func(tx pgx.Tx) error {
		return tx.QueryRow(context.Background(), `SELECT string_agg(actor || action || object_id || coalesce(after::text, ''), ' ') FROM audit_log`).Scan(&audit)
	}); err != nil {
		t.Fatal(err)
	}
	if s := contains(audit, secrets...); s != "" || strings.Contains(audit, "argon2") {
		t.Fatalf("the audit log holds a secret: %s", audit)
	}
	for _, path := range []string{"/api/v1/agents", "/api/v1/tokens", "/api/v1/me"} {
		res := r.do(req{method: "GET", path: path, cookie: admin})
		if s := contains(res.body, secrets[:7]...); s != "" || strings.Contains(res.body, "argon2") {
			t.Fatalf("%s answers a secret: %s", path, res.body)
		}
	}
}

func TestRoles(t *testing.T) {
	r := newRig(t, srv.NewDatabase(t), "acme", "support")
	admin, _ := r.seedAdmin("initial-admin-password-1")
	var list struct{ Items []auth.RoleView }
	res := r.do(req{method: "GET", path: "/api/v1/roles", cookie: admin})
	res.json(t, &list)
	names := []string{}
	for _, x := range list.Items {
		names = append(names, x.Name)
		if x.Name == "reader" && (x.Predefined || strings.Join(x.Permissions, ",") != "conversations.read,agents.read") {
			t.Errorf("reader %+v", x)
		}
	}
	if strings.Join(names, ",") != "admin,agent,auditor,reader,supervisor" {
		t.Fatalf("roles %v", names)
	}
	if res := r.do(req{method: "GET", path: "/api/v1/roles"}); res.code != 401 {
		t.Fatalf("anonymous: %d", res.code)
	}
}

// Behind a trusted proxy the per-address throttle counts the client named by
// X-Forwarded-For; from anyone else the header is ignored.
func TestThrottlingBehindProxy(t *testing.T) {
	r := newRig(t, srv.NewDatabase(t), "acme", "support", func(c *auth.Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	})
	r.seedAdmin("initial-admin-password-1")
	right := map[string]string{"login": "admin", "password": "initial-admin-password-1"}
	viaProxy := func(client string, body map[string]string) resp {
		return r.do(req{method: "POST", path: "/api/v1/login", body: body, from: "10.1.2.3:40000",
			header: map[string]string{"X-Forwarded-For": "198.51.100.99, " + client + ", 10.9.9.9"}})
	}
	for i := range 6 {
		body := map[string]string{"login": "user" + strconv.Itoa(i), "password": "wrong-password-1"}
		if res := viaProxy("203.0.113.7", body); res.code != 401 {
			t.Fatalf("failure %d: %d %s", i, res.code, res.body)
		}
	}
	if res := viaProxy("203.0.113.7", right); res.code != 429 {
		t.Fatalf("the client behind the proxy is not throttled: %d %s", res.code, res.body)
	}
	if res := viaProxy("203.0.113.8", right); res.code != 200 {
		t.Fatalf("another client behind the same proxy: %d %s", res.code, res.body)
	}
	// An untrusted peer cannot pick its address with the header.
	spoof := r.do(req{method: "POST", path: "/api/v1/login", body: right, from: "192.0.2.50:1",
		header: map[string]string{"X-Forwarded-For": "203.0.113.8"}})
	if spoof.code != 200 || r.count(`SELECT count(*) FROM login_attempts WHERE source = '192.0.2.50'`) != 1 {
		t.Fatalf("spoofed header: %d %s", spoof.code, spoof.body)
	}
}
