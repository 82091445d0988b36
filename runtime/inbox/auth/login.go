package auth

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox/authz"
	"github.com/switchboard-dev/switchboard/runtime/inbox/problem"
)

// PrincipalView is the JSON of a principal (GET /api/v1/me, the login's answer).
type PrincipalView struct {
	Namespace string `json:"namespace"`
	Inbox     string `json:"inbox"`
	Kind      string `json:"kind"`
	Subject   string `json:"subject"`
	// DisplayName is the agent's (GET /api/v1/me only; "" for tokens).
	DisplayName string   `json:"displayName,omitempty"`
	Role        string   `json:"role"`
	Teams       []string `json:"teams"`
	Permissions []string `json:"permissions"`
	// CSRFToken is the session's token to echo in X-CSRF-Token (cookie sessions only).
	CSRFToken string `json:"csrfToken,omitempty"`
	// Availability is the agent's own availability for routing: online, away or offline
	// (offline until first set; GET /api/v1/me only, "" for tokens). PUT
	// /api/v1/me/availability changes it (docs/routing.md).
	Availability string `json:"availability,omitempty"`
}

func viewOf(p *authz.Principal, csrf string) PrincipalView {
	v := PrincipalView{Namespace: p.Namespace, Inbox: p.Inbox, Kind: string(p.Kind), Subject: p.Subject, Role: p.Role,
		Teams: p.Teams, Permissions: []string{}, CSRFToken: csrf}
	if v.Teams == nil {
		v.Teams = []string{}
	}
	for _, x := range p.Permissions() {
		v.Permissions = append(v.Permissions, string(x))
	}
	return v
}

type loginRequest struct {
	Login    string `json:"login"`
	Password string `json:"password"`
}

// errThrottled carries the seconds until a login may be tried again.
type errThrottled struct {
	what  string
	after time.Duration
}

func (e errThrottled) Error() string {
	return fmt.Sprintf("too many failed logins for this %s: retry in %d s", e.what, retrySeconds(e.after))
}

func retrySeconds(d time.Duration) int { return max(1, int(math.Ceil(d.Seconds()))) }

var (
	errWrongCredentials = errors.New("the login or the password is wrong")
	errDisabled         = errors.New("the account is disabled")
)

// login checks a password and starts a session. The attempt is counted under advisory
// locks on the login and the source address, so that replicas serving concurrent
// attempts agree on the count.
func (s *Service) login(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	if !decode(w, r, &req) {
		return
	}
	switch {
	case req.Login == "":
		problem.RespondField(w, http.StatusBadRequest, "login", "login is required")
		return
	case req.Password == "":
		problem.RespondField(w, http.StatusBadRequest, "password", "password is required")
		return
	case len(req.Login) > 64:
		problem.RespondField(w, http.StatusBadRequest, "login", "login must be at most 64 characters")
		return
	case len(req.Password) > 4*MaxPasswordLength:
		problem.RespondField(w, http.StatusBadRequest, "password", fmt.Sprintf("password must be at most %d characters", MaxPasswordLength))
		return
	}
	id, csrf := randomToken(32), randomToken(32)
	var p *authz.Principal
	var refused error // a refusal whose attempt is committed
	err := s.cfg.Store.InTx(r.Context(), func(tx pgx.Tx) error {
		login, role, err := s.checkPassword(r.Context(), tx, req.Login, req.Password, sourceAddress(r, s.cfg.TrustedProxies))
		if errors.Is(err, errWrongCredentials) || errors.Is(err, errDisabled) {
			refused = err
			return nil
		}
		if err != nil {
			return err
		}
		if p, err = s.principal(s.directory(), login, role); err != nil {
			refused = err
			return nil
		}
		return s.startSession(r.Context(), tx, login, id, csrf, "password")
	})
	var th errThrottled
	switch {
	case errors.As(err, &th):
		w.Header().Set("Retry-After", strconv.Itoa(retrySeconds(th.after)))
		problem.Respond(w, http.StatusTooManyRequests, th.Error())
	case err != nil:
		s.dbError(w, "a login", err)
	case errors.Is(refused, errWrongCredentials):
		problem.Respond(w, http.StatusUnauthorized, refused.Error())
	case refused != nil:
		problem.Respond(w, http.StatusForbidden, refused.Error())
	default:
		s.setSessionCookie(w, r, id, s.cfg.SessionTTL)
		writeJSON(w, http.StatusOK, viewOf(p, csrf))
	}
}

