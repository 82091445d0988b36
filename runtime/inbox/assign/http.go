package assign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/switchboard-dev/switchboard/runtime/inbox/authz"
	"github.com/switchboard-dev/switchboard/runtime/inbox/httpapi"
	"github.com/switchboard-dev/switchboard/runtime/inbox/problem"
)

// maxBody bounds a request body of these endpoints.
const maxBody = 4 << 10

// Register adds the routing endpoints to mux, each behind auth and its permission
// (docs/routing.md#endpoints, runtime/inbox/openapi/routing.yaml):
//
//	POST /api/v1/conversations/{id}/assign    {"agent":"ana"} or {"team":"iberia"}  conversations.assign
//	POST /api/v1/conversations/{id}/transfer  {"agent":"ana"} or {"team":"iberia"}  conversations.assign
//	POST /api/v1/conversations/{id}/accept                                          conversations.update
//	POST /api/v1/conversations/{id}/resolve                                         conversations.update
//	POST /api/v1/conversations/{id}/reopen                                          conversations.update
//	PUT  /api/v1/me/availability              {"availability":"online"}            availability.set
//	GET  /api/v1/agents/availability                                                agents.read
//
// Conversation operations answer the conversation's State after the operation's plan;
// errors are RFC 9457 problem documents naming the field.
func Register(mux *http.ServeMux, s *Service, auth authz.Authenticator, log *slog.Logger) {
	h := &handlers{s: s, log: log}
	route := func(pattern string, perm authz.Permission, fn http.HandlerFunc) {
		mux.Handle(pattern, authz.Authenticate(auth, authz.Require(perm, fn)))
	}
	route("POST /api/v1/conversations/{id}/assign", authz.ConversationsAssign, h.move(s.Assign))
	route("POST /api/v1/conversations/{id}/transfer", authz.ConversationsAssign, h.move(s.Transfer))
	route("POST /api/v1/conversations/{id}/accept", authz.ConversationsUpdate, httpapi.NoBodyFunc(h.conv(s.Accept)))
	route("POST /api/v1/conversations/{id}/resolve", authz.ConversationsUpdate, httpapi.NoBodyFunc(h.conv(s.Resolve)))
	route("POST /api/v1/conversations/{id}/reopen", authz.ConversationsUpdate, httpapi.NoBodyFunc(h.conv(s.Reopen)))
	route("PUT /api/v1/me/availability", authz.AvailabilitySet, h.availability)
	route("GET /api/v1/agents/availability", authz.AgentsRead, h.agents)
}

type handlers struct {
	s   *Service
	log *slog.Logger
}

type convFunc func(context.Context, *authz.Principal, int64) (State, error)

func (h *handlers) conv(fn convFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := pathID(w, r)
		if !ok {
			return
		}
		st, err := fn(r.Context(), authz.FromContext(r.Context()), id)
		h.answer(w, st, err)
	}
}

func (h *handlers) move(fn func(context.Context, *authz.Principal, int64, Target) (State, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := pathID(w, r)
		if !ok {
			return
		}
		var to Target
		if !decode(w, r, &to) {
			return
		}
		st, err := fn(r.Context(), authz.FromContext(r.Context()), id, to)
		h.answer(w, st, err)
	}
}

func (h *handlers) availability(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Availability string `json:"availability"`
	}
	if !decode(w, r, &body) {
		return
	}
	st, err := h.s.SetAvailability(r.Context(), authz.FromContext(r.Context()), body.Availability)
	h.answer(w, st, err)
}

func (h *handlers) agents(w http.ResponseWriter, r *http.Request) {
	items, err := h.s.Agents(r.Context(), authz.FromContext(r.Context()))
	h.answer(w, map[string]any{"items": items}, err)
}

// pathID reads the {id} path segment: a positive integer.
func pathID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		problem.RespondField(w, http.StatusBadRequest, "id", fmt.Sprintf("conversation id must be a positive integer, got %q", r.PathValue("id")))
		return 0, false
	}
	return id, true
}

// decode reads a JSON object body of at most maxBody bytes into v
// (httpapi.DecodeLimit); on error it writes the problem and returns false.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	err := httpapi.DecodeLimit(r, v, maxBody)
	var p problem.Problem
	if errors.As(err, &p) {
		problem.Write(w, p)
		return false
	}
	return err == nil
}

// answer writes v as JSON, or err as a problem: a problem.Problem as it is, a lost
// race for the one open conversation per contact as 409, anything else 503 (logged).
func (h *handlers) answer(w http.ResponseWriter, v any, err error) {
	var pr problem.Problem
	var pg *pgconn.PgError
	switch {
	case errors.As(err, &pr):
		problem.Write(w, pr)
	case errors.As(err, &pg) && pg.Code == "23505":
		problem.Respond(w, http.StatusConflict, "the contact has another open conversation on this Number")
	case errors.Is(err, ErrNotLoaded):
		problem.Respond(w, http.StatusServiceUnavailable, "the inbox is starting, retry later")
	case err != nil:
		h.log.Error("routing operation failed", "error", err)
		problem.Respond(w, http.StatusServiceUnavailable, "the database is unavailable, retry later")
	default:
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
}
