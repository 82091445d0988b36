package agentapi

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox/conversation"
	"github.com/switchboard-dev/switchboard/runtime/inbox/httpapi"
	"github.com/switchboard-dev/switchboard/runtime/inbox/problem"
)

// filterOf reads the list's filters from the query string.
func filterOf(r *http.Request) (conversation.Filter, error) {
	q := r.URL.Query()
	f := conversation.Filter{Status: q.Get("status"), Assignee: q.Get("assignee"), Team: q.Get("team"),
		Tag: q.Get("tag"), Number: q.Get("number"), Query: q.Get("q")}
	switch f.Status {
	case "", "open", "pending", "resolved":
	default:
		return f, problem.Field(http.StatusBadRequest, "status", fmt.Sprintf("status must be open, pending or resolved, got %q", f.Status))
	}
	var err error
	if f.Unassigned, err = boolParam(r, "unassigned"); err != nil {
		return f, err
	}
	f.Waiting, err = boolParam(r, "waiting")
	return f, err
}

// boolParam reads ?name=true|false (nil when absent), or a 400 naming it.
func boolParam(r *http.Request, name string) (*bool, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return nil, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return nil, problem.Field(http.StatusBadRequest, name, fmt.Sprintf("%s must be true or false, got %q", name, s))
	}
	return &b, nil
}

func (a *API) listConversations(w http.ResponseWriter, r *http.Request) {
	limit, err := httpapi.Limit(r)
	if err != nil {
		a.fail(w, err)
		return
	}
	f, err := filterOf(r)
	if err != nil {
		a.fail(w, err)
		return
	}
	var after conversation.Position
	found, err := httpapi.DecodeCursor(r, &after)
	if err != nil {
		a.fail(w, err)
		return
	}
	pos := &after
	if !found {
		pos = nil
	}
	vw := a.viewer(r)
	a.read(w, r, func(tx pgx.Tx) (any, error) {
		rows, err := conversation.List(r.Context(), tx, vw, f, pos, limit+1)
		return httpapi.NewPage(rows, limit, func(v conversation.View) any {
			return conversation.Position{Activity: v.Activity, ID: v.ID}
		}), err
	})
}

// Detail is a conversation with its contact, latest messages and notes; when the
// customer-service window is closed, the approved templates its Number may send
// (omitted when the Graph API does not answer).
type Detail struct {
	conversation.View
	WindowOpen bool                     `json:"windowOpen"`
	Contact    conversation.ContactView `json:"contact"`
	Messages   []conversation.Message   `json:"messages"`
	Notes      []conversation.Note      `json:"notes"`
	Templates  []TemplateRef            `json:"templates,omitempty"`
}

func (a *API) getConversation(w http.ResponseWriter, r *http.Request) {
	id, err := httpapi.PathID(r, "id")
	if err != nil {
		a.fail(w, err)
		return
	}
	vw := a.viewer(r)
	now := a.cfg.Now()
	var d Detail
	err = a.cfg.Store.ReadTx(r.Context(), func(tx pgx.Tx) (err error) {
		if d.View, err = conversation.Get(r.Context(), tx, vw, id, false); err != nil {
			return err
		}
		d.WindowOpen = d.WindowExpiresAt != nil && now.Before(*d.WindowExpiresAt)
		if d.Contact, err = conversation.Contact(r.Context(), tx, vw.Namespace, d.ContactID, false); err != nil {
			return err
		}
		if d.Messages, err = conversation.Latest(r.Context(), tx, vw.Namespace, id, httpapi.DefaultLimit); err != nil {
			return err
		}
		d.Notes, err = conversation.Notes(r.Context(), tx, vw.Namespace, id)
		return err
	})
	if err == nil && !d.WindowOpen {
		d.Templates = a.templatesOf(r, d.Number)
	}
	a.answer(w, http.StatusOK, nonNil(d), err)
}

