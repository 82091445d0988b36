package campaigns

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox/authz"
	"github.com/switchboard-dev/switchboard/runtime/inbox/httpapi"
	"github.com/switchboard-dev/switchboard/runtime/inbox/idempotency"
	"github.com/switchboard-dev/switchboard/runtime/inbox/problem"
	"github.com/switchboard-dev/switchboard/runtime/store"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// Templates returns the approved message templates of the WhatsApp Business Account of
// a Number (metadata.name), or ErrUnknownNumber when the inbox does not serve it.
type Templates func(ctx context.Context, number string) ([]whatsapp.MessageTemplate, error)

// ErrUnknownNumber: the inbox serves no Number of that name.
var ErrUnknownNumber = errors.New("the inbox serves no such Number")

// API serves /api/v1/campaigns (docs/campaigns.md; OpenAPI in
// runtime/inbox/openapi/campaigns.yaml):
//
//	POST /api/v1/campaigns                 campaigns.manage  create a draft (201)
//	GET  /api/v1/campaigns                 campaigns.read    list, newest first (?limit=1..500, default 100)
//	GET  /api/v1/campaigns/{id}            campaigns.read    one campaign with its progress
//	POST /api/v1/campaigns/{id}/{action}   campaigns.manage  start, pause, resume, cancel
//
// Errors are RFC 9457 problem documents naming the field at fault (400, 401, 403, 404,
// 409, 422, 503).
type API struct {
	Store     *store.Store
	Namespace string
	// Auth finds the caller; Require checks its permission per operation.
	Auth authz.Authenticator
	// Templates, when set, checks at creation that the template is approved for the
	// Number's WABA in that language and that the parameters match its body's {{n}}.
	Templates Templates
	// Segments streams segment targets (nil: refused until the contacts helper lands).
	Segments Segments
	Now      func() time.Time
	Log      *slog.Logger
}

// Register adds the routes to mux.
func (a *API) Register(mux *http.ServeMux) {
	if a.Now == nil {
		a.Now = time.Now
	}
	if a.Log == nil {
		a.Log = slog.New(slog.DiscardHandler)
	}
	handle := func(pattern string, perm authz.Permission, h http.HandlerFunc) {
		mux.Handle(pattern, authz.Authenticate(a.Auth, authz.Require(perm, h)))
	}
	handle("POST /api/v1/campaigns", authz.CampaignsManage, a.create)
	handle("GET /api/v1/campaigns", authz.CampaignsRead, a.list)
	handle("GET /api/v1/campaigns/{id}", authz.CampaignsRead, a.get)
	handle("POST /api/v1/campaigns/{id}/{action}", authz.CampaignsManage, httpapi.NoBodyFunc(a.transition))
}

// maxBody bounds a create request: 100,000 recipients with parameters fit.
const maxBody = 32 << 20

func (a *API) create(w http.ResponseWriter, r *http.Request) {
	var s Spec
	if err := httpapi.DecodeLimit(r, &s, maxBody); err != nil {
		a.fail(w, err)
		return
	}
	if err := s.Validate(); err != nil {
		a.fail(w, err)
		return
	}
	actor := authz.FromContext(r.Context()).Actor()
	once, err := idempotency.New(r, a.Namespace, actor, s)
	var prev *idempotency.Response
	if err == nil {
		err = a.Store.ReadTx(r.Context(), func(tx pgx.Tx) (err error) {
			prev, err = idempotency.Lookup(r.Context(), tx, once, a.Now())
			return err
		})
	}
	if err == nil && prev == nil {
		err = a.checkTemplate(r.Context(), s)
	}
	if err != nil || prev != nil {
		a.created(w, prev, true, err)
		return
	}
	resp, replayed, err := idempotency.Run(r.Context(), a.Store.InTx, once, a.Now(), http.StatusCreated, func(tx pgx.Tx) (any, error) {
		c, err := Create(r.Context(), tx, a.Namespace, Actor(actor), s, a.Segments)
		if err != nil {
			return nil, err
		}
		p, err := progress(r.Context(), tx, c.ID)
		c.Progress = &p
		return c, err
	})
	a.created(w, &resp, replayed, err)
}

