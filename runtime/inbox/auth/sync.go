package auth

import (
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox/authz"
)

// SyncActor is the audit log's actor for changes the inbox makes from the Inbox's spec
// and the initial admin Secret.
const SyncActor = "system:inbox"

// InitialAdmin is the login of the account created from the Secret <inbox>-initial-admin.
const InitialAdmin = "admin"

// Sync makes the accounts agree with d: it creates the declared agents (spec.agents)
// that are missing, without a password; updates the role and display name of those it
// made before; deletes those it made that are no longer declared (their sessions end);
// and creates the account "admin" with the initial admin password when the Inbox has no
// enabled agent with the admin role. Replicas syncing at once take turns (an advisory
// lock per Inbox). Accounts made through the API or by single sign-on are left alone, and
// so is a declared login that an API-made account already holds.
func (s *Service) Sync(ctx context.Context, d Directory) error {
	return s.cfg.Store.InTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`,
			"agents-sync:"+s.cfg.Namespace+"/"+s.cfg.Inbox); err != nil {
			return err
		}
		declared := map[string]bool{}
		for _, a := range d.Agents {
			if _, ok := d.Roles[a.Role]; !ok || !LoginPattern.MatchString(a.Login) {
				s.cfg.Log.Info("a declared agent is left out: unknown role or bad login", "login", a.Login, "role", a.Role)
				continue
			}
			declared[a.Login] = true
			if err := s.syncDeclared(ctx, tx, a); err != nil {
				return err
			}
		}
		rows, err := tx.Query(ctx, `DELETE FROM agents WHERE namespace = $1 AND inbox = $2 AND source = 'spec'
			AND NOT (login = ANY($3)) RETURNING login`, s.cfg.Namespace, s.cfg.Inbox, keys(declared))
		if err != nil {
			return err
		}
		gone, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		for _, login := range gone {
			if err := s.audit(ctx, tx, SyncActor, "agent.deleted", "agent", login, map[string]any{"reason": "no longer in spec.agents"}); err != nil {
				return err
			}
		}
		return s.initialAdmin(ctx, tx, d.InitialAdminPassword)
	})
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// syncDeclared creates or updates one declared agent, auditing a change.
func (s *Service) syncDeclared(ctx context.Context, tx pgx.Tx, a DeclaredAgent) error {
	var action string
	err := tx.QueryRow(ctx, `
		WITH ins AS (
			INSERT INTO agents (namespace, inbox, login, display_name, role, source)
			VALUES ($1, $2, $3, $4, $5, 'spec') ON CONFLICT DO NOTHING RETURNING 'agent.created'::text AS action),
		upd AS (
			UPDATE agents SET display_name = $4, role = $5, updated_at = now()
			WHERE namespace = $1 AND inbox = $2 AND login = $3 AND source = 'spec'
			  AND (display_name, role) IS DISTINCT FROM ($4, $5) AND NOT EXISTS (SELECT 1 FROM ins)
			RETURNING 'agent.updated'::text AS action)
		SELECT action FROM ins UNION ALL SELECT action FROM upd`,
		s.cfg.Namespace, s.cfg.Inbox, a.Login, a.DisplayName, a.Role).Scan(&action)
	if err == pgx.ErrNoRows {
		return nil
	}
	if err != nil {
		return err
	}
	return s.audit(ctx, tx, SyncActor, action, "agent", a.Login,
		map[string]any{"displayName": a.DisplayName, "role": a.Role, "source": "spec.agents"})
}

// initialAdmin creates "admin" from the initial password when no enabled admin exists.
func (s *Service) initialAdmin(ctx context.Context, tx pgx.Tx, password string) error {
	if password == "" {
		return nil
	}
	var admins int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM agents WHERE namespace = $1 AND inbox = $2 AND role = $3 AND NOT disabled`,
		s.cfg.Namespace, s.cfg.Inbox, authz.RoleAdmin).Scan(&admins); err != nil || admins > 0 {
		return err
	}
	hash, err := HashPassword(password, s.cfg.Argon2)
	if err != nil {
		return err
	}
	tag, err := tx.Exec(ctx, `INSERT INTO agents (namespace, inbox, login, display_name, role, password_hash, source)
		VALUES ($1, $2, $3, 'Administrator', $4, $5, 'initial') ON CONFLICT DO NOTHING`,
		s.cfg.Namespace, s.cfg.Inbox, InitialAdmin, authz.RoleAdmin, hash)
	if err != nil || tag.RowsAffected() == 0 {
		return err
	}
	s.cfg.Log.Info("created the initial admin account from the initial admin Secret", "login", InitialAdmin)
	return s.audit(ctx, tx, SyncActor, "agent.created", "agent", InitialAdmin,
		map[string]any{"role": authz.RoleAdmin, "source": "initial admin Secret"})
}

// RunSync calls Sync when what it depends on changes (the declared agents, the roles,
// the initial admin password; checked every interval) and at least every 10 minutes,
// until ctx ends; failures are logged and retried at the next check.
func (s *Service) RunSync(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var last [32]byte
	var lastAt time.Time
	for {
		d := s.directory()
		if fp := fingerprint(d); fp != last || time.Since(lastAt) > 10*time.Minute {
			if err := s.Sync(ctx, d); err != nil {
				if ctx.Err() == nil {
					s.cfg.Log.Error("syncing the declared agents and the initial admin", "error", err)
				}
			} else {
				last, lastAt = fp, time.Now()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// fingerprint is a digest of what Sync reads from d.
func fingerprint(d Directory) [32]byte {
	h := sha256.New()
	for _, a := range d.Agents {
		fmt.Fprintf(h, "%q %q %q\n", a.Login, a.DisplayName, a.Role)
	}
	fmt.Fprintf(h, "%q %q", d.Roles.Names(), d.InitialAdminPassword)
	var out [32]byte
	h.Sum(out[:0])
	return out
}
