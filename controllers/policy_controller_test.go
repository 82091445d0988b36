package controllers

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
)

func expectMatched(t *testing.T, obj policyObject, want ...string) {
	t.Helper()
	eventually(t, fmt.Sprintf("%s selects %v", obj.GetName(), want), func() error {
		if err := k8sClient.Get(testCtx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		ps := obj.GetPolicyStatus()
		if int(ps.MatchedNumbers) != len(want) || !slices.Equal(ps.Numbers, want) {
			return fmt.Errorf("matched %d %v", ps.MatchedNumbers, ps.Numbers)
		}
		return nil
	})
}

func TestRoutingPolicyConflictOlderWins(t *testing.T) {
	ns := newNamespace(t)
	mustCreate(t, newNumber(ns, "sales-es"), newNumber(ns, "sales-pt"))
	older := newRoutingPolicy(ns, "older", map[string]string{"team": "sales"})
	mustCreate(t, older)
	expectCondition(t, older, sbv1.ReadyCondition, metav1.ConditionTrue, sbv1.ReasonReconciled)
	expectMatched(t, older, "sales-es", "sales-pt")
	expectKstatus(t, older, status.CurrentStatus)

	time.Sleep(1100 * time.Millisecond) // creation timestamps have one-second resolution
	newer := newRoutingPolicy(ns, "newer", map[string]string{})
	mustCreate(t, newer)
	c := expectCondition(t, newer, sbv1.StalledCondition, metav1.ConditionTrue, sbv1.ReasonConflict)
	if !strings.Contains(c.Message, "Number sales-es is routed by the older RoutingPolicy older") {
		t.Errorf("conflict message %q does not name the Number and the other policy", c.Message)
	}
	expectKstatus(t, newer, status.FailedStatus)
	expectCondition(t, older, sbv1.ReadyCondition, metav1.ConditionTrue, sbv1.ReasonReconciled)

	// The older policy goes: the newer one takes over.
	if err := k8sClient.Delete(testCtx, older); err != nil {
		t.Fatal(err)
	}
	expectCondition(t, newer, sbv1.ReadyCondition, metav1.ConditionTrue, sbv1.ReasonReconciled)
	expectKstatus(t, newer, status.CurrentStatus)
}

func TestPolicyFollowsNumberLabels(t *testing.T) {
	ns := newNamespace(t)
	kw := newKeywordRule(ns, "pricing")
	kw.Spec.NumberSelector = metav1.LabelSelector{MatchLabels: map[string]string{"market": "es"}}
	mustCreate(t, kw)
	expectMatched(t, kw)
	// Zero is stored, not left out: the printer column shows 0, not an empty cell.
	eventually(t, "status.matchedNumbers stored as 0", func() error {
		raw := &unstructured.Unstructured{}
		raw.SetGroupVersionKind(sbv1.GroupVersion.WithKind("KeywordRule"))
		if err := k8sClient.Get(testCtx, client.ObjectKeyFromObject(kw), raw); err != nil {
			return err
		}
		if n, found, err := unstructured.NestedInt64(raw.Object, "status", "matchedNumbers"); !found || err != nil || n != 0 {
			return fmt.Errorf("stored status.matchedNumbers = %d (found %t, %v)", n, found, err)
		}
		return nil
	})

	num := newNumber(ns, "n1", withLabels(map[string]string{"market": "es"}))
	mustCreate(t, num)
	expectMatched(t, kw, "n1")

	patch := client.MergeFrom(num.DeepCopy())
	num.Labels = map[string]string{"market": "pt"}
	if err := k8sClient.Patch(testCtx, num, patch); err != nil {
		t.Fatal(err)
	}
	expectMatched(t, kw)

	mustCreate(t, newNumber(ns, "n2", withLabels(map[string]string{"market": "es"})))
	expectMatched(t, kw, "n2")
	if err := k8sClient.Delete(testCtx, &sbv1.Number{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "n2"}}); err != nil {
		t.Fatal(err)
	}
	expectMatched(t, kw)
}

