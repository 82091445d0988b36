package authz_test

import (
	"strconv"
	"testing"

	"github.com/switchboard-dev/switchboard/runtime/inbox/authz"
)

// TestConversationScope: the one visibility rule, in Go (Sees) and as SQL.
func TestConversationScope(t *testing.T) {
	agent := authz.NewPrincipal("acme", "support", authz.KindAgent, "ana", authz.RoleAgent, authz.Predefined()[authz.RoleAgent])
	agent.Teams = []string{"iberia"}
	token := authz.NewPrincipal("acme", "support", authz.KindToken, "ana", authz.RoleAgent, authz.Predefined()[authz.RoleAgent])
	sup := authz.NewPrincipal("acme", "support", authz.KindAgent, "sue", authz.RoleSupervisor, authz.Predefined()[authz.RoleSupervisor])
	for _, c := range []struct {
		p              *authz.Principal
		team, assignee string
		eligible       []string
		want           bool
	}{
		{agent, "", "ana", nil, true},
		{agent, "billing", "ana", nil, true},
		{agent, "iberia", "", nil, true},
		{agent, "billing", "", nil, false},
		{agent, "", "", nil, false},
		{agent, "", "bruno", nil, false},
		{token, "", "ana", nil, false}, // a token named like an agent is not that agent
		{sup, "billing", "bruno", nil, true},
		{sup, "", "", nil, true},
		{agent, "", "", []string{"billing", "iberia"}, true}, // waiting for a team of hers
		{agent, "", "", []string{"billing"}, false},
		{agent, "", "bruno", []string{"iberia"}, false}, // eligible teams count only while unassigned
		{agent, "billing", "bruno", []string{"iberia"}, false},
		{token, "", "", []string{"iberia"}, false}, // a token has no teams
		{nil, "iberia", "ana", nil, false},
	} {
		if got := c.p.ConversationScope().Sees(c.team, c.assignee, c.eligible); got != c.want {
			t.Errorf("%v sees team %q assignee %q: %t, want %t", c.p, c.team, c.assignee, got, c.want)
		}
	}
	var args []any
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	if got := agent.ConversationScope().SQL("v", arg); got != "(v.team = ANY($1) OR v.assignee IS NULL AND v.eligible_teams && $1 OR v.assignee = $2)" || len(args) != 2 || args[1] != "ana" {
		t.Errorf("agent SQL %q %v", got, args)
	}
	args = nil
	if got := token.ConversationScope().SQL("v", arg); got != "(v.team = ANY($1) OR v.assignee IS NULL AND v.eligible_teams && $1)" {
		t.Errorf("token SQL %q", got)
	}
	if got := sup.ConversationScope().SQL("v", arg); got != "TRUE" {
		t.Errorf("readAll SQL %q", got)
	}
}
