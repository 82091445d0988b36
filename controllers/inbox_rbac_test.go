package controllers

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
)

// clientAs is a client that acts as user (impersonation), under the API server's RBAC.
func clientAs(t *testing.T, user string) client.Client {
	t.Helper()
	cfg := rest.CopyConfig(testCfg)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
	c, err := client.New(cfg, client.Options{Scheme: testScheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// bindManagerRole gives user the manager's generated ClusterRole (config/rbac/role.yaml).
func bindManagerRole(t *testing.T, ns, user string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	role := &rbacv1.ClusterRole{}
	if err := yaml.Unmarshal(data, role); err != nil {
		t.Fatal(err)
	}
	role.ObjectMeta = metav1.ObjectMeta{Name: "manager-" + ns}
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "manager-" + ns},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}}}
	mustCreate(t, role, binding)
}

// TestInboxRBACOnTheAPIServer: the manager's generated ClusterRole suffices to declare the
// inbox objects (Kubernetes refuses a Role granting more than its author holds), and the
// inbox's ServiceAccount gets the Secrets and Numbers it serves and nothing else.
func TestInboxRBACOnTheAPIServer(t *testing.T) {
	ns := newNamespace(t)
	manager := "test-manager-" + ns
	bindManagerRole(t, ns, manager)
	served := newNumber(ns, "served", withCredentials("served-creds"))
	other := newNumber(ns, "other", withCredentials("other-creds"), withLabels(map[string]string{"team": "other"}))
	mustCreate(t, served, other, newSecret(ns, "served-creds", fullCredentials()),
		newSecret(ns, "other-creds", fullCredentials()), newSecret(ns, "crm-token", map[string]string{"token": "x"}),
		newSecret(ns, "rbac-initial-admin", map[string]string{"password": "x"}))

	ib := newInbox(ns, "rbac", nil, func(i *sbv1.Inbox) {
		i.UID = "00000000-0000-0000-0000-000000000001" // never created: the shared manager leaves these objects alone
		i.Spec.SecretRefs = []sbv1.LocalObjectReference{{Name: "crm-token"}}
	})
	w := inboxWorkload{inbox: ib, served: []sbv1.Number{*served}, opts: testSenderOptions}
	asManager := clientAs(t, manager)
	eventually(t, "the manager's ClusterRole lets it apply the inbox objects", func() error {
		for _, obj := range w.objects() {
			if err := asManager.Apply(testCtx, obj, client.FieldOwner("rbac-test"), client.ForceOwnership); err != nil {
				return err
			}
		}
		return nil
	})

	inbox := clientAs(t, fmt.Sprintf("system:serviceaccount:%s:inbox-rbac", ns))
	for _, tc := range []struct {
		what    string
		allowed bool
		do      func() error
	}{
		{"get its Number's credentials", true, func() error { return getSecret(inbox, ns, "served-creds") }},
		{"get a Secret named on the Inbox", true, func() error { return getSecret(inbox, ns, "crm-token") }},
		{"get another Number's credentials", false, func() error { return getSecret(inbox, ns, "other-creds") }},
		{"list Secrets", false, func() error { return inbox.List(testCtx, &corev1.SecretList{}, client.InNamespace(ns)) }},
		{"get its initial admin Secret", true, func() error { return getSecret(inbox, ns, "rbac-initial-admin") }},
		{"list its own Inbox by name", true, func() error {
			return inbox.List(testCtx, &sbv1.InboxList{}, client.InNamespace(ns), client.MatchingFields{"metadata.name": "rbac"})
		}},
		{"list every Inbox", false, func() error { return inbox.List(testCtx, &sbv1.InboxList{}, client.InNamespace(ns)) }},
		{"list Numbers", true, func() error { return inbox.List(testCtx, &sbv1.NumberList{}, client.InNamespace(ns)) }},
		{"annotate a served Number", true, func() error { return annotate(inbox, served) }},
		{"annotate another Number", false, func() error { return annotate(inbox, other) }},
	} {
		err := tc.do()
		if tc.allowed != !apierrors.IsForbidden(err) || (tc.allowed && err != nil) {
			t.Errorf("inbox may %s: want allowed=%t, got %v", tc.what, tc.allowed, err)
		}
	}
}

func getSecret(c client.Client, ns, name string) error {
	return c.Get(testCtx, types.NamespacedName{Namespace: ns, Name: name}, &corev1.Secret{})
}

func annotate(c client.Client, num *sbv1.Number) error {
	patch := []byte(`{"metadata":{"annotations":{"switchboard.dev/refresh-quality":"2026-11-30T20:00:00Z"}}}`)
	return c.Patch(testCtx, &sbv1.Number{ObjectMeta: metav1.ObjectMeta{Namespace: num.Namespace, Name: num.Name}},
		client.RawPatch(types.MergePatchType, patch))
}
