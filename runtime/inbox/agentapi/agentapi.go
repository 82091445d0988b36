// Package agentapi is the agents' API of the inbox under /api/v1 (docs/api.md; the
// OpenAPI fragments in runtime/inbox/openapi describe every operation). Each operation
// requires one permission (runtime/inbox/authz) of the caller's principal; the caller
// sees only the Inbox's namespace, and of it the conversations authz.Scope allows (all
// with conversations.readAll, else its teams' and its own; anything else is 404, as if
// it did not exist). Answers are JSON, lists
// are pages with an opaque cursor, errors are RFC 9457 problem documents naming the
// field (runtime/inbox/httpapi). Handlers hold no SQL: reads and changes go through
// runtime/inbox/conversation, every change with its audit-log entry in one transaction.
package agentapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox/authz"
	"github.com/switchboard-dev/switchboard/runtime/inbox/conversation"
	"github.com/switchboard-dev/switchboard/runtime/inbox/httpapi"
	"github.com/switchboard-dev/switchboard/runtime/inbox/idempotency"
	"github.com/switchboard-dev/switchboard/runtime/inbox/kube"
	"github.com/switchboard-dev/switchboard/runtime/inbox/media"
	"github.com/switchboard-dev/switchboard/runtime/inbox/problem"
	"github.com/switchboard-dev/switchboard/runtime/store"
)

// Config configures the API. Store, Namespace and Log are required.
type Config struct {
	Store     *store.Store
	Namespace string // the Inbox's namespace: the tenant
	// Token is the inbox's static bearer token (--api-token-file, dev mode's
	// <state-dir>/inbox-token): a principal with the auditor role. "" disables it.
	Token string
	// Authenticator finds other principals (sessions, API tokens); tried after Token.
	Authenticator authz.Authenticator
	// Snapshot gives the served Numbers (their WhatsApp Business Account, Graph API and
	// Outbound KeywordRules) for replies; nil refuses replies with 503.
	Snapshot func() *kube.Snapshot
	// Media is the media archive: a file an agent sends is stored there before it is
	// uploaded to Meta. nil refuses media messages with 503.
	Media *media.Store
	// Templates lists a Number's approved message templates; nil: NewTemplateCache.
	Templates Templates
	Now       func() time.Time // default time.Now
	Log       *slog.Logger
}

// API serves the agents' API.
type API struct {
	cfg       Config
	tokenHash [32]byte
	auth      authz.Authenticator
}

// New returns the API.
func New(cfg Config) (*API, error) {
	if cfg.Store == nil || cfg.Namespace == "" || cfg.Log == nil {
		return nil, errors.New("agentapi: Store, Namespace and Log are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Templates == nil {
		cfg.Templates = NewTemplateCache(TemplateTTL)
	}
	a := &API{cfg: cfg}
	chain := []authz.Authenticator{authz.AuthenticatorFunc(a.authenticateToken)}
	if cfg.Authenticator != nil {
		chain = append(chain, cfg.Authenticator)
	}
	found := authz.Chain(chain...)
	a.auth = authz.AuthenticatorFunc(func(r *http.Request) (*authz.Principal, error) {
		p, err := found.Authenticate(r)
		if p != nil && p.Namespace != cfg.Namespace {
			return nil, errors.New("the credentials belong to another Inbox")
		}
		return p, err
	})
	if t := strings.TrimSpace(cfg.Token); t != "" {
		a.tokenHash = sha256.Sum256([]byte(t))
	}
	return a, nil
}

// Register adds the operations to mux, each behind authentication and its permission.
func (a *API) Register(mux *http.ServeMux) {
	for _, op := range a.operations() {
		mux.Handle(op.Pattern, a.Guard(op.Permission, op.Handler))
	}
}

// Operation is one API operation: its route, the permission it requires, its handler.
type Operation struct {
	Pattern    string // "METHOD /path"
	Permission authz.Permission
	Handler    http.HandlerFunc
}

// Operations lists the API's operations (for tests that call each one).
func (a *API) Operations() []Operation { return a.operations() }

func (a *API) operations() []Operation {
	return []Operation{
		{"GET /api/v1/conversations", authz.ConversationsRead, a.listConversations},
		{"GET /api/v1/conversations/{id}", authz.ConversationsRead, a.getConversation},
		{"GET /api/v1/conversations/{id}/messages", authz.ConversationsRead, a.listMessages},
		{"POST /api/v1/conversations/{id}/messages", authz.ConversationsReply, a.send},
		{"POST /api/v1/conversations/{id}/media", authz.ConversationsReply, a.sendMedia},
		{"POST /api/v1/conversations/{id}/notes", authz.ConversationsReply, a.addNote},
		{"PUT /api/v1/conversations/{id}/priority", authz.ConversationsUpdate, a.setPriority},
		{"POST /api/v1/conversations/{id}/tags", authz.ConversationsUpdate, a.changeConversationTags},
		{"PUT /api/v1/conversations/{id}/tags", authz.ConversationsUpdate, a.setConversationTags},
		{"GET /api/v1/contacts", authz.ContactsRead, a.listContacts},
		{"GET /api/v1/contacts/{id}", authz.ContactsRead, a.getContact},
		{"POST /api/v1/contacts/{id}/tags", authz.ContactsWrite, a.changeContactTags},
		{"PATCH /api/v1/contacts/{id}/attributes", authz.ContactsWrite, a.patchContactAttributes},
		{"GET /api/v1/audit", authz.AuditRead, a.queryAudit},
	}
}

// Guard puts h behind the API's authentication and perm.
func (a *API) Guard(perm authz.Permission, h http.Handler) http.Handler {
	return authz.Authenticate(a.auth, authz.Require(perm, h))
}

// Protect is Guard with conversations.read (the media endpoints,
// runtime/inbox/media/mediaapi, use it).
func (a *API) Protect(h http.Handler) http.Handler { return a.Guard(authz.ConversationsRead, h) }

// Authenticator is the API's authentication, for the inbox's other endpoints.
func (a *API) Authenticator() authz.Authenticator { return a.auth }

// TokenSubject is the name of the principal that the inbox's static bearer token
// authenticates: an integration token with the auditor role (full read access, no
// changes).
const TokenSubject = "inbox-token"

// authenticateToken checks "Authorization: Bearer <token>" against the static token in
// constant time (hashes of equal length are compared, so the token's length does not
// leak either). Another bearer token is left to the next authenticator.
func (a *API) authenticateToken(r *http.Request) (*authz.Principal, error) {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || a.tokenHash == [32]byte{} {
		return nil, nil
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(got)))
	if subtle.ConstantTimeCompare(sum[:], a.tokenHash[:]) != 1 {
		if a.cfg.Authenticator != nil {
			return nil, nil
		}
		return nil, errors.New("the bearer token is not valid")
	}
	return authz.NewPrincipal(a.cfg.Namespace, "", authz.KindToken, TokenSubject, authz.RoleAuditor,
		authz.Predefined()[authz.RoleAuditor]), nil
}

