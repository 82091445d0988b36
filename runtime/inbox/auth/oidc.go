package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/jackc/pgx/v5"
	"golang.org/x/oauth2"

	"github.com/switchboard-dev/switchboard/runtime/inbox/authz"
	"github.com/switchboard-dev/switchboard/runtime/inbox/httpapi"
	"github.com/switchboard-dev/switchboard/runtime/inbox/problem"
)

// OIDCConfig is single sign-on with an OpenID Connect provider (the Inbox's
// spec.auth.oidc, with the client secret read from its Secret).
type OIDCConfig struct {
	Issuer       string // the provider's issuer URL (discovery at /.well-known/openid-configuration)
	ClientID     string
	ClientSecret string
	// GroupsClaim is the ID token's claim listing the user's groups (default "groups").
	GroupsClaim string
	// UsernameClaim is the claim that becomes the agent's login, lower-cased (default
	// "preferred_username", then "email" when it is missing).
	UsernameClaim string
	// GroupBindings give a role to the members of a group; the first binding that
	// matches one of the user's groups decides.
	GroupBindings []GroupBinding
	// RedirectURL is the callback URL registered with the provider; "" derives it from
	// the request: https://<Host>/auth/oidc/callback.
	RedirectURL string
}

// GroupBinding gives Role to the members of Group.
type GroupBinding struct{ Group, Role string }

// Paths of single sign-on.
const (
	OIDCLoginPath    = "/auth/oidc/login"
	OIDCCallbackPath = "/auth/oidc/callback"
	oidcStateCookie  = "sb_oidc"
)

// oidcCache keeps the discovered provider of one issuer.
type oidcCache struct {
	issuer   string
	provider *oidc.Provider
}

// provider discovers the issuer once (again when the issuer changes).
func (s *Service) provider(ctx context.Context, c *OIDCConfig) (*oidc.Provider, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.oidc.provider != nil && s.oidc.issuer == c.Issuer {
		return s.oidc.provider, nil
	}
	p, err := oidc.NewProvider(context.WithoutCancel(ctx), c.Issuer)
	if err != nil {
		return nil, err
	}
	s.oidc = oidcCache{issuer: c.Issuer, provider: p}
	return p, nil
}

func (s *Service) oauth2Config(r *http.Request, c *OIDCConfig, p *oidc.Provider) *oauth2.Config {
	redirect := c.RedirectURL
	if redirect == "" {
		scheme := "https"
		if s.insecureOK(r) {
			scheme = "http"
		}
		redirect = scheme + "://" + r.Host + OIDCCallbackPath
	}
	return &oauth2.Config{ClientID: c.ClientID, ClientSecret: c.ClientSecret, Endpoint: p.Endpoint(),
		RedirectURL: redirect, Scopes: []string{oidc.ScopeOpenID, "profile", "email", "groups"}}
}

// oidcState is what the state cookie carries between login and callback.
type oidcState struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	// Next is the page the login started from (a local path; "" for the API's flow).
	Next string `json:"x,omitempty"`
}

// stateMAC signs the state cookie with a key derived from the client secret, which
// every replica knows.
func stateMAC(c *OIDCConfig, payload string) string {
	key := sha256.Sum256([]byte("switchboard oidc state\x00" + c.ClientSecret))
	m := hmac.New(sha256.New, key[:])
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// oidcLogin redirects to the provider with a code challenge (PKCE S256), a state and a
// nonce, which a short-lived HttpOnly cookie keeps for the callback. ?next=PATH (the
// login page's button) makes the callback send the browser back to PATH, a path on this
// site (httpapi.LocalPath; anything else is refused with 400 naming next: no open
// redirect); without it the callback answers JSON like POST /api/v1/login.
func (s *Service) oidcLogin(w http.ResponseWriter, r *http.Request) {
	c := s.directory().OIDC
	if c == nil {
		problem.Respond(w, http.StatusNotFound, "single sign-on is not configured on this Inbox (spec.auth.oidc)")
		return
	}
	next := r.URL.Query().Get("next")
	if next != "" && !httpapi.LocalPath(next) {
		problem.RespondField(w, http.StatusBadRequest, "next", fmt.Sprintf("next must be a path on this site, such as /conversations, got %q", next))
		return
	}
	p, err := s.provider(r.Context(), c)
	if err != nil {
		s.cfg.Log.Error("discovering the OpenID provider", "issuer", c.Issuer, "error", err)
		problem.Respond(w, http.StatusBadGateway, "the OpenID provider "+c.Issuer+" cannot be reached")
		return
	}
	st := oidcState{State: randomToken(24), Nonce: randomToken(24), Verifier: oauth2.GenerateVerifier(), Next: next}
	b, _ := json.Marshal(st)
	payload := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: oidcStateCookie, Value: payload + "." + stateMAC(c, payload), Path: "/auth/oidc/",
		MaxAge: 600, HttpOnly: true, Secure: !s.insecureOK(r), SameSite: http.SameSiteLaxMode})
	url := s.oauth2Config(r, c, p).AuthCodeURL(st.State, oidc.Nonce(st.Nonce), oauth2.S256ChallengeOption(st.Verifier))
	http.Redirect(w, r, url, http.StatusFound)
}

