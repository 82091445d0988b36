package sender

import (
	"context"
	"encoding/json"
	"time"

	"github.com/switchboard-dev/switchboard/runtime/outbound"
	"github.com/switchboard-dev/switchboard/runtime/store"
)

// Guard decides, for each message the sender claims, whether it may be sent: the
// Outbound KeywordRules of the Number (runtime/outbound). The sender checks every
// claimed message before anything else, so whatever wrote the row (the inbox, an
// agent, a campaign, `switchboard send`, an INSERT by hand) cannot bypass it.
type Guard interface {
	// Check returns why the stored payload must not be sent now, or nil.
	Check(payload json.RawMessage, now time.Time) *outbound.Block
	// Blocked reports a message that was blocked and failed (an Event on the
	// KeywordRule). It must not block for long.
	Blocked(ctx context.Context, b *outbound.Block)
}

// screen fails the claimed messages the Guard blocks and returns the others, in order.
func (s *sender) screen(ctx context.Context, batch []store.Message) []store.Message {
	if s.cfg.Guard == nil {
		return batch
	}
	now := s.cfg.Now()
	kept := batch[:0]
	for _, m := range batch {
		if b := s.cfg.Guard.Check(m.Payload, now); b != nil {
			s.block(ctx, m, b)
			continue
		}
		kept = append(kept, m)
	}
	return kept
}

// block fails a message an Outbound KeywordRule matched (error_code
// outbound.BlockedCode, error_message naming the rule and the keyword) with its audit
// entry, counts it and reports it. If the row cannot be written it stays claimed: the
// next sender requeues it and checks it again, so it is never sent either way.
func (s *sender) block(ctx context.Context, m store.Message, b *outbound.Block) {
	s.cfg.Metrics.OutboundBlocked.WithLabelValues(b.RuleRef()).Inc()
	s.cfg.Log.Info("blocked an outbound message", "id", m.ID, "rule", b.RuleRef(), "keyword", b.Keyword, "field", b.Field)
	ctx, cancel := recording(ctx)
	defer cancel()
	out := store.Outcome{Code: outbound.BlockedCode, Message: b.Error()}
	if err := s.cfg.Outbox.FailAudited(ctx, m.ID, out, blockedAudit(b)); err != nil {
		s.cfg.Log.Error("recording a blocked message", "id", m.ID, "error", err)
	}
	s.cfg.Guard.Blocked(ctx, b)
}

// blockedAudit is the audit entry of a blocked message: the rule, the keyword and the
// field, never the recipient or the text.
func blockedAudit(b *outbound.Block) store.Audit {
	after, _ := json.Marshal(map[string]string{"rule": b.RuleRef(), "keyword": b.Keyword, "field": b.Field})
	return store.Audit{Actor: AuditActor, Action: "outbound.blocked", After: after}
}

// AuditActor is the actor of the sender's audit entries.
const AuditActor = "switchboard-sender"
