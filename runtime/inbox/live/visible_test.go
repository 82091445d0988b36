package live_test

import (
	"testing"

	"github.com/switchboard-dev/switchboard/runtime/inbox/authz"
	"github.com/switchboard-dev/switchboard/runtime/inbox/live"
)

// TestVisibleFollowsTheOneRule: the events follow authz.Scope, as the API does: an
// agent gets the events of her conversation of no team, not the events after it went to
// another team, nor another team's; readAll gets everything.
func TestVisibleFollowsTheOneRule(t *testing.T) {
	role := func(login, role string, teams ...string) *authz.Principal {
		p := authz.NewPrincipal("acme", "support", authz.KindAgent, login, role, authz.Predefined()[role])
		p.Teams = teams
		return p
	}
	ana, sue := role("ana", authz.RoleAgent, "iberia"), role("sue", authz.RoleSupervisor)
	id := int64(7)
	agent := func(s string) *string { return &s }
	cases := []struct {
		name string
		e    live.Event
		ana  bool
	}{
		{"assigned to her, no team", live.Event{Kind: "conversation.assigned", ConversationID: &id, Teams: []string{}, Agent: agent("ana")}, true},
		{"her team's", live.Event{Kind: "message.received", ConversationID: &id, Teams: []string{"iberia"}}, true},
		{"transferred to billing", live.Event{Kind: "conversation.queued", ConversationID: &id, Teams: []string{"billing"}}, false},
		{"waiting with no team", live.Event{Kind: "message.received", ConversationID: &id, Teams: []string{}}, false},
		{"assigned to bruno, no team", live.Event{Kind: "conversation.assigned", ConversationID: &id, Teams: []string{}, Agent: agent("bruno")}, false},
		{"her availability", live.Event{Kind: "availability.changed", Teams: []string{}, Agent: agent("ana")}, true},
		{"another agent's availability (agents.read)", live.Event{Kind: "availability.changed", Teams: []string{}, Agent: agent("bruno")}, true},
	}
	for _, c := range cases {
		if got := live.Visible(ana, c.e); got != c.ana {
			t.Errorf("%s: ana sees it %t, want %t", c.name, got, c.ana)
		}
		if !live.Visible(sue, c.e) {
			t.Errorf("%s: the supervisor (readAll) does not see it", c.name)
		}
	}
	noRead := authz.NewPrincipal("acme", "support", authz.KindAgent, "ana", "none", nil)
	if live.Visible(noRead, cases[0].e) {
		t.Error("an event shown without conversations.read")
	}
}
