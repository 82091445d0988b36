package assign

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox/authz"
	"github.com/switchboard-dev/switchboard/runtime/inbox/problem"
	"github.com/switchboard-dev/switchboard/runtime/inbox/routing"
)

// AgentState is one agent's availability and load.
type AgentState struct {
	Login        string    `json:"login"`
	Availability string    `json:"availability"`       // online, away or offline
	Reason       string    `json:"reason"`             // set (by the agent), Missed or Disconnected (the away rules)
	ChangedAt    time.Time `json:"changedAt,omitzero"` // zero: never set
	Open         int       `json:"open"`               // unresolved conversations assigned to the agent
	Teams        []string  `json:"teams"`              // teams of the Inbox's RoutingPolicies listing the agent
	Connected    bool      `json:"connected"`          // a live connection is open
}

// SetAvailability sets the calling agent's own availability (availability.set): online,
// away or offline. Coming online makes the agent the most recently idle and clears its
// misses in a row; the plan then gives it the longest-waiting conversations it may take.
// Every choice (the same one again too) clears gone_since: a live connection that closed
// before it does not mark the agent away, one that opens and closes afterwards does
// (docs/routing.md, "Live connections").
// Errors: 403 for a principal that is not an agent, 422 naming availability.
func (s *Service) SetAvailability(ctx context.Context, p *authz.Principal, availability string) (AgentState, error) {
	if p == nil || p.Kind != authz.KindAgent || p.Namespace != s.cfg.Namespace {
		return AgentState{}, problem.New(http.StatusForbidden, "only an agent signed in to this Inbox has an availability")
	}
	av := routing.Availability(availability)
	if av != routing.Online && av != routing.Away && av != routing.Offline {
		return AgentState{}, problem.Field(http.StatusUnprocessableEntity, "availability",
			fmt.Sprintf("availability must be online, away or offline, got %q", availability))
	}
	var out AgentState
	err := s.inTx(ctx, p.Actor(), func(t *txn) error {
		var old string
		err := t.tx.QueryRow(ctx, `SELECT availability FROM agent_availability WHERE namespace = $1 AND login = $2 FOR UPDATE`,
			t.ns, p.Subject).Scan(&old)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("assign: read availability of %s: %w", p.Subject, err)
		}
		if old != availability {
			if err := t.setAvailability(ctx, p, old, av); err != nil {
				return err
			}
		} else if _, err := t.tx.Exec(ctx, `UPDATE agent_availability SET gone_since = NULL WHERE namespace = $1 AND login = $2`,
			t.ns, p.Subject); err != nil {
			return fmt.Errorf("assign: set availability of %s: %w", p.Subject, err)
		}
		t.final = func(ctx context.Context) error {
			all, err := t.agentStates(ctx)
			i := slices.IndexFunc(all, func(a AgentState) bool { return a.Login == p.Subject })
			if err == nil && i >= 0 {
				out = all[i]
			}
			return err
		}
		return nil
	})
	return out, err
}

func (t *txn) setAvailability(ctx context.Context, p *authz.Principal, old string, av routing.Availability) error {
	_, err := t.tx.Exec(ctx, `
		INSERT INTO agent_availability (namespace, login, availability, reason, changed_at, idle_since)
		VALUES ($1, $2, $3, 'set', $4, CASE WHEN $3 = 'online' THEN $4::timestamptz END)
		ON CONFLICT (namespace, login) DO UPDATE SET availability = $3, reason = 'set', changed_at = $4,
			idle_since = CASE WHEN $3 = 'online' THEN $4 ELSE agent_availability.idle_since END,
			misses = CASE WHEN $3 = 'online' THEN 0 ELSE agent_availability.misses END,
			gone_since = NULL`,
		t.ns, p.Subject, string(av), t.now)
	if err != nil {
		return fmt.Errorf("assign: set availability of %s: %w", p.Subject, err)
	}
	if old == "" {
		old = string(routing.Offline)
	}
	return t.emit(ctx, event{actor: p.Actor(), action: KindAvailability, kind: KindAvailability, agent: p.Subject,
		availability: string(av), before: map[string]string{"availability": old}, after: map[string]string{"availability": string(av)}})
}