// TestStalledOnWhatAdmissionCannotCheck: values only the controller can judge are
// reported as Stalled with a message naming the field and the value; fixing them clears it.
func TestStalledOnWhatAdmissionCannotCheck(t *testing.T) {
	ns := newNamespace(t)

	kw := newKeywordRule(ns, "regex")
	kw.Spec.Match = sbv1.KeywordMatch{Any: []string{"ok", "refund(s"}, Mode: sbv1.MatchRegex}
	rp := newRoutingPolicy(ns, "tz", map[string]string{"x": "y"})
	rp.Spec.BusinessHours = &sbv1.BusinessHours{TimeZone: "Mars/Olympus_Mons",
		Weekly: []sbv1.WeeklyWindow{{Days: []sbv1.Weekday{"Mon"}, From: "09:00", To: "18:00"}}}
	holiday := newRoutingPolicy(ns, "holiday", map[string]string{"x": "z"})
	holiday.Spec.BusinessHours = &sbv1.BusinessHours{TimeZone: "Europe/Madrid", Holidays: []string{"2026-02-30"},
		Weekly: []sbv1.WeeklyWindow{{Days: []sbv1.Weekday{"Mon"}, From: "09:00", To: "18:00"}}}
	cron := newRetentionPolicy(ns, "cron")
	cron.Spec.Schedule = "every night"
	tz := newRetentionPolicy(ns, "tz")
	tz.Spec.TimeZone = "Europe/Atlantis"
	mustCreate(t, kw, rp, holiday, cron, tz)

	for _, tc := range []struct {
		obj  statusObject
		want []string
	}{
		{kw, []string{"spec.match.any[1]", `"refund(s"`, "does not compile"}},
		{rp, []string{"spec.businessHours.timeZone", `"Mars/Olympus_Mons"`}},
		{holiday, []string{"spec.businessHours.holidays[0]", `"2026-02-30"`}},
		{cron, []string{"spec.schedule", `"every night"`}},
		{tz, []string{"spec.timeZone", `"Europe/Atlantis"`}},
	} {
		c := expectCondition(t, tc.obj, sbv1.StalledCondition, metav1.ConditionTrue, sbv1.ReasonInvalidSpec)
		for _, w := range tc.want {
			if !strings.Contains(c.Message, w) {
				t.Errorf("%s: Stalled message %q does not mention %s", tc.obj.GetName(), c.Message, w)
			}
		}
		expectKstatus(t, tc.obj, status.FailedStatus)
	}

	patch := client.MergeFrom(kw.DeepCopy())
	kw.Spec.Match.Any = []string{"ok", "refunds?"}
	if err := k8sClient.Patch(testCtx, kw, patch); err != nil {
		t.Fatal(err)
	}
	expectCondition(t, kw, sbv1.ReadyCondition, metav1.ConditionTrue, sbv1.ReasonReconciled)
	expectKstatus(t, kw, status.CurrentStatus)
	if c, _ := condition(kw, sbv1.StalledCondition); c != nil {
		t.Errorf("Stalled still present after the fix: %+v", c)
	}
}

func TestRetentionPolicyReportsNextRun(t *testing.T) {
	ns := newNamespace(t)
	p := newRetentionPolicy(ns, "nightly")
	p.Spec.TimeZone = "Europe/Madrid"
	mustCreate(t, p)
	expectCondition(t, p, sbv1.ReadyCondition, metav1.ConditionTrue, sbv1.ReasonReconciled)
	expectKstatus(t, p, status.CurrentStatus)
	if p.Status.NextRun == nil {
		t.Fatal("status.nextRun is empty")
	}
	local := p.Status.NextRun.In(mustLocation(t, "Europe/Madrid"))
	if local.Hour() != 3 || local.Minute() != 0 || !p.Status.NextRun.After(time.Now()) {
		t.Errorf("nextRun %s (Madrid %s) is not the next 03:00", p.Status.NextRun, local)
	}
}

func TestSuspendedPolicy(t *testing.T) {
	ns := newNamespace(t)
	p := newKeywordRule(ns, "paused")
	p.Spec.Suspend = true
	mustCreate(t, p)
	expectCondition(t, p, sbv1.ReadyCondition, metav1.ConditionFalse, sbv1.ReasonSuspended)
	if p.Status.ObservedGeneration != p.Generation {
		t.Errorf("observedGeneration %d, generation %d", p.Status.ObservedGeneration, p.Generation)
	}
}

func mustLocation(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}
