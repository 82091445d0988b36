package controllers

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/contract"
)

func getRole(ns, name string) (*rbacv1.Role, error) {
	role := &rbacv1.Role{}
	return role, k8sClient.Get(testCtx, types.NamespacedName{Namespace: ns, Name: name}, role)
}

// resourceNames returns the resourceNames of the Role's rule on resource with verb
// (nil when there is no such rule), and fails on such a rule with no names: it would
// grant every object of the resource.
func resourceNames(role *rbacv1.Role, resource, verb string) ([]string, error) {
	for _, r := range role.Rules {
		if !slices.Contains(r.Resources, resource) || !slices.Contains(r.Verbs, verb) {
			continue
		}
		if len(r.ResourceNames) == 0 {
			return nil, fmt.Errorf("rule %+v grants %s on every one of the %s", r, verb, resource)
		}
		return r.ResourceNames, nil
	}
	return nil, nil
}

// expectRoleNames waits until the inbox Role lets it get exactly these Secrets (and the
// initial admin Secret, always) and patch exactly these Numbers.
func expectRoleNames(t *testing.T, ns, inbox string, secrets, numbers []string) {
	t.Helper()
	secrets = append(slices.Clone(secrets), inbox+"-initial-admin")
	slices.Sort(secrets)
	eventually(t, fmt.Sprintf("Role inbox-%s: secrets %v, numbers %v", inbox, secrets, numbers), func() error {
		role, err := getRole(ns, "inbox-"+inbox)
		if err != nil {
			return err
		}
		gotSecrets, err := resourceNames(role, "secrets", "get")
		if err != nil {
			return err
		}
		gotNumbers, err := resourceNames(role, "numbers", "patch")
		if err != nil {
			return err
		}
		if !slices.Equal(gotSecrets, secrets) || !slices.Equal(gotNumbers, numbers) {
			return fmt.Errorf("secrets %v, numbers %v", gotSecrets, gotNumbers)
		}
		return nil
	})
}

func expectServed(t *testing.T, ib *sbv1.Inbox, want ...string) {
	t.Helper()
	eventually(t, fmt.Sprintf("%s serves %v", ib.Name, want), func() error {
		if err := k8sClient.Get(testCtx, client.ObjectKeyFromObject(ib), ib); err != nil {
			return err
		}
		if int(ib.Status.ServedNumbers) != len(want) || !slices.Equal(ib.Status.Numbers, want) {
			return fmt.Errorf("serves %d %v", ib.Status.ServedNumbers, ib.Status.Numbers)
		}
		return nil
	})
}

func expectNumberInbox(t *testing.T, num *sbv1.Number, inbox string) {
	t.Helper()
	reason, want := sbv1.ReasonInboxSelected, metav1.ConditionTrue
	if inbox == "" {
		reason, want = sbv1.ReasonNoInbox, metav1.ConditionFalse
	}
	c := expectCondition(t, num, sbv1.InboxAvailableCondition, want, reason)
	if num.Status.Inbox != inbox || (inbox != "" && !strings.Contains(c.Message, "Inbox "+inbox+" ")) {
		t.Errorf("%s: status.inbox %q, InboxAvailable %q; want Inbox %q", num.Name, num.Status.Inbox, c.Message, inbox)
	}
}

