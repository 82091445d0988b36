package assign

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics of routing. Label values are bounded: how is auto or manual; team is a team
// declared in the Inbox's RoutingPolicies, AnyTeam or UnroutedTeam.
type Metrics struct {
	// AssignSeconds observes, for each conversation's first assignment, the time from
	// its creation (the webhook transaction that opened it) to the assignment.
	// Issue 9's "share assigned within 5 s" is the le="5" bucket over the count.
	AssignSeconds prometheus.Histogram
	// PlanSeconds observes each committed routing transaction, from its start to the
	// commit (the routing lock is held for most of it).
	PlanSeconds prometheus.Histogram
	// Assignments counts assignments to an agent, by how: auto or manual.
	Assignments *prometheus.CounterVec
	// Queue is the count of waiting conversations per team, as this replica's last
	// plan saw it (every replica plans at least every sweep); a conversation eligible
	// for two teams counts in both.
	Queue *prometheus.GaugeVec
	mu    sync.Mutex
}

// NewMetrics returns the metrics, registered on reg when it is not nil.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		AssignSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "switchboard_inbox_assignment_seconds",
			Help:    "Time from a conversation's creation to its first assignment to an agent.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300}}),
		PlanSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "switchboard_inbox_routing_transaction_seconds",
			Help:    "Duration of committed routing transactions (plans and operations), start to commit.",
			Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}}),
		Assignments: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_inbox_assignments_total",
			Help: "Conversations assigned to an agent, by how (auto or manual)."}, []string{"how"}),
		Queue: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "switchboard_inbox_queue_conversations",
			Help: "Conversations waiting for an agent, per team (a RoutingPolicy's team, (any) or (unrouted))."}, []string{"team"}),
	}
	if reg != nil {
		reg.MustRegister(m.AssignSeconds, m.PlanSeconds, m.Assignments, m.Queue)
	}
	return m
}

// setQueues replaces the queue gauges with counts (teams absent from it read 0 and
// are dropped, so a removed team does not linger).
func (m *Metrics) setQueues(counts map[string]int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.Queue.Reset()
	for team, n := range counts {
		m.Queue.WithLabelValues(team).Set(float64(n))
	}
}
