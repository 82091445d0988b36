package routing

import (
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/api/v1alpha1"
)

func withSkill(c Conversation, skill string, teams ...string) Conversation {
	c.Skill, c.Teams = skill, teams
	return c
}

func idle(a Agent, minutesAgo int) Agent {
	a.IdleSince = t0.Add(-time.Duration(minutesAgo) * time.Minute)
	return a
}

func avail(a Agent, v Availability) Agent {
	a.Availability = v
	return a
}

func TestStrategies(t *testing.T) {
	ll, rr, sk := v1alpha1.LeastLoaded, v1alpha1.RoundRobin, v1alpha1.Skills
	cases := []struct {
		name    string
		policy  Policy
		agents  []Agent
		waiting []Conversation
		cursor  string
		want    string
	}{
		{"LeastLoaded: fewest open", sales(ll, 0, 0), on("ana:3", "bruno:1", "carla:2"), []Conversation{conv(1, 1)}, "", "1>bruno"},
		{"LeastLoaded: a tie goes to the agent idle longest", sales(ll, 0, 0),
			[]Agent{idle(on("ana:1")[0], 5), idle(on("bruno:1")[0], 9), idle(on("carla:1")[0], 1)}, []Conversation{conv(1, 1)}, "", "1>bruno"},
		{"LeastLoaded: never assigned counts as idle longest", sales(ll, 0, 0),
			[]Agent{idle(on("ana:1")[0], 500), on("bruno:1")[0]}, []Conversation{conv(1, 1)}, "", "1>bruno"},
		{"LeastLoaded: then by login", sales(ll, 0, 0), on("carla:0", "bruno:0"), []Conversation{conv(1, 1)}, "", "1>bruno"},
		{"LeastLoaded: spreads within one plan", sales(ll, 0, 0), on("ana:0", "bruno:0"),
			[]Conversation{conv(1, 3), conv(2, 2), conv(3, 1)}, "", "1>ana 2>bruno 3>ana"},
		{"LeastLoaded: away and offline agents get nothing", sales(ll, 0, 0),
			[]Agent{avail(on("ana:0")[0], Away), avail(on("bruno:0")[0], Offline), on("carla:9")[0]}, []Conversation{conv(1, 1)}, "", "1>carla"},
		{"an agent in no team of the policy gets nothing", sales(ll, 0, 0), on("zoe:0", "ana:5"), []Conversation{conv(1, 1)}, "", "1>ana"},
		{"a policy without teams routes to every agent", Policy{Strategy: ll, AssignWithin: time.Minute, MissesBeforeAway: 1, AwayAfterDisconnect: time.Minute},
			on("zoe:0", "ana:5"), []Conversation{conv(1, 1)}, "", "1>zoe"},
		{"LeastLoaded ignores the skill", sales(ll, 0, 0), on("ana:2", "diego:0"), []Conversation{withSkill(conv(1, 1), "es")}, "", "1>diego"},

		{"RoundRobin: from the start", sales(rr, 0, 0), on("bruno:5", "ana:9", "carla:0"), []Conversation{conv(1, 1)}, "", "1>ana"},
		{"RoundRobin: after the cursor", sales(rr, 0, 0), on("bruno:5", "ana:9", "carla:0"), []Conversation{conv(1, 1)}, "ana", "1>bruno"},
		{"RoundRobin: wraps around", sales(rr, 0, 0), on("bruno:5", "ana:9", "carla:0"), []Conversation{conv(1, 1)}, "carla", "1>ana"},
		{"RoundRobin: a cursor of a gone agent", sales(rr, 0, 0), on("ana:0", "carla:0"), []Conversation{conv(1, 1)}, "bruno", "1>carla"},
		{"RoundRobin: rotates within one plan", sales(rr, 0, 0), on("ana:0", "bruno:0", "carla:0"),
			[]Conversation{conv(1, 4), conv(2, 3), conv(3, 2), conv(4, 1)}, "", "1>ana 2>bruno 3>carla 4>ana"},
		{"RoundRobin: skips agents at max", sales(rr, 2, 3), on("ana:3", "bruno:3", "carla:2"), []Conversation{conv(1, 1)}, "", "1>carla"},
		{"RoundRobin: prefers agents below target", sales(rr, 2, 5), on("ana:2", "bruno:4", "carla:1"), []Conversation{conv(1, 2), conv(2, 1)}, "", "1>carla 2>ana"},
		{"RoundRobin: above target only when every agent is", sales(rr, 1, 5), on("ana:3", "bruno:2", "carla:4"), []Conversation{conv(1, 1)}, "ana", "1>bruno"},

		{"max is never exceeded: the rest waits", sales(ll, 1, 2), on("ana:1", "bruno:2"), []Conversation{conv(1, 3), conv(2, 2), conv(3, 1)}, "", "1>ana 2? 3?"},
		{"LeastLoaded with target: below target first", sales(ll, 2, 4), on("ana:2", "bruno:1"), []Conversation{conv(1, 3), conv(2, 2), conv(3, 1)}, "", "1>bruno 2>ana 3>bruno"},
		{"an agent over max (a manual override) gets nothing", sales(ll, 1, 2), on("ana:5", "bruno:1"), []Conversation{conv(1, 1)}, "", "1>bruno"},

		{"Skills: only the teams with the skill, least loaded", sales(sk, 0, 0), on("ana:3", "bruno:2", "diego:0"), []Conversation{withSkill(conv(1, 1), "es")}, "", "1>bruno"},
		{"Skills: a skill of two teams", sales(sk, 0, 0), on("ana:3", "bruno:2", "diego:0"), []Conversation{withSkill(conv(1, 1), "billing")}, "", "1>diego"},
		{"Skills: no skill means any eligible agent", sales(sk, 0, 0), on("ana:3", "diego:1"), []Conversation{conv(1, 1)}, "", "1>diego"},
		{"Skills: a skill no team has is ignored", sales(sk, 0, 0), on("ana:3", "diego:1"), []Conversation{withSkill(conv(1, 1), "klingon")}, "", "1>diego"},
		{"Skills: a skilled team full means wait", sales(sk, 1, 1), on("ana:1", "bruno:1", "carla:1", "diego:0"), []Conversation{withSkill(conv(1, 1), "es")}, "", "1?"},
		{"Skills: the skill within the eligible teams", sales(sk, 0, 0), on("ana:0", "diego:4"), []Conversation{withSkill(conv(1, 1), "billing", "billing")}, "", "1>diego"},
		{"Skills: eligible teams without the skill ignore it", sales(sk, 0, 0), on("ana:0", "diego:4"), []Conversation{withSkill(conv(1, 1), "es", "billing")}, "", "1>diego"},

		{"eligible teams: a transfer to a team", sales(ll, 0, 0), on("ana:0", "diego:4"), []Conversation{withSkill(conv(1, 1), "", "billing")}, "", "1>diego"},
		{"eligible teams: unknown names mean every team", sales(ll, 0, 0), on("ana:0", "diego:4"), []Conversation{withSkill(conv(1, 1), "", "gone")}, "", "1>ana"},
		{"no agent at all: waits", sales(ll, 0, 0), nil, []Conversation{conv(1, 1)}, "", "1?"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := mustPlan(t, mustRouter(t, c.policy), Snapshot{Open: true, Cursor: c.cursor, Agents: c.agents, Waiting: c.waiting})
			if g := got(res); g != c.want {
				t.Errorf("got %q, want %q", g, c.want)
			}
		})
	}
}

