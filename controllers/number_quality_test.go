package controllers

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/limits"
	"github.com/switchboard-dev/switchboard/runtime/simulator"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// simNumber registers a number in the simulator and creates the matching Number and
// Secret, returning the Number.
func simNumber(t *testing.T, ns, name, pnid string, mutate func(*simulator.Number), opts ...numberOpt) *sbv1.Number {
	t.Helper()
	sn := simulator.Number{ID: pnid, DisplayPhoneNumber: "+34 600 000 001", AccessToken: "tok-" + pnid,
		Tier: "TIER_2K", Quality: "GREEN", Throughput: "STANDARD"}
	if mutate != nil {
		mutate(&sn)
	}
	if err := sim.PutNumber(sn); err != nil {
		t.Fatal(err)
	}
	num := newNumber(ns, name, append([]numberOpt{func(n *sbv1.Number) { n.Spec.PhoneNumberID = pnid }}, opts...)...)
	creds := fullCredentials()
	creds["accessToken"] = "tok-" + pnid
	mustCreate(t, newSecret(ns, name+"-creds", creds), num)
	return num
}

func setSimNumber(t *testing.T, pnid string, fn func(*simulator.Number)) {
	t.Helper()
	if err := sim.UpdateNumber(pnid, fn); err != nil {
		t.Fatal(err)
	}
}

func expectQuality(t *testing.T, num *sbv1.Number, rating, status string) {
	t.Helper()
	eventually(t, fmt.Sprintf("%s quality %s/%s", num.Name, rating, status), func() error {
		if err := k8sClient.Get(testCtx, client.ObjectKeyFromObject(num), num); err != nil {
			return err
		}
		q := num.Status.Quality
		if q == nil || q.Rating != rating || q.Status != status || q.CheckedAt == nil {
			return fmt.Errorf("quality %+v", q)
		}
		return nil
	})
}

func TestNumberQualityFollowsMeta(t *testing.T) {
	ns := newNamespace(t)
	num := simNumber(t, ns, "q1", "900000001", nil)

	expectQuality(t, num, "GREEN", "CONNECTED")
	if q := num.Status.Quality; q.Throughput != "STANDARD" || q.MessagingLimit != "TIER_2K" {
		t.Errorf("quality %+v", q)
	}
	// A brand-new number warms up: campaigns at the start of the ramp, replies at Meta's cap.
	c := expectCondition(t, num, sbv1.ThrottledCondition, metav1.ConditionTrue, limits.ReasonWarmup)
	if s := num.Status.Sending; s.MessagesPerSecond != 80 || s.CampaignPerMinute != 20 || s.UniqueRecipientsPer24h != 2000 {
		t.Errorf("sending %+v (%s)", s, c.Message)
	}

	setSimNumber(t, "900000001", func(n *simulator.Number) { n.Quality = "RED" })
	expectQuality(t, num, "RED", "CONNECTED")
	expectCondition(t, num, sbv1.ThrottledCondition, metav1.ConditionTrue, limits.ReasonLowQuality)
	if s := num.Status.Sending; s.CampaignPerMinute != limits.RiskControlPerMinute || s.MessagesPerSecond != 80 {
		t.Errorf("after RED: sending %+v", s)
	}
	expectEvent(t, num, "QualityChanged", "quality GREEN → RED")

	setSimNumber(t, "900000001", func(n *simulator.Number) { n.Quality = "GREEN" })
	expectQuality(t, num, "GREEN", "CONNECTED")
	expectCondition(t, num, sbv1.ThrottledCondition, metav1.ConditionTrue, limits.ReasonWarmup)
	expectEvent(t, num, "QualityChanged", "quality RED → GREEN")

	setSimNumber(t, "900000001", func(n *simulator.Number) { n.Status, n.Restricted = "RESTRICTED", true })
	expectQuality(t, num, "GREEN", "RESTRICTED")
	expectCondition(t, num, sbv1.ThrottledCondition, metav1.ConditionTrue, limits.ReasonRestricted)
	if s := num.Status.Sending; s.CampaignPerMinute != 0 || s.MessagesPerSecond != 80 {
		t.Errorf("restricted: campaigns must stop and replies continue: %+v", s)
	}
	if got := testutil.ToFloat64(numberCampaignRate.WithLabelValues(ns, "q1")); got != 0 {
		t.Errorf("campaign rate metric %v", got)
	}

	if !seriesExists(numberRate, ns, "q1") {
		t.Fatal("no rate series for the Number")
	}
	if err := k8sClient.Delete(testCtx, num); err != nil {
		t.Fatal(err)
	}
	eventually(t, "metrics of the deleted Number removed", func() error {
		for _, vec := range numberSeries {
			if seriesExists(vec, ns, "q1") {
				return fmt.Errorf("a series of the deleted Number remains")
			}
		}
		return nil
	})
}

