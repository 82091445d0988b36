package controllers

import (
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
)

func getDeployment(ns, name string) (*appsv1.Deployment, error) {
	dep := &appsv1.Deployment{}
	return dep, k8sClient.Get(testCtx, types.NamespacedName{Namespace: ns, Name: name}, dep)
}

func expectReplicas(t *testing.T, ns, name string, want int32) *appsv1.Deployment {
	t.Helper()
	var dep *appsv1.Deployment
	eventually(t, fmt.Sprintf("Deployment %s with %d replicas", name, want), func() error {
		var err error
		if dep, err = getDeployment(ns, name); err != nil {
			return err
		}
		if *dep.Spec.Replicas != want {
			return fmt.Errorf("replicas %d", *dep.Spec.Replicas)
		}
		return nil
	})
	return dep
}

// markDeploymentAvailable does what the Deployment controller and kubelet would do when
// the sender pod runs (envtest has neither).
func markDeploymentAvailable(t *testing.T, dep *appsv1.Deployment) {
	t.Helper()
	dep.Status = appsv1.DeploymentStatus{
		ObservedGeneration: dep.Generation, Replicas: 1, ReadyReplicas: 1, AvailableReplicas: 1, UpdatedReplicas: 1,
		Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue,
			Reason: "MinimumReplicasAvailable", Message: "Deployment has minimum availability.", LastUpdateTime: metav1.Now(), LastTransitionTime: metav1.Now()}},
	}
	if err := k8sClient.Status().Update(testCtx, dep); err != nil {
		t.Fatalf("marking Deployment available: %v", err)
	}
}

func TestNumberDeclaresSenderAndReportsTruthfully(t *testing.T) {
	ns := newNamespace(t)
	num := newNumber(ns, "sales-es")
	mustCreate(t, newSecret(ns, "sales-es-creds", fullCredentials()), num)

	dep := expectReplicas(t, ns, "sender-sales-es", 1)
	c := dep.Spec.Template.Spec.Containers[0]
	if got := strings.Join(append(c.Command, c.Args...), " "); !strings.HasPrefix(got, "switchboard sender --number="+ns+"/sales-es") {
		t.Errorf("sender command = %q", got)
	}
	if c.Image != testSenderImage || !*c.SecurityContext.ReadOnlyRootFilesystem || !*dep.Spec.Template.Spec.SecurityContext.RunAsNonRoot {
		t.Errorf("sender container not as declared: image %q, security %+v", c.Image, c.SecurityContext)
	}
	owner := metav1.GetControllerOf(dep)
	if owner == nil || owner.Kind != "Number" || owner.Name != "sales-es" {
		t.Errorf("Deployment controller owner = %+v", owner)
	}
	for _, obj := range []client.Object{&corev1.ServiceAccount{}, &rbacv1.Role{}, &rbacv1.RoleBinding{}} {
		eventually(t, fmt.Sprintf("%T sender-sales-es", obj), func() error {
			return k8sClient.Get(testCtx, types.NamespacedName{Namespace: ns, Name: "sender-sales-es"}, obj)
		})
	}

	// No pod runs in envtest: the Number must say it waits for its sender.
	expectCondition(t, num, sbv1.CredentialsValidCondition, metav1.ConditionTrue, sbv1.ReasonCredentialsFound)
	expectCondition(t, num, sbv1.SenderAvailableCondition, metav1.ConditionFalse, sbv1.ReasonDeploymentUnavailable)
	eventually(t, "SenderAvailable says no replica is ready", func() error {
		c, err := condition(num, sbv1.SenderAvailableCondition)
		if err == nil && !strings.Contains(c.Message, "0/1 sender replicas ready") {
			err = fmt.Errorf("message %q", c.Message)
		}
		return err
	})
	expectCondition(t, num, sbv1.ReconcilingCondition, metav1.ConditionTrue, sbv1.ReasonDeploymentUnavailable)
	expectKstatus(t, num, status.InProgressStatus)
	if num.Status.ObservedGeneration != num.Generation || num.Status.Sender == nil || num.Status.Sender.Deployment != "sender-sales-es" {
		t.Errorf("status = %+v", num.Status)
	}

	markDeploymentAvailable(t, dep)
	expectCondition(t, num, sbv1.SenderAvailableCondition, metav1.ConditionTrue, sbv1.ReasonDeploymentAvailable)
	expectCondition(t, num, sbv1.ReadyCondition, metav1.ConditionTrue, sbv1.ReasonReconciled)
	expectKstatus(t, num, status.CurrentStatus)
	if num.Status.Sender.ReadyReplicas != 1 {
		t.Errorf("status.sender.readyReplicas = %d", num.Status.Sender.ReadyReplicas)
	}
}

