package ingest

import (
	"context"
	"slices"
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
}

func (w *writer) apply(ctx context.Context, p *plan) error {
	if err := w.inbound(ctx, p.inbound); err != nil {
		return err
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

// inbound stores the customer messages in three pipelined round trips (contacts and
// conversations, messages, windows), then applies the rules to the new ones.
func (w *writer) inbound(ctx context.Context, items []inboundItem) error {
	if len(items) == 0 {
		return nil
	}
	convs, err := w.open(ctx, items)
	if err != nil {
		return err
	}
	received := make([]conversation.Received, len(items))
	for i, it := range items {
		received[i] = conversation.Received{Conversation: *convs[i], Message: it.msg, At: conversation.SentAt(it.msg.Timestamp, w.now)}
	}
	isNew, err := conversation.InsertAll(ctx, w.tx, received)
	if err != nil {
		return err
	}
	if err := w.touch(ctx, convs, received, isNew); err != nil {
		return err
	}
	for i, it := range items {
		if isNew[i] {
			w.tally.messages[[2]string{typeLabel(conversation.StoredType(it.msg)), "in"}]++
			if _, err := conversation.OptOutByKeyword(ctx, w.tx, w.ns, it.waID, it.msg.Body()); err != nil {
				return err
			}
			if err := w.actions(ctx, *convs[i], it, w.h.rules().Match(it.number.Ref, it.msg, received[i].At)); err != nil {
				return err
			}
		}
	}
	return nil
}

// open upserts each customer once and finds or opens their conversation on the Number;
// it returns each item's conversation (items of one customer share it).
func (w *writer) open(ctx context.Context, items []inboundItem) ([]*conversation.Conversation, error) {
	index := map[[2]string]int{}
	var parties []conversation.Party
	for _, it := range items {
		key := [2]string{it.number.Ref.Name, it.waID}
		if _, ok := index[key]; !ok {
			index[key] = len(parties)
			parties = append(parties, conversation.Party{Number: it.number.Ref, WAID: it.waID, ProfileName: it.profile})
		}
	}
	convs, err := conversation.OpenAll(ctx, w.tx, parties)
	if err != nil {
		return nil, err
	}
	out := make([]*conversation.Conversation, len(items))
	for i, it := range items {
		out[i] = &convs[index[[2]string{it.number.Ref.Name, it.waID}]]
	}
	return out, nil
}

// touch moves each conversation's window to its latest new message.
func (w *writer) touch(ctx context.Context, convs []*conversation.Conversation, received []conversation.Received, isNew []bool) error {
	latest := map[*conversation.Conversation]time.Time{}
	var order []*conversation.Conversation
	for i, r := range received {
		if !isNew[i] {
			continue
		}
		t, seen := latest[convs[i]]
		if !seen {
			order = append(order, convs[i])
		}
		if !seen || r.At.After(t) {
			latest[convs[i]] = r.At
		}
	}
	times := make([]time.Time, len(order))
	for i, c := range order {
		times[i] = latest[c]
	}
	return conversation.TouchAll(ctx, w.tx, order, times)
}

// actions applies the matched rules' actions to a new message's conversation; when none
// routes it, the Number's default skill becomes the required skill of a conversation
// that has none yet (docs/routing.md#eligibility).
func (w *writer) actions(ctx context.Context, c conversation.Conversation, it inboundItem, actions []Action) error {
	if it.number.DefaultSkill != "" && !slices.ContainsFunc(actions, func(a Action) bool { return a.RouteToSkill != "" }) {
		if err := conversation.DefaultSkill(ctx, w.tx, c, it.number.DefaultSkill); err != nil {
			return err
		}
	}
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
