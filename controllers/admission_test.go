package controllers

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/config/samples"
)

// admissionCase is an object that the API server must reject, and the words of the
// rejection: the field path and the rule's message.
type admissionCase struct {
	name string
	obj  client.Object
	want []string
}

func expectRejected(t *testing.T, cases []admissionCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := k8sClient.Create(testCtx, tc.obj)
			if err == nil {
				t.Fatalf("accepted; want a rejection mentioning %q", tc.want)
			}
			if !apierrors.IsInvalid(err) {
				t.Fatalf("want an Invalid error, got %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
		})
	}
}

func numberWith(ns string, mutate func(*sbv1.Number)) *sbv1.Number {
	n := newNumber(ns, "bad")
	mutate(n)
	return n
}

func TestAdmissionNumber(t *testing.T) {
	ns := newNamespace(t)
	warmup := func(start, target int32, over time.Duration) func(*sbv1.Number) {
		return func(n *sbv1.Number) {
			n.Spec.Sending = &sbv1.SendingSpec{Warmup: &sbv1.WarmupSpec{StartPerMinute: start, TargetPerMinute: target, Over: metav1.Duration{Duration: over}}}
		}
	}
	retry := func(attempts int32, age time.Duration) func(*sbv1.Number) {
		return func(n *sbv1.Number) {
			n.Spec.Sending = &sbv1.SendingSpec{Retry: &sbv1.RetrySpec{Transient: &sbv1.RetryBound{MaxAttempts: attempts, MaxAge: metav1.Duration{Duration: age}}}}
		}
	}
	maxRate := func(v int32) func(*sbv1.Number) {
		return func(n *sbv1.Number) { n.Spec.Sending = &sbv1.SendingSpec{MaxMessagesPerSecond: &v} }
	}
	expectRejected(t, []admissionCase{
		{"phoneNumberID empty", numberWith(ns, func(n *sbv1.Number) { n.Spec.PhoneNumberID = "" }), []string{"spec.phoneNumberID"}},
		{"phoneNumberID not digits", numberWith(ns, func(n *sbv1.Number) { n.Spec.PhoneNumberID = "1065x" }), []string{"spec.phoneNumberID", "digits only"}},
		{"businessAccountID empty", numberWith(ns, func(n *sbv1.Number) { n.Spec.BusinessAccountID = "" }), []string{"spec.businessAccountID"}},
		{"businessAccountID not digits", numberWith(ns, func(n *sbv1.Number) { n.Spec.BusinessAccountID = "WABA1" }), []string{"spec.businessAccountID", "digits only"}},
		{"displayPhoneNumber without +", numberWith(ns, func(n *sbv1.Number) { n.Spec.DisplayPhoneNumber = "34 600 000 000" }), []string{"spec.displayPhoneNumber", "E.164"}},
		{"displayPhoneNumber 7 digits", numberWith(ns, func(n *sbv1.Number) { n.Spec.DisplayPhoneNumber = "+1234567" }), []string{"spec.displayPhoneNumber", "E.164"}},
		{"displayPhoneNumber 16 digits", numberWith(ns, func(n *sbv1.Number) { n.Spec.DisplayPhoneNumber = "+1234567890123456" }), []string{"spec.displayPhoneNumber", "E.164"}},
		{"displayPhoneNumber dash after +", numberWith(ns, func(n *sbv1.Number) { n.Spec.DisplayPhoneNumber = "+-34600000000" }), []string{"spec.displayPhoneNumber", "E.164"}},
		{"displayPhoneNumber letters", numberWith(ns, func(n *sbv1.Number) { n.Spec.DisplayPhoneNumber = "+34 600 CALL ME" }), []string{"spec.displayPhoneNumber", "E.164"}},
		{"credentialsRef.name empty", numberWith(ns, func(n *sbv1.Number) { n.Spec.CredentialsRef.Name = "" }), []string{"spec.credentialsRef.name"}},
		{"maxMessagesPerSecond 0", numberWith(ns, maxRate(0)), []string{"spec.sending.maxMessagesPerSecond"}},
		{"maxMessagesPerSecond 1001", numberWith(ns, maxRate(1001)), []string{"spec.sending.maxMessagesPerSecond"}},
		{"warmup start 0", numberWith(ns, warmup(0, 60, time.Hour)), []string{"spec.sending.warmup.startPerMinute"}},
		{"warmup target 0", numberWith(ns, warmup(1, 0, time.Hour)), []string{"spec.sending.warmup.targetPerMinute"}},
		{"warmup start above target", numberWith(ns, warmup(70, 60, time.Hour)), []string{"spec.sending.warmup", "startPerMinute must not exceed"}},
		{"warmup over zero", numberWith(ns, warmup(20, 60, 0)), []string{"spec.sending.warmup.over", "positive duration"}},
		{"retry maxAttempts 0", numberWith(ns, retry(0, time.Hour)), []string{"spec.sending.retry.transient.maxAttempts"}},
		{"retry maxAge zero", numberWith(ns, retry(3, 0)), []string{"spec.sending.retry.transient.maxAge", "positive duration"}},
		{"apiBaseURL not http", numberWith(ns, func(n *sbv1.Number) { n.Spec.APIBaseURL = "ftp://example.com" }), []string{"spec.apiBaseURL"}},
		{"apiVersion malformed", numberWith(ns, func(n *sbv1.Number) { n.Spec.APIVersion = "23" }), []string{"spec.apiVersion"}},
		{"sender replicas 6", numberWith(ns, func(n *sbv1.Number) { n.Spec.Sender = &sbv1.SenderSpec{Replicas: ptrTo[int32](6)} }), []string{"spec.sender.replicas"}},
		{"defaultSkill too long", numberWith(ns, func(n *sbv1.Number) {
			n.Spec.Routing = &sbv1.NumberRouting{DefaultSkill: strings.Repeat("s", 64)}
		}), []string{"spec.routing.defaultSkill", "63"}},
		{"name too long", numberWith(ns, func(n *sbv1.Number) { n.Name = strings.Repeat("n", 57) }), []string{"metadata.name", "at most 56"}},
	})
}

