package controllers

import (
	"os"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/inbox/authz"
)

// The manager makes <inbox>-initial-admin once, with a random password, never changes
// it, and grants the inbox get on it and on the single sign-on client secret.
func TestInboxInitialAdminSecret(t *testing.T) {
	ns := newNamespace(t)
	ib := newInbox(ns, "desk", nil, func(i *sbv1.Inbox) {
		i.Spec.Auth = &sbv1.InboxAuth{OIDC: &sbv1.InboxOIDC{Issuer: "https://idp.example", ClientID: "switchboard",
			ClientSecretRef: sbv1.SecretKeyRef{Name: "sso", Key: "clientSecret"},
			GroupBindings:   []sbv1.OIDCGroupBinding{{Group: "support", Role: "agent"}}}}
	})
	mustCreate(t, ib)
	expectRoleNames(t, ns, "desk", []string{"sso"}, nil)
	sec := &corev1.Secret{}
	key := client.ObjectKey{Namespace: ns, Name: "desk-initial-admin"}
	eventually(t, "the initial admin Secret", func() error { return k8sClient.Get(testCtx, key, sec) })
	pw := string(sec.Data[InitialAdminPasswordKey])
	if len(pw) != 24 || len(sec.OwnerReferences) != 1 || sec.OwnerReferences[0].Name != "desk" {
		t.Fatalf("Secret: %d-character password, owners %+v", len(pw), sec.OwnerReferences)
	}
	// A hand-set password survives reconciles.
	sec.Data[InitialAdminPasswordKey] = []byte("chosen-by-the-operator-team")
	if err := k8sClient.Update(testCtx, sec); err != nil {
		t.Fatal(err)
	}
	patchObject(t, ib, func() { ib.Spec.SecretRefs = []sbv1.LocalObjectReference{{Name: "crm"}} })
	expectRoleNames(t, ns, "desk", []string{"crm", "sso"}, nil)
	if err := k8sClient.Get(testCtx, key, sec); err != nil || string(sec.Data[InitialAdminPasswordKey]) != "chosen-by-the-operator-team" {
		t.Fatalf("the Secret was changed: %v", err)
	}
	// The password is in no event and not in the status.
	if err := k8sClient.Get(testCtx, client.ObjectKeyFromObject(ib), ib); err != nil {
		t.Fatal(err)
	}
	if b, _ := yaml.Marshal(ib.Status); strings.Contains(string(b), pw) {
		t.Fatal("the status holds the password")
	}
	var events corev1.EventList
	if err := k8sClient.List(testCtx, &events, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, e := range events.Items {
		if strings.Contains(e.Message, pw) {
			t.Fatalf("event %q holds the password", e.Message)
		}
	}
}

func TestAdmissionInboxAccess(t *testing.T) {
	ns := newNamespace(t)
	role := func(name string, perms ...sbv1.Permission) func(*sbv1.Inbox) {
		return func(i *sbv1.Inbox) {
			i.Spec.Roles = append(i.Spec.Roles, sbv1.InboxRole{Name: name, Permissions: perms})
		}
	}
	agent := func(login, role string) func(*sbv1.Inbox) {
		return func(i *sbv1.Inbox) { i.Spec.Agents = append(i.Spec.Agents, sbv1.InboxAgent{Login: login, Role: role}) }
	}
	oidc := func(bindingRole string) func(*sbv1.Inbox) {
		return func(i *sbv1.Inbox) {
			i.Spec.Auth = &sbv1.InboxAuth{OIDC: &sbv1.InboxOIDC{Issuer: "https://idp.example", ClientID: "c",
				ClientSecretRef: sbv1.SecretKeyRef{Name: "sso", Key: "k"}, GroupBindings: []sbv1.OIDCGroupBinding{{Group: "g", Role: bindingRole}}}}
		}
	}
	with := func(fs ...func(*sbv1.Inbox)) *sbv1.Inbox {
		return newInbox(ns, "bad", nil, fs...)
	}
	expectRejected(t, []admissionCase{
		{"unknown permission", with(role("night", "conversations.read", "conversations.delete")),
			[]string{"spec.roles[0].permissions[1]", `"conversations.delete"`}},
		{"predefined name", with(role("admin", "export")), []string{"spec.roles[0].name", "must not be a predefined role"}},
		{"no permissions", with(role("empty")), []string{"spec.roles[0].permissions"}},
		{"agent with an unknown role", with(agent("ana", "boss")), []string{"spec.agents", "each role must be"}},
		{"agent with a bad login", with(agent("Ana Smith", "agent")), []string{"spec.agents[0].login"}},
		{"binding to an unknown role", with(oidc("boss")), []string{"spec.auth.oidc.groupBindings", "each role must be"}},
	})
	ok := newInbox(ns, "ok", nil, role("night", "conversations.read", "conversations.readAll"), agent("ana", "night"),
		agent("sofia", "supervisor"), oidc("night"))
	mustCreate(t, ok)
	if ok.Spec.Auth.OIDC.GroupsClaim != "groups" {
		t.Errorf("groupsClaim not defaulted: %q", ok.Spec.Auth.OIDC.GroupsClaim)
	}
}

// The CRD's permission enum is authz.All, in order.
func TestPermissionEnumIsAuthzAll(t *testing.T) {
	b, err := os.ReadFile("../config/crd/bases/switchboard.dev_inboxes.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var crd struct {
		Spec struct {
			Versions []struct {
				Schema struct {
					OpenAPIV3Schema struct {
						Properties struct {
							Spec struct {
								Properties struct {
									Roles struct {
										Items struct {
											Properties struct {
												Permissions struct {
													Items struct {
														Enum []string `json:"enum"`
													} `json:"items"`
												} `json:"permissions"`
											} `json:"properties"`
										} `json:"items"`
									} `json:"roles"`
								} `json:"properties"`
							} `json:"spec"`
						} `json:"properties"`
					} `json:"openAPIV3Schema"`
				} `json:"schema"`
			} `json:"versions"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(b, &crd); err != nil {
		t.Fatal(err)
	}
	got := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties.Spec.Properties.Roles.Items.Properties.Permissions.Items.Enum
	var want []string
	for _, p := range authz.All {
		want = append(want, string(p.Permission))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("the CRD's permission enum\n%v\nis not authz.All\n%v\n(edit the Enum marker on sbv1.Permission, then make manifests)", got, want)
	}
}
