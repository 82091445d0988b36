package contacts

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox/authz"
	"github.com/switchboard-dev/switchboard/runtime/inbox/httpapi"
	"github.com/switchboard-dev/switchboard/runtime/inbox/problem"
	"github.com/switchboard-dev/switchboard/runtime/store"
)

// MaxImportBytes bounds one import's request body.
const MaxImportBytes = 512 << 20

// importReadWindow is how long reading one import's body may take (the server's
// ReadTimeout is meant for small requests).
const importReadWindow = 30 * time.Minute

// API serves the contacts import and the segments endpoints (docs/contacts.md):
//
//	POST   /api/v1/contacts/import     contacts.import   CSV or JSONL body; JSON or NDJSON answer
//	POST   /api/v1/segments/preview    campaigns.read    {"filter":{…}} → {"count":N}
//	GET    /api/v1/segments            campaigns.read
//	POST   /api/v1/segments            campaigns.manage
//	GET    /api/v1/segments/{name}     campaigns.read    the segment and its count
//	PUT    /api/v1/segments/{name}     campaigns.manage
//	DELETE /api/v1/segments/{name}     campaigns.manage
type API struct {
	store     *store.Store
	namespace string
	log       *slog.Logger
}

// NewAPI returns the API of one namespace (the Inbox's).
func NewAPI(st *store.Store, namespace string, log *slog.Logger) *API {
	return &API{store: st, namespace: namespace, log: log}
}

// Register adds the endpoints to mux behind auth (who calls) and each one's permission.
func (a *API) Register(mux *http.ServeMux, auth authz.Authenticator) {
	h := func(p authz.Permission, f http.HandlerFunc) http.Handler {
		return authz.Authenticate(auth, authz.Require(p, f))
	}
	mux.Handle("POST /api/v1/contacts/import", h(authz.ContactsImport, a.importContacts))
	mux.Handle("POST /api/v1/segments/preview", h(authz.CampaignsRead, a.preview))
	mux.Handle("GET /api/v1/segments", h(authz.CampaignsRead, a.list))
	mux.Handle("POST /api/v1/segments", h(authz.CampaignsManage, a.create))
	mux.Handle("GET /api/v1/segments/{name}", h(authz.CampaignsRead, a.get))
	mux.Handle("PUT /api/v1/segments/{name}", h(authz.CampaignsManage, a.update))
	mux.Handle("DELETE /api/v1/segments/{name}", h(authz.CampaignsManage, httpapi.NoBodyFunc(a.remove)))
}

// importFormat reads ?format= or, without it, the Content-Type (text/csv;
// application/x-ndjson, application/jsonl or application/x-jsonlines).
func importFormat(r *http.Request) (Format, error) {
	if s := r.URL.Query().Get("format"); s != "" {
		return ParseFormat(s)
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "text/csv":
		return FormatCSV, nil
	case "application/x-ndjson", "application/jsonl", "application/x-jsonlines":
		return FormatJSONL, nil
	}
	return "", fmt.Errorf("give ?format=csv or ?format=jsonl, or Content-Type text/csv or application/x-ndjson (got %q)", mt)
}

// wantsNDJSON reports whether the caller asked for progress lines (Accept:
// application/x-ndjson).
func wantsNDJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/x-ndjson")
}

