// Package campaigns sends one approved template, with per-contact parameters, to a list
// or a tag filter of contacts, through the sender's campaign lane (docs/campaigns.md).
//
// A campaign is created (draft) with its recipients materialised in campaign_members,
// deduplicated by the canonical wa_id (runtime/phone). Start makes it running (or
// scheduled until its start time); the Runner then adds recipients to the outbox in
// bounded batches, only as the sender drains them (at most Window outbox rows of the
// campaign queued or sending), skipping opted-out contacts and recipients whose
// parameters an Outbound KeywordRule blocks. Pause holds the campaign's queued rows at
// once (the sender claims a campaign's rows only while it is running); Resume releases
// the same rows, so nothing is enqueued twice. Every state change by a person writes the
// audit log in its transaction. The sender does all the pacing: warm-up, quality, the
// unique-recipients budget and the pair rate hold.
package campaigns

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/phone"
)

// State is a campaign's state.
type State string

// The states. draft → scheduled → running ⇄ paused → completed; cancelled from draft,
// scheduled, running or paused.
const (
	Draft     State = "draft"
	Scheduled State = "scheduled"
	Running   State = "running"
	Paused    State = "paused"
	Cancelled State = "cancelled"
	Completed State = "completed"
)

// Skip reasons of campaign_members.reason.
const (
	ReasonOptedOut         = "opted_out"          // the contact stopped marketing messages (131050, STOP)
	ReasonBlockedPrefix    = "blocked:"           // + NAMESPACE/RULE of the Outbound KeywordRule
	ReasonMissingParameter = "missing_parameter:" // + the contact attribute that has no value
	ReasonBadParameter     = "bad_parameter"      // a parameter Meta refuses (132018: new-line, tab, 5 spaces)
)

// DefaultWindow is how many outbox rows of one campaign may be queued or sending at once
// unless the campaign says otherwise.
const DefaultWindow = 200

// MaxRecipients bounds an explicit list in one request.
const MaxRecipients = 100_000

// Param is the source of one body parameter ({{1}}, {{2}}…): a contact attribute (with
// an optional default for contacts without it) or a fixed value.
type Param struct {
	Attribute string  `json:"attribute,omitempty"`
	Default   *string `json:"default,omitempty"`
	Value     *string `json:"value,omitempty"`
}

// TagFilter selects contacts by tags: all of AllOf, at least one of AnyOf (when given),
// none of NoneOf.
type TagFilter struct {
	AllOf  []string `json:"allOf,omitempty"`
	AnyOf  []string `json:"anyOf,omitempty"`
	NoneOf []string `json:"noneOf,omitempty"`
}

// Recipient is one entry of an explicit list: a phone number (or wa_id) and, optionally,
// its own parameters (then the campaign's parameter sources are not used for it).
type Recipient struct {
	Phone      string   `json:"phone"`
	Parameters []string `json:"parameters,omitempty"`
}

// Target says who receives a campaign: exactly one of Tags, Recipients or Segment.
type Target struct {
	Tags       *TagFilter  `json:"tags,omitempty"`
	Recipients []Recipient `json:"recipients,omitempty"`
	// Segment names a segment of the contacts helper; it needs Service.Segments.
	Segment string `json:"segment,omitempty"`
}

// Spec is what Create needs.
type Spec struct {
	Name       string     `json:"name"`     // lower-case letters, digits, '-', '_', '.'; unique in the namespace
	Number     string     `json:"number"`   // the Number (metadata.name) that sends
	Template   string     `json:"template"` // an approved template of the Number's WABA
	Language   string     `json:"language"` // the template's language code, e.g. es or en_US
	Parameters []Param    `json:"parameters,omitempty"`
	Target     Target     `json:"target"`
	StartAt    *time.Time `json:"startAt,omitempty"` // when Start makes it run (nil: at once)
	Window     int        `json:"window,omitempty"`  // default DefaultWindow, 1 to 10,000
}

