package routing

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/api/v1alpha1"
)

// The property tests draw random snapshots from a seeded generator (bounded
// iterations, reproducible: a failure prints its seed) and check the invariants of
// docs/routing.md against reference rules written out here from the spec.

const propertyRounds = 3000

var (
	logins = []string{"ana", "bruno", "carla", "diego", "eva", "femi", "gus", "hana", "ivo", "jun"}
	skills = []string{"es", "pt", "billing", "vip"}
)

func pick[T any](g *rand.Rand, xs []T, p float64) []T {
	var out []T
	for _, x := range xs {
		if g.Float64() < p {
			out = append(out, x)
		}
	}
	return out
}

func randomPolicy(g *rand.Rand) Policy {
	strategies := []v1alpha1.RoutingStrategy{v1alpha1.RoundRobin, v1alpha1.LeastLoaded, v1alpha1.Skills}
	p := Policy{Strategy: strategies[g.IntN(3)], AssignWithin: time.Minute, MissesBeforeAway: 1 + g.IntN(3), AwayAfterDisconnect: 2 * time.Minute}
	if g.IntN(4) > 0 {
		p.Max = 1 + g.IntN(5)
		p.Target = g.IntN(p.Max + 1)
	}
	for i := range g.IntN(5) {
		members := pick(g, logins, 0.3)
		if len(members) == 0 {
			members = logins[i : i+1]
		}
		p.Teams = append(p.Teams, Team{Name: fmt.Sprintf("t%d", i), Skills: pick(g, skills, 0.4), Members: members})
	}
	return p
}

func randomAgent(g *rand.Rand, login string, max int) Agent {
	a := Agent{Login: login, Availability: []Availability{Online, Online, Online, Away, Offline}[g.IntN(5)],
		Open: g.IntN(max + 2), Misses: g.IntN(3)}
	if g.IntN(2) == 0 {
		a.IdleSince = t0.Add(-time.Duration(g.IntN(600)) * time.Second)
	}
	if g.IntN(4) == 0 {
		a.GoneSince = t0.Add(-time.Duration(g.IntN(240)) * time.Second)
	}
	return a
}

func randomConversation(g *rand.Rand, id int64, p Policy) Conversation {
	c := Conversation{ID: id, Priority: g.IntN(3), WaitingSince: t0.Add(-time.Duration(g.IntN(30)) * time.Minute)}
	c.Skill = append([]string{"", "", "unknown"}, skills...)[g.IntN(len(skills)+3)]
	for _, t := range p.Teams {
		if g.IntN(4) == 0 {
			c.Teams = append(c.Teams, t.Name)
		}
	}
	if g.IntN(10) == 0 {
		c.Teams = append(c.Teams, "gone")
	}
	if g.IntN(8) == 0 {
		c.Exclude = logins[g.IntN(len(logins))]
	}
	return c
}

func randomSnapshot(g *rand.Rand, p Policy) Snapshot {
	s := Snapshot{Now: t0, Open: g.IntN(10) > 0, Cursor: append([]string{""}, logins...)[g.IntN(len(logins)+1)]}
	for _, l := range append(pick(g, logins, 0.7), "outsider") {
		s.Agents = append(s.Agents, randomAgent(g, l, p.Max))
	}
	n := g.IntN(30)
	for id := range int64(n) {
		c := randomConversation(g, id, p)
		if g.IntN(5) > 0 {
			s.Waiting = append(s.Waiting, c)
			continue
		}
		s.Pending = append(s.Pending, Pending{Conversation: c, Agent: s.Agents[g.IntN(len(s.Agents))].Login,
			AssignedAt: t0.Add(-time.Duration(g.IntN(120)) * time.Second), Accepted: g.IntN(3) == 0})
	}
	return s
}

// refEligible restates docs/routing.md#eligibility.
func refEligible(p Policy, login string, c Conversation) bool {
	if len(p.Teams) == 0 {
		return true
	}
	var teams []Team
	for _, t := range p.Teams {
		if slices.Contains(c.Teams, t.Name) {
			teams = append(teams, t)
		}
	}
	if len(teams) == 0 {
		teams = p.Teams
	}
	if p.Strategy == v1alpha1.Skills && c.Skill != "" {
		skilled := slices.DeleteFunc(slices.Clone(teams), func(t Team) bool { return !slices.Contains(t.Skills, c.Skill) })
		if len(skilled) > 0 {
			teams = skilled
		}
	}
	return slices.ContainsFunc(teams, func(t Team) bool { return slices.Contains(t.Members, login) })
}

// refQueueOrder restates docs/routing.md#the-queue: higher priority first, then the
// longest waiting, then the lower id.
func refQueueOrder(a, b Conversation) int {
	switch {
	case a.Priority != b.Priority:
		return b.Priority - a.Priority
	case !a.WaitingSince.Equal(b.WaitingSince):
		return int(a.WaitingSince.Sub(b.WaitingSince))
	}
	return int(a.ID - b.ID)
}