func TestNumberRepairsSenderDrift(t *testing.T) {
	ns := newNamespace(t)
	mustCreate(t, newSecret(ns, "n1-creds", fullCredentials()), newNumber(ns, "n1"))
	dep := expectReplicas(t, ns, "sender-n1", 1)

	// Hand edits of fields the operator owns are undone.
	dep.Spec.Replicas = ptrTo[int32](3)
	dep.Spec.Template.Spec.Containers[0].Image = "evil:latest"
	if err := k8sClient.Update(testCtx, dep); err != nil {
		t.Fatal(err)
	}
	eventually(t, "hand-edited Deployment restored", func() error {
		d, err := getDeployment(ns, "sender-n1")
		if err != nil {
			return err
		}
		if *d.Spec.Replicas != 1 || d.Spec.Template.Spec.Containers[0].Image != testSenderImage {
			return fmt.Errorf("replicas %d image %s", *d.Spec.Replicas, d.Spec.Template.Spec.Containers[0].Image)
		}
		return nil
	})

	// Deleted objects come back.
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "sender-n1"}}
	for _, obj := range []client.Object{dep, role, &corev1.ServiceAccount{ObjectMeta: role.ObjectMeta}} {
		old := obj.GetUID()
		if err := k8sClient.Delete(testCtx, obj); err != nil {
			t.Fatalf("deleting %T: %v", obj, err)
		}
		eventually(t, fmt.Sprintf("deleted %T restored", obj), func() error {
			if err := k8sClient.Get(testCtx, client.ObjectKeyFromObject(obj), obj); err != nil {
				return err
			}
			if obj.GetUID() == old && old != "" {
				return fmt.Errorf("still the old object")
			}
			return nil
		})
	}
}

func TestNumberCredentialsMissingThenAppear(t *testing.T) {
	ns := newNamespace(t)
	num := newNumber(ns, "n2")
	mustCreate(t, num)

	c := expectCondition(t, num, sbv1.CredentialsValidCondition, metav1.ConditionFalse, sbv1.ReasonSecretNotFound)
	if !strings.Contains(c.Message, `"n2-creds"`) {
		t.Errorf("message %q does not name the Secret", c.Message)
	}
	expectCondition(t, num, sbv1.StalledCondition, metav1.ConditionTrue, sbv1.ReasonSecretNotFound)
	expectCondition(t, num, sbv1.SenderAvailableCondition, metav1.ConditionFalse, sbv1.ReasonCredentialsInvalid)
	expectKstatus(t, num, status.FailedStatus)
	expectReplicas(t, ns, "sender-n2", 0)

	// The Secret appears with a key missing: the key is named, no value is shown.
	partial := fullCredentials()
	delete(partial, "appSecret")
	secret := newSecret(ns, "n2-creds", partial)
	mustCreate(t, secret)
	c = expectCondition(t, num, sbv1.CredentialsValidCondition, metav1.ConditionFalse, sbv1.ReasonMissingKey)
	if !strings.Contains(c.Message, "appSecret") || strings.Contains(c.Message, "SECRET-VALUE") {
		t.Errorf("message %q must name appSecret and no value", c.Message)
	}
	expectReplicas(t, ns, "sender-n2", 0)

	// The key is added: the sender is declared.
	secret.StringData = fullCredentials()
	if err := k8sClient.Update(testCtx, secret); err != nil {
		t.Fatal(err)
	}
	expectCondition(t, num, sbv1.CredentialsValidCondition, metav1.ConditionTrue, sbv1.ReasonCredentialsFound)
	expectReplicas(t, ns, "sender-n2", 1)
	if c, _ := condition(num, sbv1.StalledCondition); c != nil {
		t.Errorf("Stalled still present: %+v", c)
	}
	assertNoSecretInStatusOrEvents(t, num)
}

func assertNoSecretInStatusOrEvents(t *testing.T, num *sbv1.Number) {
	t.Helper()
	var events eventsv1.EventList
	if err := k8sClient.List(testCtx, &events, client.InNamespace(num.Namespace)); err != nil {
		t.Fatal(err)
	}
	text := fmt.Sprintf("%+v", num.Status)
	for _, e := range events.Items {
		text += e.Note
	}
	if strings.Contains(text, "SECRET-VALUE") {
		t.Errorf("a secret value leaked into status or events: %s", text)
	}
}

