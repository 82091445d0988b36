package inbox_test

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/inbox/kube"
	"github.com/switchboard-dev/switchboard/runtime/inbox/routing"
)

// skillsNumber is numA with the KeywordRule precio (routeToSkill billing), the Number's
// default skill, and a RoutingPolicy with strategy Skills: iberia (ana: es, billing) and
// billing (diego: billing).
func skillsNumber(t *testing.T, defaultSkill string) kube.Number {
	t.Helper()
	n := withPolicy(t, []sbv1.KeywordRule{rule("precio", 100, sbv1.MatchWord, sbv1.Always,
		sbv1.KeywordActions{RouteToSkill: "billing"}, "precio")}, nil, "")
	spec := sbv1.RoutingPolicySpec{Strategy: sbv1.Skills, AssignWithin: &metav1.Duration{Duration: time.Hour}, Teams: []sbv1.Team{
		{Name: "iberia", Skills: []string{"es", "billing"}, Members: []string{"ana"}},
		{Name: "billing", Skills: []string{"billing"}, Members: []string{"diego"}}}}
	router, err := routing.New(routing.FromSpec(spec))
	if err != nil {
		t.Fatal(err)
	}
	n.Policy.Routing, n.Policy.Teams = &kube.Routing{Name: "sales", Router: router}, spec.Teams
	n.DefaultSkill = defaultSkill
	return n
}

// The Number's spec.routing.defaultSkill is the required skill of a conversation no
// KeywordRule routed, and the router (strategy Skills) gives it to the team with the
// skill even when another agent has less load; a rule's routeToSkill wins over it; and
// without a default skill a conversation goes to any team, least loaded first.
func TestNumberDefaultSkillRoutes(t *testing.T) {
	dsn := srv.NewDatabase(t)
	s := startServer(t, dsn, served(skillsNumber(t, "es")))
	waitStatus(t, s.probes+"/readyz", 200)
	sim, d := newSimulator(t, s), connect(t, dsn)
	if _, err := d.conn.Exec(context.Background(), `INSERT INTO agent_availability (namespace, login, availability, idle_since)
		VALUES ('acme', 'ana', 'online', now() - interval '1 hour'), ('acme', 'diego', 'online', now())`); err != nil {
		t.Fatal(err)
	}
	assigned := func(waID, skill, agent string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			var gotSkill, gotAgent string
			err := d.conn.QueryRow(context.Background(), `SELECT COALESCE(v.required_skill, ''), COALESCE(v.assignee, '')
				FROM conversations v JOIN contacts c ON c.id = v.contact_id WHERE c.wa_id = $1`, waID).Scan(&gotSkill, &gotAgent)
			if err == nil && gotSkill == skill && gotAgent == agent {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: skill %q assignee %q (%v), want %q and %q", waID, gotSkill, gotAgent, err, skill, agent)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	say(t, sim, "34600000001", "hola")
	assigned("34600000001", "es", "ana")
	say(t, sim, "34600000002", "buenos días") // diego has less load, but only iberia has es
	assigned("34600000002", "es", "ana")
	say(t, sim, "34600000003", "¿precio?") // the rule's skill, not the default: diego is least loaded
	assigned("34600000003", "billing", "diego")
	say(t, sim, "34600000001", "precio") // a later rule match replaces the default
	assigned("34600000001", "billing", "ana")

	s.snap.Store(served(skillsNumber(t, "")))
	say(t, sim, "34600000004", "hola") // no skill: every team; diego (1 open) before ana (2)
	assigned("34600000004", "", "diego")
}
