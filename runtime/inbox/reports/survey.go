package reports

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox/conversation"
)

// SurveyText is what the satisfaction survey says: the body, the list's button, and the
// five rows' titles from 1 (worst) to 5 (best). Meta's limits: body 1,024 characters,
// button 20, row title 24 (Meta, "Interactive list messages").
type SurveyText struct {
	Body   string
	Button string
	Rows   [5]string
}

// DefaultSurvey is the English survey.
var DefaultSurvey = SurveyText{
	Body:   "How satisfied are you with the help you received? Choose from 1 (very unsatisfied) to 5 (very satisfied).",
	Button: "Rate us",
	Rows:   [5]string{"1 - Very unsatisfied", "2 - Unsatisfied", "3 - Neutral", "4 - Satisfied", "5 - Very satisfied"},
}

// ErrSurveyWindowClosed: the survey is a free-form message, so it is sent only while the
// customer-service window is open; after it, none is sent.
var ErrSurveyWindowClosed = errors.New("reports: the customer-service window is closed: no survey")

// SendSurvey sends the satisfaction survey of a conversation being resolved, in the
// caller's transaction (the resolve's): an interactive list whose rows answer
// "csat:<conversation id>:<1-5>" (reply buttons allow only three), recorded in
// csat_surveys with the agent and team holding the conversation. A conversation is
// surveyed once (a second call does nothing and returns 0). The window must be open at
// now (ErrSurveyWindowClosed). It returns the outbox id.
func SendSurvey(ctx context.Context, tx pgx.Tx, c conversation.Conversation, waID, agent, team string, text SurveyText, now time.Time) (int64, error) {
	if !c.WindowOpen(now) {
		return 0, ErrSurveyWindowClosed
	}
	var already bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM csat_surveys WHERE conversation_id = $1)`, c.ID).Scan(&already); err != nil {
		return 0, err
	}
	if already {
		return 0, nil
	}
	rows := make([]map[string]string, 5)
	for i := range 5 {
		rows[4-i] = map[string]string{"id": fmt.Sprintf("csat:%d:%d", c.ID, i+1), "title": text.Rows[i]}
	}
	payload, err := json.Marshal(map[string]any{"type": "interactive", "interactive": map[string]any{
		"type": "list", "body": map[string]string{"text": text.Body},
		"action": map[string]any{"button": text.Button, "sections": []any{map[string]any{"title": text.Button, "rows": rows}}},
	}})
	if err != nil {
		return 0, err
	}
	id, err := conversation.Send(ctx, tx, c, waID, conversation.Outbound{Payload: payload, Type: "interactive", Text: text.Body, Author: "survey"})
	if err != nil {
		return 0, err
	}
	_, err = tx.Exec(ctx, `INSERT INTO csat_surveys (conversation_id, namespace, number, agent, team, outbox_id, sent_at)
		VALUES ($1, $2, $3, NULLIF($4, ''), NULLIF($5, ''), $6, $7)`, c.ID, c.Number.Namespace, c.Number.Name, agent, team, id, now)
	return id, err
}