// world is a snapshot with what the plan decided, seen from the outside.
type world struct {
	p        Policy
	s        Snapshot
	res      Result
	open     map[string]int  // open after the releases, before the assignments
	ok       map[string]bool // may receive automatic assignments
	queue    []Conversation  // waiting and released, in queue order
	assigned map[int64]string
}

func newWorld(t *testing.T, p Policy, s Snapshot, res Result) *world {
	w := &world{p: p, s: s, res: res, open: map[string]int{}, ok: map[string]bool{}, assigned: map[int64]string{}}
	for _, a := range s.Agents {
		w.open[a.Login], w.ok[a.Login] = a.Open, a.Availability == Online
	}
	for _, m := range res.Away {
		w.ok[m.Agent] = false
	}
	w.queue = slices.Clone(s.Waiting)
	for _, pd := range s.Pending {
		if !pd.Accepted && !t0.Before(pd.AssignedAt.Add(p.AssignWithin)) {
			w.open[pd.Agent] = max(0, w.open[pd.Agent]-1)
			c := pd.Conversation
			c.Exclude = pd.Agent
			w.queue = append(w.queue, c)
		}
	}
	slices.SortFunc(w.queue, refQueueOrder)
	for _, a := range res.Assignments {
		if _, twice := w.assigned[a.Conversation]; twice {
			t.Fatalf("conversation %d assigned twice", a.Conversation)
		}
		w.assigned[a.Conversation] = a.Agent
	}
	return w
}

func (w *world) room(login string, open int) bool {
	return w.ok[login] && (w.p.Max == 0 || open < w.p.Max)
}

// checkInvariants checks a plan against the rules; replaying the assignments in
// order, open tracks each agent's load at the moment of each assignment.
func (w *world) checkInvariants(t *testing.T) {
	if len(w.res.Released) != len(w.queue)-len(w.s.Waiting) || len(w.res.Assignments)+len(w.res.Waiting) != len(w.queue) {
		t.Fatalf("released %d, assigned %d, waiting %d of a queue of %d", len(w.res.Released), len(w.res.Assignments), len(w.res.Waiting), len(w.queue))
	}
	if !w.s.Open && len(w.res.Assignments) > 0 {
		t.Fatalf("assigned %v outside business hours", w.res.Assignments)
	}
	open := maps.Clone(w.open)
	for _, c := range w.queue {
		if login, ok := w.assigned[c.ID]; ok {
			w.checkChoice(t, c, login, open)
			open[login]++
		}
	}
	for _, c := range w.queue {
		w.checkNotStarved(t, c, open)
	}
	w.checkQueueOrder(t)
	w.checkAway(t)
}

// checkAway: exactly the online agents whose connection is gone for
// AwayAfterDisconnect are marked Disconnected; the others marked Missed are online
// and reach MissesBeforeAway with this plan's lapses.
func (w *world) checkAway(t *testing.T) {
	marked := map[string]AwayReason{}
	for _, m := range w.res.Away {
		marked[m.Agent] = m.Reason
	}
	misses := map[string]int{}
	for _, r := range w.res.Released {
		misses[r.Agent] = r.Misses
	}
	for _, a := range w.s.Agents {
		gone := a.Availability == Online && !a.GoneSince.IsZero() && !t0.Before(a.GoneSince.Add(w.p.AwayAfterDisconnect))
		missed := a.Availability == Online && !gone && misses[a.Login] >= w.p.MissesBeforeAway
		want := map[[2]bool]AwayReason{{true, false}: AwayDisconnected, {false, true}: AwayMissed}[[2]bool{gone, missed}]
		if marked[a.Login] != want {
			t.Fatalf("agent %+v (misses now %d) marked away %q, want %q", a, misses[a.Login], marked[a.Login], want)
		}
	}
}

