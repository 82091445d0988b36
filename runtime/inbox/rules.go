package inbox

import (
	"time"

	"github.com/switchboard-dev/switchboard/runtime/inbox/ingest"
	"github.com/switchboard-dev/switchboard/runtime/inbox/kube"
	"github.com/switchboard-dev/switchboard/runtime/keywords"
	"github.com/switchboard-dev/switchboard/runtime/store"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// AfterHoursRule names the RoutingPolicy's after-hours reply in metrics and authors.
const AfterHoursRule = "after-hours"

// snapshotRules applies the policies compiled in a Snapshot (ingest.Rules).
type snapshotRules struct{ snap *kube.Snapshot }

// rulesOf returns the Rules of the current snapshot (none before it is loaded).
func rulesOf(snapshot func() *kube.Snapshot) func() ingest.Rules {
	return func() ingest.Rules {
		if s := snapshot(); s != nil {
			return snapshotRules{s}
		}
		return nil
	}
}

// Match applies the Number's Inbound KeywordRules to the message's text (body, caption or
// tapped title) at the time the customer wrote it, with business hours in the
// RoutingPolicy's time zone: every matching rule tags; only the first matching rule
// with a reply replies and the first with a skill routes (keywords.Decide,
// docs/keywordrule.md). Outside business hours the RoutingPolicy's after-hours reply is
// added, keyed by the closed period so that it goes once per conversation and period.
func (r snapshotRules) Match(ref store.NumberRef, msg whatsapp.Inbound, at time.Time) []ingest.Action {
	n, ok := r.snap.ByName(ref.Name)
	if !ok {
		return nil
	}
	out := keywordActions(n.Policy, msg.Body(), at)
	if period, closed := n.Policy.Hours.Closed(at); closed && n.Policy.AfterHoursReply != "" {
		out = append(out, ingest.Action{Rule: AfterHoursRule, Reply: n.Policy.AfterHoursReply,
			ReplyKey: AfterHoursRule + ":" + period.Start.UTC().Format(time.RFC3339), OncePerConversation: true})
	}
	return out
}

// keywordActions is one Action per matching rule (for the match counts), with the
// Decision of runtime/keywords: the tags of every matching rule (on the first), the reply
// of the first rule that has one, the skill of the first rule that has one.
func keywordActions(p kube.Policy, text string, at time.Time) []ingest.Action {
	if p.Inbound == nil || text == "" {
		return nil
	}
	matches := p.Inbound.Match(text, p.Hours.Open(at))
	if len(matches) == 0 {
		return nil
	}
	d := keywords.Decide(matches)
	out := make([]ingest.Action, len(matches))
	for i := range matches {
		out[i].Rule = matches[i].Rule.Name
		if d.Reply == &matches[i] {
			out[i].Reply = matches[i].Rule.Actions.Reply.Text
		}
		if d.Route == &matches[i] {
			out[i].RouteToSkill = matches[i].Rule.Actions.RouteToSkill
		}
	}
	out[0].Tags = d.Tags
	return out
}
