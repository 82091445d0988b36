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
		want           bool
	}{
		{agent, "", "ana", true},
		{agent, "billing", "ana", true},
		{agent, "iberia", "", true},
		{agent, "billing", "", false},
		{agent, "", "", false},
		{agent, "", "bruno", false},
		{token, "", "ana", false}, // a token named like an agent is not that agent
		{sup, "billing", "bruno", true},
		{sup, "", "", true},
		{nil, "iberia", "ana", false},
	} {
		if got := c.p.ConversationScope().Sees(c.team, c.assignee); got != c.want {
			t.Errorf("%v sees team %q assignee %q: %t, want %t", c.p, c.team, c.assignee, got, c.want)
		}
	}
	var args []any
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	if got := agent.ConversationScope().SQL("v", arg); got != "(v.team = ANY($1) OR v.assignee = $2)" || len(args) != 2 || args[1] != "ana" {
		t.Errorf("agent SQL %q %v", got, args)
	}
	args = nil
	if got := token.ConversationScope().SQL("v", arg); got != "(v.team = ANY($1))" {
		t.Errorf("token SQL %q", got)
	}
	if got := sup.ConversationScope().SQL("v", arg); got != "TRUE" {
		t.Errorf("readAll SQL %q", got)
	}
}