func TestNumberEventsOnTransitionsOnly(t *testing.T) {
	ns := newNamespace(t)
	num := newNumber(ns, "n3")
	mustCreate(t, num)
	expectCondition(t, num, sbv1.CredentialsValidCondition, metav1.ConditionFalse, sbv1.ReasonSecretNotFound)
	countEvents := func() (int, error) {
		var events eventsv1.EventList
		err := k8sClient.List(testCtx, &events, client.InNamespace(ns))
		return len(events.Items), err
	}
	var before int
	eventually(t, "transition events recorded", func() error {
		var err error
		before, err = countEvents()
		if err == nil && before == 0 {
			err = fmt.Errorf("no events yet")
		}
		return err
	})
	// Forced reconciles of an unchanged, still broken Number add no events.
	for i := range 3 {
		patch := client.MergeFrom(num.DeepCopy())
		num.Annotations = map[string]string{sbv1.ReconcileRequestAnnotation: fmt.Sprint(i)}
		if err := k8sClient.Patch(testCtx, num, patch); err != nil {
			t.Fatal(err)
		}
		eventually(t, "reconcile request handled", func() error {
			if err := k8sClient.Get(testCtx, client.ObjectKeyFromObject(num), num); err != nil {
				return err
			}
			if num.Status.LastHandledReconcileAt != fmt.Sprint(i) {
				return fmt.Errorf("lastHandledReconcileAt %q", num.Status.LastHandledReconcileAt)
			}
			return nil
		})
	}
	if after, err := countEvents(); err != nil || after != before {
		t.Errorf("events went from %d to %d (%v) without a transition", before, after, err)
	}
}

func TestNumberSuspend(t *testing.T) {
	ns := newNamespace(t)
	num := newNumber(ns, "n4")
	mustCreate(t, newSecret(ns, "n4-creds", fullCredentials()), num)
	dep := expectReplicas(t, ns, "sender-n4", 1)

	patch := client.MergeFrom(num.DeepCopy())
	num.Spec.Suspend = true
	if err := k8sClient.Patch(testCtx, num, patch); err != nil {
		t.Fatal(err)
	}
	expectCondition(t, num, sbv1.ReadyCondition, metav1.ConditionFalse, sbv1.ReasonSuspended)
	if err := k8sClient.Delete(testCtx, dep); err != nil {
		t.Fatal(err)
	}
	consistently(t, "suspended Number's sender stays deleted", 2*time.Second, func() error {
		if _, err := getDeployment(ns, "sender-n4"); !apierrors.IsNotFound(err) {
			return fmt.Errorf("Deployment recreated while suspended (err %v)", err)
		}
		return nil
	})

	patch = client.MergeFrom(num.DeepCopy())
	num.Spec.Suspend = false
	if err := k8sClient.Patch(testCtx, num, patch); err != nil {
		t.Fatal(err)
	}
	expectReplicas(t, ns, "sender-n4", 1)
	expectCondition(t, num, sbv1.ReconcilingCondition, metav1.ConditionTrue, sbv1.ReasonDeploymentUnavailable)
}

func TestNumberSenderReplicasZeroIsReady(t *testing.T) {
	ns := newNamespace(t)
	num := newNumber(ns, "n5", func(n *sbv1.Number) { n.Spec.Sender = &sbv1.SenderSpec{Replicas: ptrTo[int32](0)} })
	mustCreate(t, newSecret(ns, "n5-creds", fullCredentials()), num)
	expectReplicas(t, ns, "sender-n5", 0)
	expectCondition(t, num, sbv1.ReadyCondition, metav1.ConditionTrue, sbv1.ReasonSenderStopped)
	expectKstatus(t, num, status.CurrentStatus)
}

func TestNumberReportsItsRoutingPolicy(t *testing.T) {
	ns := newNamespace(t)
	num := newNumber(ns, "n6", withCredentials("shared"), withLabels(map[string]string{"team": "support"}))
	mustCreate(t, newSecret(ns, "shared", fullCredentials()), num)
	mustCreate(t, newRoutingPolicy(ns, "support", map[string]string{"team": "support"}))
	expectRoutingPolicy := func(want string) {
		t.Helper()
		eventually(t, fmt.Sprintf("status.routingPolicy %q", want), func() error {
			if err := k8sClient.Get(testCtx, client.ObjectKeyFromObject(num), num); err != nil {
				return err
			}
			if num.Status.RoutingPolicy != want {
				return fmt.Errorf("routingPolicy %q", num.Status.RoutingPolicy)
			}
			return nil
		})
	}
	expectRoutingPolicy("support")
	// Relabelled out of the policy's selector: no policy routes it any more.
	patch := client.MergeFrom(num.DeepCopy())
	num.Labels = map[string]string{"team": "other"}
	if err := k8sClient.Patch(testCtx, num, patch); err != nil {
		t.Fatal(err)
	}
	expectRoutingPolicy("")
}
