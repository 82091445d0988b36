// Package mediaapi serves archived media to agents through the inbox, never through a
// public URL:
//
//	GET /api/v1/media/{id}                the object's bytes (id: the media row)
//	GET /api/v1/messages/{id}/media       the media row of a message: state, attempts,
//	                                      last_error (a failed download shows here), sha256, size
//
// The caller mounts it behind the inbox API's authentication (a principal in the request's
// context, runtime/inbox/authz); the tenant is the Inbox's namespace, so another
// namespace's media ID answers 404, and so does media of a conversation the caller may
// not see (the inbox's one visibility rule, authz.Scope) or of no message (without
// conversations.readAll). Errors are RFC 9457 problem
// documents (runtime/inbox/problem); media not yet stored answers 409 with its row in
// the member "media" (state, last_error). Without an archive (no Inbox spec.media, no
// --media-dir) both endpoints still answer 401 without credentials and 404 for what the
// caller may not see, then 503 naming spec.media. runtime/inbox/openapi/media.yaml
// describes both.
package mediaapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox/authz"
	"github.com/switchboard-dev/switchboard/runtime/inbox/conversation"
	"github.com/switchboard-dev/switchboard/runtime/inbox/httpapi"
	"github.com/switchboard-dev/switchboard/runtime/inbox/media"
	"github.com/switchboard-dev/switchboard/runtime/inbox/media/archive"
	"github.com/switchboard-dev/switchboard/runtime/inbox/problem"
)

// ReadDB runs a read-only transaction; *store.Store implements it.
type ReadDB interface {
	ReadTx(ctx context.Context, fn func(pgx.Tx) error) error
}

// API serves the media endpoints of one namespace.
type API struct {
	db        ReadDB
	store     *media.Store
	namespace string
	log       *slog.Logger
}

// New returns the API of namespace; log may be nil, and so may store when the Inbox has no
// media archive (every visible media then answers 503).
func New(db ReadDB, store *media.Store, namespace string, log *slog.Logger) *API {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &API{db: db, store: store, namespace: namespace, log: log}
}

// Register adds the endpoints to mux, each wrapped by protect (the bearer token check).
func (a *API) Register(mux *http.ServeMux, protect func(http.Handler) http.Handler) {
	mux.Handle("GET /api/v1/media/{id}", protect(a.lookup(archive.Get, a.serveObject)))
	mux.Handle("GET /api/v1/messages/{id}/media", protect(a.lookup(archive.ByMessage, a.serveRecord)))
}

// NoArchive is the detail of the 503 a media endpoint answers when the Inbox has no media
// archive.
const NoArchive = "this Inbox has no media archive (spec.media, or --media-dir in dev mode)"

type finder func(ctx context.Context, tx pgx.Tx, namespace string, id int64) (archive.Record, error)

// lookup reads the record {id} names with find, in the namespace, and hands it to next.
func (a *API) lookup(find finder, next func(http.ResponseWriter, *http.Request, archive.Record)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil || id <= 0 {
			problem.RespondField(w, http.StatusBadRequest, "id", fmt.Sprintf("id must be a positive integer, got %q", r.PathValue("id")))
			return
		}
		var rec archive.Record
		err = a.db.ReadTx(r.Context(), func(tx pgx.Tx) (err error) {
			if rec, err = find(r.Context(), tx, a.namespace, id); err != nil {
				return err
			}
			return a.visible(r.Context(), tx, authz.FromContext(r.Context()), rec)
		})
		switch {
		case errors.Is(err, archive.ErrNotFound):
			problem.RespondField(w, http.StatusNotFound, "id", "no such media")
		case err != nil:
			a.log.Error("reading media", "error", err)
			problem.Respond(w, http.StatusServiceUnavailable, "the database is unavailable, retry later")
		case a.store == nil:
			problem.Respond(w, http.StatusServiceUnavailable, NoArchive)
		default:
			next(w, r, rec)
		}
	}
}

// visible is archive.ErrNotFound unless p may see rec's message's conversation; media of
// no message only with conversations.readAll.
func (a *API) visible(ctx context.Context, tx pgx.Tx, p *authz.Principal, rec archive.Record) error {
	vw := conversation.ViewerOf(a.namespace, p)
	seen := vw.Scope.All
	if rec.MessageID != nil && !seen {
		var err error
		if seen, err = conversation.SeesMessage(ctx, tx, vw, *rec.MessageID); err != nil {
			return err
		}
	}
	if !seen {
		return archive.ErrNotFound
	}
	return nil
}

// serveRecord answers the media row: state, attempts, last_error, sha256, size.
func (a *API) serveRecord(w http.ResponseWriter, _ *http.Request, rec archive.Record) {
	httpapi.WriteJSON(w, http.StatusOK, rec)
}

// serveObject streams a stored object, or answers 409 with the row when not stored.
func (a *API) serveObject(w http.ResponseWriter, r *http.Request, rec archive.Record) {
	if rec.State != archive.Stored {
		p := problem.New(http.StatusConflict, "media is "+rec.State)
		p.Extra = map[string]any{"media": rec}
		problem.Write(w, p)
		return
	}
	stream(w, r, a.store, rec, a.log)
}

// stream copies the object to w, with its type, length and sha256; as an attachment so
// that a browser never renders it in the inbox's origin.
func stream(w http.ResponseWriter, r *http.Request, store *media.Store, rec archive.Record, log *slog.Logger) {
	key, err := archive.ObjectOf(rec)
	if err != nil {
		log.Error("opening media", "id", rec.ID, "error", err)
		problem.Respond(w, http.StatusServiceUnavailable, "the media store is unavailable, retry later")
		return
	}
	body, err := store.Open(r.Context(), key)
	if err != nil {
		log.Error("opening media", "key", key.String(), "error", err)
		problem.Respond(w, http.StatusServiceUnavailable, "the media store is unavailable, retry later")
		return
	}
	defer func() { _ = body.Close() }()
	h := w.Header()
	h.Set("Content-Type", body.ContentType())
	h.Set("Content-Length", strconv.FormatInt(body.Size(), 10))
	h.Set("Content-Disposition", "attachment")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Content-SHA256", *rec.SHA256)
	if _, err := io.Copy(w, body); err != nil {
		log.Warn("serving media cut short", "key", key.String(), "error", err)
	}
}