// Campaign is a stored campaign.
type Campaign struct {
	ID         int64           `json:"id"`
	Namespace  string          `json:"namespace"`
	Name       string          `json:"name"`
	Number     string          `json:"number"`
	Template   string          `json:"template"`
	Language   string          `json:"language"`
	Parameters []Param         `json:"parameters"`
	Target     json.RawMessage `json:"target"`
	State      State           `json:"state"`
	StartAt    *time.Time      `json:"startAt,omitempty"`
	Window     int             `json:"window"`
	CreatedBy  string          `json:"createdBy"`
	StartedBy  string          `json:"startedBy,omitempty"`
	CreatedAt  time.Time       `json:"createdAt"`
	StartedAt  *time.Time      `json:"startedAt,omitempty"`
	FinishedAt *time.Time      `json:"finishedAt,omitempty"`
	// Progress is filled by Get.
	Progress *Progress `json:"progress,omitempty"`
}

// Progress counts a campaign's recipients by state. The states are exclusive: a message
// read counts in Read only. Queued: in the outbox, not yet accepted by Meta (held while
// the campaign is paused). Sent, Delivered, Read: Meta's last status. Failed: the outbox
// row failed (FailedByReason by Meta's error code, or "blocked" for a KeywordRule the
// sender applied, "cancelled" for a cancelled campaign's held rows). Pending: not yet
// looked at by the runner. Purged: the outbox row was deleted by a RetentionPolicy (only
// finished rows are).
type Progress struct {
	Total           int            `json:"total"`
	Pending         int            `json:"pending"`
	Queued          int            `json:"queued"`
	Sent            int            `json:"sent"`
	Delivered       int            `json:"delivered"`
	Read            int            `json:"read"`
	Failed          int            `json:"failed"`
	Skipped         int            `json:"skipped"`
	Cancelled       int            `json:"cancelled"`
	Purged          int            `json:"purged"` // sent or failed, then purged by a RetentionPolicy
	FailedByReason  map[string]int `json:"failedByReason"`
	SkippedByReason map[string]int `json:"skippedByReason"`
}

// Error is a refused request: Field names the bad input ("" for a state conflict) and
// Status the HTTP status the API answers (400, 404, 409 or 422).
type Error struct {
	Status int
	Field  string
	Detail string
}

func (e *Error) Error() string {
	if e.Field == "" {
		return e.Detail
	}
	return e.Field + ": " + e.Detail
}

func fieldErr(field, format string, args ...any) *Error {
	return &Error{Status: 422, Field: field, Detail: fmt.Sprintf(format, args...)}
}

// ErrNotFound: no such campaign in the namespace.
var ErrNotFound = &Error{Status: 404, Detail: "no such campaign"}

var namePattern = regexp.MustCompile(`^[a-z0-9]([-a-z0-9_.]{0,61}[a-z0-9])?$`)

// Validate checks a Spec without the database; every error names its field.
func (s Spec) Validate() error {
	switch {
	case !namePattern.MatchString(s.Name):
		return fieldErr("name", "%q must be 1 to 63 lower-case letters, digits, '-', '_' or '.', starting and ending with a letter or digit", s.Name)
	case s.Number == "":
		return fieldErr("number", "is required: the Number (metadata.name) that sends")
	case s.Template == "":
		return fieldErr("template", "is required")
	case s.Language == "":
		return fieldErr("language", "is required, e.g. es or en_US")
	case s.Window < 0 || s.Window > 10_000:
		return fieldErr("window", "must be from 1 to 10000, not %d", s.Window)
	}
	for i, p := range s.Parameters {
		if (p.Attribute == "") == (p.Value == nil) {
			return fieldErr(fmt.Sprintf("parameters[%d]", i), "give exactly one of attribute and value")
		}
		if p.Value != nil && p.Default != nil {
			return fieldErr(fmt.Sprintf("parameters[%d].default", i), "is only for an attribute")
		}
	}
	return s.Target.validate(len(s.Parameters))
}

