// Package reports computes the inbox's reports from its tables, for a period and per
// Number, team or agent (docs/reports.md): conversations opened and resolved, median and
// 90th-percentile first-response and resolution times, the share answered automatically
// (keyword rules, the chatbot hook), customer satisfaction (surveys answered 1-5), and the
// cost of template messages per country and category (Meta's pricing objects on status
// webhooks, priced with the rate card the user uploads). Every query is bounded by the
// namespace (the tenant) and the period.
package reports

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"
)

// Period is a half-open interval [From, To) of time.
type Period struct{ From, To time.Time }

// MaxPeriod is the longest period a report covers (about 13 months).
const MaxPeriod = 400 * 24 * time.Hour

// ParsePeriod reads from= and to= (RFC 3339). to defaults to now, from to 7 days before to.
// The error names the parameter.
func ParsePeriod(q url.Values, now time.Time) (Period, error) {
	p := Period{To: now}
	for _, f := range []struct {
		name string
		t    *time.Time
	}{{"to", &p.To}, {"from", &p.From}} {
		v := q.Get(f.name)
		if v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return p, &ParamError{Param: f.name, Msg: fmt.Sprintf("%s must be an RFC 3339 time such as 2026-11-01T00:00:00Z, got %q", f.name, v)}
		}
		*f.t = t
	}
	if q.Get("from") == "" {
		p.From = p.To.Add(-7 * 24 * time.Hour)
	}
	switch {
	case !p.From.Before(p.To):
		return p, &ParamError{Param: "from", Msg: "from must be before to"}
	case p.To.Sub(p.From) > MaxPeriod:
		return p, &ParamError{Param: "from", Msg: fmt.Sprintf("the period must be at most %d days", int(MaxPeriod.Hours()/24))}
	}
	return p, nil
}

// ParamError is a bad request parameter.
type ParamError struct{ Param, Msg string }

func (e *ParamError) Error() string { return e.Msg }

// IsParam reports whether err is a *ParamError and returns it.
func IsParam(err error) (*ParamError, bool) {
	var pe *ParamError
	ok := errors.As(err, &pe)
	return pe, ok
}

// By is what a report groups by.
type By string

// The groupings.
const (
	ByNumber By = "number"
	ByTeam   By = "team"
	ByAgent  By = "agent"
)

// ParseBy reads by= (default number).
func ParseBy(s string) (By, error) {
	switch By(s) {
	case "":
		return ByNumber, nil
	case ByNumber, ByTeam, ByAgent:
		return By(s), nil
	}
	return "", &ParamError{Param: "by", Msg: fmt.Sprintf("by must be number, team or agent, got %q", s)}
}

func (b By) column() string {
	switch b {
	case ByTeam:
		return "team"
	case ByAgent:
		return "assignee"
	}
	return "number"
}

// ConversationRow is one group of the conversations report. Times are in seconds; a
// percentile is nil when no conversation of the group has the time. Shares are from 0
// to 1 of the conversations opened in the period.
type ConversationRow struct {
	Key              string   `json:"key"` // the Number, team or agent; "" for none (unassigned)
	Opened           int64    `json:"opened"`
	Resolved         int64    `json:"resolved"`
	FirstResponseP50 *float64 `json:"firstResponseP50Seconds"`
	FirstResponseP90 *float64 `json:"firstResponseP90Seconds"`
	ResolutionP50    *float64 `json:"resolutionP50Seconds"`
	ResolutionP90    *float64 `json:"resolutionP90Seconds"`
	AutoKeywordShare float64  `json:"answeredByKeywordRulesShare"`
	AutoChatbotShare float64  `json:"answeredByChatbotShare"`
	// AssignedWithin5s is the share of the opened conversations first assigned to an
	// agent within 5 seconds of their creation (first_assigned_at, set by the routing).
	AssignedWithin5s float64 `json:"assignedWithin5sShare"`
}

// Filter narrows a report to one Number ("" for all).
type Filter struct{ Number string }