// TestCoexistenceNumber: a HIGH number reports 1000 msg/s until its spec says it is
// shared with the Business app, and then Meta's 20 msg/s.
func TestCoexistenceNumber(t *testing.T) {
	ns := newNamespace(t)
	num := simNumber(t, ns, "coex", "900000009", func(n *simulator.Number) { n.Throughput, n.Coexistence = "HIGH", true })
	expectSending := func(mps int32) {
		t.Helper()
		eventually(t, fmt.Sprintf("%d msg/s", mps), func() error {
			if err := k8sClient.Get(testCtx, client.ObjectKeyFromObject(num), num); err != nil {
				return err
			}
			if s := num.Status.Sending; s == nil || s.MessagesPerSecond != mps {
				return fmt.Errorf("sending %+v", s)
			}
			return nil
		})
	}
	expectSending(1000)
	patch := client.MergeFrom(num.DeepCopy())
	num.Spec.Sending = &sbv1.SendingSpec{Coexistence: true}
	if err := k8sClient.Patch(testCtx, num, patch); err != nil {
		t.Fatal(err)
	}
	expectSending(20)
}

// seriesExists tells whether vec holds a series for the Number ns/name.
func seriesExists(vec *prometheus.GaugeVec, ns, name string) bool {
	ch := make(chan prometheus.Metric, 1024)
	vec.Collect(ch)
	close(ch)
	for m := range ch {
		var pb dto.Metric
		if err := m.Write(&pb); err != nil {
			continue
		}
		labels := map[string]string{}
		for _, l := range pb.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["namespace"] == ns && labels["number"] == name {
			return true
		}
	}
	return false
}

func expectEvent(t *testing.T, obj client.Object, reason, note string) {
	t.Helper()
	eventually(t, fmt.Sprintf("event %s %q", reason, note), func() error {
		var events eventsv1.EventList
		if err := k8sClient.List(testCtx, &events, client.InNamespace(obj.GetNamespace())); err != nil {
			return err
		}
		for _, e := range events.Items {
			if e.Regarding.Name == obj.GetName() && e.Reason == reason && strings.Contains(e.Note, note) {
				return nil
			}
		}
		return fmt.Errorf("not among %d events", len(events.Items))
	})
}

func TestNumberCredentialsRejectedByMeta(t *testing.T) {
	ns := newNamespace(t)
	if err := sim.PutNumber(simulator.Number{ID: "900000002", DisplayPhoneNumber: "+34 600 000 002", AccessToken: "the-right-one"}); err != nil {
		t.Fatal(err)
	}
	num := newNumber(ns, "q2", func(n *sbv1.Number) { n.Spec.PhoneNumberID = "900000002" })
	secret := newSecret(ns, "q2-creds", fullCredentials())
	mustCreate(t, secret, num)

	c := expectCondition(t, num, sbv1.CredentialsValidCondition, metav1.ConditionFalse, sbv1.ReasonCredentialsRejected)
	if !strings.Contains(c.Message, "190") || strings.Contains(c.Message, "SECRET-VALUE") {
		t.Errorf("message %q: want Meta's code and no token", c.Message)
	}
	expectCondition(t, num, sbv1.StalledCondition, metav1.ConditionTrue, sbv1.ReasonCredentialsRejected)
	expectReplicas(t, ns, "sender-q2", 0)

	secret.StringData = map[string]string{"accessToken": "the-right-one"}
	if err := k8sClient.Update(testCtx, secret); err != nil {
		t.Fatal(err)
	}
	expectCondition(t, num, sbv1.CredentialsValidCondition, metav1.ConditionTrue, sbv1.ReasonCredentialsFound)
	expectReplicas(t, ns, "sender-q2", 1)
}

