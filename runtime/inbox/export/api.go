package export

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/switchboard-dev/switchboard/runtime/inbox/authz"
	"github.com/switchboard-dev/switchboard/runtime/inbox/problem"
	"github.com/switchboard-dev/switchboard/runtime/store"
)

// API serves GET /api/v1/export/{kind}?format=…&number=…&from=…&to=…&tag=… (permission
// export): the body is the export itself, streamed (application/x-ndjson or text/csv).
type API struct {
	store     *store.Store
	namespace string
	log       *slog.Logger
}

// NewAPI returns the export API of one namespace (the Inbox's).
func NewAPI(st *store.Store, namespace string, log *slog.Logger) *API {
	return &API{store: st, namespace: namespace, log: log}
}

// Register adds the endpoint to mux behind auth and the permission export.
func (a *API) Register(mux *http.ServeMux, auth authz.Authenticator) {
	mux.Handle("GET /api/v1/export/{kind}", authz.Authenticate(auth, authz.RequireFunc(authz.Export, a.export)))
}

// ParseRequest reads an export request from the kind and query parameters (format; the
// default is jsonl for conversations and audit, csv for contacts; number; from and to
// as RFC 3339 times; tag).
func ParseRequest(namespace, kind string, q url.Values) (Request, error) {
	r := Request{Namespace: namespace, Kind: Kind(kind), Format: Format(q.Get("format"))}
	if r.Format == "" {
		r.Format = JSONL
		if r.Kind == Contacts {
			r.Format = CSV
		}
	}
	r.Filter.Number, r.Filter.Tag = q.Get("number"), q.Get("tag")
	for _, p := range []struct {
		name string
		t    *time.Time
	}{{"from", &r.Filter.From}, {"to", &r.Filter.To}} {
		if s := q.Get(p.name); s != "" {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return r, &FieldError{p.name, fmt.Sprintf("must be an RFC 3339 time such as 2026-01-31T00:00:00Z, got %q", s)}
			}
			*p.t = t
		}
	}
	return r, r.Validate()
}

// ContentType is the media type of a format.
func ContentType(f Format) string {
	if f == CSV {
		return "text/csv; charset=utf-8"
	}
	return "application/x-ndjson"
}

// countingWriter remembers whether anything reached the client.
type countingWriter struct {
	w       io.Writer
	written bool
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.written = c.written || len(p) > 0
	return c.w.Write(p)
}

func (a *API) export(w http.ResponseWriter, r *http.Request) {
	req, err := ParseRequest(a.namespace, r.PathValue("kind"), r.URL.Query())
	var fe *FieldError
	if errors.As(err, &fe) {
		problem.RespondField(w, http.StatusBadRequest, fe.Field, err.Error())
		return
	}
	w.Header().Set("Content-Type", ContentType(req.Format))
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.%s"`, req.Kind, req.Format))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	rc := http.NewResponseController(w)
	out := &countingWriter{w: w}
	stats, err := Write(r.Context(), a.store, authz.FromContext(r.Context()).Actor(), req, out, func() { _ = rc.Flush() })
	switch {
	case err == nil:
		a.log.Info("export", "kind", req.Kind, "format", req.Format, "rows", stats.Rows)
	case !out.written:
		a.log.Error("export", "kind", req.Kind, "error", err)
		w.Header().Del("Content-Disposition")
		problem.Respond(w, http.StatusServiceUnavailable, "the export failed: the database is unavailable, retry later")
	default:
		// The status is sent: abort the response so that the client sees a truncated
		// transfer (an incomplete chunked body), never a short export that looks whole.
		a.log.Error("export interrupted", "kind", req.Kind, "rows", stats.Rows, "error", err)
		panic(http.ErrAbortHandler)
	}
}
