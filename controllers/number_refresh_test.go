package controllers

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/selection"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/contract"
	"github.com/switchboard-dev/switchboard/runtime/simulator"
)

// startSlowPollManager runs a Number controller of its own, reading quality once an
// hour, for the Numbers labelled slowPollLabel (the shared manager ignores them).
func startSlowPollManager(t *testing.T) {
	t.Helper()
	mgr, err := ctrl.NewManager(testCfg, ctrl.Options{
		Scheme:  testScheme,
		Metrics: metricsserver.Options{BindAddress: "0"},
		Client:  client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}}}},
		Cache:   cache.Options{ByObject: map[client.Object]cache.ByObject{&sbv1.Number{}: {Label: slowPollSelector(selection.Exists)}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := &NumberReconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Sender: testSenderOptions,
		Quality: newQualityPoller(QualityOptions{Interval: time.Hour, HTTPClient: loopbackOnlyClient()}, nil)}
	if err := r.SetupWithManager(mgr, testControllerOptions()); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	ctx, cancel := context.WithCancel(testCtx)
	go func() { defer close(done); _ = mgr.Start(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

func annotateRefresh(t *testing.T, num *sbv1.Number, key, value string) {
	t.Helper()
	if err := k8sClient.Get(testCtx, client.ObjectKeyFromObject(num), num); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(num.DeepCopy())
	if num.Annotations == nil {
		num.Annotations = map[string]string{}
	}
	num.Annotations[key] = value
	if err := k8sClient.Patch(testCtx, num, patch); err != nil {
		t.Fatal(err)
	}
}

// TestQualityRefreshAnnotation: with an hour between polls, a quality change at Meta
// reaches the Number only when the inbox asks (switchboard.dev/refresh-quality), once
// per new value of the annotation.
func TestQualityRefreshAnnotation(t *testing.T) {
	startSlowPollManager(t)
	ns := newNamespace(t)
	num := simNumber(t, ns, "refresh", "900000010", nil, withLabels(map[string]string{slowPollLabel: "true"}))
	expectQuality(t, num, "GREEN", "CONNECTED")

	setSimNumber(t, "900000010", func(n *simulator.Number) { n.Quality = "RED" })
	consistently(t, "no read before the next poll", 2*time.Second, func() error { return qualityIs(num, "GREEN") })

	annotateRefresh(t, num, contract.QualityRefreshAnnotation, "2026-11-30T20:00:00Z")
	expectQuality(t, num, "RED", "CONNECTED")
	eventually(t, "status.lastHandledQualityRefresh mirrors the annotation", func() error {
		if err := k8sClient.Get(testCtx, client.ObjectKeyFromObject(num), num); err != nil {
			return err
		}
		if got := num.Status.LastHandledQualityRefresh; got != "2026-11-30T20:00:00Z" {
			return fmt.Errorf("lastHandledQualityRefresh %q", got)
		}
		return nil
	})

	// The same value again (with another annotation changing, so that a reconcile runs)
	// reads nothing.
	setSimNumber(t, "900000010", func(n *simulator.Number) { n.Quality = "YELLOW" })
	reads := sim.Counters().Numbers["900000010"].GraphReads
	annotateRefresh(t, num, sbv1.ReconcileRequestAnnotation, "again")
	eventually(t, "reconcile request handled", func() error {
		if err := k8sClient.Get(testCtx, client.ObjectKeyFromObject(num), num); err != nil {
			return err
		}
		if num.Status.LastHandledReconcileAt != "again" {
			return fmt.Errorf("lastHandledReconcileAt %q", num.Status.LastHandledReconcileAt)
		}
		return nil
	})
	if got := sim.Counters().Numbers["900000010"].GraphReads; got != reads {
		t.Errorf("an already handled refresh read the number again: %d reads, was %d", got, reads)
	}
	if err := qualityIs(num, "RED"); err != nil {
		t.Error(err)
	}

	annotateRefresh(t, num, contract.QualityRefreshAnnotation, "2026-11-30T20:00:05Z")
	expectQuality(t, num, "YELLOW", "CONNECTED")
}

func qualityIs(num *sbv1.Number, rating string) error {
	if err := k8sClient.Get(testCtx, client.ObjectKeyFromObject(num), num); err != nil {
		return err
	}
	if q := num.Status.Quality; q == nil || q.Rating != rating {
		return fmt.Errorf("quality %+v, want %s", q, rating)
	}
	return nil
}

// TestQualityRefreshWaitsForBackoffAndMeta: a refresh request bypasses the interval only;
// a read backing off after failures, or held by Meta's Retry-After, is not made sooner.
func TestQualityRefreshWaitsForBackoffAndMeta(t *testing.T) {
	p := newQualityPoller(QualityOptions{Interval: time.Minute}, nil)
	num := newNumber("ns", "n")
	secret := &corev1.Secret{}
	now := time.Now()
	p.now = func() time.Time { return now }
	for name, st := range map[string]readState{
		"backing off":        {failures: 2, next: now.Add(time.Hour)},
		"Meta asked to wait": {waitUntil: now.Add(time.Hour), next: now.Add(time.Hour)},
	} {
		*p.stateOf(num) = st
		if res := p.poll(testCtx, num, secret, true); res.made || res.after != time.Hour {
			t.Errorf("%s: a refresh read %t, next look in %s (want none, 1h)", name, res.made, res.after)
		}
	}
	*p.stateOf(num) = readState{next: now.Add(time.Hour)}
	if res := p.poll(testCtx, num, secret, false); res.made {
		t.Error("without a refresh request, a read before the interval was made")
	}
}