// checkPassword throttles, verifies and records one attempt in tx; it returns the
// account's login and role, errThrottled (nothing recorded), or errWrongCredentials or
// errDisabled (recorded: the caller commits).
func (s *Service) checkPassword(ctx context.Context, tx pgx.Tx, login, password, source string) (string, string, error) {
	lim := s.cfg.Limits
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0)), pg_advisory_xact_lock(hashtextextended($2, 0))`,
		"login:"+s.cfg.Namespace+"/"+s.cfg.Inbox+"/"+login, "login-src:"+s.cfg.Namespace+"/"+s.cfg.Inbox+"/"+source); err != nil {
		return "", "", err
	}
	// Failures in the window (for the account: since its last success), and when the
	// oldest of them leaves it.
	var acctN, srcN int
	var acctWait, srcWait float64
	err := tx.QueryRow(ctx, `
		WITH a AS (
			SELECT count(*) AS n, min(at) AS oldest FROM login_attempts
			WHERE namespace = $1 AND inbox = $2 AND login = $3 AND NOT succeeded
			  AND at > now() - make_interval(secs => $5)
			  AND at > coalesce((SELECT max(at) FROM login_attempts WHERE namespace = $1 AND inbox = $2
			                     AND login = $3 AND succeeded), '-infinity')),
		s AS (
			SELECT count(*) AS n, min(at) AS oldest FROM login_attempts
			WHERE namespace = $1 AND inbox = $2 AND source = $4 AND NOT succeeded AND at > now() - make_interval(secs => $5))
		SELECT a.n, coalesce(extract(epoch FROM a.oldest + make_interval(secs => $5) - now()), 0),
		       s.n, coalesce(extract(epoch FROM s.oldest + make_interval(secs => $5) - now()), 0) FROM a, s`,
		s.cfg.Namespace, s.cfg.Inbox, login, source, lim.Window.Seconds()).Scan(&acctN, &acctWait, &srcN, &srcWait)
	if err != nil {
		return "", "", err
	}
	switch {
	case acctN >= lim.PerAccount:
		return "", "", errThrottled{"account", time.Duration(acctWait * float64(time.Second))}
	case srcN >= lim.PerAddress:
		return "", "", errThrottled{"address", time.Duration(srcWait * float64(time.Second))}
	}
	var role string
	var hash *string
	var disabled bool
	err = tx.QueryRow(ctx, `SELECT role, password_hash, disabled FROM agents WHERE namespace = $1 AND inbox = $2 AND login = $3`,
		s.cfg.Namespace, s.cfg.Inbox, login).Scan(&role, &hash, &disabled)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return "", "", err
	}
	encoded := s.dummy // verify all the same: an unknown login takes as long as a known one
	if hash != nil {
		encoded = *hash
	}
	verr := VerifyPassword(encoded, password)
	ok := err == nil && hash != nil && verr == nil
	if verr != nil && !errors.Is(verr, ErrMismatch) {
		s.cfg.Log.Error("an account's password hash cannot be read", "login", login, "error", verr)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO login_attempts (namespace, inbox, login, source, succeeded) VALUES ($1, $2, $3, $4, $5)`,
		s.cfg.Namespace, s.cfg.Inbox, login, source, ok && !disabled); err != nil {
		return "", "", err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM login_attempts WHERE at < now() - interval '1 day'`); err != nil {
		return "", "", err
	}
	switch {
	case !ok:
		return "", "", errWrongCredentials
	case disabled:
		return "", "", errDisabled
	}
	return login, role, nil
}

// startSession stores a new session and audits it.
func (s *Service) startSession(ctx context.Context, tx pgx.Tx, login, id, csrf, method string) error {
	if _, err := tx.Exec(ctx, `INSERT INTO agent_sessions (id_hash, namespace, inbox, login, csrf_token, expires_at)
		VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))`,
		hashSecret(id), s.cfg.Namespace, s.cfg.Inbox, login, csrf, s.cfg.SessionTTL.Seconds()); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM agent_sessions WHERE expires_at < now() - interval '1 day'`); err != nil {
		return err
	}
	return s.audit(ctx, tx, "agent:"+login, "session.started", "agent", login, map[string]any{"method": method})
}

// logout ends the cookie's session (an API token has none: 400).
func (s *Service) logout(w http.ResponseWriter, r *http.Request) {
	p := authz.FromContext(r.Context())
	sess, _ := r.Context().Value(sessionKey{}).(*session)
	switch {
	case p == nil:
		problem.Respond(w, http.StatusUnauthorized, "authentication is required: a session cookie")
		return
	case sess == nil:
		problem.Respond(w, http.StatusBadRequest, "only a session cookie can log out; revoke an API token instead")
		return
	}
	err := s.cfg.Store.InTx(r.Context(), func(tx pgx.Tx) error {
		if _, err := tx.Exec(r.Context(), `DELETE FROM agent_sessions WHERE id_hash = $1 AND namespace = $2 AND inbox = $3`,
			sess.idHash, s.cfg.Namespace, s.cfg.Inbox); err != nil {
			return err
		}
		return s.audit(r.Context(), tx, p.Actor(), "session.ended", "agent", p.Subject, nil)
	})
	if err != nil {
		s.dbError(w, "ending a session", err)
		return
	}
	s.clearSessionCookie(w, r)
	w.WriteHeader(http.StatusNoContent)
}

// me describes the caller.
func (s *Service) me(w http.ResponseWriter, r *http.Request) {
	p := authz.FromContext(r.Context())
	if p == nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="switchboard-inbox"`)
		problem.Respond(w, http.StatusUnauthorized, "authentication is required: a session cookie or an Authorization: Bearer token")
		return
	}
	csrf := ""
	if sess, _ := r.Context().Value(sessionKey{}).(*session); sess != nil {
		csrf = sess.csrf
	}
	v := viewOf(p, csrf)
	if p.Kind == authz.KindAgent {
		err := s.cfg.Store.ReadTx(r.Context(), func(tx pgx.Tx) error {
			return tx.QueryRow(r.Context(), `SELECT a.display_name, COALESCE(av.availability, 'offline') FROM agents a
				LEFT JOIN agent_availability av ON av.namespace = a.namespace AND av.login = a.login
				WHERE a.namespace = $1 AND a.inbox = $2 AND a.login = $3`,
				s.cfg.Namespace, s.cfg.Inbox, p.Subject).Scan(&v.DisplayName, &v.Availability)
		})
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			s.dbError(w, "reading an agent", err)
			return
		}
	}
	writeJSON(w, http.StatusOK, v)
}