func TestInboxDeclaresObjectsAndReportsTruthfully(t *testing.T) {
	ns := newNamespace(t)
	es, gb := newNumber(ns, "sales-es"), newNumber(ns, "support-gb", withCredentials("support-creds"))
	ib := newInbox(ns, "support", nil, func(i *sbv1.Inbox) {
		i.Spec.SecretRefs = []sbv1.LocalObjectReference{{Name: "crm-token"}}
	})
	mustCreate(t, es, gb, ib)

	dep := expectReplicas(t, ns, "inbox-support", 2)
	pod := dep.Spec.Template.Spec
	c := pod.Containers[0]
	if got := strings.Join(append(c.Command, c.Args...), " "); !strings.HasPrefix(got, "switchboard inbox --inbox="+ns+"/support") {
		t.Errorf("inbox command = %q", got)
	}
	if pod.ServiceAccountName != "inbox-support" || !*c.SecurityContext.ReadOnlyRootFilesystem || !*pod.SecurityContext.RunAsNonRoot ||
		*c.SecurityContext.AllowPrivilegeEscalation || len(pod.TopologySpreadConstraints) != 2 {
		t.Errorf("inbox pod not as declared: %+v", pod)
	}
	if c.Env[2].Name != DatabaseURLEnv || c.Env[2].ValueFrom.SecretKeyRef.Name != "switchboard-database" {
		t.Errorf("database env = %+v", c.Env[2])
	}
	if owner := metav1.GetControllerOf(dep); owner == nil || owner.Kind != "Inbox" || owner.Name != "support" {
		t.Errorf("Deployment controller owner = %+v", owner)
	}
	for _, obj := range []client.Object{&corev1.Service{}, &policyv1.PodDisruptionBudget{}, &corev1.ServiceAccount{}, &rbacv1.RoleBinding{}} {
		eventually(t, fmt.Sprintf("%T inbox-support", obj), func() error {
			return k8sClient.Get(testCtx, types.NamespacedName{Namespace: ns, Name: "inbox-support"}, obj)
		})
	}
	expectRoleNames(t, ns, "support", []string{"crm-token", "sales-es-creds", "support-creds"}, []string{"sales-es", "support-gb"})

	expectServed(t, ib, "sales-es", "support-gb")
	if ib.Status.Service != "inbox-support" || ib.Status.WebhookPath != "/webhooks/whatsapp" || ib.Status.Replicas != 2 {
		t.Errorf("status = %+v", ib.Status)
	}
	expectCondition(t, ib, sbv1.ReconcilingCondition, metav1.ConditionTrue, sbv1.ReasonDeploymentUnavailable)
	expectKstatus(t, ib, status.InProgressStatus)
	expectNumberInbox(t, es, "support")
	expectNumberInbox(t, gb, "support")

	markDeploymentAvailable(t, dep)
	c2 := expectCondition(t, ib, sbv1.ReadyCondition, metav1.ConditionTrue, sbv1.ReasonReconciled)
	if !strings.Contains(c2.Message, "serves 2 Number(s)") || ib.Status.ReadyReplicas != 1 {
		t.Errorf("Ready %q, readyReplicas %d", c2.Message, ib.Status.ReadyReplicas)
	}
	expectKstatus(t, ib, status.CurrentStatus)
	if ib.Status.ObservedGeneration != ib.Generation {
		t.Errorf("observedGeneration %d, generation %d", ib.Status.ObservedGeneration, ib.Generation)
	}
	expectEvent(t, ib, sbv1.ReasonReconciled, "Ready=True")
}

func TestInboxRoleFollowsNumbersAndSecretRefs(t *testing.T) {
	ns := newNamespace(t)
	ib := newInbox(ns, "sales", map[string]string{"team": "sales"})
	mustCreate(t, ib)
	// Nothing to name but the initial admin Secret: the Numbers' rule is left out
	// rather than granting every Number.
	expectRoleNames(t, ns, "sales", nil, nil)

	n1 := newNumber(ns, "n1", withCredentials("c1"))
	n2 := newNumber(ns, "n2", withCredentials("c2"))
	mustCreate(t, n1, n2)
	expectRoleNames(t, ns, "sales", []string{"c1", "c2"}, []string{"n1", "n2"})

	patchObject(t, n1, func() { n1.Labels = map[string]string{"team": "support"} })
	expectRoleNames(t, ns, "sales", []string{"c2"}, []string{"n2"})
	expectNumberInbox(t, n1, "")

	patchObject(t, n2, func() { n2.Spec.CredentialsRef.Name = "c3" })
	expectRoleNames(t, ns, "sales", []string{"c3"}, []string{"n2"})

	patchObject(t, ib, func() { ib.Spec.SecretRefs = []sbv1.LocalObjectReference{{Name: "c3"}, {Name: "webhook-relay"}} })
	expectRoleNames(t, ns, "sales", []string{"c3", "webhook-relay"}, []string{"n2"})

	if err := k8sClient.Delete(testCtx, n2); err != nil {
		t.Fatal(err)
	}
	expectRoleNames(t, ns, "sales", []string{"c3", "webhook-relay"}, nil)
	expectServed(t, ib)
}