// templatesOf lists the approved templates of a served Number, or nil when the Number is
// not served or the Graph API does not answer (logged).
func (a *API) templatesOf(r *http.Request, number string) []TemplateRef {
	n, err := a.number(number)
	if err != nil {
		return nil
	}
	list, err := a.cfg.Templates.Approved(r.Context(), n)
	if err != nil {
		a.cfg.Log.Warn("listing message templates", "number", n.Ref.String(), "error", err)
		return nil
	}
	return refs(list)
}

func nonNil(d Detail) Detail {
	if d.Messages == nil {
		d.Messages = []conversation.Message{}
	}
	if d.Notes == nil {
		d.Notes = []conversation.Note{}
	}
	return d
}

func (a *API) listMessages(w http.ResponseWriter, r *http.Request) {
	limit, err := httpapi.Limit(r)
	if err != nil {
		a.fail(w, err)
		return
	}
	id, err := httpapi.PathID(r, "id")
	if err != nil {
		a.fail(w, err)
		return
	}
	vw := a.viewer(r)
	a.read(w, r, func(tx pgx.Tx) (any, error) {
		items, err := conversation.Messages(r.Context(), tx, vw, id, limit)
		if items == nil {
			items = []conversation.Message{}
		}
		return map[string]any{"items": items}, err
	})
}

// change decodes the request's body into a T and runs fn on the conversation {id} in a
// transaction, answering status with its result.
func change[T any](a *API, w http.ResponseWriter, r *http.Request, status int,
	fn func(tx pgx.Tx, vw conversation.Viewer, id int64, body T) (any, error)) {
	id, body, ok := decodeChange[T](a, w, r)
	if !ok {
		return
	}
	vw := a.viewer(r)
	a.write(w, r, status, func(tx pgx.Tx) (any, error) { return fn(tx, vw, id, body) })
}

// decodeChange reads a change's path id and JSON body; false when it answered an error.
func decodeChange[T any](a *API, w http.ResponseWriter, r *http.Request) (int64, T, bool) {
	var body T
	id, err := httpapi.PathID(r, "id")
	if err == nil {
		err = httpapi.Decode(r, &body)
	}
	if err != nil {
		a.fail(w, err)
		return 0, body, false
	}
	return id, body, true
}

type noteBody struct {
	Text string `json:"text"`
}

// addNote adds an internal note; with an Idempotency-Key a retry replays the first answer
// and adds nothing (runtime/inbox/idempotency).
func (a *API) addNote(w http.ResponseWriter, r *http.Request) {
	id, b, ok := decodeChange[noteBody](a, w, r)
	if !ok {
		return
	}
	vw := a.viewer(r)
	a.writeOnce(w, r, http.StatusCreated, b, func(tx pgx.Tx) (any, error) {
		return conversation.AddNote(r.Context(), tx, vw, id, b.Text)
	})
}

type priorityBody struct {
	Priority *int `json:"priority"`
}

func (a *API) setPriority(w http.ResponseWriter, r *http.Request) {
	change(a, w, r, http.StatusOK, func(tx pgx.Tx, vw conversation.Viewer, id int64, b priorityBody) (any, error) {
		if b.Priority == nil {
			return nil, problem.Field(http.StatusBadRequest, "priority", "priority is required")
		}
		return conversation.SetPriority(r.Context(), tx, vw, id, *b.Priority)
	})
}

type tagsBody struct {
	Tags []string `json:"tags"`
}

func (a *API) setConversationTags(w http.ResponseWriter, r *http.Request) {
	change(a, w, r, http.StatusOK, func(tx pgx.Tx, vw conversation.Viewer, id int64, b tagsBody) (any, error) {
		if b.Tags == nil {
			return nil, problem.Field(http.StatusBadRequest, "tags", "tags is required (an empty list removes every tag)")
		}
		return conversation.ChangeTags(r.Context(), tx, vw, id, conversation.TagChange{Add: b.Tags, Replace: true, Field: "tags"})
	})
}

func (a *API) changeConversationTags(w http.ResponseWriter, r *http.Request) {
	change(a, w, r, http.StatusOK, func(tx pgx.Tx, vw conversation.Viewer, id int64, b conversation.TagChange) (any, error) {
		return conversation.ChangeTags(r.Context(), tx, vw, id, b)
	})
}