func (t Target) validate(params int) error {
	given := 0
	if t.Tags != nil {
		given++
	}
	if len(t.Recipients) > 0 {
		given++
	}
	if t.Segment != "" {
		given++
	}
	if given != 1 {
		return fieldErr("target", "give exactly one of tags, recipients and segment")
	}
	if t.Tags != nil && len(t.Tags.AllOf)+len(t.Tags.AnyOf) == 0 {
		return fieldErr("target.tags", "needs allOf or anyOf (a campaign to every contact names them)")
	}
	if len(t.Recipients) > MaxRecipients {
		return fieldErr("target.recipients", "has %d entries; at most %d per campaign", len(t.Recipients), MaxRecipients)
	}
	for i, r := range t.Recipients {
		if _, err := phone.Canonical(r.Phone); err != nil {
			return fieldErr(fmt.Sprintf("target.recipients[%d].phone", i), "%v", err)
		}
		if r.Parameters != nil && len(r.Parameters) != params && params > 0 {
			return fieldErr(fmt.Sprintf("target.recipients[%d].parameters", i),
				"has %d values; the campaign has %d parameters", len(r.Parameters), params)
		}
	}
	return nil
}

// Actor is who does something, as the audit log writes it ("agent:ana", "token:crm",
// "cli:ops", "system:campaigns").
type Actor string

// SystemActor is the runner's own name in the audit log (scheduled starts, completion).
const SystemActor Actor = "system:campaigns"

// Create stores a draft campaign and its recipients (deduplicated by canonical wa_id) in
// one transaction with its audit entry, and returns it. A tag target takes the contacts
// with those tags now; a segment target asks segments (nil: 422, not yet available).
func Create(ctx context.Context, tx pgx.Tx, namespace string, actor Actor, s Spec, segments Segments) (Campaign, error) {
	if err := s.Validate(); err != nil {
		return Campaign{}, err
	}
	if s.Window == 0 {
		s.Window = DefaultWindow
	}
	target, err := targetJSON(s.Target)
	if err != nil {
		return Campaign{}, err
	}
	params, _ := json.Marshal(orEmpty(s.Parameters))
	var id int64
	err = tx.QueryRow(ctx, `
		INSERT INTO campaigns (namespace, name, number, template, language, parameters, target, start_at, "window", created_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (namespace, name) DO NOTHING
		RETURNING id`,
		namespace, s.Name, s.Number, s.Template, s.Language, params, target, s.StartAt, s.Window, string(actor)).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return Campaign{}, &Error{Status: 409, Field: "name", Detail: fmt.Sprintf("a campaign named %q exists already", s.Name)}
	}
	if err != nil {
		return Campaign{}, fmt.Errorf("campaigns: create: %w", err)
	}
	if err := addMembers(ctx, tx, namespace, id, s.Target, segments); err != nil {
		return Campaign{}, err
	}
	c, err := get(ctx, tx, namespace, id)
	if err != nil {
		return Campaign{}, err
	}
	return c, audit(ctx, tx, namespace, actor, "campaign.created", c)
}

func orEmpty(p []Param) []Param {
	if p == nil {
		return []Param{}
	}
	return p
}

// targetJSON is the target as stored: an explicit list is kept as its size (the list
// itself is in campaign_members).
func targetJSON(t Target) ([]byte, error) {
	switch {
	case t.Tags != nil:
		return json.Marshal(map[string]any{"tags": t.Tags})
	case t.Segment != "":
		return json.Marshal(map[string]any{"segment": t.Segment})
	}
	return json.Marshal(map[string]any{"recipients": len(t.Recipients)})
}

// Segments streams the contacts of a named segment (the contacts helper's segments,
// runtime/inbox/contacts). fn is called once per contact with its wa_id.
type Segments interface {
	Stream(ctx context.Context, tx pgx.Tx, namespace, segment string, fn func(waID string) error) error
}

