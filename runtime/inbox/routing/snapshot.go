package routing

import (
	"fmt"
	"time"
)

// Availability is an agent's availability, set by the agent (the agents' API) or by
// the away rules of this package.
type Availability string

const (
	// Online agents receive automatic assignments.
	Online Availability = "online"
	// Away agents keep their conversations but receive no new ones automatically.
	Away Availability = "away"
	// Offline agents receive no new conversations automatically.
	Offline Availability = "offline"
)

// Agent is one agent as the inbox reads it in the routing transaction. Its teams and
// skills come from the policy (teams[].members names the Login).
type Agent struct {
	// Login is the agent's login name.
	Login string
	// Availability is online, away or offline.
	Availability Availability
	// Open counts the conversations assigned to the agent and not resolved, including
	// those not yet accepted.
	Open int
	// IdleSince is when the agent last received a conversation, or came online if
	// later; zero means never. LeastLoaded breaks ties by it (the earliest first).
	IdleSince time.Time
	// GoneSince is when the agent's last live connection closed; zero while the agent
	// has one (or the inbox does not track connections for it).
	GoneSince time.Time
	// Misses counts the agent's assignments in a row that lapsed (assignWithin passed
	// without an accept or an answer); the caller resets it on an accept or answer.
	Misses int
}

// Conversation is a conversation waiting for an agent.
type Conversation struct {
	// ID is the conversation's id (conversations.id).
	ID int64
	// Priority orders the queue, higher first.
	Priority int
	// WaitingSince is when the conversation began to wait (it keeps it when an
	// assignment lapses and it waits again); older first within a priority.
	WaitingSince time.Time
	// Skill is the required skill (a KeywordRule's routeToSkill or the Number's
	// default); empty for none.
	Skill string
	// Teams limits the eligible teams (a transfer to a team); empty means every team
	// of the policy.
	Teams []string
	// Exclude is the agent that last let this conversation lapse: it gets it again
	// only when no other eligible agent has room. Empty for none.
	Exclude string
}

// Pending is an assignment the agent has not accepted or answered yet.
type Pending struct {
	// Conversation is the assigned conversation, as it would wait if released.
	Conversation Conversation
	// Agent is the login of the assignee.
	Agent string
	// AssignedAt is when it was assigned.
	AssignedAt time.Time
	// Accepted is true once the agent accepted it (the API's accept operation) or
	// answered; such an assignment never lapses.
	Accepted bool
}

// Snapshot is what the inbox read inside its routing transaction.
type Snapshot struct {
	// Now is the transaction's time; the package reads no clock.
	Now time.Time
	// Open is whether the business hours are open now (runtime/calendar decides);
	// while false nothing is assigned automatically.
	Open bool
	// Cursor is the RoundRobin cursor: Result.Cursor of the previous plan (the login
	// of the last agent assigned), empty at first.
	Cursor string
	// Agents are the Inbox's agents.
	Agents []Agent
	// Waiting are the conversations in the queue.
	Waiting []Conversation
	// Pending are the assignments not yet accepted or answered.
	Pending []Pending
}

// validate returns an error naming the first bad field of s.
func (s Snapshot) validate() error {
	if s.Now.IsZero() {
		return fmt.Errorf("now is zero")
	}
	if err := validateAgents(s.Agents); err != nil {
		return err
	}
	return validateConversations(s.Waiting, s.Pending)
}

func validateAgents(agents []Agent) error {
	seen := make(map[string]bool, len(agents))
	for i, a := range agents {
		switch {
		case a.Login == "" || seen[a.Login]:
			return fmt.Errorf("agents[%d].login: %q is empty or not unique", i, a.Login)
		case a.Availability != Online && a.Availability != Away && a.Availability != Offline:
			return fmt.Errorf("agents[%d].availability: %q is not online, away or offline", i, a.Availability)
		case a.Open < 0 || a.Misses < 0:
			return fmt.Errorf("agents[%d] (%s): open %d and misses %d must not be negative", i, a.Login, a.Open, a.Misses)
		}
		seen[a.Login] = true
	}
	return nil
}

// validateConversations refuses a conversation listed twice, in waiting or pending.
func validateConversations(waiting []Conversation, pending []Pending) error {
	seen := make(map[int64]bool, len(waiting)+len(pending))
	for i, c := range waiting {
		if seen[c.ID] {
			return fmt.Errorf("waiting[%d].id: conversation %d is listed twice", i, c.ID)
		}
		seen[c.ID] = true
	}
	for i, p := range pending {
		if seen[p.Conversation.ID] || p.Agent == "" {
			return fmt.Errorf("pending[%d]: conversation %d is listed twice or has no agent", i, p.Conversation.ID)
		}
		seen[p.Conversation.ID] = true
	}
	return nil
}
