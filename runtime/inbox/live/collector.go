package live

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Series caps of the supervisor's metrics. Agents and teams come only from the declared
// RoutingPolicies (never from the database, where any string may be an assignee), a
// RoutingPolicy holds at most 100 teams of at most 500 members (CRD validation), and an
// Inbox rarely declares more than a few policies; past the caps the rest are left out of
// the metrics (switchboard_inbox_supervisor_series_omitted says how many), never of
// GET /api/v1/supervisor.
const (
	MaxAgentSeries = 1000
	MaxTeamSeries  = 200
)

// collectTimeout bounds the supervisor query of one scrape.
const collectTimeout = 5 * time.Second

var (
	descAvailability = prometheus.NewDesc("switchboard_inbox_agent_availability",
		"1 for the agent's availability (online, away, offline), 0 for the others.", []string{"agent", "availability"}, nil)
	descOpen = prometheus.NewDesc("switchboard_inbox_agent_open_conversations",
		"Open or pending conversations assigned to the agent.", []string{"agent"}, nil)
	descFirst = prometheus.NewDesc("switchboard_inbox_agent_first_response_seconds",
		"Mean first-response time of the agent's conversations first answered in the last 8 h (absent without one).", []string{"agent"}, nil)
	descResponse = prometheus.NewDesc("switchboard_inbox_agent_response_seconds",
		"Mean time from a customer message to the agent's reply, over the agent's replies of the last 8 h (absent without one).", []string{"agent"}, nil)
	descResolved = prometheus.NewDesc("switchboard_inbox_agent_resolved_last_hour",
		"Conversations of the agent resolved in the last hour.", []string{"agent"}, nil)
	descQueue = prometheus.NewDesc("switchboard_inbox_team_queue_length",
		"Waiting conversations (open or pending, no assignee) of the team; team=\"\" is those without a team.", []string{"team"}, nil)
	descOldest = prometheus.NewDesc("switchboard_inbox_team_oldest_waiting_seconds",
		"Age of the team's longest-waiting conversation (0 when the queue is empty).", []string{"team"}, nil)
	descShare = prometheus.NewDesc("switchboard_inbox_assigned_within_5s_ratio",
		"Share of the conversations opened in the last 8 h (and at least 5 s ago) that had an assignee within 5 s (absent without one).", nil, nil)
	descOmitted = prometheus.NewDesc("switchboard_inbox_supervisor_series_omitted",
		"Declared agents and teams left out of these metrics by the series caps.", []string{"of"}, nil)
	descUp = prometheus.NewDesc("switchboard_inbox_supervisor_up",
		"1 when the supervisor figures could be read at this scrape, 0 otherwise.", nil, nil)
)

type collector struct{ s *Service }

// Collector returns a Prometheus collector that computes the supervisor view (window
// DefaultWindow) at each scrape. Every replica reports the same figures (they come from
// the shared database): aggregate with max, not sum.
func (s *Service) Collector() prometheus.Collector { return collector{s} }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descAvailability, descOpen, descFirst, descResponse, descResolved,
		descQueue, descOldest, descShare, descOmitted, descUp} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), collectTimeout)
	defer cancel()
	roster := c.s.roster()
	omittedTeams := max(0, len(roster.Teams)-MaxTeamSeries)
	v, err := c.s.Supervise(ctx, roster, DefaultWindow)
	if err != nil {
		c.s.log.Error("supervisor metrics", "error", err)
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, 1)
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	omittedAgents := max(0, len(v.Agents)-MaxAgentSeries)
	for _, a := range v.Agents[:min(len(v.Agents), MaxAgentSeries)] {
		for _, state := range []string{"online", "away", "offline"} {
			gauge(descAvailability, b2f(a.Availability == state), a.Login, state)
		}
		gauge(descOpen, float64(a.OpenConversations), a.Login)
		gauge(descResolved, float64(a.ResolvedLastHour), a.Login)
		if a.AvgFirstResponseSeconds != nil {
			gauge(descFirst, *a.AvgFirstResponseSeconds, a.Login)
		}
		if a.AvgResponseSeconds != nil {
			gauge(descResponse, *a.AvgResponseSeconds, a.Login)
		}
	}
	queue := func(name string, q QueueFigures) {
		gauge(descQueue, float64(q.QueueLength), name)
		oldest := 0.0
		if q.OldestWaitingSeconds != nil {
			oldest = *q.OldestWaitingSeconds
		}
		gauge(descOldest, oldest, name)
	}
	for _, t := range v.Teams[:min(len(v.Teams), MaxTeamSeries)] {
		queue(t.Name, t.QueueFigures)
	}
	queue("", v.Unrouted)
	if v.Assignment.Ratio != nil {
		gauge(descShare, *v.Assignment.Ratio)
	}
	gauge(descOmitted, float64(omittedAgents), "agents")
	gauge(descOmitted, float64(omittedTeams), "teams")
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
