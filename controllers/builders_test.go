package controllers

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
)

// Test-object builders with functional options.

type numberOpt func(*sbv1.Number)

func newNumber(ns, name string, opts ...numberOpt) *sbv1.Number {
	n := &sbv1.Number{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"team": "sales"}},
		Spec: sbv1.NumberSpec{
			PhoneNumberID:      "106540352242922",
			BusinessAccountID:  "102290129340398",
			DisplayPhoneNumber: "+34 600 000 000",
			CredentialsRef:     sbv1.LocalObjectReference{Name: name + "-creds"},
			APIBaseURL:         simURL,
		},
	}
	for _, o := range opts {
		o(n)
	}
	return n
}

func withLabels(l map[string]string) numberOpt { return func(n *sbv1.Number) { n.Labels = l } }
func withCredentials(name string) numberOpt {
	return func(n *sbv1.Number) { n.Spec.CredentialsRef.Name = name }
}

func newSecret(ns, name string, data map[string]string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, StringData: data}
}

func fullCredentials() map[string]string {
	return map[string]string{"accessToken": "tok-SECRET-VALUE", "appSecret": "app-SECRET-VALUE", "verifyToken": "verify-SECRET-VALUE"}
}

func newRoutingPolicy(ns, name string, match map[string]string) *sbv1.RoutingPolicy {
	return &sbv1.RoutingPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: sbv1.RoutingPolicySpec{
			NumberSelector: metav1.LabelSelector{MatchLabels: match},
			Strategy:       sbv1.LeastLoaded,
			Capacity:       &sbv1.Capacity{Target: 7, Max: 15},
			Teams:          []sbv1.Team{{Name: "tier1", Skills: []string{"es"}, Members: []string{"ana"}}},
		},
	}
}

func newKeywordRule(ns, name string) *sbv1.KeywordRule {
	return &sbv1.KeywordRule{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: sbv1.KeywordRuleSpec{
			Direction: sbv1.Inbound,
			Match:     sbv1.KeywordMatch{Any: []string{"precio"}, Mode: sbv1.MatchWord},
			Actions:   sbv1.KeywordActions{Tag: []string{"pricing"}},
		},
	}
}

func newRetentionPolicy(ns, name string) *sbv1.RetentionPolicy {
	return &sbv1.RetentionPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       sbv1.RetentionPolicySpec{Messages: "730d", Media: "90d", Schedule: "0 3 * * *"},
	}
}

// newInbox builds an Inbox selecting the Numbers with the labels match (all of the
// namespace when match is nil).
func newInbox(ns, name string, match map[string]string, opts ...func(*sbv1.Inbox)) *sbv1.Inbox {
	ib := &sbv1.Inbox{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       sbv1.InboxSpec{NumberSelector: metav1.LabelSelector{MatchLabels: match}},
	}
	for _, o := range opts {
		o(ib)
	}
	return ib
}