func addMembers(ctx context.Context, tx pgx.Tx, namespace string, id int64, t Target, segments Segments) error {
	switch {
	case t.Tags != nil:
		_, err := tx.Exec(ctx, `
			INSERT INTO campaign_members (campaign_id, namespace, wa_id)
			SELECT $1, $2, wa_id FROM contacts
			WHERE namespace = $2 AND tags @> $3::text[]
			  AND (cardinality($4::text[]) = 0 OR tags && $4::text[])
			  AND NOT tags && $5::text[]
			ORDER BY id
			ON CONFLICT (campaign_id, wa_id) DO NOTHING`,
			id, namespace, nonNil(t.Tags.AllOf), nonNil(t.Tags.AnyOf), nonNil(t.Tags.NoneOf))
		if err != nil {
			return fmt.Errorf("campaigns: members by tags: %w", err)
		}
		return nil
	case t.Segment != "":
		if segments == nil {
			return fieldErr("target.segment", "segments are not available in this inbox yet; give tags or recipients")
		}
		return segments.Stream(ctx, tx, namespace, t.Segment, func(waID string) error {
			return addMember(ctx, tx, namespace, id, waID, nil)
		})
	}
	rows := make([][]any, 0, len(t.Recipients))
	seen := make(map[string]bool, len(t.Recipients))
	for _, r := range t.Recipients {
		waID, _ := phone.Canonical(r.Phone) // checked by Validate
		if seen[waID] {
			continue // the first entry of a number wins
		}
		seen[waID] = true
		var params any
		if r.Parameters != nil {
			params, _ = json.Marshal(r.Parameters)
		}
		rows = append(rows, []any{id, namespace, waID, params})
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"campaign_members"}, []string{"campaign_id", "namespace", "wa_id", "parameters"},
		pgx.CopyFromRows(rows))
	if err != nil {
		return fmt.Errorf("campaigns: members: %w", err)
	}
	return nil
}

