package routing_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/inbox/routing"
)

const (
	agents        = 200
	conversations = 1000
)

var (
	now    = time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	skills = []string{"es", "pt", "en", "billing", "returns", "vip"}
)

func policy(strategy v1alpha1.RoutingStrategy) routing.Policy {
	p := routing.Policy{Strategy: strategy, Target: 5, Max: 7, AssignWithin: 2 * time.Minute,
		MissesBeforeAway: routing.DefaultMissesBeforeAway, AwayAfterDisconnect: routing.DefaultAwayAfterDisconnect}
	for t := range 10 {
		team := routing.Team{Name: fmt.Sprintf("team-%d", t), Skills: []string{skills[t%6], skills[(t+1)%6]}}
		for i := range agents {
			if i%10 == t || (i%5 == 0 && (i/10)%10 == t) {
				team.Members = append(team.Members, login(i))
			}
		}
		p.Teams = append(p.Teams, team)
	}
	return p
}

func login(i int) string { return fmt.Sprintf("agent-%03d", i) }

func snapshot(g *rand.Rand, full bool) routing.Snapshot {
	s := routing.Snapshot{Now: now, Open: true}
	for i := range agents {
		a := routing.Agent{Login: login(i), Availability: routing.Online, Open: g.IntN(4), IdleSince: now.Add(-time.Duration(g.IntN(3600)) * time.Second)}
		if g.IntN(10) == 0 {
			a.Availability = routing.Away
		}
		if full {
			a.Open = 7
		}
		s.Agents = append(s.Agents, a)
	}
	for id := range int64(conversations) {
		s.Waiting = append(s.Waiting, conversation(g, id))
	}
	return s
}

func conversation(g *rand.Rand, id int64) routing.Conversation {
	c := routing.Conversation{ID: id, Priority: g.IntN(3), WaitingSince: now.Add(-time.Duration(g.IntN(3600)) * time.Second)}
	if g.IntN(2) == 0 {
		c.Skill = skills[g.IntN(len(skills))]
	}
	if g.IntN(10) == 0 {
		c.Teams = []string{fmt.Sprintf("team-%d", g.IntN(10))}
	}
	return c
}

// BenchmarkPlan times one Plan of 1,000 waiting conversations over 200 agents, per
// strategy, and reports it per conversation.
func BenchmarkPlan(b *testing.B) {
	for _, c := range []struct {
		name     string
		strategy v1alpha1.RoutingStrategy
		full     bool
	}{
		{"RoundRobin", v1alpha1.RoundRobin, false},
		{"LeastLoaded", v1alpha1.LeastLoaded, false},
		{"Skills", v1alpha1.Skills, false},
		{"Skills-full", v1alpha1.Skills, true},
	} {
		b.Run(c.name, func(b *testing.B) { benchPlan(b, c.strategy, c.full) })
	}
}

func benchPlan(b *testing.B, strategy v1alpha1.RoutingStrategy, full bool) {
	r, err := routing.New(policy(strategy))
	if err != nil {
		b.Fatal(err)
	}
	s := snapshot(rand.New(rand.NewPCG(9, 3)), full)
	var res routing.Result
	for b.Loop() {
		if res, err = r.Plan(s); err != nil {
			b.Fatal(err)
		}
	}
	if full != (len(res.Assignments) == 0) || len(res.Assignments)+len(res.Waiting) != conversations {
		b.Fatalf("assigned %d, waiting %d of %d", len(res.Assignments), len(res.Waiting), conversations)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*conversations), "ns/conversation")
	b.ReportMetric(float64(len(res.Assignments)), "assigned")
	b.ReportMetric(0, "ns/op")
}
