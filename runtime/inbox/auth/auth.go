// Package auth is who may use the inbox's API (docs/auth.md): agent accounts with
// argon2id passwords, login throttling per account and per source address, browser
// sessions (an HttpOnly SameSite cookie with a synchronizer CSRF token), API tokens for
// integrations ("Authorization: Bearer sbt_…", stored hashed, scoped to a role,
// expiring, revocable), OpenID Connect single sign-on, the accounts declared in the
// Inbox's spec.agents and the initial admin from the Secret <inbox>-initial-admin.
//
// Service is an authz.Authenticator (session cookie, API token, and the inbox's static
// --api-token-file token when one is configured) and serves
//
//	POST   /api/v1/login                         {login,password} → session cookie, CSRF token, principal
//	POST   /api/v1/logout                        ends the cookie's session
//	GET    /api/v1/me                            the caller, its permissions and teams
//	GET    /api/v1/agents                        agents.read
//	POST   /api/v1/agents                        agents.manage
//	PATCH  /api/v1/agents/{login}                agents.manage (displayName, role, disabled)
//	POST   /api/v1/agents/{login}/reset-password agents.manage
//	GET    /api/v1/tokens                        tokens.manage (never the secrets)
//	POST   /api/v1/tokens                        tokens.manage (the token, shown once)
//	DELETE /api/v1/tokens/{id}                   tokens.manage (revoke)
//	GET    /api/v1/roles                         roles.read
//	GET    /auth/oidc/login, /auth/oidc/callback single sign-on (when spec.auth.oidc is set)
//
// Every change writes the audit log in its transaction. Passwords, session ids and
// tokens are never logged, never in audit entries and never in answers, except a new
// API token once, in the answer that creates it.
package auth

import (
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/switchboard-dev/switchboard/runtime/inbox/authz"
	"github.com/switchboard-dev/switchboard/runtime/inbox/httpapi"
	"github.com/switchboard-dev/switchboard/runtime/store"
)

// Directory is what the Inbox's Kubernetes objects say about access, read from the
// inbox's snapshot: the roles (predefined and spec.roles), the teams of each login
// (RoutingPolicy teams[].members), the accounts declared in spec.agents, single sign-on,
// and the initial admin password (the Secret <inbox>-initial-admin; "" until it exists).
type Directory struct {
	Roles                authz.Roles
	Teams                map[string][]string // login → team names, sorted
	Agents               []DeclaredAgent
	OIDC                 *OIDCConfig
	InitialAdminPassword string
}

// DeclaredAgent is one item of the Inbox's spec.agents.
type DeclaredAgent struct {
	Login, DisplayName, Role string
}

// Limits bound password logins: at most PerAccount failures for one login and
// PerAddress failures from one source address within Window; past either the answer
// is 429 with Retry-After until the oldest failure leaves the window. A successful login
// starts the account's count again (not the address's).
type Limits struct {
	PerAccount, PerAddress int
	Window                 time.Duration
}

// DefaultLimits: 5 failures per account and 20 per address in 15 minutes (OWASP's
// "Authentication Cheat Sheet" suggests locking after a few failures for a while; the
// address allows more because several agents may share an office's address).
var DefaultLimits = Limits{PerAccount: 5, PerAddress: 20, Window: 15 * time.Minute}

// DefaultSessionTTL is how long a browser session lasts from login (one working day).
const DefaultSessionTTL = 12 * time.Hour

// Config configures New. Store, Namespace, Inbox, Directory and Log are required.
type Config struct {
	Store     *store.Store
	Namespace string // the tenant
	Inbox     string // the Inbox's name: accounts belong to one Inbox
	// Directory returns the current access settings (the snapshot's).
	Directory func() Directory
	// Static, when set, authenticates the bearer tokens that are not "sbt_…" (the
	// inbox's --api-token-file token, agentapi's static authenticator).
	Static authz.Authenticator
	Limits Limits // zero: DefaultLimits
	// SessionTTL is a session's lifetime (zero: DefaultSessionTTL).
	SessionTTL time.Duration
	// InsecureLoopbackCookies lets the session cookie go without the Secure attribute
	// (and without the __Host- prefix) on a plain-HTTP request from a loopback address:
	// dev mode only, where the inbox listens on http://127.0.0.1. Otherwise the cookie is
	// always Secure (TLS ends at the Ingress).
	InsecureLoopbackCookies bool
	// TrustedProxies are the addresses of the proxies in front of the inbox (the Ingress
	// controller's pods) whose X-Forwarded-For is believed for the per-address login
	// throttle; empty: the connection's peer is the address.
	TrustedProxies []netip.Prefix
	Argon2         Argon2Params // zero: DefaultArgon2
	Log            *slog.Logger
}

