package ingest

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox/conversation"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// typeLabel bounds the type label of switchboard_inbox_messages_total.
func typeLabel(t string) string {
	if conversation.KnownType(t) {
		return t
	}
	return "other"
}

// writer applies one plan in one transaction.
type writer struct {
	h     *Handler
	tx    pgx.Tx
	ns    string
	now   time.Time
	tally *tally
	// conversations caches the contact's conversation per (number, wa_id) for the request.
	conversations map[[2]string]conversation.Conversation
}

func (w *writer) apply(ctx context.Context, p *plan) error {
	for _, it := range p.inbound {
		if err := w.inbound(ctx, it); err != nil {
			return err
		}
	}
	for _, it := range p.statuses {
		isNew, err := conversation.RecordStatus(ctx, w.tx, w.ns, it.status, w.now)
		if err != nil {
			return err
		}
		if isNew {
			w.tally.statuses[it.status.Status]++
		}
	}
	for _, it := range p.events {
		it.ev.Namespace = w.ns
		if _, err := conversation.RecordEvent(ctx, w.tx, it.ev); err != nil {
			return err
		}
	}
	return nil
}

// conversationOf upserts the contact (taking its row lock) and finds or opens its
// conversation on the Number.
func (w *writer) conversationOf(ctx context.Context, it inboundItem) (conversation.Conversation, error) {
	key := [2]string{it.number.Ref.Name, it.waID}
	if c, ok := w.conversations[key]; ok {
		return c, nil
	}
	contactID, err := conversation.UpsertContact(ctx, w.tx, w.ns, it.waID, it.profile)
	if err != nil {
		return conversation.Conversation{}, err
	}
	c, err := conversation.Open(ctx, w.tx, it.number.Ref, contactID)
	if err == nil {
		w.conversations[key] = c
	}
	return c, err
}

func (w *writer) inbound(ctx context.Context, it inboundItem) error {
	c, err := w.conversationOf(ctx, it)
	if err != nil {
		return err
	}
	at := conversation.SentAt(it.msg.Timestamp, w.now)
	isNew, err := conversation.InsertInbound(ctx, w.tx, c, it.msg, at)
	if err != nil || !isNew {
		return err
	}
	w.tally.messages[[2]string{typeLabel(conversation.StoredType(it.msg)), "in"}]++
	if err := conversation.Touch(ctx, w.tx, &c, at); err != nil {
		return err
	}
	w.conversations[[2]string{it.number.Ref.Name, it.waID}] = c
	return w.actions(ctx, c, it, w.h.rules().Match(it.number.Ref, it.msg, at))
}

// actions applies the matched rules' actions to a new message's conversation.
func (w *writer) actions(ctx context.Context, c conversation.Conversation, it inboundItem, actions []Action) error {
	for _, a := range actions {
		w.tally.matches[a.Rule]++
		if err := conversation.Tag(ctx, w.tx, c, a.Tags); err != nil {
			return err
		}
		if a.RouteToSkill != "" {
			if err := conversation.RequireSkill(ctx, w.tx, c, a.RouteToSkill); err != nil {
				return err
			}
		}
		if a.Reply != "" {
			if err := w.reply(ctx, c, it, a); err != nil {
				return err
			}
		}
	}
	return nil
}

// reply sends an automatic reply unless the customer-service window is closed (a
// message Meta delivers late, after retries, may be more than 24 hours old) or the
// auto-reply policy refuses it.
func (w *writer) reply(ctx context.Context, c conversation.Conversation, it inboundItem, a Action) error {
	if !c.WindowOpen(w.now) {
		w.tally.autoReplies["window-closed"]++
		return nil
	}
	refused, err := conversation.MayAutoReply(ctx, w.tx, c, a.replyKey(), a.OncePerConversation, w.h.cfg.AutoReply, w.now)
	if err != nil {
		return err
	}
	if refused != conversation.RefusedNothing {
		w.tally.autoReplies[refused]++
		return nil
	}
	id, err := conversation.Send(ctx, w.tx, c, it.waID, conversation.TextReply(a.Reply, "keyword:"+a.Rule))
	if err != nil {
		return err
	}
	w.tally.autoReplies["sent"]++
	w.tally.messages[[2]string{whatsapp.TypeText, "out"}]++
	return conversation.RecordAutoReply(ctx, w.tx, c, a.replyKey(), id, w.now)
}
