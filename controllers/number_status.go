package controllers

import (
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/contract"
)

// credentialsCheck is what the operator found in a Number's credentials Secret. It
// names missing keys, never values.
type credentialsCheck struct {
	ok     bool
	reason string
	msg    string
}

// checkCredentials inspects the Secret named by the Number (nil when it does not exist).
func checkCredentials(num *sbv1.Number, secret *corev1.Secret) credentialsCheck {
	name := num.Spec.CredentialsRef.Name
	if secret == nil {
		return credentialsCheck{reason: sbv1.ReasonSecretNotFound,
			msg: fmt.Sprintf("Secret %q named by spec.credentialsRef.name not found in namespace %s", name, num.Namespace)}
	}
	var missing []string
	for _, key := range sbv1.CredentialsKeys {
		if len(secret.Data[key]) == 0 {
			missing = append(missing, key)
		}
	}
	if len(missing) > 0 {
		return credentialsCheck{reason: sbv1.ReasonMissingKey,
			msg: fmt.Sprintf("Secret %q lacks key(s) %s, or they are empty", name, strings.Join(missing, ", "))}
	}
	return credentialsCheck{ok: true, reason: sbv1.ReasonCredentialsFound,
		msg: fmt.Sprintf("Secret %q has %s", name, strings.Join(sbv1.CredentialsKeys, ", "))}
}

// senderCheck is the state of a workload's Deployment (a Number's sender, an Inbox's
// inbox) as its owner reports it.
type senderCheck struct {
	status metav1.ConditionStatus
	reason string
	msg    string
	// stuck is true when the Deployment gave up progressing (its progress deadline passed).
	stuck bool
}

// checkSender reads the sender Deployment (nil when the cache has not seen it yet) against
// the replicas the Number asks for.
func checkSender(num *sbv1.Number, creds credentialsCheck, dep *appsv1.Deployment, replicas int32) senderCheck {
	name := senderName(num)
	switch {
	case !creds.ok:
		return senderCheck{status: metav1.ConditionFalse, reason: sbv1.ReasonCredentialsInvalid,
			msg: fmt.Sprintf("sender %s not started: the credentials are not usable", name)}
	case replicas == 0:
		return senderCheck{status: metav1.ConditionFalse, reason: sbv1.ReasonSenderStopped,
			msg: fmt.Sprintf("sender %s stopped: spec.sender.replicas is 0", name)}
	}
	return checkDeployment("sender", dep, name, replicas)
}

// checkDeployment reads a workload's Deployment (nil when the cache has not seen it yet)
// against the replicas it should run; what names the workload in messages ("sender").
func checkDeployment(what string, dep *appsv1.Deployment, name string, replicas int32) senderCheck {
	if dep == nil {
		return senderCheck{status: metav1.ConditionFalse, reason: sbv1.ReasonDeploymentUnavailable,
			msg: fmt.Sprintf("%s Deployment %s declared; waiting for it to appear", what, name)}
	}
	ready := fmt.Sprintf("%d/%d %s replicas ready", dep.Status.ReadyReplicas, replicas, what)
	if c := deploymentCondition(dep, appsv1.DeploymentProgressing); c != nil &&
		c.Status == corev1.ConditionFalse && c.Reason == "ProgressDeadlineExceeded" {
		return senderCheck{status: metav1.ConditionFalse, reason: sbv1.ReasonDeploymentUnavailable, stuck: true,
			msg: fmt.Sprintf("%s Deployment %s exceeded its progress deadline (%s): %s", what, name, ready, c.Message)}
	}
	if c := deploymentCondition(dep, appsv1.DeploymentAvailable); c != nil && c.Status == corev1.ConditionTrue &&
		dep.Status.ReadyReplicas > 0 && dep.Status.ObservedGeneration >= dep.Generation {
		return senderCheck{status: metav1.ConditionTrue, reason: sbv1.ReasonDeploymentAvailable,
			msg: fmt.Sprintf("%s Deployment %s is available (%s)", what, name, ready)}
	}
	return senderCheck{status: metav1.ConditionFalse, reason: sbv1.ReasonDeploymentUnavailable,
		msg: fmt.Sprintf("%s Deployment %s is not available (%s): %s", what, name, ready, unavailableCause(what, dep))}
}

// unavailableCause explains, from the Deployment's own status, why no pod is ready.
func unavailableCause(what string, dep *appsv1.Deployment) string {
	if c := deploymentCondition(dep, appsv1.DeploymentAvailable); c != nil && c.Message != "" {
		return c.Message
	}
	if len(dep.Status.Conditions) == 0 && dep.Status.ObservedGeneration == 0 {
		return fmt.Sprintf("no controller has acted on the Deployment yet, so no %s pod runs", what)
	}
	return fmt.Sprintf("no %s pod is running and ready yet", what)
}

func deploymentCondition(dep *appsv1.Deployment, typ appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range dep.Status.Conditions {
		if dep.Status.Conditions[i].Type == typ {
			return &dep.Status.Conditions[i]
		}
	}
	return nil
}

// summarizeNumber sets the Number's conditions from what the reconcile found.
func summarizeNumber(num *sbv1.Number, creds credentialsCheck, sender senderCheck) {
	conds, gen := &num.Status.Conditions, num.Generation
	credStatus := metav1.ConditionFalse
	if creds.ok {
		credStatus = metav1.ConditionTrue
	}
	setCondition(conds, gen, sbv1.CredentialsValidCondition, credStatus, creds.reason, creds.msg)
	setCondition(conds, gen, sbv1.SenderAvailableCondition, sender.status, sender.reason, sender.msg)
	switch {
	case !creds.ok:
		markStalled(conds, gen, creds.reason, creds.msg)
	case sender.stuck:
		markStalled(conds, gen, sender.reason, sender.msg)
	case sender.status == metav1.ConditionTrue:
		markReady(conds, gen, sbv1.ReasonReconciled, sender.msg)
	case sender.reason == sbv1.ReasonSenderStopped:
		markReady(conds, gen, sbv1.ReasonSenderStopped, sender.msg)
	default:
		markReconciling(conds, gen, sender.reason, sender.msg)
	}
}

// reportInbox sets InboxAvailable from status.inbox. It is informational and not part of
// Ready: a Number may send without receiving.
func reportInbox(num *sbv1.Number) {
	conds, gen := &num.Status.Conditions, num.Generation
	if num.Status.Inbox == "" {
		setCondition(conds, gen, sbv1.InboxAvailableCondition, metav1.ConditionFalse, sbv1.ReasonNoInbox,
			fmt.Sprintf("no Inbox in namespace %s selects this Number: its webhooks have no receiver", num.Namespace))
		return
	}
	setCondition(conds, gen, sbv1.InboxAvailableCondition, metav1.ConditionTrue, sbv1.ReasonInboxSelected,
		fmt.Sprintf("Inbox %s receives this Number's webhooks at Service %s, path %s",
			num.Status.Inbox, contract.InboxObjectName(num.Status.Inbox), contract.InboxWebhookPath))
}
