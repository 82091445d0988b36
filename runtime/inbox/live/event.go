package live

import (
	"encoding/json"
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
	KindAgentAvailability       = "agent.availability"       // an agent's availability changed (written by the routing)
	KindQueueChanged            = "queue.changed"            // a team's queue changed (written by the routing)
)

// Kinds lists the known kinds (metrics label values; others count as "other").
var Kinds = []string{KindMessageCreated, KindMessageStatus, KindConversationCreated, KindConversationAssigned,
	KindConversationTransferred, KindConversationUnassigned, KindConversationStatus, KindAgentAvailability, KindQueueChanged}

// Event is one row of inbox_events as a client receives it (the data line of an SSE
// event is this object in JSON).
type Event struct {
	// ID is the row's id: global, increasing in the order the hub delivers events.
	ID   int64  `json:"id"`
	Kind string `json:"kind"`
	// ConversationID is nil for events about no conversation (agent.availability).
	ConversationID *int64 `json:"conversationId"`
	// Teams the event concerns (a transfer: the old and the new team); may be empty.
	Teams []string `json:"teams"`
	// At is when the event was written (the database's clock).
	At      time.Time       `json:"at"`
	Payload json.RawMessage `json:"payload"`
}

// Visible reports whether p may receive e: it needs conversations.read; then an event
// about a conversation is shown with conversations.readAll or when one of its teams is
// one of p's; an event about no conversation and no team (an agent's availability) is
// shown with agents.read; an event about teams but no conversation (a queue) follows the
// team rule.
func Visible(p *authz.Principal, e Event) bool {
	switch {
	case !p.Can(authz.ConversationsRead):
		return false
	case p.Can(authz.ConversationsReadAll):
		return true
	case e.ConversationID == nil && len(e.Teams) == 0:
		return p.Can(authz.AgentsRead)
	}
	for _, t := range e.Teams {
		if p.InTeam(t) {
			return true
		}
	}
	return false
}