// viewer is the request's principal as conversation.Viewer.
func (a *API) viewer(r *http.Request) conversation.Viewer {
	return conversation.ViewerOf(a.cfg.Namespace, authz.FromContext(r.Context()))
}

// read runs fn in a read-only transaction and answers 200 with what fn returns.
func (a *API) read(w http.ResponseWriter, r *http.Request, fn func(pgx.Tx) (any, error)) {
	a.run(w, r, a.cfg.Store.ReadTx, http.StatusOK, fn)
}

// write runs fn in a transaction (fn writes its audit entry in it) and answers status
// with what fn returns.
func (a *API) write(w http.ResponseWriter, r *http.Request, status int, fn func(pgx.Tx) (any, error)) {
	a.run(w, r, a.cfg.Store.InTx, status, fn)
}

func (a *API) run(w http.ResponseWriter, r *http.Request, inTx func(context.Context, func(pgx.Tx) error) error,
	status int, fn func(pgx.Tx) (any, error)) {
	var out any
	err := inTx(r.Context(), func(tx pgx.Tx) (err error) {
		out, err = fn(tx)
		return err
	})
	a.answer(w, status, out, err)
}

func (a *API) answer(w http.ResponseWriter, status int, out any, err error) {
	if err != nil {
		a.fail(w, err)
		return
	}
	httpapi.WriteJSON(w, status, out)
}

// once is the idempotency request of r (its Idempotency-Key, runtime/inbox/idempotency)
// with content, the request's decoded body: a zero Request when r has no key.
func (a *API) once(r *http.Request, content any) (idempotency.Request, error) {
	return idempotency.New(r, a.cfg.Namespace, authz.FromContext(r.Context()).Actor(), content)
}

// writeOnce is write for a request with effects: with an Idempotency-Key, the key and
// the answer are recorded in fn's transaction, and a retry replays the answer.
func (a *API) writeOnce(w http.ResponseWriter, r *http.Request, status int, content any, fn func(pgx.Tx) (any, error)) {
	once, err := a.once(r, content)
	if err != nil {
		a.fail(w, err)
		return
	}
	resp, replayed, err := idempotency.Run(r.Context(), a.cfg.Store.InTx, once, a.cfg.Now(), status, fn)
	a.answerOnce(w, resp, replayed, err)
}

// answerOnce answers resp (replayed: with Idempotent-Replayed: true), or err.
func (a *API) answerOnce(w http.ResponseWriter, resp idempotency.Response, replayed bool, err error) {
	if err != nil {
		a.fail(w, err)
		return
	}
	idempotency.Write(w, resp, replayed)
}

// replayOr answers an earlier request's answer prev when set, else err.
func (a *API) replayOr(w http.ResponseWriter, prev *idempotency.Response, err error) {
	if err == nil && prev != nil {
		idempotency.Write(w, *prev, true)
		return
	}
	a.fail(w, err)
}

// fail maps the conversation package's errors to problem documents.
func (a *API) fail(w http.ResponseWriter, err error) {
	if inv, ok := conversation.IsInvalid(err); ok {
		problem.RespondField(w, http.StatusBadRequest, inv.Field, inv.Error())
		return
	}
	switch {
	case errors.Is(err, conversation.ErrNoConversation):
		problem.RespondField(w, http.StatusNotFound, "id", "no such conversation")
	case errors.Is(err, conversation.ErrNoContact):
		problem.RespondField(w, http.StatusNotFound, "id", "no such contact")
	case errors.Is(err, context.Canceled):
		problem.Respond(w, http.StatusServiceUnavailable, "the request was cancelled")
	default:
		httpapi.Fail(w, a.cfg.Log, err)
	}
}

// StaticToken authenticates the inbox's one static bearer token (--api-token-file) as
// TokenSubject with the auditor role, for authenticators other than the API's own (the
// accounts' endpoints). token must not be empty; a different bearer token is an error.
func StaticToken(namespace, token string) (authz.Authenticator, error) {
	a, err := New(Config{Store: &store.Store{}, Namespace: namespace, Token: token, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	if a.tokenHash == [32]byte{} {
		return nil, errors.New("agentapi: the bearer token is empty")
	}
	return authz.AuthenticatorFunc(a.authenticateToken), nil
}