// Conversations is the conversations report: per group, the conversations opened in the
// period (with their first-response times: first_response_at - created_at) and those
// resolved in it (with their resolution times: resolved_at - created_at), and the share
// of the opened ones that a keyword rule (a message authored "keyword:<rule>") or the
// chatbot hook ("integration:chatbot") answered, and that the routing assigned within 5 s.
func Conversations(ctx context.Context, tx pgx.Tx, namespace string, p Period, by By, f Filter) ([]ConversationRow, error) {
	rows, err := tx.Query(ctx, `
		WITH c AS (
			SELECT c.*, coalesce(c.`+by.column()+`, '') AS key,
			       c.created_at >= $2 AND c.created_at < $3 AS opened,
			       c.resolved_at >= $2 AND c.resolved_at < $3 AS resolved
			FROM conversations c
			WHERE c.namespace = $1 AND ($4 = '' OR c.number = $4)
			  AND ((c.created_at >= $2 AND c.created_at < $3) OR (c.resolved_at >= $2 AND c.resolved_at < $3)))
		SELECT key,
		       count(*) FILTER (WHERE opened),
		       count(*) FILTER (WHERE resolved),
		       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM first_response_at - created_at))
		           FILTER (WHERE opened AND first_response_at IS NOT NULL),
		       percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM first_response_at - created_at))
		           FILTER (WHERE opened AND first_response_at IS NOT NULL),
		       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM resolved_at - created_at)) FILTER (WHERE resolved),
		       percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM resolved_at - created_at)) FILTER (WHERE resolved),
		       count(*) FILTER (WHERE opened AND EXISTS (
		           SELECT 1 FROM messages m WHERE m.conversation_id = c.id AND m.direction = 'out' AND m.author LIKE 'keyword:%')),
		       count(*) FILTER (WHERE opened AND EXISTS (
		           SELECT 1 FROM messages m WHERE m.conversation_id = c.id AND m.direction = 'out'
		                                         AND (m.author LIKE 'chatbot%' OR m.author LIKE 'integration:chatbot%'))),
		       count(*) FILTER (WHERE opened AND first_assigned_at IS NOT NULL AND first_assigned_at - created_at <= interval '5 seconds')
		FROM c GROUP BY key ORDER BY key`, namespace, p.From, p.To, f.Number)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (ConversationRow, error) {
		var x ConversationRow
		var keyword, chatbot, within5s int64
		err := r.Scan(&x.Key, &x.Opened, &x.Resolved, &x.FirstResponseP50, &x.FirstResponseP90,
			&x.ResolutionP50, &x.ResolutionP90, &keyword, &chatbot, &within5s)
		if x.Opened > 0 {
			x.AutoKeywordShare = float64(keyword) / float64(x.Opened)
			x.AutoChatbotShare = float64(chatbot) / float64(x.Opened)
			x.AssignedWithin5s = float64(within5s) / float64(x.Opened)
		}
		return x, err
	})
}

// SatisfactionRow is one group of the satisfaction report: surveys sent in the period,
// answered, the count of each rating 1-5 (Distribution[0] is rating 1) and the mean
// rating (nil with no answer).
type SatisfactionRow struct {
	Key          string   `json:"key"`
	Sent         int64    `json:"sent"`
	Answered     int64    `json:"answered"`
	Distribution [5]int64 `json:"distribution"`
	Mean         *float64 `json:"mean"`
}

// Satisfaction is the customer-satisfaction report per team or agent (the ones holding
// the conversation when it was resolved) or Number, over surveys sent in the period.
func Satisfaction(ctx context.Context, tx pgx.Tx, namespace string, p Period, by By, f Filter) ([]SatisfactionRow, error) {
	col := by.column()
	if by == ByAgent {
		col = "agent"
	}
	rows, err := tx.Query(ctx, `
		SELECT coalesce(`+col+`, ''), count(*), count(rating),
		       count(*) FILTER (WHERE rating = 1), count(*) FILTER (WHERE rating = 2), count(*) FILTER (WHERE rating = 3),
		       count(*) FILTER (WHERE rating = 4), count(*) FILTER (WHERE rating = 5), avg(rating)::float8
		FROM csat_surveys
		WHERE namespace = $1 AND sent_at >= $2 AND sent_at < $3 AND ($4 = '' OR number = $4)
		GROUP BY 1 ORDER BY 1`, namespace, p.From, p.To, f.Number)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (SatisfactionRow, error) {
		var x SatisfactionRow
		d := &x.Distribution
		err := r.Scan(&x.Key, &x.Sent, &x.Answered, &d[0], &d[1], &d[2], &d[3], &d[4], &x.Mean)
		return x, err
	})
}
