package campaigns

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/outbound"
	"github.com/switchboard-dev/switchboard/runtime/store"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// Runner feeds the running campaigns of one namespace into the outbox. Several inbox
// replicas may each run one: a campaign is worked on by one runner at a time (its row
// is locked FOR UPDATE SKIP LOCKED for the length of a batch), and the outbox's unique
// (campaign_id, recipient) index makes a second row for a recipient impossible.
type Runner struct {
	Store     *store.Store
	Namespace string
	// Rules returns the Outbound KeywordRules of a Number (metadata.name); nil or a nil
	// result blocks nothing. The sender applies them again to every message it claims.
	Rules func(number string) *outbound.Rules
	// Poll is how often the runner looks for work; default 1 s.
	Poll time.Duration
	// MaxPerBatch bounds the recipients one batch looks at (skipped ones included), so
	// a batch's transaction stays short; default 500.
	MaxPerBatch int
	Now         func() time.Time
	Log         *slog.Logger
}

func (r *Runner) defaults() {
	if r.Poll <= 0 {
		r.Poll = time.Second
	}
	if r.MaxPerBatch <= 0 {
		r.MaxPerBatch = 500
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	if r.Log == nil {
		r.Log = slog.New(slog.DiscardHandler)
	}
	if r.Rules == nil {
		r.Rules = func(string) *outbound.Rules { return nil }
	}
}

// Run works until ctx ends, every Poll. Errors are logged and tried again at the next
// tick.
func (r *Runner) Run(ctx context.Context) {
	r.defaults()
	t := time.NewTicker(r.Poll)
	defer t.Stop()
	for {
		if err := r.Tick(ctx); err != nil && ctx.Err() == nil {
			r.Log.Error("campaigns: runner tick", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Tick does one round: it starts the scheduled campaigns that are due, withdraws rows
// the sender put back for cancelled campaigns, and gives each running campaign one
// batch.
func (r *Runner) Tick(ctx context.Context) error {
	r.defaults()
	if err := r.Store.InTx(ctx, func(tx pgx.Tx) error { return r.startDue(ctx, tx) }); err != nil {
		return err
	}
	if err := r.Store.InTx(ctx, func(tx pgx.Tx) error { return r.sweepCancelled(ctx, tx) }); err != nil {
		return err
	}
	var ids []int64
	err := r.Store.ReadTx(ctx, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT id FROM campaigns WHERE namespace = $1 AND state = 'running' ORDER BY id`, r.Namespace)
		var err error
		ids, err = pgx.CollectRows(rows, pgx.RowTo[int64])
		return err
	})
	if err != nil {
		return fmt.Errorf("campaigns: running: %w", err)
	}
	var errs []error
	for _, id := range ids {
		if err := r.Store.InTx(ctx, func(tx pgx.Tx) error { return r.batch(ctx, tx, id) }); err != nil {
			errs = append(errs, fmt.Errorf("campaign %d: %w", id, err))
		}
	}
	if err := r.Store.InTx(ctx, func(tx pgx.Tx) error { return r.reconcile(ctx, tx) }); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// reconcile applies again the statuses of the campaigns' sent messages whose outbox row
// missed them. A status webhook that is recorded while the sender records the wamid (in
// two concurrent transactions) is applied by neither: the status's transaction does not
// see the wamid yet, and the sender's trigger does not see the uncommitted status. The
// statuses themselves are kept (message_statuses), so applying them later is exact. Only
// the campaigns running, paused or finished in the last hour are looked at.
func (r *Runner) reconcile(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `
		SELECT apply_message_statuses(o.namespace, o.wamid)
		FROM campaigns c JOIN outbox o ON o.campaign_id = c.id
		WHERE c.namespace = $1
		  AND (c.state IN ('running', 'paused') OR c.finished_at > $2)
		  AND o.state = 'sent' AND o.read_at IS NULL AND o.failed_at IS NULL
		  AND EXISTS (SELECT 1 FROM message_statuses s
		              WHERE s.namespace = o.namespace AND s.wamid = o.wamid
		                AND (s.status IN ('read', 'failed') OR (s.status = 'delivered' AND o.delivered_at IS NULL)))`,
		r.Namespace, r.Now().Add(-time.Hour))
	if err != nil {
		return fmt.Errorf("campaigns: reconcile statuses: %w", err)
	}
	return nil
}

func (r *Runner) startDue(ctx context.Context, tx pgx.Tx) error {
	rows, _ := tx.Query(ctx, `
		UPDATE campaigns SET state = 'running', started_at = now(), updated_at = now()
		WHERE id IN (SELECT id FROM campaigns WHERE namespace = $1 AND state = 'scheduled' AND start_at <= $2
		             FOR UPDATE SKIP LOCKED)
		RETURNING `+campaignColumns, r.Namespace, r.Now())
	started, err := pgx.CollectRows(rows, scanCampaign)
	if err != nil {
		return fmt.Errorf("campaigns: start scheduled: %w", err)
	}
	for _, c := range started {
		if err := audit(ctx, tx, r.Namespace, SystemActor, "campaign.running", c); err != nil {
			return err
		}
	}
	return nil
}

// sweepCancelled withdraws rows of campaigns cancelled in the last day that the sender
// put back in the queue after the cancel (it had claimed them when the campaign ended).
func (r *Runner) sweepCancelled(ctx context.Context, tx pgx.Tx) error {
	rows, _ := tx.Query(ctx, `SELECT id FROM campaigns WHERE namespace = $1 AND state = 'cancelled'
		AND finished_at > $2 FOR UPDATE SKIP LOCKED`, r.Namespace, r.Now().Add(-24*time.Hour))
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("campaigns: cancelled: %w", err)
	}
	for _, id := range ids {
		if err := withdraw(ctx, tx, id); err != nil {
			return fmt.Errorf("campaigns: withdraw %d: %w", id, err)
		}
	}
	return nil
}

// member is a pending recipient with what deciding about it needs.
type member struct {
	id       int64
	waID     string
	params   []byte // the list's own parameters, or nil
	optedOut bool
	attrs    []byte // the contact's attributes, or nil
}

// batch gives one running campaign its next recipients: as many as its window has room
// for (Window minus its rows queued or sending), skipping opted-out contacts, missing
// parameters and keyword blocks, and completes it when nothing is left.
func (r *Runner) batch(ctx context.Context, tx pgx.Tx, id int64) error {
	rows, _ := tx.Query(ctx, `SELECT `+campaignColumns+` FROM campaigns
		WHERE id = $1 AND namespace = $2 AND state = 'running' FOR UPDATE SKIP LOCKED`, id, r.Namespace)
	cs, err := pgx.CollectRows(rows, scanCampaign)
	if err != nil || len(cs) == 0 {
		return err // paused meanwhile, or another runner has it
	}
	c := cs[0]
	var inFlight int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE campaign_id = $1 AND state IN ('queued', 'sending')`, id).Scan(&inFlight); err != nil {
		return fmt.Errorf("in flight: %w", err)
	}
	room := c.Window - inFlight
	rules := r.Rules(c.Number)
	now := r.Now()
	examined, more := 0, true
	for room > 0 && examined < r.MaxPerBatch && more {
		members, err := pendingMembers(ctx, tx, c, min(room+50, r.MaxPerBatch-examined))
		if err != nil {
			return err
		}
		more = len(members) > 0
		for _, m := range members {
			examined++
			queued, err := r.decide(ctx, tx, c, m, rules, now)
			if err != nil {
				return err
			}
			if queued {
				inFlight++
				if room--; room == 0 {
					break
				}
			}
		}
	}
	if inFlight > 0 {
		return nil
	}
	var pending bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM campaign_members WHERE campaign_id = $1 AND state = 'pending')`, id).Scan(&pending); err != nil || pending {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE campaigns SET state = 'completed', finished_at = now(), updated_at = now() WHERE id = $1`, id); err != nil {
		return fmt.Errorf("complete: %w", err)
	}
	c.State = Completed
	r.Log.Info("campaign completed", "campaign", c.Name, "number", c.Number)
	return audit(ctx, tx, r.Namespace, SystemActor, "campaign.completed", c)
}

func pendingMembers(ctx context.Context, tx pgx.Tx, c Campaign, limit int) ([]member, error) {
	rows, _ := tx.Query(ctx, `
		SELECT m.id, m.wa_id, m.parameters, COALESCE(k.marketing_opt_out, false), k.attributes
		FROM campaign_members m LEFT JOIN contacts k ON k.namespace = m.namespace AND k.wa_id = m.wa_id
		WHERE m.campaign_id = $1 AND m.state = 'pending'
		ORDER BY m.id LIMIT $2`, c.ID, limit)
	var out []member
	var m member
	_, err := pgx.ForEachRow(rows, []any{&m.id, &m.waID, &m.params, &m.optedOut, &m.attrs}, func() error {
		out = append(out, m)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pending recipients: %w", err)
	}
	return out, nil
}

// decide skips the member with its reason, or enqueues its message; it reports whether
// it enqueued.
func (r *Runner) decide(ctx context.Context, tx pgx.Tx, c Campaign, m member, rules *outbound.Rules, now time.Time) (bool, error) {
	payload, reason := c.payload(m)
	if reason == "" && m.optedOut {
		reason = ReasonOptedOut
	}
	if reason == "" {
		if b := rules.Check(payload, now); b != nil {
			reason = ReasonBlockedPrefix + b.RuleRef()
		}
	}
	if reason != "" {
		_, err := tx.Exec(ctx, `UPDATE campaign_members SET state = 'skipped', reason = $2, updated_at = now() WHERE id = $1`, m.id, reason)
		return false, err
	}
	outboxID, err := store.EnqueueTx(ctx, tx, store.NewMessage{Number: store.NumberRef{Namespace: c.Namespace, Name: c.Number},
		Recipient: m.waID, RecipientFromMeta: true, Lane: store.LaneCampaign, Payload: payload, CampaignID: c.ID})
	if err != nil {
		return false, err
	}
	_, err = tx.Exec(ctx, `UPDATE campaign_members SET state = 'queued', outbox_id = $2, updated_at = now() WHERE id = $1`, m.id, outboxID)
	return err == nil, err
}

// payload is the member's template message, or the reason it cannot have one.
func (c Campaign) payload(m member) (json.RawMessage, string) {
	values, reason := c.values(m)
	if reason != "" {
		return nil, reason
	}
	var comps []whatsapp.TemplateComponent
	if len(values) > 0 {
		body := whatsapp.TemplateComponent{Type: "body"}
		for _, v := range values {
			body.Parameters = append(body.Parameters, whatsapp.TextParam(v))
		}
		comps = append(comps, body)
	}
	p, err := whatsapp.TemplateMessage(m.waID, c.Template, c.Language, comps...).Payload()
	if err != nil {
		return nil, ReasonBadParameter
	}
	return p, ""
}

// values are the member's body parameters: its own from the list, or the campaign's
// sources over the contact's attributes. A value Meta would refuse (132018: a new-line
// or tab, more than four spaces in a row) or an empty one skips the member.
func (c Campaign) values(m member) ([]string, string) {
	var own []string
	if m.params != nil {
		_ = json.Unmarshal(m.params, &own)
	}
	var attrs map[string]any
	if m.attrs != nil {
		_ = json.Unmarshal(m.attrs, &attrs)
	}
	out := own
	if own == nil {
		for _, p := range c.Parameters {
			switch {
			case p.Value != nil:
				out = append(out, *p.Value)
			case attrText(attrs[p.Attribute]) != "":
				out = append(out, attrText(attrs[p.Attribute]))
			case p.Default != nil:
				out = append(out, *p.Default)
			default:
				return nil, ReasonMissingParameter + p.Attribute
			}
		}
	}
	for _, v := range out {
		if strings.TrimSpace(v) == "" || strings.ContainsAny(v, "\n\r\t") || strings.Contains(v, "     ") {
			return nil, ReasonBadParameter
		}
	}
	return out, ""
}

// attrText writes an attribute value as a parameter: strings as they are, numbers and
// booleans in JSON, nothing for objects, arrays and null.
func attrText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}