// Service authenticates requests and serves the accounts' endpoints.
type Service struct {
	cfg   Config
	dummy string // a hash to verify against when the login does not exist (same timing)
	oidc  oidcCache
	mu    sync.Mutex
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	switch {
	case cfg.Store == nil || cfg.Directory == nil || cfg.Log == nil:
		return nil, errors.New("auth: Store, Directory and Log are required")
	case cfg.Namespace == "" || cfg.Inbox == "":
		return nil, errors.New("auth: Namespace and Inbox are required")
	}
	if cfg.Limits == (Limits{}) {
		cfg.Limits = DefaultLimits
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	if cfg.Argon2 == (Argon2Params{}) {
		cfg.Argon2 = DefaultArgon2
	}
	dummy, err := HashPassword(randomToken(16), cfg.Argon2)
	if err != nil {
		return nil, err
	}
	return &Service{cfg: cfg, dummy: dummy}, nil
}

// Register adds the endpoints to mux, each behind the Service's authentication.
func (s *Service) Register(mux *http.ServeMux) {
	authn := func(h http.Handler) http.Handler { return authz.Authenticate(s, h) }
	mux.HandleFunc("POST /api/v1/login", s.login)
	mux.Handle("POST /api/v1/logout", authn(httpapi.NoBodyFunc(s.logout)))
	mux.Handle("GET /api/v1/me", authn(http.HandlerFunc(s.me)))
	mux.Handle("GET /api/v1/agents", authn(authz.RequireFunc(authz.AgentsRead, s.listAgents)))
	mux.Handle("POST /api/v1/agents", authn(authz.RequireFunc(authz.AgentsManage, s.createAgent)))
	mux.Handle("PATCH /api/v1/agents/{login}", authn(authz.RequireFunc(authz.AgentsManage, s.updateAgent)))
	mux.Handle("POST /api/v1/agents/{login}/reset-password", authn(authz.RequireFunc(authz.AgentsManage, s.resetPassword)))
	mux.Handle("GET /api/v1/tokens", authn(authz.RequireFunc(authz.TokensManage, s.listTokens)))
	mux.Handle("POST /api/v1/tokens", authn(authz.RequireFunc(authz.TokensManage, s.createToken)))
	mux.Handle("DELETE /api/v1/tokens/{id}", authn(authz.RequireFunc(authz.TokensManage, httpapi.NoBodyFunc(s.revokeToken))))
	mux.Handle("GET /api/v1/roles", authn(authz.RequireFunc(authz.RolesRead, s.roles)))
	mux.HandleFunc("GET /auth/oidc/login", s.oidcLogin)
	mux.HandleFunc("GET /auth/oidc/callback", s.oidcCallback)
}

// directory returns the Directory, with the predefined roles when it has none.
func (s *Service) directory() Directory {
	d := s.cfg.Directory()
	if d.Roles == nil {
		d.Roles = authz.Roles(authz.Predefined())
	}
	return d
}

// Directory returns the current access settings (predefined roles when the Inbox's
// are not known yet).
func (s *Service) Directory() Directory { return s.directory() }

// principal is the agent's principal under the current roles and teams.
func (s *Service) principal(d Directory, login, role string) (*authz.Principal, error) {
	perms, ok := d.Roles[role]
	if !ok {
		return nil, errors.New("the role " + quote(role) + " of the account is not defined on the Inbox")
	}
	p := authz.NewPrincipal(s.cfg.Namespace, s.cfg.Inbox, authz.KindAgent, login, role, perms)
	p.Teams = slices.Clone(d.Teams[login])
	return p, nil
}

func quote(s string) string { return `"` + s + `"` }

// hashSecret is the stored form of a session id or an API token.
func hashSecret(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}

// audit writes one audit_log entry in tx; after must not hold a secret.
func (s *Service) audit(ctx context.Context, tx execer, actor, action, kind, id string, after map[string]any) error {
	if after == nil {
		after = map[string]any{}
	}
	after["inbox"] = s.cfg.Inbox
	_, err := tx.Exec(ctx, `INSERT INTO audit_log (namespace, actor, action, object_kind, object_id, after)
		VALUES ($1, $2, $3, $4, $5, $6)`, s.cfg.Namespace, actor, action, kind, id, after)
	return err
}
