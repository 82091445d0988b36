package routing

import (
	"slices"
	"testing"

	"github.com/switchboard-dev/switchboard/api/v1alpha1"
)

func TestTeamsOfAndEligibleTeams(t *testing.T) {
	r := mustRouter(t, sales(v1alpha1.Skills, 0, 0))
	if got := r.TeamsOf("ana"); !slices.Equal(got, []string{"iberia"}) {
		t.Errorf("TeamsOf(ana) = %v", got)
	}
	if got := r.TeamsOf("nobody"); got != nil {
		t.Errorf("TeamsOf(nobody) = %v, want nil", got)
	}
	for _, tc := range []struct {
		c     Conversation
		teams []string
	}{
		{Conversation{ID: 1}, []string{"iberia", "billing"}},
		{Conversation{ID: 2, Skill: "es"}, []string{"iberia"}},
		{Conversation{ID: 3, Teams: []string{"billing"}}, []string{"billing"}},
		{Conversation{ID: 4, Skill: "nope"}, []string{"iberia", "billing"}},
	} {
		if got := r.EligibleTeams(tc.c); !slices.Equal(got, tc.teams) {
			t.Errorf("EligibleTeams(%+v) = %v, want %v", tc.c, got, tc.teams)
		}
	}
	none := mustRouter(t, Policy{Strategy: v1alpha1.LeastLoaded, AssignWithin: 1, MissesBeforeAway: 1, AwayAfterDisconnect: 1})
	if none.EligibleTeams(Conversation{ID: 1}) != nil {
		t.Error("a policy without teams has no eligible teams ")
	}
}
