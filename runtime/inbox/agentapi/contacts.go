package agentapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox/conversation"
	"github.com/switchboard-dev/switchboard/runtime/inbox/httpapi"
	"github.com/switchboard-dev/switchboard/runtime/inbox/problem"
)

// idCursor is the position of lists ordered by id, descending.
type idCursor struct {
	ID int64 `json:"i"`
}

func (c *idCursor) Valid() bool { return c.ID > 0 }

// idPage reads ?limit= and ?cursor= of a list ordered by id.
func idPage(r *http.Request) (limit int, before int64, err error) {
	if limit, err = httpapi.Limit(r); err != nil {
		return 0, 0, err
	}
	var c idCursor
	_, err = httpapi.DecodeCursor(r, &c)
	return limit, c.ID, err
}

func (a *API) listContacts(w http.ResponseWriter, r *http.Request) {
	limit, before, err := idPage(r)
	if err != nil {
		a.fail(w, err)
		return
	}
	q := r.URL.Query()
	f := conversation.ContactFilter{Phone: q.Get("phone"), Name: q.Get("name"), Tag: q.Get("tag")}
	a.read(w, r, func(tx pgx.Tx) (any, error) {
		rows, err := conversation.Contacts(r.Context(), tx, a.cfg.Namespace, f, before, limit+1)
		return httpapi.NewPage(rows, limit, func(c conversation.ContactView) any { return idCursor{c.ID} }), err
	})
}

func (a *API) getContact(w http.ResponseWriter, r *http.Request) {
	id, err := httpapi.PathID(r, "id")
	if err != nil {
		a.fail(w, err)
		return
	}
	a.read(w, r, func(tx pgx.Tx) (any, error) {
		return conversation.Contact(r.Context(), tx, a.cfg.Namespace, id, false)
	})
}

func (a *API) changeContactTags(w http.ResponseWriter, r *http.Request) {
	change(a, w, r, http.StatusOK, func(tx pgx.Tx, vw conversation.Viewer, id int64, b conversation.TagChange) (any, error) {
		return conversation.ChangeContactTags(r.Context(), tx, vw, id, b)
	})
}

func (a *API) patchContactAttributes(w http.ResponseWriter, r *http.Request) {
	id, err := httpapi.PathID(r, "id")
	if err != nil {
		a.fail(w, err)
		return
	}
	patch, err := httpapi.ReadBody(r, httpapi.MaxBody)
	if err == nil {
		err = httpapi.CheckJSON(patch)
	}
	if err != nil {
		a.fail(w, err)
		return
	}
	if !json.Valid(patch) {
		a.fail(w, problem.Field(http.StatusBadRequest, "attributes", "the body must be a JSON object of at most 1 MiB (a merge patch)"))
		return
	}
	vw := a.viewer(r)
	a.write(w, r, http.StatusOK, func(tx pgx.Tx) (any, error) {
		return conversation.PatchContactAttributes(r.Context(), tx, vw, id, patch)
	})
}

func (a *API) queryAudit(w http.ResponseWriter, r *http.Request) {
	limit, before, err := idPage(r)
	if err != nil {
		a.fail(w, err)
		return
	}
	q := r.URL.Query()
	f := conversation.AuditFilter{Actor: q.Get("actor"), ObjectKind: q.Get("objectKind"), ObjectID: q.Get("objectId")}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if s := q.Get(p.name); s != "" {
			if *p.dst, err = time.Parse(time.RFC3339Nano, s); err != nil {
				a.fail(w, problem.Field(http.StatusBadRequest, p.name, fmt.Sprintf("%s must be an RFC 3339 time (2026-11-30T09:00:00Z), got %q", p.name, s)))
				return
			}
		}
	}
	a.read(w, r, func(tx pgx.Tx) (any, error) {
		rows, err := conversation.AuditLog(r.Context(), tx, a.cfg.Namespace, f, before, limit+1)
		return httpapi.NewPage(rows, limit, func(e conversation.AuditEntry) any { return idCursor{e.ID} }), err
	})
}
