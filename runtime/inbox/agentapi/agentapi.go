// Package agentapi is the inbox's minimal read-only API for agents and integrations,
// behind one bearer token (to be replaced by the agents' API with real authentication):
//
//	GET /api/v1/conversations?limit=N                 conversations, latest message first
//	GET /api/v1/conversations/{id}/messages?limit=N   a conversation's messages, in order
//
// Answers are JSON ({"items":[...]}); the tenant is the Inbox's namespace only. Errors
// are RFC 9457 problem documents (runtime/inbox/problem) naming the bad parameter.
package agentapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox/authz"
	"github.com/switchboard-dev/switchboard/runtime/inbox/conversation"
	"github.com/switchboard-dev/switchboard/runtime/inbox/problem"
	"github.com/switchboard-dev/switchboard/runtime/store"
)

// Limits of the limit parameter.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// API serves the read-only endpoints.
type API struct {
	store     *store.Store
	namespace string
	tokenHash [32]byte
	log       *slog.Logger
}

// New returns the API for a namespace. token must not be empty.
func New(st *store.Store, namespace, token string, log *slog.Logger) (*API, error) {
	if strings.TrimSpace(token) == "" {
		return nil, errors.New("agentapi: the bearer token is empty")
	}
	return &API{store: st, namespace: namespace, tokenHash: sha256.Sum256([]byte(strings.TrimSpace(token))), log: log}, nil
}

// Register adds the endpoints to mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.Handle("GET /api/v1/conversations", a.Protect(http.HandlerFunc(a.conversations)))
	mux.Handle("GET /api/v1/conversations/{id}/messages", a.Protect(http.HandlerFunc(a.messages)))
}

// Protect puts h behind the API's bearer token and the permission conversations.read
// (the media endpoint, runtime/inbox/media/mediaapi, uses it too).
func (a *API) Protect(h http.Handler) http.Handler {
	return authz.Authenticate(authz.AuthenticatorFunc(a.authenticate), authz.Require(authz.ConversationsRead, h))
}

// Authenticator is the API's authentication, for the inbox's other endpoints.
func (a *API) Authenticator() authz.Authenticator { return authz.AuthenticatorFunc(a.authenticate) }

// TokenSubject is the name of the principal that the inbox's static bearer token
// (--api-token-file, dev mode's <state-dir>/inbox-token) authenticates: an integration
// token with the auditor role (full read access, no changes).
const TokenSubject = "inbox-token"

// authenticate checks "Authorization: Bearer <token>" in constant time (hashes of equal
// length are compared, so the token's length does not leak either).
func (a *API) authenticate(r *http.Request) (*authz.Principal, error) {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return nil, nil
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(got)))
	if subtle.ConstantTimeCompare(sum[:], a.tokenHash[:]) != 1 {
		return nil, errors.New("the bearer token is not valid")
	}
	return authz.NewPrincipal(a.namespace, "", authz.KindToken, TokenSubject, authz.RoleAuditor,
		authz.Predefined()[authz.RoleAuditor]), nil
}

func (a *API) conversations(w http.ResponseWriter, r *http.Request) {
	limit, err := limitOf(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	var items []conversation.Summary
	a.read(r.Context(), w, func(tx pgx.Tx) (err error) {
		items, err = conversation.List(r.Context(), tx, a.namespace, limit)
		return err
	}, func() any { return items })
}

func (a *API) messages(w http.ResponseWriter, r *http.Request) {
	limit, err := limitOf(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("conversation id must be a positive integer, got %q", r.PathValue("id")))
		return
	}
	var items []conversation.Message
	a.read(r.Context(), w, func(tx pgx.Tx) (err error) {
		items, err = conversation.Messages(r.Context(), tx, a.namespace, id, limit)
		return err
	}, func() any { return items })
}

// read runs fn in a read-only transaction and writes {"items": items()}.
func (a *API) read(ctx context.Context, w http.ResponseWriter, fn func(pgx.Tx) error, items func() any) {
	err := a.store.ReadTx(ctx, fn)
	switch {
	case errors.Is(err, conversation.ErrNoConversation):
		writeError(w, http.StatusNotFound, "no such conversation")
	case err != nil:
		a.log.Error("reading conversations", "error", err)
		writeError(w, http.StatusServiceUnavailable, "the database is unavailable, retry later")
	default:
		writeJSON(w, http.StatusOK, map[string]any{"items": nonNil(items())})
	}
}

// nonNil turns a nil slice into an empty list in JSON.
func nonNil(v any) any {
	if b, _ := json.Marshal(v); string(b) == "null" {
		return []any{}
	}
	return v
}

// limitOf reads ?limit= (1 to MaxLimit, default DefaultLimit).
func limitOf(r *http.Request) (int, error) {
	s := r.URL.Query().Get("limit")
	if s == "" {
		return DefaultLimit, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > MaxLimit {
		return 0, fmt.Errorf("limit must be an integer from 1 to %d, got %q", MaxLimit, s)
	}
	return n, nil
}

func writeError(w http.ResponseWriter, code int, msg string) { problem.Respond(w, code, msg) }

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