func addMember(ctx context.Context, tx pgx.Tx, namespace string, id int64, waID string, params []byte) error {
	_, err := tx.Exec(ctx, `
		INSERT INTO campaign_members (campaign_id, namespace, wa_id, parameters) VALUES ($1, $2, $3, $4)
		ON CONFLICT (campaign_id, wa_id) DO NOTHING`, id, namespace, waID, params)
	if err != nil {
		return fmt.Errorf("campaigns: member %s: %w", waID, err)
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

const campaignColumns = `id, namespace, name, number, template, language, parameters, target, state, start_at,
	"window", created_by, COALESCE(started_by, ''), created_at, started_at, finished_at`

func scanCampaign(row pgx.CollectableRow) (Campaign, error) {
	var c Campaign
	var params []byte
	err := row.Scan(&c.ID, &c.Namespace, &c.Name, &c.Number, &c.Template, &c.Language, &params, &c.Target,
		&c.State, &c.StartAt, &c.Window, &c.CreatedBy, &c.StartedBy, &c.CreatedAt, &c.StartedAt, &c.FinishedAt)
	if err == nil {
		err = json.Unmarshal(params, &c.Parameters)
	}
	return c, err
}

func get(ctx context.Context, q pgx.Tx, namespace string, id int64) (Campaign, error) {
	return read(ctx, q, namespace, id, "")
}

// read reads one campaign, with a locking clause ("" or "FOR UPDATE").
func read(ctx context.Context, q pgx.Tx, namespace string, id int64, lock string) (Campaign, error) {
	rows, _ := q.Query(ctx, `SELECT `+campaignColumns+` FROM campaigns WHERE namespace = $1 AND id = $2 `+lock, namespace, id)
	c, err := pgx.CollectExactlyOneRow(rows, scanCampaign)
	if errors.Is(err, pgx.ErrNoRows) {
		return Campaign{}, ErrNotFound
	}
	if err != nil {
		return Campaign{}, fmt.Errorf("campaigns: get %d: %w", id, err)
	}
	return c, nil
}

// Get returns a campaign of the namespace with its progress, or ErrNotFound.
func Get(ctx context.Context, tx pgx.Tx, namespace string, id int64) (Campaign, error) {
	c, err := get(ctx, tx, namespace, id)
	if err != nil {
		return Campaign{}, err
	}
	p, err := progress(ctx, tx, id)
	c.Progress = &p
	return c, err
}

// Lookup returns the id of the campaign named name, or ErrNotFound.
func Lookup(ctx context.Context, tx pgx.Tx, namespace, name string) (int64, error) {
	var id int64
	err := tx.QueryRow(ctx, `SELECT id FROM campaigns WHERE namespace = $1 AND name = $2`, namespace, name).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, ErrNotFound
	}
	return id, err
}

// List returns the namespace's campaigns, newest first, at most limit, without progress.
func List(ctx context.Context, tx pgx.Tx, namespace string, limit int) ([]Campaign, error) {
	rows, _ := tx.Query(ctx, `SELECT `+campaignColumns+` FROM campaigns WHERE namespace = $1 ORDER BY id DESC LIMIT $2`,
		namespace, limit)
	out, err := pgx.CollectRows(rows, scanCampaign)
	if err != nil {
		return nil, fmt.Errorf("campaigns: list: %w", err)
	}
	return out, nil
}

// memberStatusSQL is a member's state with the delivery state of its outbox row.
const memberStatusSQL = `
	CASE WHEN m.state <> 'queued' THEN m.state
	     WHEN o.id IS NULL THEN 'purged'
	     WHEN o.read_at IS NOT NULL THEN 'read'
	     WHEN o.delivered_at IS NOT NULL THEN 'delivered'
	     WHEN o.state = 'failed' OR o.failed_at IS NOT NULL THEN 'failed'
	     WHEN o.state = 'sent' THEN 'sent'
	     ELSE 'queued' END`

func progress(ctx context.Context, tx pgx.Tx, id int64) (Progress, error) {
	p := Progress{FailedByReason: map[string]int{}, SkippedByReason: map[string]int{}}
	rows, _ := tx.Query(ctx, `
		SELECT status, reason, count(*) FROM (
			SELECT `+memberStatusSQL+` AS status,
			       CASE WHEN m.state = 'skipped' THEN m.reason
			            WHEN o.error_code = -1 THEN 'blocked'
			            WHEN o.error_code IS NOT NULL AND o.error_code <> 0 THEN o.error_code::text
			            WHEN o.error_message = 'campaign cancelled' THEN 'cancelled'
			            ELSE COALESCE(NULLIF(o.error_message, ''), 'unknown') END AS reason
			FROM campaign_members m LEFT JOIN outbox o ON o.id = m.outbox_id
			WHERE m.campaign_id = $1) s
		GROUP BY status, reason`, id)
	var (
		status, reason string
		n              int
	)
	_, err := pgx.ForEachRow(rows, []any{&status, &reason, &n}, func() error {
		p.Total += n
		switch status {
		case "pending":
			p.Pending += n
		case "queued":
			p.Queued += n
		case "sent":
			p.Sent += n
		case "delivered":
			p.Delivered += n
		case "read":
			p.Read += n
		case "failed":
			p.Failed += n
			p.FailedByReason[reason] += n
		case "skipped":
			p.Skipped += n
			p.SkippedByReason[reason] += n
		case "cancelled":
			p.Cancelled += n
		case "purged":
			p.Purged += n
		}
		return nil
	})
	if err != nil {
		return p, fmt.Errorf("campaigns: progress of %d: %w", id, err)
	}
	return p, nil
}

// transitions: for each action, the states it leaves from and the state it goes to.
var transitions = map[string]struct {
	from []State
	to   State
}{
	"start":  {[]State{Draft}, Running}, // Scheduled instead when startAt is in the future
	"pause":  {[]State{Running, Scheduled}, Paused},
	"resume": {[]State{Paused}, Running},
	"cancel": {[]State{Draft, Scheduled, Running, Paused}, Cancelled},
}

// Actions are the state changes Transition accepts.
var Actions = []string{"start", "pause", "resume", "cancel"}

// Transition applies action (start, pause, resume, cancel) to the campaign, with its
// audit entry ("campaign.<action>", the actor, the campaign after), in tx. A campaign in
// another state is a 409 Error naming its state. Start records the actor as started_by;
// a start before startAt schedules it. Pause takes effect for the sender at commit (it
// claims a campaign's rows only while it runs); messages already claimed still go.
// Cancel fails the campaign's queued outbox rows ("campaign cancelled") and cancels its
// pending recipients.
func Transition(ctx context.Context, tx pgx.Tx, namespace string, id int64, action string, actor Actor, now time.Time) (Campaign, error) {
	tr, ok := transitions[action]
	if !ok {
		return Campaign{}, &Error{Status: 400, Field: "action", Detail: fmt.Sprintf("unknown action %q (known: %s)", action, strings.Join(Actions, ", "))}
	}
	c, err := lockCampaign(ctx, tx, namespace, id)
	if err != nil {
		return Campaign{}, err
	}
	if !slices.Contains(tr.from, c.State) {
		return Campaign{}, &Error{Status: 409, Detail: fmt.Sprintf("campaign %q is %s: it cannot %s", c.Name, c.State, action)}
	}
	to := tr.to
	if action == "resume" && c.StartAt != nil && c.StartAt.After(now) {
		to = Scheduled
	}
	switch action {
	case "start":
		if c.StartAt != nil && c.StartAt.After(now) {
			to = Scheduled
		}
		_, err = tx.Exec(ctx, `UPDATE campaigns SET state = $2, started_by = $3, updated_at = now(),
			started_at = CASE WHEN $2 = 'running' THEN now() END WHERE id = $1`, id, to, string(actor))
	case "cancel":
		err = cancel(ctx, tx, id)
	default:
		_, err = tx.Exec(ctx, `UPDATE campaigns SET state = $2, updated_at = now(),
			started_at = COALESCE(started_at, CASE WHEN $2 = 'running' THEN now() END) WHERE id = $1`, id, to)
	}
	if err != nil {
		return Campaign{}, fmt.Errorf("campaigns: %s %d: %w", action, id, err)
	}
	after, err := get(ctx, tx, namespace, id)
	if err != nil {
		return Campaign{}, err
	}
	return after, audit(ctx, tx, namespace, actor, "campaign."+action, after)
}

// lockCampaign reads the campaign FOR UPDATE: a runner batch in progress finishes first.
func lockCampaign(ctx context.Context, tx pgx.Tx, namespace string, id int64) (Campaign, error) {
	return read(ctx, tx, namespace, id, "FOR UPDATE")
}

// cancel ends a campaign: its queued outbox rows fail (the sender never claims them, as
// the campaign is no longer running), their members and the pending ones are cancelled.
func cancel(ctx context.Context, tx pgx.Tx, id int64) error {
	_, err := tx.Exec(ctx, `UPDATE campaigns SET state = 'cancelled', finished_at = now(), updated_at = now() WHERE id = $1`, id)
	if err != nil {
		return err
	}
	if err := withdraw(ctx, tx, id); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `UPDATE campaign_members SET state = 'cancelled', updated_at = now()
		WHERE campaign_id = $1 AND state = 'pending'`, id)
	return err
}

// withdraw fails the cancelled campaign's outbox rows that are still queued (also those
// the sender put back after the cancel) and marks their members cancelled.
func withdraw(ctx context.Context, tx pgx.Tx, id int64) error {
	_, err := tx.Exec(ctx, `
		WITH f AS (
			UPDATE outbox SET state = 'failed', error_message = 'campaign cancelled', failed_at = now(), updated_at = now()
			WHERE campaign_id = $1 AND state = 'queued'
			RETURNING id)
		UPDATE campaign_members SET state = 'cancelled', updated_at = now()
		WHERE outbox_id IN (SELECT id FROM f)`, id)
	return err
}

// audit appends one audit_log entry about a campaign.
func audit(ctx context.Context, tx pgx.Tx, namespace string, actor Actor, action string, c Campaign) error {
	c.Progress = nil
	after, _ := json.Marshal(c)
	_, err := tx.Exec(ctx, `
		INSERT INTO audit_log (namespace, actor, action, object_kind, object_id, after)
		VALUES ($1, $2, $3, 'campaign', $4, $5)`, namespace, string(actor), action, fmt.Sprint(c.ID), after)
	if err != nil {
		return fmt.Errorf("campaigns: audit %s: %w", action, err)
	}
	return nil
}
