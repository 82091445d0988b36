package routing

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/api/v1alpha1"
)

// agentState is an agent as a plan changes it.
type agentState struct {
	Agent
	teams []int // indices in Policy.Teams
	ok    bool  // may receive automatic assignments: online and not marked away
	seq   int   // order of its last assignment in this plan; 0 if none
}

// planner holds one plan's working state.
type planner struct {
	r       *Router
	now     time.Time
	open    bool          // business hours
	agents  []*agentState // sorted by login
	byLogin map[string]*agentState
	seq     int
	res     Result
}

func (r *Router) newPlanner(s Snapshot) *planner {
	p := &planner{r: r, now: s.Now, open: s.Open, byLogin: make(map[string]*agentState, len(s.Agents)), res: Result{Cursor: s.Cursor}}
	for _, a := range s.Agents {
		st := &agentState{Agent: a, teams: r.memberOf[a.Login], ok: a.Availability == Online}
		p.agents = append(p.agents, st)
		p.byLogin[a.Login] = st
	}
	slices.SortFunc(p.agents, func(a, b *agentState) int { return strings.Compare(a.Login, b.Login) })
	return p
}

// markDisconnected marks away the online agents whose last live connection has been
// gone for AwayAfterDisconnect.
func (p *planner) markDisconnected() {
	for _, a := range p.agents {
		if a.ok && !a.GoneSince.IsZero() && !p.now.Before(a.GoneSince.Add(p.r.policy.AwayAfterDisconnect)) {
			a.ok = false
			p.res.Away = append(p.res.Away, MarkAway{Agent: a.Login, Reason: AwayDisconnected})
		}
	}
}

// lapse releases the overdue assignments (oldest first), counts the misses, marks
// away an agent that reaches MissesBeforeAway, and returns the conversations to queue
// again, each excluding its agent.
func (p *planner) lapse(overdue []Pending) []Conversation {
	slices.SortFunc(overdue, func(a, b Pending) int {
		return cmp.Or(a.AssignedAt.Compare(b.AssignedAt), cmp.Compare(a.Conversation.ID, b.Conversation.ID))
	})
	out := make([]Conversation, 0, len(overdue))
	for _, o := range overdue {
		p.res.Released = append(p.res.Released, Release{Conversation: o.Conversation.ID, Agent: o.Agent, Misses: p.miss(o.Agent)})
		c := o.Conversation
		c.Exclude = o.Agent
		out = append(out, c)
	}
	return out
}

// miss counts one lapse against login and returns its new count of misses in a row
// (0 for an agent no longer in the snapshot).
func (p *planner) miss(login string) int {
	a := p.byLogin[login]
	if a == nil {
		return 0
	}
	a.Open, a.Misses = max(0, a.Open-1), a.Misses+1
	if a.ok && a.Misses >= p.r.policy.MissesBeforeAway {
		a.ok = false
		p.res.Away = append(p.res.Away, MarkAway{Agent: a.Login, Reason: AwayMissed})
	}
	return a.Misses
}

// assign gives c to the agent the strategy picks, or leaves it waiting.
func (p *planner) assign(c Conversation) {
	a := p.choose(c)
	if a == nil {
		p.res.Waiting = append(p.res.Waiting, c.ID)
		return
	}
	p.seq++
	a.Open, a.IdleSince, a.seq = a.Open+1, p.now, p.seq
	p.res.Cursor = a.Login
	p.res.Assignments = append(p.res.Assignments, Assignment{Conversation: c.ID, Agent: a.Login})
}

// choose returns the best eligible agent with room for c, or nil.
func (p *planner) choose(c Conversation) *agentState {
	if !p.open {
		return nil
	}
	mask := p.r.eligible(c)
	var best *agentState
	for _, a := range p.agents {
		if a.ok && p.r.policy.room(a.Open) && inTeams(a.teams, mask) && (best == nil || p.better(a, best, c)) {
			best = a
		}
	}
	return best
}

// better reports whether a goes before b for c: an agent other than c.Exclude first,
// then one below capacity.target, then the strategy's order.
func (p *planner) better(a, b *agentState, c Conversation) bool {
	if x, y := a.Login != c.Exclude, b.Login != c.Exclude; x != y {
		return x
	}
	if x, y := p.r.policy.belowTarget(a.Open), p.r.policy.belowTarget(b.Open); x != y {
		return x
	}
	if p.r.policy.Strategy == v1alpha1.RoundRobin {
		return p.rotatesBefore(a, b)
	}
	return lessLoaded(a, b)
}

// rotatesBefore: the first login after the cursor, wrapping around.
func (p *planner) rotatesBefore(a, b *agentState) bool {
	if x, y := a.Login > p.res.Cursor, b.Login > p.res.Cursor; x != y {
		return x
	}
	return a.Login < b.Login
}

// lessLoaded: fewer open conversations, then idle longer, then the login (the
// comparisons short-circuit: this runs for every candidate of every conversation).
func lessLoaded(a, b *agentState) bool {
	switch {
	case a.Open != b.Open:
		return a.Open < b.Open
	case !a.IdleSince.Equal(b.IdleSince):
		return a.IdleSince.Before(b.IdleSince)
	case a.seq != b.seq:
		return a.seq < b.seq
	}
	return a.Login < b.Login
}
