package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/switchboard-dev/switchboard/runtime/inbox/authz"
	"github.com/switchboard-dev/switchboard/runtime/inbox/problem"
)

// LoginPattern is what a login may be (the agents table's CHECK): lower-case letters,
// digits and . _ @ -, starting and ending with a letter or digit, 1 to 64 characters.
var LoginPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9._@-]{0,62}[a-z0-9])?$`)

// AgentView is the JSON of an agent account (never its password hash).
type AgentView struct {
	Login       string    `json:"login"`
	DisplayName string    `json:"displayName"`
	Role        string    `json:"role"`
	Disabled    bool      `json:"disabled"`
	Source      string    `json:"source"` // api, spec, initial or oidc
	HasPassword bool      `json:"hasPassword"`
	Teams       []string  `json:"teams"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

const agentColumns = `login, display_name, role, disabled, source, password_hash IS NOT NULL, created_at, updated_at`

func scanAgent(row pgx.Row, teams map[string][]string) (AgentView, error) {
	var a AgentView
	err := row.Scan(&a.Login, &a.DisplayName, &a.Role, &a.Disabled, &a.Source, &a.HasPassword, &a.CreatedAt, &a.UpdatedAt)
	a.Teams = teams[a.Login]
	if a.Teams == nil {
		a.Teams = []string{}
	}
	return a, err
}

