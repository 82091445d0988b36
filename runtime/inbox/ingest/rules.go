package ingest

import (
	"time"

	"github.com/switchboard-dev/switchboard/runtime/store"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// Rules are the inbound keyword rules (and the after-hours reply) the ingest consults for
// each new customer message, inside the webhook's transaction: Match must be pure and
// fast (compiled rules in memory, no I/O).
type Rules interface {
	// Match returns the actions for msg, received on number at `at`, in the order they
	// apply (rules by priority).
	Match(number store.NumberRef, msg whatsapp.Inbound, at time.Time) []Action
}

// Action is what one matched rule asks for.
type Action struct {
	// Rule names the rule (KeywordRule name, or "after-hours"): metrics, the reply's
	// author, and the default reply key.
	Rule string
	// Reply is a text to send back in the conversation lane ("" for none).
	Reply string
	// ReplyKey identifies the reply for deduplication; default "keyword:<Rule>".
	ReplyKey string
	// OncePerConversation sends the reply at most once in the conversation (after-hours
	// replies, with a ReplyKey naming the closed period) instead of at most once a day.
	OncePerConversation bool
	// Tags are added to the contact and the conversation.
	Tags []string
	// RouteToSkill sets the conversation's required skill ("" leaves it).
	RouteToSkill string
}

func (a Action) replyKey() string {
	if a.ReplyKey != "" {
		return a.ReplyKey
	}
	return "keyword:" + a.Rule
}

// NoRules matches nothing (an inbox with no KeywordRules).
type NoRules struct{}

// Match returns nothing.
func (NoRules) Match(store.NumberRef, whatsapp.Inbound, time.Time) []Action { return nil }