func (a *API) importContacts(w http.ResponseWriter, r *http.Request) {
	format, err := importFormat(r)
	if err != nil {
		problem.RespondField(w, http.StatusBadRequest, "format", err.Error())
		return
	}
	p := authz.FromContext(r.Context())
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(importReadWindow)) // not every ResponseWriter supports it
	req := ImportRequest{Namespace: a.namespace, Actor: p.Actor(), Source: "api", Format: format,
		Body: httpapi.LimitBody(w, r, MaxImportBytes)}
	var out *json.Encoder
	if wantsNDJSON(r) {
		// Progress lines while the body is still being read: HTTP/1.1 needs full duplex.
		_ = rc.EnableFullDuplex()
		bw := bufio.NewWriter(w)
		out = json.NewEncoder(bw)
		started := false
		req.Progress = func(pr Progress) {
			if !started {
				w.Header().Set("Content-Type", "application/x-ndjson")
				started = true
			}
			_ = out.Encode(map[string]Progress{"progress": pr})
			_ = bw.Flush()
			_ = rc.Flush()
		}
		defer func() { _ = bw.Flush() }()
		res, err := Import(r.Context(), a.store, req)
		if err != nil {
			if !started {
				a.importError(w, err)
				return
			}
			_ = out.Encode(map[string]any{"error": a.importProblem(err)})
			return
		}
		_ = out.Encode(map[string]Result{"result": res})
		return
	}
	res, err := Import(r.Context(), a.store, req)
	if err != nil {
		a.importError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// importProblem turns an import's error into the problem document the caller gets.
func (a *API) importProblem(err error) problem.Problem {
	var he *HeaderError
	var ve *store.ValidationError
	switch {
	case errors.As(err, &he):
		return problem.Field(http.StatusBadRequest, "header", err.Error())
	case errors.As(err, &ve):
		return problem.Field(http.StatusBadRequest, ve.Field, err.Error())
	case httpapi.TooLarge(err) != nil:
		p := *httpapi.TooLarge(err)
		p.Detail += ": split the file"
		return p
	default:
		a.log.Error("importing contacts", "error", err)
		return problem.New(http.StatusServiceUnavailable, "the import failed and changed nothing: the database is unavailable or the body could not be read; retry")
	}
}

func (a *API) importError(w http.ResponseWriter, err error) { problem.Write(w, a.importProblem(err)) }

type previewRequest struct {
	Filter json.RawMessage `json:"filter"`
}

func (a *API) preview(w http.ResponseWriter, r *http.Request) {
	var req previewRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if len(req.Filter) == 0 {
		req.Filter = []byte("{}")
	}
	f, err := DecodeFilter(req.Filter)
	if err != nil {
		fieldProblem(w, err)
		return
	}
	var n int64
	err = a.store.ReadTx(r.Context(), func(tx pgx.Tx) (err error) {
		n, err = Count(r.Context(), tx, a.namespace, f)
		return err
	})
	if err != nil {
		a.unavailable(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": n})
}

func (a *API) list(w http.ResponseWriter, r *http.Request) {
	var items []Segment
	err := a.store.ReadTx(r.Context(), func(tx pgx.Tx) (err error) {
		items, err = ListSegments(r.Context(), tx, a.namespace)
		return err
	})
	if err != nil {
		a.unavailable(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

// segmentWithCount is a segment as GET answers it.
type segmentWithCount struct {
	Segment
	Count int64 `json:"count"`
}

func (a *API) get(w http.ResponseWriter, r *http.Request) {
	var out segmentWithCount
	err := a.store.ReadTx(r.Context(), func(tx pgx.Tx) (err error) {
		if out.Segment, err = GetSegment(r.Context(), tx, a.namespace, r.PathValue("name")); err != nil {
			return err
		}
		out.Count, err = Count(r.Context(), tx, a.namespace, out.Filter)
		return err
	})
	if a.segmentError(w, err) {
		writeJSON(w, http.StatusOK, out)
	}
}

// segmentBody is the body of POST and PUT: PUT takes the name from the path.
type segmentBody struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Filter      json.RawMessage `json:"filter"`
}

func (a *API) body(w http.ResponseWriter, r *http.Request) (Segment, bool) {
	var b segmentBody
	if !decodeBody(w, r, &b) {
		return Segment{}, false
	}
	if len(b.Filter) == 0 {
		problem.RespondField(w, http.StatusBadRequest, "filter", "filter is required ({} selects every contact)")
		return Segment{}, false
	}
	f, err := DecodeFilter(b.Filter)
	if err != nil {
		fieldProblem(w, err)
		return Segment{}, false
	}
	return Segment{Name: b.Name, Description: b.Description, Filter: f}, true
}

func (a *API) create(w http.ResponseWriter, r *http.Request) {
	s, ok := a.body(w, r)
	if !ok {
		return
	}
	actor := authz.FromContext(r.Context()).Actor()
	var out Segment
	err := a.store.InTx(r.Context(), func(tx pgx.Tx) (err error) {
		out, err = CreateSegment(r.Context(), tx, a.namespace, actor, s)
		return err
	})
	if a.segmentError(w, err) {
		w.Header().Set("Location", "/api/v1/segments/"+out.Name)
		writeJSON(w, http.StatusCreated, out)
	}
}

func (a *API) update(w http.ResponseWriter, r *http.Request) {
	s, ok := a.body(w, r)
	if !ok {
		return
	}
	if s.Name != "" && s.Name != r.PathValue("name") {
		problem.RespondField(w, http.StatusBadRequest, "name", fmt.Sprintf("the body names %q, the path %q: a segment cannot be renamed", s.Name, r.PathValue("name")))
		return
	}
	s.Name = r.PathValue("name")
	actor := authz.FromContext(r.Context()).Actor()
	var out Segment
	err := a.store.InTx(r.Context(), func(tx pgx.Tx) (err error) {
		out, err = UpdateSegment(r.Context(), tx, a.namespace, actor, s)
		return err
	})
	if a.segmentError(w, err) {
		writeJSON(w, http.StatusOK, out)
	}
}

func (a *API) remove(w http.ResponseWriter, r *http.Request) {
	actor := authz.FromContext(r.Context()).Actor()
	err := a.store.InTx(r.Context(), func(tx pgx.Tx) error {
		return DeleteSegment(r.Context(), tx, a.namespace, actor, r.PathValue("name"))
	})
	if a.segmentError(w, err) {
		w.WriteHeader(http.StatusNoContent)
	}
}

// segmentError answers err and reports whether there was none.
func (a *API) segmentError(w http.ResponseWriter, err error) bool {
	var fe *FieldError
	switch {
	case err == nil:
		return true
	case errors.Is(err, ErrNoSegment):
		problem.RespondField(w, http.StatusNotFound, "name", "no such segment")
	case errors.Is(err, ErrSegmentExists):
		problem.RespondField(w, http.StatusConflict, "name", "a segment of that name exists")
	case errors.As(err, &fe):
		fieldProblem(w, err)
	default:
		a.unavailable(w, err)
	}
	return false
}

func (a *API) unavailable(w http.ResponseWriter, err error) {
	a.log.Error("segments", "error", err)
	problem.Respond(w, http.StatusServiceUnavailable, "the database is unavailable, retry later")
}

func fieldProblem(w http.ResponseWriter, err error) {
	var fe *FieldError
	if errors.As(err, &fe) {
		problem.RespondField(w, http.StatusBadRequest, fe.Field, err.Error())
		return
	}
	problem.Respond(w, http.StatusBadRequest, err.Error())
}

// maxJSONBody bounds the segments' request bodies.
const maxJSONBody = 1 << 20

// decodeBody reads one JSON object of at most maxJSONBody bytes (httpapi.DecodeLimit)
// or writes the problem (400 naming the member, 413, 415).
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	err := httpapi.DecodeLimit(r, v, maxJSONBody)
	var p problem.Problem
	if errors.As(err, &p) {
		problem.Write(w, p)
		return false
	}
	return err == nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
