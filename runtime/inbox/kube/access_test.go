package kube_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/inbox/authz"
	"github.com/switchboard-dev/switchboard/runtime/inbox/kube"
	"github.com/switchboard-dev/switchboard/runtime/inbox/kube/kubetest"
)

// The snapshot's Access follows the Inbox (roles, agents, single sign-on with its
// client secret), the RoutingPolicies' teams and the initial admin Secret.
func TestSourceAccess(t *testing.T) {
	cfg, c, _ := kubetest.Start(t)
	ib := &sbv1.Inbox{ObjectMeta: metav1.ObjectMeta{Name: "main", Namespace: "acme"}, Spec: sbv1.InboxSpec{
		InboxAccess: sbv1.InboxAccess{
			Roles:  []sbv1.InboxRole{{Name: "night", Permissions: []sbv1.Permission{"conversations.read", "conversations.readAll"}}},
			Agents: []sbv1.InboxAgent{{Login: "ana", Role: "night"}},
			Auth: &sbv1.InboxAuth{OIDC: &sbv1.InboxOIDC{Issuer: "https://idp.example", ClientID: "sb",
				ClientSecretRef: sbv1.SecretKeyRef{Name: "sso", Key: "clientSecret"},
				GroupBindings:   []sbv1.OIDCGroupBinding{{Group: "g", Role: "agent"}}}}}}}
	other := &sbv1.Inbox{ObjectMeta: metav1.ObjectMeta{Name: "other", Namespace: "acme"},
		Spec: sbv1.InboxSpec{InboxAccess: sbv1.InboxAccess{Agents: []sbv1.InboxAgent{{Login: "mallory", Role: "admin"}}}}}
	rp := &sbv1.RoutingPolicy{ObjectMeta: metav1.ObjectMeta{Name: "sales", Namespace: "acme"}, Spec: sbv1.RoutingPolicySpec{
		Strategy: sbv1.RoundRobin, Capacity: &sbv1.Capacity{Target: 5, Max: 10},
		Teams: []sbv1.Team{{Name: "iberia", Members: []string{"ana", "bruno"}}, {Name: "billing", Members: []string{"ana"}}}}}
	create(t, c, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "acme"}}, ib, other, rp,
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "sso", Namespace: "acme"}, StringData: map[string]string{"clientSecret": "s3cret"}})
	src := runSource(t, cfg)
	a := waitAccess(t, src, func(a kube.Access) bool { return a.OIDC != nil && len(a.Agents) == 1 })
	if !slices.Equal(a.Teams["ana"], []string{"billing", "iberia"}) || !slices.Equal(a.Teams["bruno"], []string{"iberia"}) {
		t.Errorf("teams %v", a.Teams)
	}
	if got := a.Roles["night"]; !slices.Equal(got, []authz.Permission{authz.ConversationsRead, authz.ConversationsReadAll}) || a.Roles["admin"] == nil {
		t.Errorf("roles %v", a.Roles)
	}
	if a.Agents[0].Login != "ana" || a.OIDC.ClientSecret != "s3cret" || strings.Contains(a.OIDC.String(), "s3cret") || a.InitialAdminPassword != "" {
		t.Errorf("access %+v", a)
	}
	create(t, c, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "main-initial-admin", Namespace: "acme"},
		StringData: map[string]string{"password": "first-admin-password"}})
	waitAccess(t, src, func(a kube.Access) bool { return a.InitialAdminPassword == "first-admin-password" })
}

func waitAccess(t *testing.T, src *kube.Source, ok func(kube.Access) bool) kube.Access {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		if s := src.Snapshot(); s != nil && ok(s.Access) {
			return s.Access
		}
		if time.Now().After(deadline) {
			t.Fatal("the snapshot's Access did not follow the objects")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
