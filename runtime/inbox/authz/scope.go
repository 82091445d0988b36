package authz

import "slices"

// Scope is which conversations of its Inbox a principal sees: the inbox's one
// visibility rule, used by every read and write path (the agents' API and its page, the
// routing's operations, the live events, media, the CRM lookup). A conversation is
// visible when
//
//   - the principal holds conversations.readAll (All), or
//   - the conversation's team (the conversations.team column: set by an assignment or
//     a transfer to a team) is one of the principal's teams (RoutingPolicy
//     teams[].members), or
//   - the conversation is assigned to the principal (an agent; Agent is its login), or
//   - the conversation is unassigned and one of its eligible teams (the
//     conversations.eligible_teams column: the teams the routing's plan found may take
//     it, docs/routing.md#eligible-teams) is one of the principal's teams.
//
// A waiting conversation that names no eligible team (its Number has no RoutingPolicy,
// "(unrouted)", or its policy has no teams, "(any)") is visible only with
// conversations.readAll. One that is not visible is
// answered exactly like one that does not exist (404), so that ids cannot be probed
// (docs/permissions.md#visibility).
type Scope struct {
	All   bool
	Teams []string
	Agent string // the principal's login when it is an agent, else ""
}

// ConversationScope returns p's Scope; a nil principal sees nothing.
func (p *Principal) ConversationScope() Scope {
	if p == nil {
		return Scope{}
	}
	s := Scope{All: p.Can(ConversationsReadAll), Teams: slices.Clone(p.Teams)}
	if p.Kind == KindAgent {
		s.Agent = p.Subject
	}
	return s
}

// Sees reports whether the scope covers a conversation with this team and assignee
// ("" for none) and these eligible teams (nil for none; they count only while assignee
// is "").
func (s Scope) Sees(team, assignee string, eligible []string) bool {
	return s.All || team != "" && slices.Contains(s.Teams, team) || s.Agent != "" && assignee == s.Agent ||
		assignee == "" && slices.ContainsFunc(eligible, func(t string) bool { return slices.Contains(s.Teams, t) })
}

// SQL is Sees as a condition on the columns team, assignee and eligible_teams of the conversations
// aliased as alias; arg adds a value to the statement and returns its placeholder.
// It is "TRUE" for All.
func (s Scope) SQL(alias string, arg func(any) string) string {
	if s.All {
		return "TRUE"
	}
	teams := s.Teams
	if teams == nil {
		teams = []string{}
	}
	ph := arg(teams)
	cond := "(" + alias + ".team = ANY(" + ph + ") OR " + alias + ".assignee IS NULL AND " + alias + ".eligible_teams && " + ph
	if s.Agent != "" {
		cond += " OR " + alias + ".assignee = " + arg(s.Agent)
	}
	return cond + ")"
}
