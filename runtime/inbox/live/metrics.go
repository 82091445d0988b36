package live

import (
	"slices"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the live events' own metrics (the supervisor's figures are a collector,
// see Supervisor.Collector). Methods on a nil *Metrics do nothing.
type Metrics struct {
	subs    prometheus.Gauge
	events  *prometheus.CounterVec
	drops   prometheus.Counter
	skipped prometheus.Counter
}

// NewMetrics registers the live events' metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		subs: prometheus.NewGauge(prometheus.GaugeOpts{Name: "switchboard_inbox_live_subscribers",
			Help: "Clients connected to GET /api/v1/events on this process."}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_inbox_live_events_total",
			Help: "Events of the Inbox's namespace delivered by this process's hub, by kind (unknown kinds: other)."}, []string{"kind"}),
		drops: prometheus.NewCounter(prometheus.CounterOpts{Name: "switchboard_inbox_live_subscribers_dropped_total",
			Help: "Subscribers dropped because their buffer was full (a slow client; it resumes with Last-Event-ID)."}),
		skipped: prometheus.NewCounter(prometheus.CounterOpts{Name: "switchboard_inbox_live_ids_skipped_total",
			Help: "Event ids passed over as never committed (rolled back, or still missing after the gap timeout)."}),
	}
	reg.MustRegister(m.subs, m.events, m.drops, m.skipped)
	return m
}

func (m *Metrics) subscribers(n int) {
	if m != nil {
		m.subs.Set(float64(n))
	}
}

func (m *Metrics) event(kind string) {
	if m == nil {
		return
	}
	if !slices.Contains(Kinds, kind) {
		kind = "other"
	}
	m.events.WithLabelValues(kind).Inc()
}

func (m *Metrics) dropped() {
	if m != nil {
		m.drops.Inc()
	}
}

func (m *Metrics) gapSkipped(n int64) {
	if m != nil {
		m.skipped.Add(float64(n))
	}
}
