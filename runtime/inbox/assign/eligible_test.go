package assign_test

import (
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/inbox/assign"
	"github.com/switchboard-dev/switchboard/runtime/inbox/authz"
	"github.com/switchboard-dev/switchboard/runtime/inbox/kube"
	"github.com/switchboard-dev/switchboard/runtime/inbox/problem"
	"github.com/switchboard-dev/switchboard/runtime/store"
)

// eligible reads a conversation's eligible_teams (nil for NULL).
func (r *rig) eligible(id int64) []string {
	r.t.Helper()
	var teams []string
	r.query(`SELECT eligible_teams FROM conversations WHERE id = $1`, []any{id}, &teams)
	return teams
}

// The plan records each waiting conversation's eligible teams (the Skills strategy keeps
// the teams with the required skill); an agent of one of them may then act on it (here:
// assign it to herself, conversations.assign), an agent of another team gets 404; the
// assignment and a resolve clear them; a policy without teams ("(any)") and a Number
// without a policy ("(unrouted)") name none, so that those stay readAll's.
func TestEligibleTeamsFollowThePlan(t *testing.T) {
	r := newRig(t, policy(v1alpha1.Skills, 0, 0, time.Hour), nil) // nobody online: everything waits
	es, bill, anyTeam := r.conv(wa(1), 0, "es"), r.conv(wa(2), 0, "billing"), r.conv(wa(3), 0, "")
	r.plan()
	for id, want := range map[int64][]string{es: {"iberia"}, bill: {"iberia", "billing"}, anyTeam: {"iberia", "billing"}} {
		if got := r.eligible(id); !slices.Equal(got, want) {
			t.Errorf("conversation %d: eligible teams %v, want %v", id, got, want)
		}
	}
	ana, diego := agent("ana", authz.RoleAgent, "iberia"), agent("diego", authz.RoleAgent, "billing")
	var pr problem.Problem
	if _, err := r.svc.Assign(t.Context(), diego, es, assign.Target{Agent: "diego"}); !errors.As(err, &pr) || pr.Status != http.StatusNotFound {
		t.Errorf("diego (billing) takes an es conversation: %v, want 404", err)
	}
	st, err := r.svc.Assign(t.Context(), ana, es, assign.Target{Agent: "ana"})
	if err != nil || st.Assignee != "ana" {
		t.Fatalf("ana (iberia) takes it: %+v %v", st, err)
	}
	if got := r.eligible(es); got != nil {
		t.Errorf("eligible teams once assigned: %v, want NULL", got)
	}
	if _, err := r.svc.Resolve(t.Context(), agent("bruno", authz.RoleAgent, "iberia"), es); !errors.As(err, &pr) || pr.Status != http.StatusNotFound {
		t.Errorf("bruno (iberia) on ana's conversation of no team: %v, want 404", err)
	}
	if _, err := r.svc.Resolve(t.Context(), diego, bill); err != nil {
		t.Fatalf("diego (billing) resolves a waiting billing conversation: %v", err)
	}
	if got := r.eligible(bill); got != nil {
		t.Errorf("eligible teams once resolved: %v, want NULL", got)
	}

	noTeams := policy(v1alpha1.RoundRobin, 0, 0, time.Hour)
	noTeams.Teams = nil
	r.setPolicy(noTeams, nil)
	r.plan()
	if got := r.eligible(anyTeam); got != nil {
		t.Errorf("a policy without teams: eligible teams %v, want NULL", got)
	}
	if _, err := r.svc.Resolve(t.Context(), ana, anyTeam); !errors.As(err, &pr) || pr.Status != http.StatusNotFound {
		t.Errorf("an agent on an (any) conversation: %v, want 404", err)
	}

	r.setPolicy(policy(v1alpha1.Skills, 0, 0, time.Hour), nil)
	r.plan()
	if got := r.eligible(anyTeam); len(got) != 2 {
		t.Fatalf("eligible teams again: %v", got)
	}
	r.snap = kube.NewSnapshot(ns, []kube.Number{{Ref: store.NumberRef{Namespace: ns, Name: "sales"}, PhoneNumberID: "100"}})
	r.plan()
	if got := r.eligible(anyTeam); got != nil {
		t.Errorf("a Number without a policy: eligible teams %v, want NULL", got)
	}
}