func TestAdmissionNumberAcceptsAndDefaults(t *testing.T) {
	ns := newNamespace(t)
	n := numberWith(ns, func(n *sbv1.Number) {
		n.Name, n.Spec.DisplayPhoneNumber, n.Spec.APIBaseURL = "ok", "+34-600-000-000", ""
		n.Spec.Routing = &sbv1.NumberRouting{DefaultSkill: strings.Repeat("s", 63)}
	})
	mustCreate(t, n)
	if n.Spec.APIBaseURL != "https://graph.facebook.com" || n.Spec.APIVersion != "v23.0" {
		t.Errorf("defaults not applied: %q %q", n.Spec.APIBaseURL, n.Spec.APIVersion)
	}
}

func TestAdmissionPhoneNumberIDImmutable(t *testing.T) {
	ns := newNamespace(t)
	n := newNumber(ns, "immutable")
	mustCreate(t, n)
	n.Spec.PhoneNumberID = "999"
	err := k8sClient.Update(testCtx, n)
	if err == nil || !strings.Contains(err.Error(), "spec.phoneNumberID is immutable") {
		t.Fatalf("changing spec.phoneNumberID: want the immutability error, got %v", err)
	}
	if err := k8sClient.Get(testCtx, client.ObjectKeyFromObject(n), n); err != nil {
		t.Fatal(err)
	}
	n.Spec.DisplayPhoneNumber = "+34 611 111 111" // other fields stay mutable
	if err := k8sClient.Update(testCtx, n); err != nil {
		t.Fatalf("changing spec.displayPhoneNumber: %v", err)
	}
}

func routingWith(ns string, mutate func(*sbv1.RoutingPolicy)) *sbv1.RoutingPolicy {
	p := newRoutingPolicy(ns, "bad", map[string]string{"team": "sales"})
	mutate(p)
	return p
}

func withHours(from, to string, days ...sbv1.Weekday) func(*sbv1.RoutingPolicy) {
	return func(p *sbv1.RoutingPolicy) {
		p.Spec.BusinessHours = &sbv1.BusinessHours{TimeZone: "Europe/Madrid",
			Weekly: []sbv1.WeeklyWindow{{Days: days, From: from, To: to}}}
	}
}

