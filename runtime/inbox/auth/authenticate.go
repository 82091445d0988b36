package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/switchboard-dev/switchboard/runtime/inbox/authz"
	"github.com/switchboard-dev/switchboard/runtime/inbox/problem"
)

// Cookie names. A Secure session cookie carries the __Host- prefix, so that browsers
// refuse it unless it was set over HTTPS for this exact host with Path=/ (RFC 6265bis
// §4.1.3.2); the plain name is used only under Config.InsecureLoopbackCookies.
const (
	SessionCookie         = "__Host-sb_session"
	InsecureSessionCookie = "sb_session"
	// CSRFHeader must echo the session's CSRF token on every state-changing request
	// (anything but GET, HEAD, OPTIONS) authenticated by the session cookie.
	CSRFHeader = "X-CSRF-Token"
	// TokenPrefix starts every API token.
	TokenPrefix = "sbt_"
)

type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

type sessionKey struct{}

// session is what the context carries about a request authenticated by the cookie.
type session struct {
	idHash []byte
	csrf   string
}

// Authenticate implements authz.Authenticator: an "Authorization: Bearer" header decides
// when present (an sbt_ token, or the static token), otherwise the session cookie. A
// cookie-authenticated state-changing request without the right X-CSRF-Token is refused
// with 403 (a problem.Problem error).
func (s *Service) Authenticate(r *http.Request) (*authz.Principal, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		bearer, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return nil, errors.New("the Authorization header must be \"Bearer <token>\"")
		}
		if bearer = strings.TrimSpace(bearer); strings.HasPrefix(bearer, TokenPrefix) {
			return s.tokenPrincipal(r.Context(), bearer)
		}
		if s.cfg.Static != nil {
			return s.cfg.Static.Authenticate(r)
		}
		return nil, errors.New("the bearer token is not valid")
	}
	c := s.sessionCookie(r)
	if c == nil {
		return nil, nil
	}
	p, sess, err := s.sessionPrincipal(r.Context(), c.Value)
	if err != nil || p == nil {
		return p, err
	}
	if unsafeMethod(r.Method) {
		got := r.Header.Get(CSRFHeader)
		if subtle.ConstantTimeCompare([]byte(got), []byte(sess.csrf)) != 1 {
			return nil, problem.Field(http.StatusForbidden, CSRFHeader,
				"a request authenticated by the session cookie that changes something must carry the session's CSRF token in the X-CSRF-Token header")
		}
	}
	*r = *r.WithContext(context.WithValue(r.Context(), sessionKey{}, sess))
	return p, nil
}

func unsafeMethod(m string) bool {
	return m != http.MethodGet && m != http.MethodHead && m != http.MethodOptions
}

// sessionCookie returns the request's session cookie, or nil.
func (s *Service) sessionCookie(r *http.Request) *http.Cookie {
	if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" {
		return c
	}
	if s.cfg.InsecureLoopbackCookies {
		if c, err := r.Cookie(InsecureSessionCookie); err == nil && c.Value != "" {
			return c
		}
	}
	return nil
}