func TestRoundRobinCursor(t *testing.T) {
	r := mustRouter(t, sales(v1alpha1.RoundRobin, 0, 0))
	cursor, seen := "", ""
	for i := range 5 {
		res := mustPlan(t, r, Snapshot{Open: true, Cursor: cursor, Agents: on("ana:0", "bruno:0", "carla:0"), Waiting: []Conversation{conv(int64(i), 1)}})
		cursor = res.Cursor
		seen += res.Assignments[0].Agent + " "
	}
	if want := "ana bruno carla ana bruno "; seen != want {
		t.Errorf("got %q, want %q", seen, want)
	}
	res := mustPlan(t, r, Snapshot{Open: true, Cursor: "bruno", Agents: on("ana:0")})
	if res.Cursor != "bruno" {
		t.Errorf("a plan that assigns nothing changed the cursor to %q", res.Cursor)
	}
}

func TestPick(t *testing.T) {
	r := mustRouter(t, sales(v1alpha1.Skills, 1, 2))
	s := Snapshot{Now: t0, Open: true, Agents: on("ana:1", "bruno:2", "diego:0"), Waiting: []Conversation{conv(9, 99)}}
	a, ok, err := r.Pick(s, withSkill(conv(1, 1), "es"))
	if err != nil || !ok || a != (Assignment{Conversation: 1, Agent: "ana"}) {
		t.Errorf("Pick = %v, %v, %v; want ana (the waiting conversation 9 is ignored)", a, ok, err)
	}
	s.Agents = on("ana:2", "diego:0")
	if a, ok, err := r.Pick(s, withSkill(conv(1, 1), "es")); ok || err != nil {
		t.Errorf("Pick = %v, %v, %v; want no agent (iberia is at max)", a, ok, err)
	}
	s.Open = false
	if a, ok, err := r.Pick(s, conv(1, 1)); ok || err != nil {
		t.Errorf("Pick outside business hours = %v, %v, %v; want no agent", a, ok, err)
	}
}
