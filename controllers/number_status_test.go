package controllers

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
)

func TestCheckCredentials(t *testing.T) {
	num := newNumber("acme", "n", withCredentials("creds"))
	secret := func(keys ...string) *corev1.Secret {
		s := &corev1.Secret{Data: map[string][]byte{}}
		for _, k := range keys {
			s.Data[k] = []byte("value-" + k)
		}
		return s
	}
	for _, tc := range []struct {
		name       string
		secret     *corev1.Secret
		ok         bool
		reason     string
		mentions   []string
		notMention string
	}{
		{"missing Secret", nil, false, sbv1.ReasonSecretNotFound, []string{`"creds"`, "acme"}, ""},
		{"all keys", secret("accessToken", "appSecret", "verifyToken"), true, sbv1.ReasonCredentialsFound, nil, "value-"},
		{"two keys missing", secret("accessToken"), false, sbv1.ReasonMissingKey, []string{"appSecret, verifyToken"}, "value-"},
		{"empty key", func() *corev1.Secret {
			s := secret("accessToken", "appSecret", "verifyToken")
			s.Data["verifyToken"] = nil
			return s
		}(), false, sbv1.ReasonMissingKey, []string{"verifyToken"}, "value-"},
	} {
		got := checkCredentials(num, tc.secret)
		if got.ok != tc.ok || got.reason != tc.reason {
			t.Errorf("%s: got ok=%v reason=%s", tc.name, got.ok, got.reason)
		}
		for _, m := range tc.mentions {
			if !strings.Contains(got.msg, m) {
				t.Errorf("%s: message %q does not mention %s", tc.name, got.msg, m)
			}
		}
		if tc.notMention != "" && strings.Contains(got.msg, tc.notMention) {
			t.Errorf("%s: message %q shows a secret value", tc.name, got.msg)
		}
	}
}

func deploymentWith(ready int32, conds ...appsv1.DeploymentCondition) *appsv1.Deployment {
	return &appsv1.Deployment{Status: appsv1.DeploymentStatus{ReadyReplicas: ready, ObservedGeneration: 1, Conditions: conds}}
}

func TestCheckSenderAndSummary(t *testing.T) {
	num := newNumber("acme", "n")
	num.Generation = 1
	good := credentialsCheck{ok: true, reason: sbv1.ReasonCredentialsFound}
	bad := credentialsCheck{reason: sbv1.ReasonMissingKey, msg: "lacks appSecret"}
	available := appsv1.DeploymentCondition{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue}
	unavailable := appsv1.DeploymentCondition{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionFalse, Message: "Deployment does not have minimum availability."}
	deadline := appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded", Message: "ReplicaSet has timed out progressing."}
	for _, tc := range []struct {
		name        string
		creds       credentialsCheck
		dep         *appsv1.Deployment
		replicas    int32
		sender      metav1.ConditionStatus
		senderWhy   string
		ready       metav1.ConditionStatus
		summary     string // the condition that is True besides Ready: Reconciling, Stalled or none
		msgContains string
	}{
		{"credentials invalid", bad, nil, 0, metav1.ConditionFalse, sbv1.ReasonCredentialsInvalid, metav1.ConditionFalse, sbv1.StalledCondition, "lacks appSecret"},
		{"stopped on purpose", good, deploymentWith(0), 0, metav1.ConditionFalse, sbv1.ReasonSenderStopped, metav1.ConditionTrue, "", "replicas is 0"},
		{"not in cache yet", good, nil, 1, metav1.ConditionFalse, sbv1.ReasonDeploymentUnavailable, metav1.ConditionFalse, sbv1.ReconcilingCondition, "waiting for it to appear"},
		{"no controller acted", good, &appsv1.Deployment{}, 1, metav1.ConditionFalse, sbv1.ReasonDeploymentUnavailable, metav1.ConditionFalse, sbv1.ReconcilingCondition, "no sender pod runs"},
		{"unavailable", good, deploymentWith(0, unavailable), 1, metav1.ConditionFalse, sbv1.ReasonDeploymentUnavailable, metav1.ConditionFalse, sbv1.ReconcilingCondition, "minimum availability"},
		{"available", good, deploymentWith(1, available), 1, metav1.ConditionTrue, sbv1.ReasonDeploymentAvailable, metav1.ConditionTrue, "", "1/1 sender replicas ready"},
		{"progress deadline", good, deploymentWith(0, unavailable, deadline), 1, metav1.ConditionFalse, sbv1.ReasonDeploymentUnavailable, metav1.ConditionFalse, sbv1.StalledCondition, "progress deadline"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := num.DeepCopy()
			sc := checkSender(n, tc.creds, tc.dep, tc.replicas)
			if sc.status != tc.sender || sc.reason != tc.senderWhy {
				t.Errorf("SenderAvailable %s/%s, want %s/%s", sc.status, sc.reason, tc.sender, tc.senderWhy)
			}
			summarizeNumber(n, tc.creds, sc)
			ready := apimeta.FindStatusCondition(n.Status.Conditions, sbv1.ReadyCondition)
			if ready.Status != tc.ready || !strings.Contains(ready.Message, tc.msgContains) {
				t.Errorf("Ready %s %q, want %s containing %q", ready.Status, ready.Message, tc.ready, tc.msgContains)
			}
			for _, typ := range []string{sbv1.ReconcilingCondition, sbv1.StalledCondition} {
				present := apimeta.IsStatusConditionTrue(n.Status.Conditions, typ)
				if present != (typ == tc.summary) {
					t.Errorf("%s present=%v, want only %q", typ, present, tc.summary)
				}
			}
			if c := apimeta.FindStatusCondition(n.Status.Conditions, sbv1.ReadyCondition); c.ObservedGeneration != 1 {
				t.Errorf("condition observedGeneration %d", c.ObservedGeneration)
			}
		})
	}
}
