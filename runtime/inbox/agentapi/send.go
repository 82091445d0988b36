package agentapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox/assign"
	"github.com/switchboard-dev/switchboard/runtime/inbox/authz"
	"github.com/switchboard-dev/switchboard/runtime/inbox/conversation"
	"github.com/switchboard-dev/switchboard/runtime/inbox/httpapi"
	"github.com/switchboard-dev/switchboard/runtime/inbox/idempotency"
	"github.com/switchboard-dev/switchboard/runtime/inbox/kube"
	"github.com/switchboard-dev/switchboard/runtime/inbox/problem"
	"github.com/switchboard-dev/switchboard/runtime/store"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// MaxTextLength is the longest text reply: Meta's limit of a text message's body.
const MaxTextLength = 4096

type sendBody struct {
	Text     *string       `json:"text"`
	Template *templateBody `json:"template"`
}

type templateBody struct {
	Name       string   `json:"name"`
	Language   string   `json:"language"`
	Parameters []string `json:"parameters"`
}

// TemplateRef is an approved template as a 422 lists it.
type TemplateRef struct {
	Name       string `json:"name"`
	Language   string `json:"language"`
	Category   string `json:"category,omitempty"`
	Parameters int    `json:"parameters"`
}

func (b sendBody) validate() error {
	switch {
	case (b.Text == nil) == (b.Template == nil):
		return problem.Field(http.StatusBadRequest, "text", "give exactly one of text and template")
	case b.Text != nil && (strings.TrimSpace(*b.Text) == "" || len([]rune(*b.Text)) > MaxTextLength):
		return problem.Field(http.StatusBadRequest, "text", fmt.Sprintf("text must have 1 to %d characters, not only spaces", MaxTextLength))
	case b.Template != nil && b.Template.Name == "":
		return problem.Field(http.StatusBadRequest, "template.name", "template.name is required")
	case b.Template != nil && b.Template.Language == "":
		return problem.Field(http.StatusBadRequest, "template.language", "template.language is required (for example en_US)")
	}
	return nil
}

// send replies with text or sends a template: the checks that need no transaction
// (the template against the Number's approved ones, the Outbound KeywordRules), then in
// one transaction the window (text only), the outbox row, the message and the audit entry
// (and the Idempotency-Key with the answer, runtime/inbox/idempotency: a retry with the
// same key replays the answer and sends nothing).
func (a *API) send(w http.ResponseWriter, r *http.Request) {
	id, err := httpapi.PathID(r, "id")
	if err != nil {
		a.fail(w, err)
		return
	}
	var body sendBody
	if err = httpapi.Decode(r, &body); err == nil {
		err = body.validate()
	}
	if err != nil {
		a.fail(w, err)
		return
	}
	vw := a.viewer(r)
	once, err := a.once(r, body)
	if err != nil {
		a.fail(w, err)
		return
	}
	var conv conversation.View
	var prev *idempotency.Response
	if err := a.cfg.Store.ReadTx(r.Context(), func(tx pgx.Tx) (err error) {
		if conv, err = conversation.Get(r.Context(), tx, vw, id, false); err != nil {
			return err
		}
		prev, err = idempotency.Lookup(r.Context(), tx, once, a.cfg.Now())
		return err
	}); err != nil || prev != nil {
		a.replayOr(w, prev, err)
		return
	}
	num, err := a.number(conv.Number)
	if err != nil {
		a.fail(w, err)
		return
	}
	out, field, err := a.outboundOf(r, num, body, vw.Actor)
	if err != nil {
		a.fail(w, err)
		return
	}
	if b := num.Policy.OutboundRules.Check(out.Payload, a.cfg.Now()); b != nil {
		p := problem.Field(http.StatusUnprocessableEntity, field, b.Error())
		p.Rule, p.Word = b.Rule, b.Keyword
		a.fail(w, p)
		return
	}
	resp, replayed, err := idempotency.Run(r.Context(), a.cfg.Store.InTx, once, a.cfg.Now(), http.StatusCreated, func(tx pgx.Tx) (any, error) {
		return a.enqueue(r, tx, vw, id, out, body.Text != nil, nil)
	})
	if errors.Is(err, conversation.ErrWindowClosed) {
		a.windowClosed(w, r, num)
		return
	}
	a.answerOnce(w, resp, replayed, err)
}

// number is the served Number a conversation belongs to.
func (a *API) number(name string) (kube.Number, error) {
	var snap *kube.Snapshot
	if a.cfg.Snapshot != nil {
		snap = a.cfg.Snapshot()
	}
	if snap == nil {
		return kube.Number{}, problem.New(http.StatusServiceUnavailable, "the inbox has not loaded its Numbers yet, retry later")
	}
	n, ok := snap.ByName(name)
	if !ok {
		return kube.Number{}, problem.New(http.StatusUnprocessableEntity,
			fmt.Sprintf("the conversation's Number %q is not served by this Inbox now: nothing can be sent from it", name))
	}
	return n, nil
}

// outboundOf builds the message and names the request field its texts come from.
func (a *API) outboundOf(r *http.Request, n kube.Number, b sendBody, actor string) (conversation.Outbound, string, error) {
	if b.Text != nil {
		return conversation.TextReply(*b.Text, actor), "text", nil
	}
	list, err := a.cfg.Templates.Approved(r.Context(), n)
	if err != nil {
		a.cfg.Log.Warn("listing message templates", "number", n.Ref.String(), "error", err)
		return conversation.Outbound{}, "", problem.New(http.StatusServiceUnavailable,
			"the Number's message templates could not be read from the Graph API, retry later")
	}
	t, err := matchTemplate(list, *b.Template)
	if err != nil {
		return conversation.Outbound{}, "", err
	}
	params := make([]map[string]string, len(b.Template.Parameters))
	for i, p := range b.Template.Parameters {
		params[i] = map[string]string{"type": "text", "text": p}
	}
	tpl := map[string]any{"name": t.Name, "language": map[string]string{"code": t.Language}}
	if len(params) > 0 {
		tpl["components"] = []map[string]any{{"type": "body", "parameters": params}}
	}
	payload, _ := json.Marshal(map[string]any{"type": whatsapp.TypeTemplate, "template": tpl})
	return conversation.Outbound{Payload: payload, Type: whatsapp.TypeTemplate, Author: actor}, "template.parameters", nil
}

