package integrations

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox/conversation"
	"github.com/switchboard-dev/switchboard/runtime/inbox/kube"
	"github.com/switchboard-dev/switchboard/runtime/store"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// ChatbotActor is the chatbot in the audit log and as the author of its replies.
const ChatbotActor = "integration:chatbot"

// Handoff reasons (conversations.bot_handoff_reason).
const (
	HandoffRequested    = "requested"     // the answer said "handoff": true
	HandoffTimeout      = "timeout"       // no answer within spec.integrations.chatbot.timeout
	HandoffError        = "error"         // a failed call, an error status or an answer that does not decode
	HandoffWindowClosed = "window-closed" // a text answer outside the customer-service window
	HandoffBlocked      = "blocked"       // an Outbound KeywordRule blocks the answer
)

// chatbotAttempts bounds the calls for one message: one, and one more only when a
// replica died during the first (its lease ended).
const chatbotAttempts = 2

// Answer is what the chatbot may answer (200 with a JSON body; 204 or an empty body is
// no answer): a text or a template reply, and/or a handoff to a human.
type Answer struct {
	Text     string          `json:"text,omitempty"`
	Template *TemplateAnswer `json:"template,omitempty"`
	Handoff  bool            `json:"handoff,omitempty"`
}

// TemplateAnswer is an approved template: Components as in the Cloud API's template
// message (optional).
type TemplateAnswer struct {
	Name       string          `json:"name"`
	Language   string          `json:"language"`
	Components json.RawMessage `json:"components,omitempty"`
}

// maxAnswerText is the Cloud API's limit on a text message's body (4096 characters).
const maxAnswerText = 4096

// decodeAnswer reads an answer body; it names the field that is wrong.
func decodeAnswer(body []byte) (Answer, error) {
	var a Answer
	if len(bytes.TrimSpace(body)) == 0 {
		return a, nil
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return a, fmt.Errorf("the answer is not the expected JSON object: %w", err)
	}
	switch {
	case a.Text != "" && a.Template != nil:
		return a, errors.New("the answer has both text and template")
	case len([]rune(a.Text)) > maxAnswerText:
		return a, fmt.Errorf("the answer's text is longer than %d characters", maxAnswerText)
	case a.Template != nil && (a.Template.Name == "" || a.Template.Language == ""):
		return a, errors.New("the answer's template needs a name and a language")
	}
	return a, nil
}

// payload is the answer's Cloud API message, or nil when there is no reply.
func (a Answer) outbound() (conversation.Outbound, bool) {
	switch {
	case strings.TrimSpace(a.Text) != "":
		return conversation.TextReply(a.Text, ChatbotActor), true
	case a.Template != nil:
		t := map[string]any{"name": a.Template.Name, "language": map[string]string{"code": a.Template.Language}}
		if len(a.Template.Components) > 0 {
			t["components"] = a.Template.Components
		}
		p, _ := json.Marshal(map[string]any{"type": whatsapp.TypeTemplate, "template": t})
		return conversation.Outbound{Payload: p, Type: whatsapp.TypeTemplate, Author: ChatbotActor}, true
	}
	return conversation.Outbound{}, false
}

// callChatbot makes the due chatbot calls.
func (w *Worker) callChatbot(ctx context.Context, snap *kube.Snapshot, integ *kube.Integrations, numbers []string) (int, error) {
	bot := integ.Chatbot
	lease := 30 * time.Second
	if bot != nil {
		lease = bot.Timeout + 30*time.Second
	}
	ds, err := w.claim(ctx, KindChatbot, numbers, lease)
	if err != nil {
		return 0, err
	}
	return len(ds), w.each(ds, func(d delivery) error { return w.askChatbot(ctx, snap, bot, d) })
}

// askChatbot calls the chatbot about one inbound message and applies its answer, all
// recorded in one transaction with the attempt.
func (w *Worker) askChatbot(ctx context.Context, snap *kube.Snapshot, bot *kube.Chatbot, d delivery) error {
	var o outcome
	var answer Answer
	handoff := ""
	switch {
	case bot == nil:
		o = outcome{state: "failed", err: "the chatbot is no longer configured"}
		handoff = HandoffError
	case d.attempts > chatbotAttempts:
		o = outcome{state: "failed", err: "no answer recorded after two calls"}
		handoff = HandoffError
	default:
		res := w.cfg.Client.Do(ctx, Request{Method: "POST", URL: bot.URL, Body: d.body, Secret: bot.Secret,
			DeliveryID: d.deliveryID, Event: d.eventType, Timeout: bot.Timeout})
		if ctx.Err() != nil {
			return nil // shutting down: the lease ends and another replica asks again
		}
		o = outcome{state: "delivered", status: res.Status, took: res.Duration}
		var err error
		if res.OK() {
			answer, err = decodeAnswer(res.Body)
		}
		switch {
		case res.Timeout:
			o.state, o.err, handoff = "failed", describe(res), HandoffTimeout
		case !res.OK():
			o.state, o.err, handoff = "failed", describe(res), HandoffError
		case err != nil:
			o.state, o.err, handoff = "failed", err.Error(), HandoffError
		case answer.Handoff:
			handoff = HandoffRequested
		}
	}
	err := w.cfg.Store.InTx(ctx, func(tx pgx.Tx) error {
		if err := w.applyAnswer(ctx, tx, snap, d, answer, &o, &handoff); err != nil {
			return err
		}
		if handoff != "" {
			if err := handOff(ctx, tx, w.cfg.Inbox.Namespace, d.conversationID, handoff); err != nil {
				return err
			}
		}
		return finish(ctx, tx, d, o)
	})
	if err == nil {
		w.cfg.Metrics.attempt(KindChatbot, o)
		if handoff != "" && w.cfg.HandedOff != nil {
			w.cfg.HandedOff()
		}
	}
	return err
}

