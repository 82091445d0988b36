package integrations

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox/authz"
	"github.com/switchboard-dev/switchboard/runtime/inbox/problem"
	"github.com/switchboard-dev/switchboard/runtime/store"
)

// The endpoints (runtime/inbox/openapi/integrations.yaml describes them).
const (
	DeliveriesPath = "GET /api/v1/integrations/deliveries"
	CRMPath        = "GET /api/v1/conversations/{id}/crm"
)

// Limits of the deliveries' limit parameter.
const (
	DefaultLimit = 50
	MaxLimit     = 200
)

// API serves the delivery log and the CRM lookup of one Inbox's namespace.
type API struct {
	store     *store.Store
	namespace string
	crm       *CRMLookup
	log       *slog.Logger
}

// NewAPI returns the API of the namespace (the tenant).
func NewAPI(st *store.Store, namespace string, crm *CRMLookup, log *slog.Logger) *API {
	return &API{store: st, namespace: namespace, crm: crm, log: log}
}

// Register adds the endpoints to mux behind authn (who calls) and their permissions:
// integrations.read for the delivery log, contacts.read for the CRM fields.
func (a *API) Register(mux *http.ServeMux, authn authz.Authenticator) {
	mux.Handle(DeliveriesPath, authz.Authenticate(authn, authz.RequireFunc(authz.IntegrationsRead, a.deliveries)))
	mux.Handle(CRMPath, authz.Authenticate(authn, authz.RequireFunc(authz.ContactsRead, a.crmFields)))
}