// readState checks the state cookie's signature and the state parameter. When the
// cookie is genuine but the state parameter does not match, the state is returned
// with the error, so that the failure can still go back to the page it started from.
func readState(r *http.Request, c *OIDCConfig) (oidcState, error) {
	var st oidcState
	ck, err := r.Cookie(oidcStateCookie)
	if err != nil {
		return st, errors.New("the single sign-on state cookie is missing: start again at " + OIDCLoginPath)
	}
	payload, mac, ok := strings.Cut(ck.Value, ".")
	if !ok || !hmac.Equal([]byte(mac), []byte(stateMAC(c, payload))) {
		return st, errors.New("the single sign-on state cookie is not valid: start again at " + OIDCLoginPath)
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil || json.Unmarshal(b, &st) != nil {
		return oidcState{}, errors.New("the single sign-on state cookie is not valid: start again at " + OIDCLoginPath)
	}
	if r.URL.Query().Get("state") != st.State {
		return st, errors.New("the state parameter does not match this browser's login: start again at " + OIDCLoginPath)
	}
	return st, nil
}

// Reasons a single sign-on started from a page failed: the callback sends the browser
// to /login?next=PATH&sso=REASON, and the login page shows the reason's message
// (catalogue key login.sso.REASON) in the person's language. The provider's own text
// never reaches the page.
const (
	SSODenied        = "denied"         // the provider answered with an error (the person cancelled, or was refused)
	SSOExpired       = "expired"        // the state does not match this browser's login (expired, or another tab's)
	SSOUnavailable   = "unavailable"    // the provider cannot be reached
	SSOInvalid       = "invalid"        // the code exchange was refused, or the ID token is not valid
	SSOBadLogin      = "bad-login"      // the ID token's username claim is not a usable login
	SSONoRole        = "no-role"        // none of the user's groups is bound to a role
	SSORoleUndefined = "role-undefined" // the bound role is not defined on the Inbox
	SSOLocalAccount  = "local-account"  // the login is a local account, which single sign-on does not take over
	SSODisabled      = "disabled"       // the account is disabled
	SSORetry         = "retry"          // the database failed: try again later
)

// SSOReasons lists every reason code above.
var SSOReasons = []string{SSODenied, SSOExpired, SSOUnavailable, SSOInvalid, SSOBadLogin, SSONoRole,
	SSORoleUndefined, SSOLocalAccount, SSODisabled, SSORetry}

// ssoFail answers a failed callback: the page flow (next != "", a local path) is sent
// back to the login page with the reason code (303) and its state cookie dropped; the
// API flow gets the problem p. Both log the reason and p's detail (never a token, code
// or secret).
func (s *Service) ssoFail(w http.ResponseWriter, r *http.Request, next, reason string, p problem.Problem) {
	s.cfg.Log.Info("a single sign-on login failed", "reason", reason, "status", p.Status, "field", p.Field, "detail", p.Detail)
	if next == "" || !httpapi.LocalPath(next) {
		problem.Write(w, p)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: oidcStateCookie, Value: "", Path: "/auth/oidc/", MaxAge: -1, HttpOnly: true})
	q := url.Values{"next": {next}, "sso": {reason}}
	http.Redirect(w, r, "/login?"+q.Encode(), http.StatusSeeOther)
}

