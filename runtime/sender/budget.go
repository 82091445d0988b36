package sender

import (
	"context"
	"fmt"
	"time"

	"github.com/switchboard-dev/switchboard/runtime/store"
)

// recipientWindow is Meta's rolling window of the unique-recipients budget.
const recipientWindow = 24 * time.Hour

// budgetRetry is how long a campaign message waits when the budget is spent.
const budgetRetry = 10 * time.Minute

// budgetState caches, for one dispatch round, the count of unique campaign recipients
// and which of the round's recipients are already among them, and keeps the new
// recipients of campaigns still in flight (not yet in PostgreSQL), each once: a second
// message to the same new recipient, in the same batch or the next, takes no second
// place in the budget.
type budgetState struct {
	count    int
	at       time.Time
	known    map[string]bool
	inFlight map[string]bool
	// granted is set by withinBudget for the message it just let through as a new recipient.
	granted bool
}

// claim reports (once) whether the message just allowed took a new recipient's place.
func (b *budgetState) claim(m store.Message) bool {
	granted := b.granted && m.Lane == store.LaneCampaign
	b.granted = false
	if granted {
		if b.inFlight == nil {
			b.inFlight = map[string]bool{}
		}
		b.inFlight[m.Recipient] = true
	}
	return granted
}

// landed forgets a new recipient whose message Meta answered (sent: it is in
// PostgreSQL now; failed: it took no place).
func (b *budgetState) landed(m store.Message) { delete(b.inFlight, m.Recipient) }

// loadKnownRecipients looks up, in one query, which recipients of a campaign batch
// already count in the budget's window. Other batches need no lookup.
func (s *sender) loadKnownRecipients(ctx context.Context, batch []store.Message, now time.Time) error {
	s.budget.known = nil
	if s.limits.UniqueRecipientsPer24h < 0 || len(batch) == 0 || batch[0].Lane != store.LaneCampaign {
		return nil
	}
	recipients := make([]string, len(batch))
	for i, m := range batch {
		recipients[i] = m.Recipient
	}
	known, err := s.cfg.Outbox.RecentCampaignRecipients(ctx, recipients, now.Add(-recipientWindow))
	s.budget.known = known
	return s.fenceErr(err)
}

// withinBudget tells whether a message may go under the unique-recipients budget: a
// campaign to a recipient not reached in the last 24 h needs room in the budget, which
// is counted in PostgreSQL so that a restart does not reset it. Meta returns no error
// past the budget, so the sender must count. A message over budget goes back to the
// outbox for later.
func (s *sender) withinBudget(ctx context.Context, m store.Message, now time.Time) (bool, error) {
	limit := s.limits.UniqueRecipientsPer24h
	s.budget.granted = false
	if m.Lane != store.LaneCampaign || limit < 0 {
		return true, nil
	}
	if s.budget.known[m.Recipient] || s.budget.inFlight[m.Recipient] {
		return true, nil // counted already, or its place is taken by a message in flight
	}
	if !s.budget.at.Equal(now) {
		var err error
		if s.budget.count, err = s.cfg.Outbox.CampaignRecipients(ctx, now.Add(-recipientWindow)); err != nil {
			return false, s.fenceErr(err)
		}
		s.budget.at = now
	}
	if s.budget.count+len(s.budget.inFlight) >= int(limit) {
		s.requeue(ctx, m, now.Add(budgetRetry), 0,
			fmt.Sprintf("unique-recipients budget of %d per 24h reached", limit))
		s.cfg.Metrics.BudgetDeferred.Inc()
		return false, nil
	}
	s.budget.granted = true // counted in flight until Meta answers
	return true, nil
}

// pruneEvery is how often the sender deletes campaign_recipients rows that have left
// the budget's window, so that the table holds about one day of recipients per number.
const pruneEvery = time.Hour

// pruneBudget deletes the number's campaign_recipients rows older than the window. A
// failure is logged and tried again at the next tick: stale rows only cost space.
func (s *sender) pruneBudget(ctx context.Context) {
	n, err := s.cfg.Outbox.PruneCampaignRecipients(ctx, s.cfg.Now().Add(-recipientWindow))
	switch {
	case err != nil && ctx.Err() == nil:
		s.cfg.Log.Error("pruning campaign recipients outside the 24h window", "error", err)
	case n > 0:
		s.cfg.Log.Info("pruned campaign recipients outside the 24h window", "rows", n)
	}
}