func TestAdmissionRoutingPolicy(t *testing.T) {
	ns := newNamespace(t)
	expectRejected(t, []admissionCase{
		{"strategy unknown", routingWith(ns, func(p *sbv1.RoutingPolicy) { p.Spec.Strategy = "Random" }), []string{"spec.strategy", "RoundRobin", "LeastLoaded", "Skills"}},
		{"target above max", routingWith(ns, func(p *sbv1.RoutingPolicy) { p.Spec.Capacity = &sbv1.Capacity{Target: 16, Max: 15} }), []string{"spec.capacity", "target must not exceed"}},
		{"max above 100", routingWith(ns, func(p *sbv1.RoutingPolicy) { p.Spec.Capacity = &sbv1.Capacity{Target: 7, Max: 101} }), []string{"spec.capacity.max"}},
		{"target 0", routingWith(ns, func(p *sbv1.RoutingPolicy) { p.Spec.Capacity = &sbv1.Capacity{Target: 0, Max: 5} }), []string{"spec.capacity.target"}},
		{"duplicate team", routingWith(ns, func(p *sbv1.RoutingPolicy) { p.Spec.Teams = append(p.Spec.Teams, p.Spec.Teams[0]) }), []string{"spec.teams[1]", "Duplicate value"}},
		{"team without members", routingWith(ns, func(p *sbv1.RoutingPolicy) { p.Spec.Teams[0].Members = nil }), []string{"spec.teams[0].members"}},
		{"from not HH:MM", routingWith(ns, withHours("9:00", "18:00", "Mon")), []string{"spec.businessHours.weekly[0].from", "HH:MM"}},
		{"from 24:00", routingWith(ns, withHours("24:00", "23:00", "Mon")), []string{"spec.businessHours.weekly[0].from", "HH:MM"}},
		{"to 18:60", routingWith(ns, withHours("09:00", "18:60", "Mon")), []string{"spec.businessHours.weekly[0].to", "HH:MM"}},
		{"from after to", routingWith(ns, withHours("18:00", "09:00", "Mon")), []string{"spec.businessHours.weekly[0]", "from must be earlier than to"}},
		{"unknown day", routingWith(ns, withHours("09:00", "18:00", "Funday")), []string{"spec.businessHours.weekly[0].days[0]", "Mon"}},
		{"bad holiday", routingWith(ns, func(p *sbv1.RoutingPolicy) {
			withHours("09:00", "18:00", "Mon")(p)
			p.Spec.BusinessHours.Holidays = []string{"25/12/2026"}
		}), []string{"spec.businessHours.holidays[0]"}},
		{"skills strategy without skills", routingWith(ns, func(p *sbv1.RoutingPolicy) {
			p.Spec.Strategy = sbv1.Skills
			p.Spec.Teams[0].Skills = nil
		}), []string{"spec.teams must give at least one team skills"}},
		{"assignWithin too long", routingWith(ns, func(p *sbv1.RoutingPolicy) { p.Spec.AssignWithin = &metav1.Duration{Duration: 2 * time.Hour} }), []string{"spec.assignWithin"}},
	})
}

func keywordWith(ns string, mutate func(*sbv1.KeywordRule)) *sbv1.KeywordRule {
	k := newKeywordRule(ns, "bad")
	mutate(k)
	return k
}

func TestAdmissionKeywordRule(t *testing.T) {
	ns := newNamespace(t)
	many := make([]string, 1001)
	for i := range many {
		many[i] = fmt.Sprint("kw", i)
	}
	outbound := func(a sbv1.KeywordActions) func(*sbv1.KeywordRule) {
		return func(k *sbv1.KeywordRule) { k.Spec.Direction = sbv1.Outbound; k.Spec.Actions = a }
	}
	expectRejected(t, []admissionCase{
		{"direction unknown", keywordWith(ns, func(k *sbv1.KeywordRule) { k.Spec.Direction = "Sideways" }), []string{"spec.direction", "Inbound", "Outbound"}},
		{"no keywords", keywordWith(ns, func(k *sbv1.KeywordRule) { k.Spec.Match.Any = []string{} }), []string{"spec.match.any"}},
		{"1001 keywords", keywordWith(ns, func(k *sbv1.KeywordRule) { k.Spec.Match.Any = many }), []string{"spec.match.any", "1000"}},
		{"empty keyword", keywordWith(ns, func(k *sbv1.KeywordRule) { k.Spec.Match.Any = []string{"ok", ""} }), []string{"spec.match.any[1]"}},
		{"keyword of 101 characters", keywordWith(ns, func(k *sbv1.KeywordRule) { k.Spec.Match.Any = []string{strings.Repeat("a", 101)} }), []string{"spec.match.any[0]", "100"}},
		{"mode unknown", keywordWith(ns, func(k *sbv1.KeywordRule) { k.Spec.Match.Mode = "Fuzzy" }), []string{"spec.match.mode", "Word", "Contains", "Exact", "Regex"}},
		{"outbound replies", keywordWith(ns, outbound(sbv1.KeywordActions{Block: &sbv1.BlockAction{}, Reply: &sbv1.ReplyAction{Text: "hi"}})), []string{"spec.actions", "an Outbound rule may only block"}},
		{"outbound without block", keywordWith(ns, outbound(sbv1.KeywordActions{Tag: []string{"x"}})), []string{"an Outbound rule may only block"}},
		{"inbound without action", keywordWith(ns, func(k *sbv1.KeywordRule) { k.Spec.Actions = sbv1.KeywordActions{} }), []string{"an Inbound rule needs at least one of reply, tag or routeToSkill"}},
		{"inbound with an empty tag list only", keywordWith(ns, func(k *sbv1.KeywordRule) { k.Spec.Actions = sbv1.KeywordActions{Tag: []string{}} }), []string{"an Inbound rule needs at least one of"}},
		{"inbound blocks", keywordWith(ns, func(k *sbv1.KeywordRule) { k.Spec.Actions.Block = &sbv1.BlockAction{} }), []string{"an Inbound rule needs at least one of reply, tag or routeToSkill, and may not block"}},
	})
}