func TestInboxRepairsDrift(t *testing.T) {
	ns := newNamespace(t)
	mustCreate(t, newNumber(ns, "n1"), newInbox(ns, "desk", nil))
	dep := expectReplicas(t, ns, "inbox-desk", 2)
	expectRoleNames(t, ns, "desk", []string{"n1-creds"}, []string{"n1"})

	// Hand edits of fields the operator owns are undone.
	dep.Spec.Replicas = ptrTo[int32](5)
	dep.Spec.Template.Spec.Containers[0].Image = "evil:latest"
	if err := k8sClient.Update(testCtx, dep); err != nil {
		t.Fatal(err)
	}
	expectReplicas(t, ns, "inbox-desk", 2)
	role, err := getRole(ns, "inbox-desk")
	if err != nil {
		t.Fatal(err)
	}
	role.Rules = append(role.Rules, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get", "list"}})
	if err := k8sClient.Update(testCtx, role); err != nil {
		t.Fatal(err)
	}
	expectRoleNames(t, ns, "desk", []string{"n1-creds"}, []string{"n1"})

	// Deleted objects come back.
	meta := metav1.ObjectMeta{Namespace: ns, Name: "inbox-desk"}
	for _, obj := range []client.Object{&appsv1.Deployment{ObjectMeta: meta}, &corev1.Service{ObjectMeta: meta},
		&policyv1.PodDisruptionBudget{ObjectMeta: meta}, &rbacv1.Role{ObjectMeta: meta},
		&rbacv1.RoleBinding{ObjectMeta: meta}, &corev1.ServiceAccount{ObjectMeta: meta}} {
		expectRecreated(t, obj)
	}
}

// expectRecreated deletes obj and waits for a new object of the same name.
func expectRecreated(t *testing.T, obj client.Object) {
	t.Helper()
	if err := k8sClient.Get(testCtx, client.ObjectKeyFromObject(obj), obj); err != nil {
		t.Fatalf("reading %T: %v", obj, err)
	}
	old := obj.GetUID()
	if err := k8sClient.Delete(testCtx, obj); err != nil {
		t.Fatalf("deleting %T: %v", obj, err)
	}
	eventually(t, fmt.Sprintf("deleted %T restored", obj), func() error {
		if err := k8sClient.Get(testCtx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		if obj.GetUID() == old {
			return fmt.Errorf("still the old object")
		}
		return nil
	})
}

func TestInboxConflictOlderWins(t *testing.T) {
	ns := newNamespace(t)
	es := newNumber(ns, "sales-es", withCredentials("sales-creds"))
	gb := newNumber(ns, "support-gb", withLabels(map[string]string{"team": "support"}))
	mustCreate(t, es, gb)
	older := newInbox(ns, "older", map[string]string{"team": "sales"})
	mustCreate(t, older)
	expectServed(t, older, "sales-es")

	time.Sleep(1100 * time.Millisecond) // creation timestamps have one-second resolution
	newer := newInbox(ns, "newer", nil)
	mustCreate(t, newer)
	c := expectCondition(t, newer, sbv1.StalledCondition, metav1.ConditionTrue, sbv1.ReasonConflict)
	if !strings.Contains(c.Message, "Number sales-es is served by the older Inbox older") {
		t.Errorf("conflict message %q does not name the Number and the other Inbox", c.Message)
	}
	expectKstatus(t, newer, status.FailedStatus)
	expectEvent(t, newer, sbv1.ReasonConflict, "Ready=False")
	// The newer Inbox serves what no older one claims, and no more.
	expectServed(t, newer, "support-gb")
	expectRoleNames(t, ns, "newer", []string{"support-gb-creds"}, []string{"support-gb"})
	expectNumberInbox(t, es, "older")
	expectNumberInbox(t, gb, "newer")
	if c, _ := condition(older, sbv1.StalledCondition); c != nil {
		t.Errorf("the older Inbox is Stalled too: %+v", c)
	}

	// The older Inbox goes: the newer one takes over.
	if err := k8sClient.Delete(testCtx, older); err != nil {
		t.Fatal(err)
	}
	expectServed(t, newer, "sales-es", "support-gb")
	expectCondition(t, newer, sbv1.ReconcilingCondition, metav1.ConditionTrue, sbv1.ReasonDeploymentUnavailable)
	expectRoleNames(t, ns, "newer", []string{"sales-creds", "support-gb-creds"}, []string{"sales-es", "support-gb"})
	expectNumberInbox(t, es, "newer")
}

func TestInboxSuspended(t *testing.T) {
	ns := newNamespace(t)
	ib := newInbox(ns, "paused", nil, func(i *sbv1.Inbox) { i.Spec.Suspend = true })
	mustCreate(t, newNumber(ns, "n1"), ib)
	expectCondition(t, ib, sbv1.ReadyCondition, metav1.ConditionFalse, sbv1.ReasonSuspended)
	if ib.Status.ObservedGeneration != ib.Generation {
		t.Errorf("observedGeneration %d, generation %d", ib.Status.ObservedGeneration, ib.Generation)
	}
	consistently(t, "no Deployment while suspended", time.Second, func() error {
		if _, err := getDeployment(ns, "inbox-paused"); !apierrors.IsNotFound(err) {
			return fmt.Errorf("Deployment: %v", err)
		}
		return nil
	})
	patchObject(t, ib, func() { ib.Spec.Suspend = false })
	expectReplicas(t, ns, "inbox-paused", 2)
	expectCondition(t, ib, sbv1.ReconcilingCondition, metav1.ConditionTrue, sbv1.ReasonDeploymentUnavailable)
}

func TestInboxInvalidSelector(t *testing.T) {
	ns := newNamespace(t)
	ib := newInbox(ns, "bad-selector", nil, func(i *sbv1.Inbox) {
		i.Spec.NumberSelector.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: "team", Operator: metav1.LabelSelectorOpIn}}
	})
	mustCreate(t, ib)
	c := expectCondition(t, ib, sbv1.StalledCondition, metav1.ConditionTrue, sbv1.ReasonInvalidSpec)
	if !strings.Contains(c.Message, "spec.numberSelector") {
		t.Errorf("Stalled message %q does not name spec.numberSelector", c.Message)
	}
	expectKstatus(t, ib, status.FailedStatus)
}

