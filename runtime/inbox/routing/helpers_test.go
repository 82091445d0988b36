package routing

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/api/v1alpha1"
)

var t0 = time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)

// sales is docs/routingpolicy.md's example policy, with a strategy and capacity.
func sales(strategy v1alpha1.RoutingStrategy, target, max int) Policy {
	return Policy{Strategy: strategy, Target: target, Max: max, AssignWithin: time.Minute,
		MissesBeforeAway: 3, AwayAfterDisconnect: 2 * time.Minute,
		Teams: []Team{
			{Name: "iberia", Skills: []string{"es", "pt", "billing"}, Members: []string{"ana", "bruno", "carla"}},
			{Name: "billing", Skills: []string{"billing"}, Members: []string{"diego"}},
		}}
}

func mustRouter(t testing.TB, p Policy) *Router {
	t.Helper()
	r, err := New(p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// on returns online agents login:open, such as on("ana:1", "bruno:0").
func on(specs ...string) []Agent {
	var out []Agent
	for _, s := range specs {
		login, n, _ := strings.Cut(s, ":")
		open, err := strconv.Atoi(n)
		if err != nil {
			panic(fmt.Sprintf("on(%q): %v", s, err))
		}
		out = append(out, Agent{Login: login, Availability: Online, Open: open})
	}
	return out
}

// conv is a waiting conversation that began to wait ago minutes before t0.
func conv(id int64, ago int) Conversation {
	return Conversation{ID: id, WaitingSince: t0.Add(-time.Duration(ago) * time.Minute)}
}

// got renders a plan's assignments as "id>agent" and the waiting ids as "id?".
func got(res Result) string {
	var b []string
	for _, a := range res.Assignments {
		b = append(b, fmt.Sprintf("%d>%s", a.Conversation, a.Agent))
	}
	for _, id := range res.Waiting {
		b = append(b, fmt.Sprintf("%d?", id))
	}
	return strings.Join(b, " ")
}

func mustPlan(t testing.TB, r *Router, s Snapshot) Result {
	t.Helper()
	if s.Now.IsZero() {
		s.Now = t0
	}
	res, err := r.Plan(s)
	if err != nil {
		t.Fatal(err)
	}
	return res
}