func retentionWith(ns string, mutate func(*sbv1.RetentionPolicy)) *sbv1.RetentionPolicy {
	p := newRetentionPolicy(ns, "bad")
	mutate(p)
	return p
}

func TestAdmissionRetentionPolicy(t *testing.T) {
	ns := newNamespace(t)
	messages := func(p sbv1.Period) func(*sbv1.RetentionPolicy) {
		return func(r *sbv1.RetentionPolicy) { r.Spec.Messages = p }
	}
	expectRejected(t, []admissionCase{
		{"no unit", retentionWith(ns, messages("90")), []string{"spec.messages"}},
		{"unknown unit", retentionWith(ns, func(r *sbv1.RetentionPolicy) { r.Spec.Media = "12w" }), []string{"spec.media"}},
		{"under a day", retentionWith(ns, messages("23h")), []string{"spec.messages", "from 1 day to 10 years"}},
		{"zero days", retentionWith(ns, messages("0d")), []string{"spec.messages", "from 1 day to 10 years"}},
		{"over ten years in days", retentionWith(ns, messages("3651d")), []string{"spec.messages", "from 1 day to 10 years"}},
		{"over ten years", retentionWith(ns, func(r *sbv1.RetentionPolicy) { r.Spec.AuditLog = "11y" }), []string{"spec.auditLog", "from 1 day to 10 years"}},
	})
	for i, p := range []sbv1.Period{"24h", "1d", "90d", "3650d", "87600h", "10y"} {
		ok := retentionWith(ns, messages(p))
		ok.Name = fmt.Sprint("ok-", i)
		if err := k8sClient.Create(testCtx, ok); err != nil {
			t.Errorf("period %s rejected: %v", p, err)
		}
	}
}

// TestSamplesAreAcceptedAndReconciled applies config/samples, as `make dev` does, and
// checks every object is accepted and reaches the state its conditions promise.
func TestSamplesAreAcceptedAndReconciled(t *testing.T) {
	objs := readSamples(t)
	for _, o := range objs {
		if err := k8sClient.Create(testCtx, o); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("sample %s %s rejected: %v", o.GetKind(), o.GetName(), err)
		}
	}
	for _, o := range objs {
		key := client.ObjectKeyFromObject(o)
		switch o.GetKind() {
		case "Number":
			n := &sbv1.Number{}
			n.Namespace, n.Name = key.Namespace, key.Name
			expectCondition(t, n, sbv1.CredentialsValidCondition, metav1.ConditionTrue, sbv1.ReasonCredentialsFound)
			expectCondition(t, n, sbv1.SenderAvailableCondition, metav1.ConditionFalse, sbv1.ReasonDeploymentUnavailable)
			expectCondition(t, n, sbv1.InboxAvailableCondition, metav1.ConditionTrue, sbv1.ReasonInboxSelected)
		case "RoutingPolicy", "KeywordRule", "RetentionPolicy":
			obj := map[string]statusObject{"RoutingPolicy": &sbv1.RoutingPolicy{}, "KeywordRule": &sbv1.KeywordRule{}, "RetentionPolicy": &sbv1.RetentionPolicy{}}[o.GetKind()]
			obj.SetNamespace(key.Namespace)
			obj.SetName(key.Name)
			expectCondition(t, obj, sbv1.ReadyCondition, metav1.ConditionTrue, sbv1.ReasonReconciled)
		case "Inbox":
			ib := &sbv1.Inbox{}
			ib.Namespace, ib.Name = key.Namespace, key.Name
			// No pod runs in envtest: the Inbox waits for its Deployment.
			expectCondition(t, ib, sbv1.ReconcilingCondition, metav1.ConditionTrue, sbv1.ReasonDeploymentUnavailable)
		}
	}
}

func readSamples(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	objs, err := samples.Read(filepath.Join("..", "config", "samples"))
	if err != nil {
		t.Fatal(err)
	}
	return objs
}