// sessionPrincipal resolves a session id.
func (s *Service) sessionPrincipal(ctx context.Context, id string) (*authz.Principal, *session, error) {
	var login, role, csrf string
	var disabled bool
	h := hashSecret(id)
	err := s.cfg.Store.ReadTx(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT a.login, a.role, a.disabled, s.csrf_token
			FROM agent_sessions s JOIN agents a USING (namespace, inbox, login)
			WHERE s.id_hash = $1 AND s.namespace = $2 AND s.inbox = $3 AND s.expires_at > now()`,
			h, s.cfg.Namespace, s.cfg.Inbox).Scan(&login, &role, &disabled, &csrf)
	})
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, nil, errors.New("the session has expired or ended: log in again")
	case err != nil:
		s.cfg.Log.Error("reading a session", "error", err)
		return nil, nil, problem.New(http.StatusServiceUnavailable, "the database is unavailable, retry later")
	case disabled:
		return nil, nil, errors.New("the account is disabled")
	}
	p, err := s.principal(s.directory(), login, role)
	if err != nil {
		return nil, nil, err
	}
	return p, &session{idHash: h, csrf: csrf}, nil
}

// tokenPrincipal resolves an API token, noting when it was last used (at most once a
// minute, to keep reads from writing on every request).
func (s *Service) tokenPrincipal(ctx context.Context, token string) (*authz.Principal, error) {
	var name, role string
	var expired, revoked bool
	err := s.cfg.Store.InTx(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `
			WITH t AS (
				SELECT id, name, role, expires_at IS NOT NULL AND expires_at <= now() AS expired,
				       revoked_at IS NOT NULL AS revoked, last_used_at
				FROM api_tokens WHERE hash = $1 AND namespace = $2 AND inbox = $3),
			u AS (
				UPDATE api_tokens a SET last_used_at = now() FROM t
				WHERE a.id = t.id AND NOT t.expired AND NOT t.revoked
				  AND (t.last_used_at IS NULL OR t.last_used_at < now() - interval '1 minute'))
			SELECT name, role, expired, revoked FROM t`,
			hashSecret(token), s.cfg.Namespace, s.cfg.Inbox).Scan(&name, &role, &expired, &revoked)
	})
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, errors.New("the API token is not valid")
	case err != nil:
		s.cfg.Log.Error("reading an API token", "error", err)
		return nil, problem.New(http.StatusServiceUnavailable, "the database is unavailable, retry later")
	case revoked:
		return nil, errors.New("the API token " + quote(name) + " was revoked")
	case expired:
		return nil, errors.New("the API token " + quote(name) + " has expired")
	}
	perms, ok := s.directory().Roles[role]
	if !ok {
		return nil, errors.New("the role " + quote(role) + " of the API token " + quote(name) + " is not defined on the Inbox")
	}
	return authz.NewPrincipal(s.cfg.Namespace, s.cfg.Inbox, authz.KindToken, name, role, perms), nil
}

// setSessionCookie sets the session cookie (Secure, __Host- prefixed, unless this is a
// plain-HTTP loopback request under InsecureLoopbackCookies).
func (s *Service) setSessionCookie(w http.ResponseWriter, r *http.Request, id string, ttl time.Duration) {
	name, secure := SessionCookie, true
	if s.insecureOK(r) {
		name, secure = InsecureSessionCookie, false
	}
	http.SetCookie(w, &http.Cookie{Name: name, Value: id, Path: "/", MaxAge: int(ttl.Seconds()),
		Secure: secure, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

// clearSessionCookie expires both cookie names.
func (s *Service) clearSessionCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, Secure: true,
		HttpOnly: true, SameSite: http.SameSiteLaxMode})
	if s.insecureOK(r) {
		http.SetCookie(w, &http.Cookie{Name: InsecureSessionCookie, Value: "", Path: "/", MaxAge: -1,
			HttpOnly: true, SameSite: http.SameSiteLaxMode})
	}
}

// insecureOK: dev mode, plain HTTP, from a loopback address.
func (s *Service) insecureOK(r *http.Request) bool {
	return s.cfg.InsecureLoopbackCookies && r.TLS == nil && isLoopback(r.RemoteAddr)
}

func isLoopback(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// sourceAddress is the client's address for throttling: the connection's peer, or,
// when the peer is one of trusted (the Ingress controller's addresses), the right-most
// X-Forwarded-For entry that is not trusted (entries left of it could be written by
// anyone).
func sourceAddress(r *http.Request, trusted []netip.Prefix) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if !isTrusted(host, trusted) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop := strings.TrimSpace(hops[i])
		if _, err := netip.ParseAddr(hop); err != nil {
			break
		}
		if !isTrusted(hop, trusted) {
			return hop
		}
	}
	return host
}

func isTrusted(addr string, trusted []netip.Prefix) bool {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	for _, p := range trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