// applyAnswer sends the answer's reply when the conversation is still the chatbot's
// (no agent, not handed off, not resolved); a reply that may not be sent hands the
// conversation off instead.
func (w *Worker) applyAnswer(ctx context.Context, tx pgx.Tx, snap *kube.Snapshot, d delivery, a Answer, o *outcome, handoff *string) error {
	out, ok := a.outbound()
	if !ok || o.state != "delivered" {
		return nil
	}
	c, waID, mine, err := lockConversation(ctx, tx, w.cfg.Inbox.Namespace, d.conversationID)
	if err != nil {
		return err
	}
	now := w.cfg.Now()
	switch {
	case !mine:
		o.err = "not sent: an agent has the conversation, it was handed off or resolved"
		*handoff = ""
		return nil
	case out.Type == whatsapp.TypeText && !c.WindowOpen(now):
		o.err, *handoff = "not sent: "+conversation.ErrWindowClosed.Error(), HandoffWindowClosed
		return nil
	}
	if n, ok := snap.ByName(d.number); ok {
		if b := n.Policy.OutboundRules.Check(out.Payload, now); b != nil {
			o.err, *handoff = "not sent: "+b.Error(), HandoffBlocked
			return nil
		}
	}
	id, err := conversation.Send(ctx, tx, c, waID, out)
	if err != nil {
		return err
	}
	after, _ := json.Marshal(map[string]any{"outbox_id": id, "type": out.Type, "delivery": d.deliveryID})
	return audit(ctx, tx, w.cfg.Inbox.Namespace, "conversation.reply", d.conversationID, after)
}

// lockConversation locks the conversation and says whether the chatbot may still
// answer in it.
func lockConversation(ctx context.Context, tx pgx.Tx, namespace string, id int64) (conversation.Conversation, string, bool, error) {
	c := conversation.Conversation{ID: id, Number: store.NumberRef{Namespace: namespace}}
	var waID string
	var mine bool
	err := tx.QueryRow(ctx, `
		SELECT c.number, c.contact_id, c.status, c.window_expires_at, c.last_message_at, ct.wa_id,
		       c.assignee IS NULL AND c.bot_handoff_at IS NULL AND c.status <> 'resolved'
		  FROM conversations c JOIN contacts ct ON ct.id = c.contact_id
		 WHERE c.id = $1 AND c.namespace = $2 FOR UPDATE OF c`, id, namespace).
		Scan(&c.Number.Name, &c.ContactID, &c.Status, &c.WindowExpiresAt, &c.LastMessageAt, &waID, &mine)
	if err != nil {
		return c, "", false, fmt.Errorf("integrations: lock conversation %d: %w", id, err)
	}
	return c, waID, mine, nil
}

// handOff gives the conversation to the humans: the chatbot is not asked about it again,
// and routing assigns it as any other (the audit log says why). Nothing happens when it
// was handed off already.
func handOff(ctx context.Context, tx pgx.Tx, namespace string, id int64, reason string) error {
	tag, err := tx.Exec(ctx, `UPDATE conversations SET bot_handoff_at = now(), bot_handoff_reason = $3, updated_at = now()
		WHERE id = $1 AND namespace = $2 AND bot_handoff_at IS NULL`, id, namespace, reason)
	if err != nil {
		return fmt.Errorf("integrations: hand off conversation %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return nil
	}
	after, _ := json.Marshal(map[string]string{"reason": reason})
	return audit(ctx, tx, namespace, "conversation.handoff", id, after)
}

func audit(ctx context.Context, tx pgx.Tx, namespace, action string, conversationID int64, after []byte) error {
	return conversation.Audit(ctx, tx, namespace, ChatbotActor, action, "conversation", strconv.FormatInt(conversationID, 10),
		nil, json.RawMessage(after))
}