// oidcCallback exchanges the code (with the PKCE verifier), verifies the ID token and
// its nonce, maps the user's groups to a role, makes or updates the agent (source
// oidc), and starts a session like POST /api/v1/login: the same answer, or, when the
// login started from a page (?next=), a 303 redirect back to that page with the session
// cookie. A failure answers an RFC 9457 problem, or, from a page, a 303 redirect to
// /login?next=PATH&sso=REASON (see SSOReasons). The state cookie is read first, so
// even the provider's error parameter goes back to the page.
func (s *Service) oidcCallback(w http.ResponseWriter, r *http.Request) {
	d := s.directory()
	c := d.OIDC
	if c == nil {
		problem.Respond(w, http.StatusNotFound, "single sign-on is not configured on this Inbox (spec.auth.oidc)")
		return
	}
	st, stErr := readState(r, c)
	if e := r.URL.Query().Get("error"); e != "" {
		s.ssoFail(w, r, st.Next, SSODenied, problem.Field(http.StatusUnauthorized, "error", fmt.Sprintf("the OpenID provider refused the login: %q", e)))
		return
	}
	if stErr != nil {
		s.ssoFail(w, r, st.Next, SSOExpired, problem.Field(http.StatusBadRequest, "state", stErr.Error()))
		return
	}
	p, err := s.provider(r.Context(), c)
	if err != nil {
		s.cfg.Log.Error("discovering the OpenID provider", "issuer", c.Issuer, "error", err)
		s.ssoFail(w, r, st.Next, SSOUnavailable, problem.New(http.StatusBadGateway, "the OpenID provider "+c.Issuer+" cannot be reached"))
		return
	}
	tok, err := s.oauth2Config(r, c, p).Exchange(r.Context(), r.URL.Query().Get("code"), oauth2.VerifierOption(st.Verifier))
	if err != nil {
		s.cfg.Log.Info("a single sign-on code exchange failed", "error", err)
		s.ssoFail(w, r, st.Next, SSOInvalid, problem.Field(http.StatusUnauthorized, "code", "the OpenID provider did not accept the authorization code"))
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := p.Verifier(&oidc.Config{ClientID: c.ClientID}).Verify(r.Context(), raw)
	if err != nil || idt.Nonce != st.Nonce {
		s.ssoFail(w, r, st.Next, SSOInvalid, problem.New(http.StatusUnauthorized, "the ID token from the OpenID provider is not valid"))
		return
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		s.ssoFail(w, r, st.Next, SSOInvalid, problem.New(http.StatusUnauthorized, "the ID token's claims cannot be read"))
		return
	}
	login, role, reason, perr := mapClaims(c, claims)
	if perr != nil {
		s.ssoFail(w, r, st.Next, reason, *perr)
		return
	}
	if _, ok := d.Roles[role]; !ok {
		s.ssoFail(w, r, st.Next, SSORoleUndefined, problem.New(http.StatusForbidden, fmt.Sprintf("the role %q bound to your group is not defined on the Inbox", role)))
		return
	}
	name, _ := claims["name"].(string)
	id, csrf := randomToken(32), randomToken(32)
	err = s.cfg.Store.InTx(r.Context(), func(tx pgx.Tx) error {
		if err := s.upsertOIDCAgent(r.Context(), tx, login, name, role); err != nil {
			return err
		}
		return s.startSession(r.Context(), tx, login, id, csrf, "oidc")
	})
	var cf conflict
	switch {
	case errors.As(err, &cf):
		s.ssoFail(w, r, st.Next, SSOLocalAccount, problem.Field(http.StatusConflict, cf.field, cf.detail))
		return
	case errors.Is(err, errDisabled):
		s.ssoFail(w, r, st.Next, SSODisabled, problem.New(http.StatusForbidden, err.Error()))
		return
	case err != nil:
		s.cfg.Log.Error("a single sign-on login failed", "error", err)
		s.ssoFail(w, r, st.Next, SSORetry, problem.New(http.StatusServiceUnavailable, "the database is unavailable, retry later"))
		return
	}
	pr, err := s.principal(d, login, role)
	if err != nil {
		s.ssoFail(w, r, st.Next, SSORoleUndefined, problem.New(http.StatusForbidden, err.Error()))
		return
	}
	http.SetCookie(w, &http.Cookie{Name: oidcStateCookie, Value: "", Path: "/auth/oidc/", MaxAge: -1, HttpOnly: true})
	s.setSessionCookie(w, r, id, s.cfg.SessionTTL)
	if st.Next != "" && httpapi.LocalPath(st.Next) {
		http.Redirect(w, r, st.Next, http.StatusSeeOther)
		return
	}
	writeJSON(w, http.StatusOK, viewOf(pr, csrf))
}

// mapClaims finds the login and the role in the ID token's claims; a failure comes
// with its reason code (SSOBadLogin, SSONoRole) and problem.
func mapClaims(c *OIDCConfig, claims map[string]any) (string, string, string, *problem.Problem) {
	uc := c.UsernameClaim
	if uc == "" {
		uc = "preferred_username"
	}
	user, _ := claims[uc].(string)
	if user == "" && c.UsernameClaim == "" {
		uc = "email"
		user, _ = claims["email"].(string)
	}
	login := strings.ToLower(user)
	if !LoginPattern.MatchString(login) {
		p := problem.Field(http.StatusForbidden, uc, fmt.Sprintf("the ID token's claim %q (%q) is not a usable login: it must match %s", uc, user, LoginPattern))
		return "", "", SSOBadLogin, &p
	}
	gc := c.GroupsClaim
	if gc == "" {
		gc = "groups"
	}
	var groups []string
	switch v := claims[gc].(type) {
	case string:
		groups = []string{v}
	case []any:
		for _, g := range v {
			if s, ok := g.(string); ok {
				groups = append(groups, s)
			}
		}
	}
	for _, b := range c.GroupBindings {
		for _, g := range groups {
			if g == b.Group {
				return login, b.Role, "", nil
			}
		}
	}
	p := problem.Field(http.StatusForbidden, gc, fmt.Sprintf("none of your groups %v (claim %q) is bound to a role in spec.auth.oidc.groupBindings", groups, gc))
	return "", "", SSONoRole, &p
}

// upsertOIDCAgent makes the agent of a single sign-on login, or updates its role and
// name; a local account of the same login is not taken over (409).
func (s *Service) upsertOIDCAgent(ctx context.Context, tx pgx.Tx, login, name, role string) error {
	var before struct {
		role, source string
		disabled     bool
	}
	err := tx.QueryRow(ctx, `SELECT role, source, disabled FROM agents WHERE namespace = $1 AND inbox = $2 AND login = $3 FOR UPDATE`,
		s.cfg.Namespace, s.cfg.Inbox, login).Scan(&before.role, &before.source, &before.disabled)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		if _, err := tx.Exec(ctx, `INSERT INTO agents (namespace, inbox, login, display_name, role, source)
			VALUES ($1, $2, $3, $4, $5, 'oidc')`, s.cfg.Namespace, s.cfg.Inbox, login, truncate(name, 200), role); err != nil {
			return err
		}
		return s.audit(ctx, tx, "agent:"+login, "agent.created", "agent", login, map[string]any{"role": role, "source": "oidc"})
	case err != nil:
		return err
	case before.source != "oidc":
		return conflict{"login", fmt.Sprintf("the login %q is a local account of this Inbox; single sign-on does not take it over", login)}
	case before.disabled:
		return errDisabled
	case before.role == role:
		return nil
	}
	if _, err := tx.Exec(ctx, `UPDATE agents SET role = $4, updated_at = now() WHERE namespace = $1 AND inbox = $2 AND login = $3`,
		s.cfg.Namespace, s.cfg.Inbox, login, role); err != nil {
		return err
	}
	return s.audit(ctx, tx, "agent:"+login, "agent.updated", "agent", login, map[string]any{"role": role, "source": "oidc group bindings"})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

var _ authz.Authenticator = (*Service)(nil)
