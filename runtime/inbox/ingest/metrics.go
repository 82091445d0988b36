package ingest

import "github.com/prometheus/client_golang/prometheus"

// Metrics of the webhook ingest (switchboard_inbox_…). No series carries a phone number,
// a wa_id or a message id.
type Metrics struct {
	Webhooks          *prometheus.CounterVec // changes by field and result
	SignatureFailures *prometheus.CounterVec
	IngestSeconds     prometheus.Histogram
	Messages          *prometheus.CounterVec // by type and direction
	Statuses          *prometheus.CounterVec
	Unserved          *prometheus.CounterVec
	KeywordMatches    *prometheus.CounterVec
	AutoReplies       *prometheus.CounterVec
	// RuleCompileSeconds is observed by the snapshot source (package kube) each time it
	// compiles the served Numbers' keyword rules and business hours.
	RuleCompileSeconds prometheus.Histogram
}

// Results of a webhook change (the result label of switchboard_inbox_webhooks_total).
const (
	ResultStored   = "stored"   // committed (new or a duplicate of one already stored)
	ResultUnserved = "unserved" // for a phone number this inbox does not serve
	ResultFailed   = "failed"   // the request failed (5xx): Meta will retry
	ResultRefused  = "refused"  // the request was refused (4xx)
)

// NewMetrics creates the metrics and registers them with reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_inbox_webhooks_total",
			Help: "Webhook changes received, by field and result (stored, unserved, failed, refused)."}, []string{"field", "result"}),
		SignatureFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_inbox_signature_failures_total",
			Help: "Webhook requests refused for their X-Hub-Signature-256, by reason (missing, malformed, mismatch, number)."}, []string{"reason"}),
		IngestSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "switchboard_inbox_ingest_seconds",
			Help:    "Time from a webhook request's arrival to its answer.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}),
		Messages: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_inbox_messages_total",
			Help: "Messages stored, by type and direction (in, out)."}, []string{"type", "direction"}),
		Statuses: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_inbox_statuses_total",
			Help: "New status webhooks recorded, by status."}, []string{"status"}),
		Unserved: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_inbox_unserved_changes_total",
			Help: "Webhook changes for a phone number this inbox does not serve (not stored), by field."}, []string{"field"}),
		KeywordMatches: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_inbox_keyword_matches_total",
			Help: "Inbound messages matched by a keyword rule, by rule."}, []string{"rule"}),
		AutoReplies: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_inbox_auto_replies_total",
			Help: "Automatic replies, by result (sent, or not sent: window-closed, repeat, hourly-cap, once-per-conversation)."}, []string{"result"}),
		RuleCompileSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "switchboard_inbox_rule_compile_seconds",
			Help:    "Time to compile the served Numbers' inbound keyword rules and business hours, per change.",
			Buckets: []float64{.0001, .001, .01, .05, .1, .25, .5, 1, 2.5}}),
	}
	if reg != nil {
		reg.MustRegister(m.Webhooks, m.SignatureFailures, m.IngestSeconds, m.Messages, m.Statuses,
			m.Unserved, m.KeywordMatches, m.AutoReplies, m.RuleCompileSeconds)
	}
	return m
}

// tally is what one request did, counted into Metrics only after its commit.
type tally struct {
	messages    map[[2]string]int // (type, direction)
	statuses    map[string]int
	matches     map[string]int
	autoReplies map[string]int
}

func newTally() *tally {
	return &tally{messages: map[[2]string]int{}, statuses: map[string]int{}, matches: map[string]int{},
		autoReplies: map[string]int{}}
}

func (m *Metrics) add(p *plan, t *tally, result string) {
	for field, n := range p.fields {
		m.Webhooks.WithLabelValues(field, result).Add(float64(n - p.unserved[field]))
	}
	for field, n := range p.unserved {
		m.Webhooks.WithLabelValues(field, ResultUnserved).Add(float64(n))
		m.Unserved.WithLabelValues(field).Add(float64(n))
	}
	if t == nil {
		return
	}
	for k, n := range t.messages {
		m.Messages.WithLabelValues(k[0], k[1]).Add(float64(n))
	}
	for s, n := range t.statuses {
		m.Statuses.WithLabelValues(s).Add(float64(n))
	}
	for r, n := range t.matches {
		m.KeywordMatches.WithLabelValues(r).Add(float64(n))
	}
	for r, n := range t.autoReplies {
		m.AutoReplies.WithLabelValues(r).Add(float64(n))
	}
}