// Delivery is one entry of the delivery log.
type Delivery struct {
	ID             string     `json:"id"` // the stable delivery id (X-Switchboard-Delivery)
	Kind           string     `json:"kind"`
	Endpoint       string     `json:"endpoint"`
	EventID        string     `json:"event_id"`
	EventType      string     `json:"event_type"`
	ConversationID int64      `json:"conversation_id"`
	State          string     `json:"state"`
	Attempts       int        `json:"attempts"`
	LastStatusCode *int       `json:"last_status_code,omitempty"`
	LastError      *string    `json:"last_error,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	NextAttemptAt  *time.Time `json:"next_attempt_at,omitempty"` // pending only
	FinishedAt     *time.Time `json:"finished_at,omitempty"`
	Log            []Attempt  `json:"log"`
}

// Attempt is one call of a delivery.
type Attempt struct {
	Attempt    int       `json:"attempt"`
	At         time.Time `json:"at"`
	StatusCode *int      `json:"status_code,omitempty"`
	Error      *string   `json:"error,omitempty"`
	DurationMS int       `json:"duration_ms"`
}

// deliveriesSQL lists the namespace's deliveries, newest first, after cursor $2 (0:
// from the newest), optionally of one endpoint ($3) and state ($4), with their attempts.
const deliveriesSQL = `
	SELECT d.id, d.delivery_id::text, d.kind, d.endpoint, 'evt_' || d.event_id, d.event_type, d.conversation_id,
	       d.state, d.attempts, d.last_status_code, d.last_error, d.created_at,
	       CASE WHEN d.state = 'pending' THEN d.next_attempt_at END, d.finished_at,
	       COALESCE((SELECT json_agg(json_build_object('attempt', a.attempt, 'at', a.at, 'status_code', a.status_code,
	                        'error', a.error, 'duration_ms', a.duration_ms) ORDER BY a.attempt)
	                   FROM integration_attempts a WHERE a.delivery_id = d.id), '[]')
	  FROM integration_deliveries d
	 WHERE d.namespace = $1 AND ($2 = 0 OR d.id < $2) AND ($3 = '' OR d.endpoint = $3) AND ($4 = '' OR d.state = $4)
	 ORDER BY d.id DESC LIMIT $5`

func (a *API) deliveries(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := intParam(q.Get("limit"), DefaultLimit, 1, MaxLimit)
	if err != nil {
		problem.RespondField(w, http.StatusBadRequest, "limit", err.Error())
		return
	}
	cursor, err := intParam(q.Get("cursor"), 0, 1, 1<<62)
	if err != nil {
		problem.RespondField(w, http.StatusBadRequest, "cursor", err.Error())
		return
	}
	state := q.Get("state")
	if state != "" && state != "pending" && state != "delivered" && state != "failed" {
		problem.RespondField(w, http.StatusBadRequest, "state", fmt.Sprintf("must be pending, delivered or failed, got %q", state))
		return
	}
	var items []Delivery
	var last int64
	err = a.store.ReadTx(r.Context(), func(tx pgx.Tx) error {
		rows, err := tx.Query(r.Context(), deliveriesSQL, a.namespace, cursor, q.Get("endpoint"), state, limit)
		if err != nil {
			return err
		}
		items, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (Delivery, error) {
			var d Delivery
			var log []byte
			err := row.Scan(&last, &d.ID, &d.Kind, &d.Endpoint, &d.EventID, &d.EventType, &d.ConversationID, &d.State,
				&d.Attempts, &d.LastStatusCode, &d.LastError, &d.CreatedAt, &d.NextAttemptAt, &d.FinishedAt, &log)
			if err == nil {
				err = json.Unmarshal(log, &d.Log)
			}
			return d, err
		})
		return err
	})
	if err != nil {
		a.unavailable(w, "reading the delivery log", err)
		return
	}
	out := map[string]any{"items": items}
	if items == nil {
		out["items"] = []Delivery{}
	}
	if int64(len(items)) == limit {
		out["next_cursor"] = strconv.FormatInt(last, 10)
	}
	writeJSON(w, http.StatusOK, out)
}

// crmFields answers {"conversation_id", "contact": {"wa_id"}, "crm": CRMResult} for a
// conversation the caller may see (404 otherwise, as for one that does not exist).
func (a *API) crmFields(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		problem.RespondField(w, http.StatusBadRequest, "id", fmt.Sprintf("conversation id must be a positive integer, got %q", r.PathValue("id")))
		return
	}
	waID, err := a.contactOf(r.Context(), authz.FromContext(r.Context()), id)
	switch {
	case errors.Is(err, errNotVisible):
		problem.Respond(w, http.StatusNotFound, fmt.Sprintf("no conversation %d", id))
		return
	case err != nil:
		a.unavailable(w, "reading a conversation", err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), deadline(a.crm.snapshot))
	defer cancel()
	writeJSON(w, http.StatusOK, map[string]any{"conversation_id": id, "contact": map[string]string{"wa_id": waID},
		"crm": a.crm.Lookup(ctx, waID)})
}

var errNotVisible = errors.New("no such conversation for this caller")

// contactOf returns the wa_id of conversation id's contact when p may see it
// (conversations.read and the inbox's one visibility rule, authz.Scope).
func (a *API) contactOf(ctx context.Context, p *authz.Principal, id int64) (string, error) {
	var waID, team, assignee string
	var eligible []string
	err := a.store.ReadTx(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT ct.wa_id, COALESCE(c.team, ''), COALESCE(c.assignee, ''), c.eligible_teams
			FROM conversations c JOIN contacts ct ON ct.id = c.contact_id WHERE c.id = $1 AND c.namespace = $2`,
			id, a.namespace).Scan(&waID, &team, &assignee, &eligible)
	})
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return "", errNotVisible
	case err != nil:
		return "", err
	case p.Can(authz.ConversationsRead) && p.ConversationScope().Sees(team, assignee, eligible):
		return waID, nil
	}
	return "", errNotVisible
}

func (a *API) unavailable(w http.ResponseWriter, what string, err error) {
	a.log.Error("integrations: "+what, "error", err)
	problem.Respond(w, http.StatusServiceUnavailable, "the database is unavailable, retry later")
}

// intParam reads an integer query parameter in [lo, hi] (def when empty).
func intParam(s string, def, lo, hi int64) (int64, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("must be an integer from %d to %d, got %q", lo, hi, s)
	}
	return n, nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
