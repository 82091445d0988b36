package integrations

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// Event is the JSON body of a webhook request (and of a chatbot call, whose type is
// always message.received). ID ("evt_" and a number) is unique per namespace and the
// same in every delivery of the event; Timestamp is when the change was committed.
type Event struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Namespace string    `json:"namespace"`
	Inbox     string    `json:"inbox"`
	Data      EventData `json:"data"`
}

// EventData is what the event is about.
type EventData struct {
	Conversation EventConversation `json:"conversation"`
	Contact      EventContact      `json:"contact"`
	// Message: the inbound message (message.received only).
	Message *EventMessage `json:"message,omitempty"`
	// Assignee and PreviousAssignee: agents' login names (conversation.assigned; the
	// assignee also on conversation.resolved).
	Assignee         string `json:"assignee,omitempty"`
	PreviousAssignee string `json:"previous_assignee,omitempty"`
}

// EventConversation is the conversation as it is when the event is dispatched.
type EventConversation struct {
	ID       int64    `json:"id"`
	Number   string   `json:"number"` // the Number object's name
	Status   string   `json:"status"`
	Assignee string   `json:"assignee,omitempty"`
	Team     string   `json:"team,omitempty"`
	Priority int      `json:"priority"`
	Tags     []string `json:"tags"`
}

// EventContact is the customer.
type EventContact struct {
	WAID        string `json:"wa_id"`
	ProfileName string `json:"profile_name,omitempty"`
}

// EventMessage is an inbound message; Content is Meta's message object as received.
type EventMessage struct {
	ID        int64           `json:"id"`
	WAMID     string          `json:"wamid,omitempty"`
	Type      string          `json:"type"`
	Text      string          `json:"text,omitempty"`
	Content   json.RawMessage `json:"content"`
	CreatedAt time.Time       `json:"created_at"`
}

// pendingEvent is a claimed integration_events row with what the deliveries need.
type pendingEvent struct {
	id, conversationID int64
	number, typ        string
	body               []byte
	botMayAnswer       bool // no agent assigned, not handed off
}

// claimEventsSQL claims up to $3 events of the served Numbers $2 in namespace $1, with
// everything their bodies need.
const claimEventsSQL = `
	SELECT e.id, e.number, e.type, e.occurred_at, COALESCE(e.assignee, ''), COALESCE(e.previous_assignee, ''),
	       c.id, c.status, COALESCE(c.assignee, ''), COALESCE(c.team, ''), c.priority, c.tags,
	       c.assignee IS NULL AND c.bot_handoff_at IS NULL,
	       ct.wa_id, COALESCE(ct.profile_name, ''),
	       m.id, COALESCE(m.wamid, ''), COALESCE(m.type, ''), COALESCE(m.text, ''), m.content, m.created_at
	  FROM integration_events e
	  JOIN conversations c ON c.id = e.conversation_id
	  JOIN contacts ct ON ct.id = c.contact_id
	  LEFT JOIN messages m ON m.id = e.message_id
	 WHERE e.namespace = $1 AND e.number = ANY($2)
	 ORDER BY e.id LIMIT $3
	   FOR UPDATE OF e SKIP LOCKED`

// claimEvents reads and locks a batch of events; they are deleted by the same tx.
func claimEvents(ctx context.Context, tx pgx.Tx, namespace, inbox string, numbers []string, limit int) ([]pendingEvent, error) {
	rows, err := tx.Query(ctx, claimEventsSQL, namespace, numbers, limit)
	if err != nil {
		return nil, fmt.Errorf("integrations: claim events: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (pendingEvent, error) {
		return scanEvent(row, namespace, inbox)
	})
	if err != nil {
		return nil, fmt.Errorf("integrations: read events: %w", err)
	}
	return out, nil
}

// scanEvent scans one row of claimEventsSQL into its body.
func scanEvent(row pgx.CollectableRow, namespace, inbox string) (pendingEvent, error) {
	var (
		p                  pendingEvent
		ev                 Event
		msgID              *int64
		wamid, mtype, text string
		content            []byte
		created            *time.Time
	)
	d := &ev.Data
	err := row.Scan(&p.id, &p.number, &p.typ, &ev.Timestamp, &d.Assignee, &d.PreviousAssignee,
		&d.Conversation.ID, &d.Conversation.Status, &d.Conversation.Assignee, &d.Conversation.Team,
		&d.Conversation.Priority, &d.Conversation.Tags, &p.botMayAnswer,
		&d.Contact.WAID, &d.Contact.ProfileName, &msgID, &wamid, &mtype, &text, &content, &created)
	if err != nil {
		return p, err
	}
	if msgID != nil && created != nil {
		d.Message = &EventMessage{ID: *msgID, WAMID: wamid, Type: mtype, Text: text, Content: content, CreatedAt: created.UTC()}
	}
	ev.ID, ev.Type, ev.Namespace, ev.Inbox = "evt_"+strconv.FormatInt(p.id, 10), p.typ, namespace, inbox
	ev.Timestamp = ev.Timestamp.UTC()
	d.Conversation.Number = p.number
	if d.Conversation.Tags == nil {
		d.Conversation.Tags = []string{}
	}
	p.conversationID = d.Conversation.ID
	p.body, err = json.Marshal(ev)
	return p, err
}
