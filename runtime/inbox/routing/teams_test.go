package routing

import (
	"slices"
	"testing"

	"github.com/switchboard-dev/switchboard/api/v1alpha1"
)

func TestTeamsOfEligibleTeamsAndTeamFor(t *testing.T) {
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
		ana   string
		diego string
	}{
		{Conversation{ID: 1}, []string{"iberia", "billing"}, "iberia", "billing"},
		{Conversation{ID: 2, Skill: "es"}, []string{"iberia"}, "iberia", ""},
		{Conversation{ID: 3, Teams: []string{"billing"}}, []string{"billing"}, "", "billing"},
		{Conversation{ID: 4, Skill: "nope"}, []string{"iberia", "billing"}, "iberia", "billing"},
	} {
		if got := r.EligibleTeams(tc.c); !slices.Equal(got, tc.teams) {
			t.Errorf("EligibleTeams(%+v) = %v, want %v", tc.c, got, tc.teams)
		}
		if got := r.TeamFor(tc.c, "ana"); got != tc.ana {
			t.Errorf("TeamFor(%+v, ana) = %q, want %q", tc.c, got, tc.ana)
		}
		if got := r.TeamFor(tc.c, "diego"); got != tc.diego {
			t.Errorf("TeamFor(%+v, diego) = %q, want %q", tc.c, got, tc.diego)
		}
	}
	none := mustRouter(t, Policy{Strategy: v1alpha1.LeastLoaded, AssignWithin: 1, MissesBeforeAway: 1, AwayAfterDisconnect: 1})
	if none.EligibleTeams(Conversation{ID: 1}) != nil || none.TeamFor(Conversation{ID: 1}, "ana") != "" {
		t.Error("a policy without teams has no eligible teams and records none")
	}
}