// matchTemplate finds the approved template the request names and checks its body
// parameters, answering as Meta would refuse the send (132001, 132000) but before it.
func matchTemplate(list []whatsapp.MessageTemplate, b templateBody) (whatsapp.MessageTemplate, error) {
	var langs []string
	for _, t := range list {
		if t.Name != b.Name {
			continue
		}
		if t.Language != b.Language {
			langs = append(langs, t.Language)
			continue
		}
		if want := t.Params("BODY"); want != len(b.Parameters) {
			return t, templateProblem("template.parameters", fmt.Sprintf(
				"template %s (%s) takes %d body parameters, got %d (Meta would refuse it with 132000)", t.Name, t.Language, want, len(b.Parameters)), list)
		}
		return t, nil
	}
	if len(langs) > 0 {
		return whatsapp.MessageTemplate{}, templateProblem("template.language", fmt.Sprintf(
			"template %s is approved in %s, not %s (Meta would refuse it with 132001)", b.Name, strings.Join(langs, ", "), b.Language), list)
	}
	return whatsapp.MessageTemplate{}, templateProblem("template.name", fmt.Sprintf(
		"no approved template %q for this Number's WhatsApp Business Account (Meta would refuse it with 132001)", b.Name), list)
}

func templateProblem(field, detail string, list []whatsapp.MessageTemplate) problem.Problem {
	p := problem.Field(http.StatusUnprocessableEntity, field, detail)
	p.Extra = map[string]any{"templates": refs(list)}
	return p
}

func refs(list []whatsapp.MessageTemplate) []TemplateRef {
	out := make([]TemplateRef, 0, len(list))
	for _, t := range list {
		out = append(out, TemplateRef{Name: t.Name, Language: t.Language, Category: t.Category, Parameters: t.Params("BODY")})
	}
	slices.SortFunc(out, func(x, y TemplateRef) int { return strings.Compare(x.Name+"\x00"+x.Language, y.Name+"\x00"+y.Language) })
	return out
}

// enqueue sends out in the conversation within tx (a send by the assignee accepts the
// assignment and resets her misses, assign.Answered): a free-form message (text, media)
// only inside the customer-service window (conversation.ErrWindowClosed otherwise).
// attach, when set, records what else the message needs in tx (its media row) and
// returns what the audit entry adds.
func (a *API) enqueue(r *http.Request, tx pgx.Tx, vw conversation.Viewer, id int64, out conversation.Outbound, freeForm bool,
	attach func(*conversation.Message) (map[string]any, error)) (conversation.Message, error) {
	ctx := r.Context()
	// First in the transaction (it takes the routing lock): the assignee's send accepts.
	if err := assign.Answered(ctx, tx, vw.Namespace, id, authz.FromContext(ctx), a.cfg.Now()); err != nil {
		return conversation.Message{}, err
	}
	v, err := conversation.Get(ctx, tx, vw, id, true)
	if err != nil {
		return conversation.Message{}, err
	}
	ref := store.NumberRef{Namespace: vw.Namespace, Name: v.Number}
	if freeForm {
		if err := conversation.CheckFreeForm(ctx, tx, ref, v.WAID, a.cfg.Now()); err != nil {
			return conversation.Message{}, err
		}
	}
	c := conversation.Conversation{ID: v.ID, Number: ref, ContactID: v.ContactID, Status: v.Status}
	outboxID, err := conversation.Send(ctx, tx, c, v.WAID, out)
	if err != nil {
		return conversation.Message{}, err
	}
	if err := conversation.MarkResponded(ctx, tx, vw.Namespace, id); err != nil {
		return conversation.Message{}, err
	}
	msg, err := conversation.MessageByOutbox(ctx, tx, vw.Namespace, outboxID)
	if err != nil {
		return conversation.Message{}, err
	}
	after := map[string]any{"message": msg.ID, "outbox": outboxID, "type": out.Type}
	if attach != nil {
		more, err := attach(&msg)
		if err != nil {
			return conversation.Message{}, err
		}
		maps.Copy(after, more)
	}
	return msg, conversation.Audit(ctx, tx, vw.Namespace, vw.Actor, "conversation."+out.Type, "conversation",
		strconv.FormatInt(id, 10), nil, after)
}

// windowClosed answers 422: a template is required, with the approved templates the
// Number may use (or without them when the Graph API does not answer).
func (a *API) windowClosed(w http.ResponseWriter, r *http.Request, n kube.Number) {
	p := problem.Field(http.StatusUnprocessableEntity, "text",
		"the customer-service window is closed (more than 24 hours since the customer last wrote): a template is required; "+
			"templates lists the approved templates this Number may use")
	list, err := a.cfg.Templates.Approved(r.Context(), n)
	if err != nil {
		a.cfg.Log.Warn("listing message templates", "number", n.Ref.String(), "error", err)
		p.Detail = "the customer-service window is closed (more than 24 hours since the customer last wrote): a template is required; " +
			"the Number's approved templates could not be read from the Graph API now"
		list = nil
	}
	p.Extra = map[string]any{"templates": refs(list)}
	problem.Write(w, p)
}
