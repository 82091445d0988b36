package integrations

import "github.com/prometheus/client_golang/prometheus"

// Metrics of the integrations (switchboard_inbox_integration_…). Labels are bounded: the
// kind (webhook, chatbot), the result, and the CRM status; never an endpoint's URL, a
// contact or a conversation.
type Metrics struct {
	Attempts   *prometheus.CounterVec // calls by kind and result (delivered, retry, failed)
	Seconds    *prometheus.HistogramVec
	CRMLookups *prometheus.CounterVec // by status (ok, not_found, timeout, error, disabled) and cached
}

// NewMetrics creates the metrics and registers them with reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_inbox_integration_attempts_total",
			Help: "Calls of webhooks and the chatbot, by kind (webhook, chatbot) and result (delivered, retry, failed)."},
			[]string{"kind", "result"}),
		Seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "switchboard_inbox_integration_call_seconds",
			Help:    "Duration of the calls to the user's services, by kind (webhook, chatbot, crm).",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}, []string{"kind"}),
		CRMLookups: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_inbox_crm_lookups_total",
			Help: "CRM lookups by status (ok, not_found, timeout, error, disabled) and whether the cache answered."},
			[]string{"status", "cached"}),
	}
	if reg != nil {
		reg.MustRegister(m.Attempts, m.Seconds, m.CRMLookups)
	}
	return m
}

// attempt counts a finished call.
func (m *Metrics) attempt(kind string, o outcome) {
	result := o.state
	if result == "pending" {
		result = "retry"
	}
	m.Attempts.WithLabelValues(kind, result).Inc()
	if o.took > 0 {
		m.Seconds.WithLabelValues(kind).Observe(o.took.Seconds())
	}
}
