package routing

import (
	"cmp"
	"slices"
	"time"
)

// Assignment gives a conversation to an agent.
type Assignment struct {
	Conversation int64
	Agent        string
}

// Release takes a lapsed conversation from its agent: it waits again (with Exclude
// set to the agent) unless an Assignment of the same plan gives it to someone.
type Release struct {
	Conversation int64
	Agent        string
	// Misses is the agent's new count of lapses in a row, for the caller to store.
	Misses int
}

// AwayReason says why the plan marks an agent away.
type AwayReason string

const (
	// AwayMissed: the agent let DefaultMissesBeforeAway (Policy.MissesBeforeAway)
	// assignments in a row lapse.
	AwayMissed AwayReason = "Missed"
	// AwayDisconnected: the agent's last live connection has been gone for
	// Policy.AwayAfterDisconnect.
	AwayDisconnected AwayReason = "Disconnected"
)

// MarkAway sets an online agent's availability to away.
type MarkAway struct {
	Agent  string
	Reason AwayReason
}

// Result is what the caller writes in the same transaction, in this order: Away,
// Released, Assignments, Cursor.
type Result struct {
	// Away are the agents to mark away.
	Away []MarkAway
	// Released are the lapsed assignments.
	Released []Release
	// Assignments are the new assignments, in queue order.
	Assignments []Assignment
	// Waiting are the ids of the conversations that still wait, in queue order.
	Waiting []int64
	// Cursor is the RoundRobin cursor to store for the next plan.
	Cursor string
	// Wake is the earliest time at which a plan could decide more with nothing else
	// changing (an assignment lapsing, an agent's connection timing out); zero if
	// none. Business hours opening is runtime/calendar's to say.
	Wake time.Time
}

// Plan decides, for one snapshot: which online agents the away rules mark away, which
// pending assignments lapse (Overdue), and then, when the business hours are open,
// assigns as many waiting conversations as it can in queue order (Queue), each to the
// agent the strategy picks among the eligible agents with room (docs/routing.md).
// Every conversation that still waits has no eligible agent with room, and no
// conversation is assigned while an earlier one in the queue that the same agent may
// take waits. It returns an error naming the bad field of s, and then no result.
func (r *Router) Plan(s Snapshot) (Result, error) {
	if err := s.validate(); err != nil {
		return Result{}, err
	}
	p := r.newPlanner(s)
	p.markDisconnected()
	queue := append(slices.Clone(s.Waiting), p.lapse(r.Overdue(s.Pending, s.Now))...)
	Queue(queue)
	for _, c := range queue {
		p.assign(c)
	}
	p.res.Wake = r.wake(s, p)
	return p.res, nil
}

// Pick returns the agent that Plan would assign c to if c were the only waiting
// conversation (s.Waiting and s.Pending are ignored), and false when c would wait.
// The inbox assigns through Plan, which keeps the queue order; Pick answers "who
// would get it" for one conversation.
func (r *Router) Pick(s Snapshot, c Conversation) (Assignment, bool, error) {
	s.Waiting, s.Pending = []Conversation{c}, nil
	res, err := r.Plan(s)
	if err != nil || len(res.Assignments) == 0 {
		return Assignment{}, false, err
	}
	return res.Assignments[0], true, nil
}

// Queue sorts conversations in queue order: higher Priority first, then older
// WaitingSince, then lower ID (for a deterministic order; with unique ids the order
// is total, so an unstable sort gives the same result).
func Queue(cs []Conversation) {
	slices.SortFunc(cs, func(a, b Conversation) int {
		return cmp.Or(cmp.Compare(b.Priority, a.Priority), a.WaitingSince.Compare(b.WaitingSince), cmp.Compare(a.ID, b.ID))
	})
}

// Overdue returns the pending assignments that lapse at now: not accepted nor
// answered, assigned assignWithin ago or longer.
func (r *Router) Overdue(pending []Pending, now time.Time) []Pending {
	var out []Pending
	for _, p := range pending {
		if !p.Accepted && !now.Before(p.AssignedAt.Add(r.policy.AssignWithin)) {
			out = append(out, p)
		}
	}
	return out
}
