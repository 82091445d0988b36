package live

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/switchboard-dev/switchboard/runtime/inbox/authz"
)

// Channel is the PostgreSQL NOTIFY channel of the events (payload: the namespace, once
// per transaction; the rows are read from inbox_events, migration 00009).
const Channel = "switchboard_inbox_events"

// The kinds written by the database's triggers (migration 00009) and the ones the routing
// writes with inbox_event(). docs/live.md describes each payload.
const (
	KindMessageCreated          = "message.created"          // an inbound or outbound message was stored
	KindMessageStatus           = "message.status"           // an outbound message's status moved: sent, delivered, read, played, failed
	KindConversationCreated     = "conversation.created"     // a conversation was opened
	KindConversationAssigned    = "conversation.assigned"    // an assignee was set on an unassigned conversation
	KindConversationTransferred = "conversation.transferred" // another assignee or another team
	KindConversationUnassigned  = "conversation.unassigned"  // the assignee was removed (the conversation waits)
	KindConversationStatus      = "conversation.status"      // open, pending, resolved
	KindConversationAccepted    = "conversation.accepted"    // accepted by its assignee (the routing's audit row)
	KindAvailabilityChanged     = "availability.changed"     // an agent's availability changed (the routing's audit row)
	KindQueueChanged            = "queue.changed"            // a team's count of waiting conversations changed (routing_state)
)

// Kinds lists the known kinds (metrics label values; others count as "other").
var Kinds = []string{KindMessageCreated, KindMessageStatus, KindConversationCreated, KindConversationAssigned,
	KindConversationTransferred, KindConversationUnassigned, KindConversationStatus, KindConversationAccepted,
	KindAvailabilityChanged, KindQueueChanged}

// Event is one row of inbox_events as a client receives it (the data line of an SSE
// event is this object in JSON).
type Event struct {
	// ID is the row's id: global, increasing in the order the hub delivers events.
	ID   int64  `json:"id"`
	Kind string `json:"kind"`
	// ConversationID is nil for events about no conversation (availability.changed).
	ConversationID *int64 `json:"conversationId"`
	// Teams the event concerns (a transfer: the old and the new team); may be empty.
	Teams []string `json:"teams"`
	// Agent is the agent the event concerns (the conversation's assignee, the agent whose
	// availability changed), or nil.
	Agent *string `json:"agent"`
	// At is when the event was written (the database's clock).
	At      time.Time       `json:"at"`
	Payload json.RawMessage `json:"payload"`
}

// Visible reports whether p may receive e: it needs conversations.read; then an event
// about a conversation follows the inbox's one visibility rule (authz.Scope) for the
// conversation's assignee (Agent) and each of its teams (a transfer concerns the old and
// the new team; an unassigned conversation's events concern its eligible teams too,
// migration 00018); an event about no conversation is p's own (Agent is its login: its
// availability), needs conversations.readAll, one of p's teams, or, when it concerns no
// team either (another agent's availability), agents.read.
func Visible(p *authz.Principal, e Event) bool {
	if !p.Can(authz.ConversationsRead) {
		return false
	}
	s := p.ConversationScope()
	agent := ""
	if e.Agent != nil {
		agent = *e.Agent
	}
	switch {
	case s.Sees("", agent, nil):
		return true
	case e.ConversationID == nil && len(e.Teams) == 0:
		return p.Can(authz.AgentsRead)
	}
	return slices.ContainsFunc(e.Teams, func(t string) bool { return s.Sees(t, agent, nil) })
}