// TestGraphThrottlingSlowsPolling: once Meta answers 80007 the operator waits as Meta
// asks, while an unthrottled number keeps its normal interval.
func TestGraphThrottlingSlowsPolling(t *testing.T) {
	ns := newNamespace(t)
	throttled := simNumber(t, ns, "q3", "900000003", func(n *simulator.Number) { n.GraphReadsPerHour = 2 })
	simNumber(t, ns, "q4", "900000004", nil)
	expectQuality(t, throttled, "GREEN", "CONNECTED")
	eventually(t, "Meta throttles the reads", func() error {
		if sim.Counters().Numbers["900000003"].Rejected[80007] == 0 {
			return fmt.Errorf("no 80007 yet")
		}
		return nil
	})
	before := sim.Counters().Numbers
	// A forced reconcile must not bypass Meta's wait either.
	patch := client.MergeFrom(throttled.DeepCopy())
	throttled.Annotations = map[string]string{sbv1.ReconcileRequestAnnotation: "now"}
	if err := k8sClient.Patch(testCtx, throttled, patch); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * testPollInterval)
	after := sim.Counters().Numbers
	throttledReads := after["900000003"].GraphReads - before["900000003"].GraphReads
	normalReads := after["900000004"].GraphReads - before["900000004"].GraphReads
	if throttledReads != 0 || normalReads < 5 {
		t.Errorf("after 80007: %d reads of the throttled number (want 0), %d of the other (want ≥ 5)", throttledReads, normalReads)
	}
}

func TestReadBackoff(t *testing.T) {
	for _, tc := range []struct {
		interval time.Duration
		failures int
		want     time.Duration
	}{
		{time.Minute, 1, time.Minute},
		{time.Minute, 2, 2 * time.Minute},
		{time.Minute, 4, 8 * time.Minute},
		{time.Minute, 30, time.Hour},
		{100 * time.Hour, 40, time.Hour}, // no overflow, still capped
	} {
		if got := backoff(tc.interval, tc.failures); got != tc.want {
			t.Errorf("backoff(%s, %d) = %s, want %s", tc.interval, tc.failures, got, tc.want)
		}
	}
}

// TestReadFailuresKeepATokenRefusal: after Meta refused the token, a later network error
// or rate limit must not make the credentials look valid again.
func TestReadFailuresKeepATokenRefusal(t *testing.T) {
	p := newQualityPoller(QualityOptions{Interval: time.Minute}, nil)
	st, now := &readState{}, time.Now()
	refused := &whatsapp.Error{Code: 190, Class: whatsapp.Permanent, Message: "Invalid OAuth access token"}
	if res := p.failed(st, now, refused); res.rejected == nil {
		t.Fatal("a 190 must be reported as a refusal")
	}
	throttled := &whatsapp.Error{Code: 80007, Class: whatsapp.RetryLater, RetryAfter: 5 * time.Minute}
	if res := p.failed(st, now, throttled); res.rejected == nil || !st.waitUntil.Equal(now.Add(5*time.Minute)) {
		t.Errorf("after 80007: rejected %v, waitUntil %s", res.rejected, st.waitUntil)
	}
	network := &whatsapp.Error{Class: whatsapp.RetryLater, RetryAfter: 2 * time.Second}
	st.waitUntil = time.Time{}
	if res := p.failed(st, now, network); res.rejected == nil || !st.waitUntil.IsZero() {
		t.Errorf("after a network error: rejected %v, waitUntil %s (a network error is not Meta asking to wait)", res.rejected, st.waitUntil)
	}
	bare401 := &whatsapp.Error{HTTPStatus: 401, Class: whatsapp.RetryLater}
	if bare401.TokenRefused() {
		t.Error("a 401 without Graph's error code is not a token refusal")
	}
}
