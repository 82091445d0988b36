package sender

import "github.com/prometheus/client_golang/prometheus"

// Metrics of one sender process (switchboard_sender_…). A sender serves one number, so
// no series carries a number, a recipient or a message id.
type Metrics struct {
	Sent               *prometheus.CounterVec
	Failed             *prometheus.CounterVec
	ThrottledSeconds   prometheus.Counter
	PossiblyDuplicated prometheus.Counter
	Ambiguous          prometheus.Counter
	BudgetDeferred     prometheus.Counter
	QueueDepth         *prometheus.GaugeVec
	LimitPerSecond     prometheus.Gauge
	LimitCampaign      prometheus.Gauge
	Leader             prometheus.Gauge
	Fenced             prometheus.Gauge
	// OutboundBlocked counts messages an Outbound KeywordRule blocked, by rule
	// (NAMESPACE/NAME: as many series as rules).
	OutboundBlocked *prometheus.CounterVec
	OutboundRules   prometheus.Gauge
}

// NewMetrics creates the metrics and registers them with reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Sent: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_sender_sent_total",
			Help: "Messages Meta accepted, by lane."}, []string{"lane"}),
		Failed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_sender_errors_total",
			Help: "Errors from Meta (or the network, code 0), by error code."}, []string{"code"}),
		ThrottledSeconds: prometheus.NewCounter(prometheus.CounterOpts{Name: "switchboard_sender_throttled_seconds_total",
			Help: "Time both lanes were paused because Meta throttled or paused the number."}),
		PossiblyDuplicated: prometheus.NewCounter(prometheus.CounterOpts{Name: "switchboard_sender_possibly_duplicated_total",
			Help: "Messages a previous sender left in flight, requeued and marked possibly duplicated."}),
		Ambiguous: prometheus.NewCounter(prometheus.CounterOpts{Name: "switchboard_sender_ambiguous_total",
			Help: "Calls to Meta that failed after the request may have reached Meta; the message is marked possibly duplicated."}),
		BudgetDeferred: prometheus.NewCounter(prometheus.CounterOpts{Name: "switchboard_sender_budget_deferred_total",
			Help: "Campaign messages deferred because the unique-recipients budget was spent."}),
		QueueDepth: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "switchboard_sender_queue_depth",
			Help: "Queued messages, by lane."}, []string{"lane"}),
		LimitPerSecond: prometheus.NewGauge(prometheus.GaugeOpts{Name: "switchboard_sender_limit_messages_per_second",
			Help: "The effective rate the sender applies."}),
		LimitCampaign: prometheus.NewGauge(prometheus.GaugeOpts{Name: "switchboard_sender_limit_campaign_per_minute",
			Help: "The effective campaign rate the sender applies."}),
		Leader: prometheus.NewGauge(prometheus.GaugeOpts{Name: "switchboard_sender_leader",
			Help: "1 while this process holds the number's Lease."}),
		Fenced: prometheus.NewGauge(prometheus.GaugeOpts{Name: "switchboard_sender_fenced",
			Help: "1 while this process holds the number's PostgreSQL advisory lock."}),
		OutboundBlocked: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_outbound_blocked_total",
			Help: "Outbound messages an Outbound KeywordRule blocked (never sent to Meta), by rule as namespace/name."}, []string{"rule"}),
		OutboundRules: prometheus.NewGauge(prometheus.GaugeOpts{Name: "switchboard_sender_outbound_rules",
			Help: "Outbound KeywordRules compiled for the number (rules that do not compile are left out)."}),
	}
	if reg != nil {
		reg.MustRegister(m.Sent, m.Failed, m.ThrottledSeconds, m.PossiblyDuplicated, m.Ambiguous, m.BudgetDeferred,
			m.QueueDepth, m.LimitPerSecond, m.LimitCampaign, m.Leader, m.Fenced,
			m.OutboundBlocked, m.OutboundRules)
	}
	return m
}

func (m *Metrics) setLimits(l Limits) {
	m.LimitPerSecond.Set(float64(l.MessagesPerSecond))
	m.LimitCampaign.Set(float64(l.CampaignPerMinute))
}