func (s *Service) listAgents(w http.ResponseWriter, r *http.Request) {
	d := s.directory()
	var items []AgentView
	err := s.cfg.Store.ReadTx(r.Context(), func(tx pgx.Tx) error {
		rows, err := tx.Query(r.Context(), `SELECT `+agentColumns+` FROM agents WHERE namespace = $1 AND inbox = $2 ORDER BY login`,
			s.cfg.Namespace, s.cfg.Inbox)
		if err != nil {
			return err
		}
		items, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (AgentView, error) { return scanAgent(row, d.Teams) })
		return err
	})
	if err != nil {
		s.dbError(w, "listing agents", err)
		return
	}
	if items == nil {
		items = []AgentView{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

type createAgentRequest struct {
	Login       string `json:"login"`
	DisplayName string `json:"displayName"`
	Role        string `json:"role"`
	Password    string `json:"password"`
}

// checkRole refuses a role that does not exist, or that holds a permission the actor
// lacks (nobody grants more than they have).
func checkRole(d Directory, actor *authz.Principal, role string) *problem.Problem {
	perms, ok := d.Roles[role]
	if !ok {
		p := problem.Field(http.StatusBadRequest, "role", fmt.Sprintf("unknown role %q (known: %v)", role, d.Roles.Names()))
		return &p
	}
	for _, x := range perms {
		if !actor.Can(x) {
			p := problem.Field(http.StatusForbidden, "role", fmt.Sprintf("the role %q holds the permission %q, which your role %q lacks", role, x, actor.Role))
			p.Permission = string(x)
			return &p
		}
	}
	return nil
}

func (s *Service) createAgent(w http.ResponseWriter, r *http.Request) {
	actor := authz.FromContext(r.Context())
	var req createAgentRequest
	if !decode(w, r, &req) {
		return
	}
	d := s.directory()
	switch {
	case !LoginPattern.MatchString(req.Login):
		problem.RespondField(w, http.StatusBadRequest, "login", fmt.Sprintf("login must match %s, got %q", LoginPattern, req.Login))
		return
	case len(req.DisplayName) > 200:
		problem.RespondField(w, http.StatusBadRequest, "displayName", "displayName must be at most 200 bytes")
		return
	}
	if p := checkRole(d, actor, req.Role); p != nil {
		problem.Write(w, *p)
		return
	}
	hash, ok := s.newPasswordHash(w, req.Password)
	if !ok {
		return
	}
	var out AgentView
	err := s.cfg.Store.InTx(r.Context(), func(tx pgx.Tx) (err error) {
		out, err = scanAgent(tx.QueryRow(r.Context(), `INSERT INTO agents (namespace, inbox, login, display_name, role, password_hash, source)
			VALUES ($1, $2, $3, $4, $5, $6, 'api') RETURNING `+agentColumns,
			s.cfg.Namespace, s.cfg.Inbox, req.Login, req.DisplayName, req.Role, hash), d.Teams)
		if err != nil {
			return err
		}
		return s.audit(r.Context(), tx, actor.Actor(), "agent.created", "agent", req.Login,
			map[string]any{"displayName": req.DisplayName, "role": req.Role})
	})
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == "23505":
		problem.RespondField(w, http.StatusConflict, "login", fmt.Sprintf("the agent %q exists already", req.Login))
	case err != nil:
		s.dbError(w, "creating an agent", err)
	default:
		writeJSON(w, http.StatusCreated, out)
	}
}

type updateAgentRequest struct {
	DisplayName *string `json:"displayName"`
	Role        *string `json:"role"`
	Disabled    *bool   `json:"disabled"`
}

var errNoAgent = errors.New("no such agent")

// conflict is a refusal of a change (409), naming the field.
type conflict struct{ field, detail string }

func (c conflict) Error() string { return c.detail }

func (s *Service) updateAgent(w http.ResponseWriter, r *http.Request) {
	actor := authz.FromContext(r.Context())
	login := r.PathValue("login")
	var req updateAgentRequest
	if !decode(w, r, &req) {
		return
	}
	d := s.directory()
	if req.Role != nil {
		if p := checkRole(d, actor, *req.Role); p != nil {
			problem.Write(w, *p)
			return
		}
	}
	if req.DisplayName != nil && len(*req.DisplayName) > 200 {
		problem.RespondField(w, http.StatusBadRequest, "displayName", "displayName must be at most 200 bytes")
		return
	}
	var out AgentView
	err := s.cfg.Store.InTx(r.Context(), func(tx pgx.Tx) error {
		before, err := s.lockAgent(r.Context(), tx, login, d)
		if err != nil {
			return err
		}
		if before.Source == "spec" && (req.Role != nil || req.DisplayName != nil) {
			return conflict{"role", fmt.Sprintf("the agent %q is declared in the Inbox's spec.agents: change its role and display name there", login)}
		}
		if before.Source == "oidc" && req.Role != nil {
			return conflict{"role", fmt.Sprintf("the agent %q signs in with single sign-on: its role comes from spec.auth.oidc.groupBindings", login)}
		}
		losesAdmin := before.Role == authz.RoleAdmin && !before.Disabled &&
			((req.Disabled != nil && *req.Disabled) || (req.Role != nil && *req.Role != authz.RoleAdmin))
		if losesAdmin {
			if err := s.keepAnAdmin(r.Context(), tx, login); err != nil {
				return err
			}
		}
		out, err = scanAgent(tx.QueryRow(r.Context(), `UPDATE agents SET display_name = coalesce($4, display_name),
			role = coalesce($5, role), disabled = coalesce($6, disabled), updated_at = now()
			WHERE namespace = $1 AND inbox = $2 AND login = $3 RETURNING `+agentColumns,
			s.cfg.Namespace, s.cfg.Inbox, login, req.DisplayName, req.Role, req.Disabled), d.Teams)
		if err != nil {
			return err
		}
		if out.Disabled {
			if err := s.endSessions(r.Context(), tx, login); err != nil {
				return err
			}
		}
		return s.audit(r.Context(), tx, actor.Actor(), "agent.updated", "agent", login,
			map[string]any{"displayName": out.DisplayName, "role": out.Role, "disabled": out.Disabled})
	})
	s.answerAgent(w, login, err, func() { writeJSON(w, http.StatusOK, out) })
}

// answerAgent writes the answer of a change to one agent.
func (s *Service) answerAgent(w http.ResponseWriter, login string, err error, ok func()) {
	var c conflict
	switch {
	case errors.Is(err, errNoAgent):
		problem.RespondField(w, http.StatusNotFound, "login", fmt.Sprintf("no agent %q in this Inbox", login))
	case errors.As(err, &c):
		problem.RespondField(w, http.StatusConflict, c.field, c.detail)
	case err != nil:
		s.dbError(w, "changing an agent", err)
	default:
		ok()
	}
}

// lockAgent reads and row-locks one agent of the Inbox.
func (s *Service) lockAgent(ctx context.Context, tx pgx.Tx, login string, d Directory) (AgentView, error) {
	a, err := scanAgent(tx.QueryRow(ctx, `SELECT `+agentColumns+` FROM agents WHERE namespace = $1 AND inbox = $2 AND login = $3 FOR UPDATE`,
		s.cfg.Namespace, s.cfg.Inbox, login), d.Teams)
	if errors.Is(err, pgx.ErrNoRows) {
		return a, errNoAgent
	}
	return a, err
}

// keepAnAdmin refuses to take away the last enabled admin (nobody could manage agents).
func (s *Service) keepAnAdmin(ctx context.Context, tx pgx.Tx, login string) error {
	var others int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM agents WHERE namespace = $1 AND inbox = $2
		AND role = 'admin' AND NOT disabled AND login <> $3 FOR UPDATE) x`, s.cfg.Namespace, s.cfg.Inbox, login).Scan(&others); err != nil {
		return err
	}
	if others == 0 {
		return conflict{"disabled", fmt.Sprintf("%q is the last enabled admin of the Inbox", login)}
	}
	return nil
}

func (s *Service) endSessions(ctx context.Context, tx pgx.Tx, login string) error {
	_, err := tx.Exec(ctx, `DELETE FROM agent_sessions WHERE namespace = $1 AND inbox = $2 AND login = $3`,
		s.cfg.Namespace, s.cfg.Inbox, login)
	return err
}

type resetPasswordRequest struct {
	Password string `json:"password"`
}

// resetPassword sets a new password and ends the agent's sessions.
func (s *Service) resetPassword(w http.ResponseWriter, r *http.Request) {
	actor := authz.FromContext(r.Context())
	login := r.PathValue("login")
	var req resetPasswordRequest
	if !decode(w, r, &req) {
		return
	}
	hash, ok := s.newPasswordHash(w, req.Password)
	if !ok {
		return
	}
	d := s.directory()
	err := s.cfg.Store.InTx(r.Context(), func(tx pgx.Tx) error {
		a, err := s.lockAgent(r.Context(), tx, login, d)
		if err != nil {
			return err
		}
		if p := checkRole(d, actor, a.Role); p != nil && p.Status == http.StatusForbidden {
			return conflict{"login", fmt.Sprintf("the agent %q has the role %q, which holds more than yours", login, a.Role)}
		}
		if _, err := tx.Exec(r.Context(), `UPDATE agents SET password_hash = $4, updated_at = now()
			WHERE namespace = $1 AND inbox = $2 AND login = $3`, s.cfg.Namespace, s.cfg.Inbox, login, hash); err != nil {
			return err
		}
		if err := s.endSessions(r.Context(), tx, login); err != nil {
			return err
		}
		return s.audit(r.Context(), tx, actor.Actor(), "agent.password_reset", "agent", login, nil)
	})
	s.answerAgent(w, login, err, func() { w.WriteHeader(http.StatusNoContent) })
}

// newPasswordHash checks a new password (field "password") and hashes it; on failure it
// has answered and returns false.
func (s *Service) newPasswordHash(w http.ResponseWriter, pw string) (string, bool) {
	if err := CheckPassword(pw); err != nil {
		problem.RespondField(w, http.StatusBadRequest, "password", "password "+err.Error())
		return "", false
	}
	hash, err := HashPassword(pw, s.cfg.Argon2)
	if err != nil {
		s.cfg.Log.Error("hashing a password failed", "error", err)
		problem.Respond(w, http.StatusInternalServerError, "the password could not be hashed")
		return "", false
	}
	return hash, true
}
