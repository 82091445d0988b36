// Package mediaapi serves archived media to agents through the inbox, never through a
// public URL:
//
//	GET /api/v1/media/{id}   the object's bytes (id: the media row, as messages show it)
//
// The caller mounts it behind the inbox API's bearer token; the tenant is the Inbox's
// namespace, so another namespace's media ID answers 404. Media not yet stored answers
// 409 with its state and last error ({"error":…, "media":{…}}).
package mediaapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox/media"
	"github.com/switchboard-dev/switchboard/runtime/inbox/media/archive"
)

// ReadDB runs a read-only transaction; *store.Store implements it.
type ReadDB interface {
	ReadTx(ctx context.Context, fn func(pgx.Tx) error) error
}

// Handler serves GET /api/v1/media/{id} for namespace; log may be nil.
func Handler(db ReadDB, store *media.Store, namespace string, log *slog.Logger) http.HandlerFunc {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil || id <= 0 {
			writeJSON(w, http.StatusBadRequest, map[string]string{
				"error": fmt.Sprintf("media id must be a positive integer, got %q", r.PathValue("id"))})
			return
		}
		var rec archive.Record
		err = db.ReadTx(r.Context(), func(tx pgx.Tx) (err error) {
			rec, err = archive.Get(r.Context(), tx, namespace, id)
			return err
		})
		serve(w, r, store, rec, err, log)
	}
}

func serve(w http.ResponseWriter, r *http.Request, store *media.Store, rec archive.Record, err error, log *slog.Logger) {
	switch {
	case errors.Is(err, archive.ErrNotFound):
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such media"})
	case err != nil:
		log.Error("reading media", "error", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "the database is unavailable, retry later"})
	case rec.State != archive.Stored:
		writeJSON(w, http.StatusConflict, map[string]any{"error": "media is " + rec.State, "media": rec})
	default:
		stream(w, r, store, rec, log)
	}
}

// stream copies the object to w, with its type, length and sha256; as an attachment so
// that a browser never renders it in the inbox's origin.
func stream(w http.ResponseWriter, r *http.Request, store *media.Store, rec archive.Record, log *slog.Logger) {
	key := media.Key{Namespace: rec.Namespace, Number: rec.Number, MediaID: rec.MediaID}
	body, err := store.Open(r.Context(), key)
	if err != nil {
		log.Error("opening media", "key", key.String(), "error", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "the media store is unavailable, retry later"})
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

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
