package live_test

import (
	"fmt"
	"testing"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/inbox/kube"
	"github.com/switchboard-dev/switchboard/runtime/inbox/live"
	"github.com/switchboard-dev/switchboard/runtime/store"
)

// The roster is the union of the teams of the RoutingPolicies of the served Numbers.
func TestRosterOfTheSnapshot(t *testing.T) {
	var snap *kube.Snapshot
	roster := live.RosterOf(func() *kube.Snapshot { return snap })
	if r := roster(); len(r.Teams) != 0 {
		t.Fatalf("before the snapshot loads: %+v", r)
	}
	snap = kube.NewSnapshot(ns, []kube.Number{
		{Ref: store.NumberRef{Namespace: ns, Name: "es"}, PhoneNumberID: "1", Policy: kube.Policy{Teams: []sbv1.Team{
			{Name: "sales", Members: []string{"ben", "ana"}}, {Name: "support", Members: []string{"cai"}}}}},
		{Ref: store.NumberRef{Namespace: ns, Name: "pt"}, PhoneNumberID: "2", Policy: kube.Policy{Teams: []sbv1.Team{
			{Name: "sales", Members: []string{"ana", "duda"}}}}},
		{Ref: store.NumberRef{Namespace: ns, Name: "no-policy"}, PhoneNumberID: "3"},
	})
	r := roster()
	if got := fmt.Sprint(r.Teams); got != "[{sales [ana ben duda]} {support [cai]}]" {
		t.Fatalf("teams %s", got)
	}
	if got := fmt.Sprint(r.Agents(), r.TeamsOf("ana"), r.TeamsOf("zed")); got != "[ana ben cai duda] [sales] []" {
		t.Fatalf("agents and teams %s", got)
	}
}