// checkChoice: the agent may take c and has room; no other candidate is in a better
// tier (not excluded, below target); under LeastLoaded and Skills none in the same
// tier holds fewer open conversations.
func (w *world) checkChoice(t *testing.T, c Conversation, login string, open map[string]int) {
	if !refEligible(w.p, login, c) || !w.room(login, open[login]) {
		t.Fatalf("conversation %d went to %s (open %d, may receive %v), who may not take it or has no room", c.ID, login, open[login], w.ok[login])
	}
	tier := func(l string) int { return b2i(l != c.Exclude)*2 + b2i(w.p.Target == 0 || open[l] < w.p.Target) }
	for _, a := range w.s.Agents {
		b := a.Login
		if !refEligible(w.p, b, c) || !w.room(b, open[b]) {
			continue
		}
		if tier(b) > tier(login) || (tier(b) == tier(login) && w.p.Strategy != v1alpha1.RoundRobin && open[b] < open[login]) {
			t.Fatalf("conversation %d went to %s (open %d) but %s (open %d) was preferable", c.ID, login, open[login], b, open[b])
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// checkNotStarved: a conversation that still waits has no eligible agent with room.
func (w *world) checkNotStarved(t *testing.T, c Conversation, open map[string]int) {
	if _, ok := w.assigned[c.ID]; ok || !w.s.Open {
		return
	}
	for _, a := range w.s.Agents {
		if refEligible(w.p, a.Login, c) && w.room(a.Login, open[a.Login]) {
			t.Fatalf("conversation %d waits while %s (open %d) may take it", c.ID, a.Login, open[a.Login])
		}
	}
}

// checkQueueOrder: no conversation went to an agent while one earlier in the queue,
// which that agent may take, still waits.
func (w *world) checkQueueOrder(t *testing.T) {
	for i, c := range w.queue {
		login, ok := w.assigned[c.ID]
		if !ok {
			continue
		}
		for _, earlier := range w.queue[:i] {
			if _, done := w.assigned[earlier.ID]; !done && refEligible(w.p, login, earlier) {
				t.Fatalf("conversation %d went to %s while the earlier %d, which %s may take, waits", c.ID, login, earlier.ID, login)
			}
		}
	}
}

func TestPropertyRandomSnapshots(t *testing.T) {
	for seed := range uint64(propertyRounds) {
		checkSeed(t, seed)
	}
}

// checkSeed plans one random snapshot and checks it; a failure names the seed and
// the policy (one test, not a subtest per seed, so that the pass count stays honest).
func checkSeed(t *testing.T, seed uint64) {
	g := rand.New(rand.NewPCG(seed, 1))
	p := randomPolicy(g)
	defer func() {
		if t.Failed() {
			t.Logf("seed %d: policy %+v", seed, p)
		}
	}()
	s := randomSnapshot(g, p)
	res := mustPlan(t, mustRouter(t, p), s)
	newWorld(t, p, s, res).checkInvariants(t)
	checkShuffled(t, g, mustRouter(t, p), s, res)
}

// checkShuffled: the same snapshot in another order plans the same.
func checkShuffled(t *testing.T, g *rand.Rand, r *Router, s Snapshot, want Result) {
	s.Agents, s.Waiting, s.Pending = slices.Clone(s.Agents), slices.Clone(s.Waiting), slices.Clone(s.Pending)
	g.Shuffle(len(s.Agents), func(i, j int) { s.Agents[i], s.Agents[j] = s.Agents[j], s.Agents[i] })
	g.Shuffle(len(s.Waiting), func(i, j int) { s.Waiting[i], s.Waiting[j] = s.Waiting[j], s.Waiting[i] })
	g.Shuffle(len(s.Pending), func(i, j int) { s.Pending[i], s.Pending[j] = s.Pending[j], s.Pending[i] })
	if got := mustPlan(t, r, s); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("shuffled input planned\n%+v\nwant\n%+v", got, want)
	}
}

// TestPropertyRoundRobinFair: equally available agents (online, no cap reached)
// receive, over many rounds with the cursor passed back, counts that differ by at
// most one after every round.
func TestPropertyRoundRobinFair(t *testing.T) {
	for seed := range uint64(200) {
		g := rand.New(rand.NewPCG(seed, 2))
		members := logins[:2+g.IntN(len(logins)-1)]
		r := mustRouter(t, Policy{Strategy: v1alpha1.RoundRobin, Target: 100, Max: 100, AssignWithin: time.Minute,
			MissesBeforeAway: 3, AwayAfterDisconnect: time.Minute, Teams: []Team{{Name: "all", Members: members}}})
		checkFairRounds(t, g, r, members, seed)
	}
}

func checkFairRounds(t *testing.T, g *rand.Rand, r *Router, members []string, seed uint64) {
	counts, cursor, id := map[string]int{}, "", int64(0)
	for round := range 100 {
		s := Snapshot{Now: t0.Add(time.Duration(round) * time.Minute), Open: true, Cursor: cursor}
		for _, m := range members {
			s.Agents = append(s.Agents, Agent{Login: m, Availability: Online, Open: g.IntN(50)})
		}
		for range g.IntN(5) {
			id++
			s.Waiting = append(s.Waiting, conv(id, g.IntN(9)))
		}
		res := mustPlan(t, r, s)
		for _, a := range res.Assignments {
			counts[a.Agent]++
		}
		cursor = res.Cursor
		if lo, hi := spread(counts, members); hi-lo > 1 {
			t.Fatalf("seed %d round %d: counts %v differ by %d", seed, round, counts, hi-lo)
		}
	}
}

func spread(counts map[string]int, members []string) (lo, hi int) {
	lo = counts[members[0]]
	for _, m := range members {
		lo, hi = min(lo, counts[m]), max(hi, counts[m])
	}
	return lo, hi
}