// TestNumberInboxAvailable: the condition follows Inboxes coming and going, and never
// touches Ready (kubectl wait --for=condition=Ready users).
func TestNumberInboxAvailable(t *testing.T) {
	ns := newNamespace(t)
	num := newNumber(ns, "n1")
	mustCreate(t, newSecret(ns, "n1-creds", fullCredentials()), num)
	markDeploymentAvailable(t, expectReplicas(t, ns, "sender-n1", 1))
	expectCondition(t, num, sbv1.ReadyCondition, metav1.ConditionTrue, sbv1.ReasonReconciled)
	expectNumberInbox(t, num, "")

	ib := newInbox(ns, "desk", map[string]string{"team": "sales"})
	mustCreate(t, ib)
	expectNumberInbox(t, num, "desk")
	expectCondition(t, num, sbv1.ReadyCondition, metav1.ConditionTrue, sbv1.ReasonReconciled)
	expectEvent(t, num, sbv1.ReasonInboxSelected, "InboxAvailable=True")

	patchObject(t, ib, func() { ib.Spec.NumberSelector = metav1.LabelSelector{MatchLabels: map[string]string{"team": "other"}} })
	expectNumberInbox(t, num, "")
	if err := k8sClient.Delete(testCtx, ib); err != nil {
		t.Fatal(err)
	}
	other := newInbox(ns, "other", nil)
	mustCreate(t, other)
	expectNumberInbox(t, num, "other")
	if err := k8sClient.Delete(testCtx, other); err != nil {
		t.Fatal(err)
	}
	expectNumberInbox(t, num, "")
	expectCondition(t, num, sbv1.ReadyCondition, metav1.ConditionTrue, sbv1.ReasonReconciled)
}

// TestInboxContractNames: the inbox reads its DSN under the senders' variable.
func TestInboxContractNames(t *testing.T) {
	if contract.InboxDatabaseURLEnv != DatabaseURLEnv {
		t.Errorf("contract.InboxDatabaseURLEnv %q, the senders' %q", contract.InboxDatabaseURLEnv, DatabaseURLEnv)
	}
}

// patchObject applies change to obj with a merge patch.
func patchObject[T client.Object](t *testing.T, obj T, change func()) {
	t.Helper()
	if err := k8sClient.Get(testCtx, client.ObjectKeyFromObject(obj), obj); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(obj.DeepCopyObject().(T))
	change()
	if err := k8sClient.Patch(testCtx, obj, patch); err != nil {
		t.Fatalf("patching %s: %v", obj.GetName(), err)
	}
}
