package auth

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/switchboard-dev/switchboard/runtime/inbox/authz"
	"github.com/switchboard-dev/switchboard/runtime/inbox/problem"
)

// MaxTokenLifetime bounds expiresIn (one year); a token without expiresIn never expires.
const MaxTokenLifetime = 366 * 24 * time.Hour

// TokenView is the JSON of an API token. Token (the secret) is set only in the answer
// that creates it.
type TokenView struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name"`
	Role       string     `json:"role"`
	CreatedBy  string     `json:"createdBy"`
	CreatedAt  time.Time  `json:"createdAt"`
	ExpiresAt  *time.Time `json:"expiresAt"`
	RevokedAt  *time.Time `json:"revokedAt"`
	LastUsedAt *time.Time `json:"lastUsedAt"`
	Token      string     `json:"token,omitempty"`
}

const tokenColumns = `id, name, role, created_by, created_at, expires_at, revoked_at, last_used_at`

func scanToken(row pgx.Row) (TokenView, error) {
	var t TokenView
	err := row.Scan(&t.ID, &t.Name, &t.Role, &t.CreatedBy, &t.CreatedAt, &t.ExpiresAt, &t.RevokedAt, &t.LastUsedAt)
	return t, err
}

func (s *Service) listTokens(w http.ResponseWriter, r *http.Request) {
	var items []TokenView
	err := s.cfg.Store.ReadTx(r.Context(), func(tx pgx.Tx) error {
		rows, err := tx.Query(r.Context(), `SELECT `+tokenColumns+` FROM api_tokens WHERE namespace = $1 AND inbox = $2 ORDER BY id`,
			s.cfg.Namespace, s.cfg.Inbox)
		if err != nil {
			return err
		}
		items, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (TokenView, error) { return scanToken(row) })
		return err
	})
	if err != nil {
		s.dbError(w, "listing API tokens", err)
		return
	}
	if items == nil {
		items = []TokenView{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

type createTokenRequest struct {
	Name string `json:"name"`
	Role string `json:"role"`
	// ExpiresIn is a Go duration ("720h"); empty: the token does not expire.
	ExpiresIn string `json:"expiresIn"`
}

// createToken makes a token "sbt_" + 43 base64url characters (256 random bits) and
// answers it once; only its SHA-256 is stored.
func (s *Service) createToken(w http.ResponseWriter, r *http.Request) {
	actor := authz.FromContext(r.Context())
	var req createTokenRequest
	if !decode(w, r, &req) {
		return
	}
	if !LoginPattern.MatchString(req.Name) || len(req.Name) > 64 || slices.Contains([]byte(req.Name), '@') {
		problem.RespondField(w, http.StatusBadRequest, "name", fmt.Sprintf("name must be 1 to 64 lower-case letters, digits, '.', '_' or '-', starting and ending with a letter or digit, got %q", req.Name))
		return
	}
	if p := checkRole(s.directory(), actor, req.Role); p != nil {
		problem.Write(w, *p)
		return
	}
	var lifetime *float64 // seconds
	if req.ExpiresIn != "" {
		d, err := time.ParseDuration(req.ExpiresIn)
		if err != nil || d < time.Minute || d > MaxTokenLifetime {
			problem.RespondField(w, http.StatusBadRequest, "expiresIn",
				fmt.Sprintf("expiresIn must be a duration from 1m to %s (for example \"720h\"), got %q", MaxTokenLifetime, req.ExpiresIn))
			return
		}
		v := d.Seconds()
		lifetime = &v
	}
	secret := TokenPrefix + randomToken(32)
	var out TokenView
	err := s.cfg.Store.InTx(r.Context(), func(tx pgx.Tx) (err error) {
		out, err = scanToken(tx.QueryRow(r.Context(), `INSERT INTO api_tokens (namespace, inbox, name, hash, role, created_by, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7)) RETURNING `+tokenColumns,
			s.cfg.Namespace, s.cfg.Inbox, req.Name, hashSecret(secret), req.Role, actor.Actor(), lifetime))
		if err != nil {
			return err
		}
		return s.audit(r.Context(), tx, actor.Actor(), "token.created", "api_token", strconv.FormatInt(out.ID, 10),
			map[string]any{"name": out.Name, "role": out.Role, "expiresAt": out.ExpiresAt})
	})
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == "23505":
		problem.RespondField(w, http.StatusConflict, "name", fmt.Sprintf("a token named %q exists already; revoke it first", req.Name))
	case err != nil:
		s.dbError(w, "creating an API token", err)
	default:
		out.Token = secret
		writeJSON(w, http.StatusCreated, out)
	}
}

func (s *Service) revokeToken(w http.ResponseWriter, r *http.Request) {
	actor := authz.FromContext(r.Context())
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		problem.RespondField(w, http.StatusBadRequest, "id", fmt.Sprintf("id must be a positive integer, got %q", r.PathValue("id")))
		return
	}
	var name string
	err = s.cfg.Store.InTx(r.Context(), func(tx pgx.Tx) error {
		err := tx.QueryRow(r.Context(), `UPDATE api_tokens SET revoked_at = now()
			WHERE id = $1 AND namespace = $2 AND inbox = $3 AND revoked_at IS NULL RETURNING name`,
			id, s.cfg.Namespace, s.cfg.Inbox).Scan(&name)
		if err != nil {
			return err
		}
		return s.audit(r.Context(), tx, actor.Actor(), "token.revoked", "api_token", strconv.FormatInt(id, 10), map[string]any{"name": name})
	})
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		problem.RespondField(w, http.StatusNotFound, "id", fmt.Sprintf("no unrevoked API token %d in this Inbox", id))
	case err != nil:
		s.dbError(w, "revoking an API token", err)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// RoleView is the JSON of a role.
type RoleView struct {
	Name        string   `json:"name"`
	Predefined  bool     `json:"predefined"`
	Permissions []string `json:"permissions"`
}

func (s *Service) roles(w http.ResponseWriter, _ *http.Request) {
	d := s.directory()
	pre := authz.Predefined()
	items := make([]RoleView, 0, len(d.Roles))
	for _, name := range d.Roles.Names() {
		v := RoleView{Name: name, Predefined: pre[name] != nil, Permissions: []string{}}
		for _, p := range d.Roles[name] {
			v.Permissions = append(v.Permissions, string(p))
		}
		items = append(items, v)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}