// created answers a created campaign with its Location (replayed: an earlier request's
// answer with the same Idempotency-Key), or err.
func (a *API) created(w http.ResponseWriter, resp *idempotency.Response, replayed bool, err error) {
	if err != nil {
		a.fail(w, err)
		return
	}
	var c struct{ ID int64 }
	if json.Unmarshal(resp.Body, &c) == nil && c.ID > 0 {
		w.Header().Set("Location", fmt.Sprintf("/api/v1/campaigns/%d", c.ID))
	}
	idempotency.Write(w, *resp, replayed)
}

// checkTemplate refuses a template the Number's WABA has not approved in that
// language, or parameters that do not match its body.
func (a *API) checkTemplate(ctx context.Context, s Spec) error {
	if a.Templates == nil {
		return nil
	}
	tpls, err := a.Templates(ctx, s.Number)
	if errors.Is(err, ErrUnknownNumber) {
		return fieldErr("number", "the inbox serves no Number %q", s.Number)
	}
	if err != nil {
		a.Log.Error("campaigns: reading the message templates", "number", s.Number, "error", err)
		return &Error{Status: http.StatusServiceUnavailable, Detail: "the Number's message templates could not be read; try again"}
	}
	i := slices.IndexFunc(tpls, func(t whatsapp.MessageTemplate) bool {
		return t.Name == s.Template && t.Language == s.Language && t.Status == whatsapp.TemplateApproved
	})
	if i < 0 {
		return fieldErr("template", "%q in %q is not an approved template of the Number's WhatsApp Business Account", s.Template, s.Language)
	}
	want := tpls[i].Params("BODY")
	for j, rc := range s.Target.Recipients {
		n := len(s.Parameters)
		if rc.Parameters != nil {
			n = len(rc.Parameters)
		}
		if n != want {
			return fieldErr(fmt.Sprintf("target.recipients[%d].parameters", j), "has %d values; the template's body has %d parameters", n, want)
		}
	}
	if len(s.Target.Recipients) == 0 && len(s.Parameters) != want {
		return fieldErr("parameters", "has %d sources; the template's body has %d parameters", len(s.Parameters), want)
	}
	return nil
}

func (a *API) list(w http.ResponseWriter, r *http.Request) {
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			problem.RespondField(w, http.StatusBadRequest, "limit", fmt.Sprintf("limit must be an integer from 1 to 500, got %q", v))
			return
		}
		limit = n
	}
	var out []Campaign
	err := a.Store.ReadTx(r.Context(), func(tx pgx.Tx) error {
		var err error
		out, err = List(r.Context(), tx, a.Namespace, limit)
		return err
	})
	if err != nil {
		a.fail(w, err)
		return
	}
	if out == nil {
		out = []Campaign{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out})
}

func (a *API) get(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	var c Campaign
	err := a.Store.ReadTx(r.Context(), func(tx pgx.Tx) error {
		var err error
		c, err = Get(r.Context(), tx, a.Namespace, id)
		return err
	})
	if err != nil {
		a.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (a *API) transition(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	action := r.PathValue("action")
	if !slices.Contains(Actions, action) {
		problem.RespondField(w, http.StatusNotFound, "action", fmt.Sprintf("unknown action %q: start, pause, resume or cancel", action))
		return
	}
	actor := Actor(authz.FromContext(r.Context()).Actor())
	var c Campaign
	err := a.Store.InTx(r.Context(), func(tx pgx.Tx) error {
		var err error
		if c, err = Transition(r.Context(), tx, a.Namespace, id, action, actor, a.Now()); err != nil {
			return err
		}
		p, err := progress(r.Context(), tx, id)
		c.Progress = &p
		return err
	})
	if err != nil {
		a.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func pathID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		problem.RespondField(w, http.StatusBadRequest, "id", fmt.Sprintf("campaign id must be a positive integer, got %q", r.PathValue("id")))
		return 0, false
	}
	return id, true
}

// fail writes err: an *Error as its problem, anything else as a 500 (logged, not shown).
func (a *API) fail(w http.ResponseWriter, err error) {
	var e *Error
	var p problem.Problem
	switch {
	case errors.As(err, &e):
		problem.Write(w, problem.Field(e.Status, e.Field, e.Error()))
		return
	case errors.As(err, &p):
		problem.Write(w, p)
		return
	}
	a.Log.Error("campaigns API", "error", err)
	problem.Respond(w, http.StatusInternalServerError, "internal error; see the inbox's log")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
