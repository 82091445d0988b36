package routing

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/switchboard-dev/switchboard/api/v1alpha1"
)

func TestFromSpec(t *testing.T) {
	p := FromSpec(v1alpha1.RoutingPolicySpec{Teams: []v1alpha1.Team{{Name: "a", Skills: []string{"es"}, Members: []string{"ana"}}}})
	if p.Strategy != v1alpha1.LeastLoaded || p.AssignWithin != 3*time.Second || p.Max != 0 || p.Target != 0 ||
		p.MissesBeforeAway != 3 || p.AwayAfterDisconnect != 2*time.Minute || len(p.Teams) != 1 || p.Teams[0].Members[0] != "ana" {
		t.Errorf("defaults: %+v", p)
	}
	p = FromSpec(v1alpha1.RoutingPolicySpec{Strategy: v1alpha1.RoundRobin, Capacity: &v1alpha1.Capacity{Target: 5, Max: 7},
		AssignWithin: &metav1.Duration{Duration: 2 * time.Minute}})
	if p.Strategy != v1alpha1.RoundRobin || p.Target != 5 || p.Max != 7 || p.AssignWithin != 2*time.Minute {
		t.Errorf("set fields: %+v", p)
	}
	if _, err := New(p); err != nil {
		t.Errorf("New(FromSpec(...)): %v", err)
	}
}

func TestNewRefuses(t *testing.T) {
	base := sales(v1alpha1.LeastLoaded, 1, 2)
	cases := []struct {
		name string
		edit func(p *Policy)
		want string
	}{
		{"strategy", func(p *Policy) { p.Strategy = "Random" }, `strategy: unknown strategy "Random"`},
		{"target over max", func(p *Policy) { p.Target = 3 }, "capacity.target 3 must not exceed capacity.max 2"},
		{"negative max", func(p *Policy) { p.Max = -1 }, "capacity: target 1 and max -1 must not be negative"},
		{"assignWithin", func(p *Policy) { p.AssignWithin = 0 }, "assignWithin: 0s must be more than zero"},
		{"misses", func(p *Policy) { p.MissesBeforeAway = 0 }, "missesBeforeAway: 0 must be 1 or more"},
		{"disconnect", func(p *Policy) { p.AwayAfterDisconnect = -time.Second }, "awayAfterDisconnect: -1s must be more than zero"},
		{"duplicate team", func(p *Policy) { p.Teams = append(p.Teams, Team{Name: "billing", Members: []string{"x"}}) }, `teams[2].name: "billing" is empty or not unique`},
		{"empty member", func(p *Policy) { p.Teams[1].Members = []string{""} }, "teams[1].members[0] is empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := base
			p.Teams = append([]Team(nil), base.Teams...)
			c.edit(&p)
			if _, err := New(p); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("New = %v, want an error containing %q", err, c.want)
			}
		})
	}
}

func TestPlanRefusesBadSnapshots(t *testing.T) {
	r := mustRouter(t, sales(v1alpha1.LeastLoaded, 1, 2))
	ok := func(s *Snapshot) {}
	cases := []struct {
		name string
		edit func(s *Snapshot)
		want string
	}{
		{"zero now", func(s *Snapshot) { s.Now = time.Time{} }, "now is zero"},
		{"empty login", func(s *Snapshot) { s.Agents[1].Login = "" }, `agents[1].login: "" is empty or not unique`},
		{"duplicate login", func(s *Snapshot) { s.Agents[1].Login = "ana" }, `agents[1].login: "ana" is empty or not unique`},
		{"availability", func(s *Snapshot) { s.Agents[0].Availability = "busy" }, `agents[0].availability: "busy" is not online, away or offline`},
		{"negative open", func(s *Snapshot) { s.Agents[0].Open = -1 }, "agents[0] (ana): open -1 and misses 0 must not be negative"},
		{"waiting twice", func(s *Snapshot) { s.Waiting = append(s.Waiting, conv(1, 0)) }, "waiting[1].id: conversation 1 is listed twice"},
		{"waiting and pending", func(s *Snapshot) { s.Pending = []Pending{pending(1, "ana", 0, false)} }, "pending[0]: conversation 1 is listed twice or has no agent"},
		{"pending without agent", func(s *Snapshot) { s.Pending = []Pending{pending(2, "", 0, false)} }, "pending[0]: conversation 2 is listed twice or has no agent"},
		{"a good one", ok, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := Snapshot{Now: t0, Open: true, Agents: on("ana:0", "bruno:0"), Waiting: []Conversation{conv(1, 1)}}
			c.edit(&s)
			res, err := r.Plan(s)
			if c.want == "" {
				if err != nil || len(res.Assignments) != 1 {
					t.Errorf("Plan = %+v, %v; want one assignment", res, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) || len(res.Assignments) != 0 {
				t.Errorf("Plan = %+v, %v; want no result and an error containing %q", res, err, c.want)
			}
		})
	}
}
