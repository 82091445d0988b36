package controllers

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/contract"
)

// fillInboxStatus records the Numbers the Inbox serves, its replicas and where Meta's
// webhooks reach it.
func fillInboxStatus(ib *sbv1.Inbox, served []sbv1.Number, dep *appsv1.Deployment) {
	st := &ib.Status
	st.ServedNumbers = int32(len(served))
	st.Numbers = numberNames(served, sbv1.MaxListedNumbers)
	st.Replicas = inboxReplicas(ib)
	st.ReadyReplicas = 0
	if dep != nil {
		st.ReadyReplicas = dep.Status.ReadyReplicas
	}
	st.Service = inboxName(ib)
	st.WebhookPath = contract.InboxWebhookPath
}

// summarizeInbox sets Ready from the inbox Deployment: Ready once it is available,
// Stalled when it gave up progressing, Reconciling while it comes up.
func summarizeInbox(ib *sbv1.Inbox, dep senderCheck) {
	conds, gen := &ib.Status.Conditions, ib.Generation
	msg := fmt.Sprintf("%s; serves %d Number(s)", dep.msg, ib.Status.ServedNumbers)
	switch {
	case dep.stuck:
		markStalled(conds, gen, dep.reason, msg)
	case dep.status == metav1.ConditionTrue:
		markReady(conds, gen, sbv1.ReasonReconciled, msg)
	default:
		markReconciling(conds, gen, dep.reason, msg)
	}
}