// Agents lists the agents (agents.read): those with an availability row and those a
// team of a served RoutingPolicy lists (offline until they set one), by login.
func (s *Service) Agents(ctx context.Context, p *authz.Principal) ([]AgentState, error) {
	if p == nil || p.Namespace != s.cfg.Namespace {
		return nil, problem.New(http.StatusForbidden, "not a principal of this Inbox")
	}
	snap := s.cfg.Snapshot()
	if snap == nil {
		return nil, ErrNotLoaded
	}
	var out []AgentState
	err := s.cfg.Store.ReadTx(ctx, func(tx pgx.Tx) (err error) {
		out, err = (&txn{s: s, tx: tx, snap: snap, ns: s.cfg.Namespace}).agentStates(ctx)
		return err
	})
	return out, err
}

// agentStates reads every agent's state.
func (t *txn) agentStates(ctx context.Context) ([]AgentState, error) {
	rows, _ := t.tx.Query(ctx, `SELECT login, availability, reason, changed_at, connections > 0 FROM agent_availability
		WHERE namespace = $1`, t.ns)
	byLogin := map[string]*AgentState{}
	var a AgentState
	_, err := pgx.ForEachRow(rows, []any{&a.Login, &a.Availability, &a.Reason, &a.ChangedAt, &a.Connected}, func() error {
		c := a
		byLogin[a.Login] = &c
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("assign: read agents: %w", err)
	}
	for _, n := range t.snap.Numbers() {
		r := n.Policy.Routing
		if r == nil {
			continue
		}
		for _, team := range r.Router.Policy().Teams {
			for _, m := range team.Members {
				if byLogin[m] == nil {
					byLogin[m] = &AgentState{Login: m, Availability: string(routing.Offline), Reason: "set"}
				}
				if !slices.Contains(byLogin[m].Teams, team.Name) {
					byLogin[m].Teams = append(byLogin[m].Teams, team.Name)
				}
			}
		}
	}
	open, err := t.openCounts(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]AgentState, 0, len(byLogin))
	for login, a := range byLogin {
		a.Open = open[login]
		if a.Teams == nil {
			a.Teams = []string{}
		}
		slices.Sort(a.Teams)
		out = append(out, *a)
	}
	slices.SortFunc(out, func(a, b AgentState) int { return strings.Compare(a.Login, b.Login) })
	return out, nil
}

// Connected records that an agent opened a live connection (the event stream; the live
// events' hub calls it): the away rule for lost connections does not apply while one is
// open. An agent without an availability row gets one, offline.
func (s *Service) Connected(ctx context.Context, login string) error {
	return s.connection(ctx, login, `
		INSERT INTO agent_availability (namespace, login, availability, changed_at, connections) VALUES ($1, $2, 'offline', $3, 1)
		ON CONFLICT (namespace, login) DO UPDATE SET connections = agent_availability.connections + 1, gone_since = NULL`)
}

// Disconnected records that one of the agent's live connections closed; when it was the
// last, the agent is marked away after routing.DefaultAwayAfterDisconnect unless one
// reopens. Counts are per namespace across replicas; a replica that dies without
// calling it leaves the count high (the hub should reconcile on start).
func (s *Service) Disconnected(ctx context.Context, login string) error {
	return s.connection(ctx, login, `
		UPDATE agent_availability SET connections = GREATEST(connections - 1, 0),
			gone_since = CASE WHEN connections <= 1 THEN $3::timestamptz END
		WHERE namespace = $1 AND login = $2`)
}

func (s *Service) connection(ctx context.Context, login, sql string) error {
	if login == "" {
		return errors.New("assign: login is empty")
	}
	return s.inTx(ctx, SystemActor, func(t *txn) error {
		if _, err := t.tx.Exec(ctx, sql, t.ns, login, t.now); err != nil {
			return fmt.Errorf("assign: connection of %s: %w", login, err)
		}
		return nil
	})
}
