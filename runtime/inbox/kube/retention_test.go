package kube_test

import (
	"context"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/inbox/kube"
	"github.com/switchboard-dev/switchboard/runtime/inbox/kube/kubetest"
	"github.com/switchboard-dev/switchboard/runtime/store"
)

// TestSourceRetention: the RetentionPolicies selecting served Numbers, a legal hold that
// keeps a Number whole whichever policy selects it, a bad schedule named, the run-now
// annotation, and status.lastRun / purged written as the inbox's field manager.
func TestSourceRetention(t *testing.T) {
	cfg, c, _ := kubetest.Start(t)
	create(t, c, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "acme"}},
		secret("creds-a", "app-a"), secret("creds-b", "app-b"),
		number("a", "106540352242922", "sales", "creds-a"), number("b", "106540352242933", "support", "creds-b"))
	giveTo(t, c, "a", "main")
	giveTo(t, c, "b", "main")
	policy := func(name string, sel map[string]string, hold bool, schedule string) *sbv1.RetentionPolicy {
		return &sbv1.RetentionPolicy{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "acme"},
			Spec: sbv1.RetentionPolicySpec{NumberSelector: metav1.LabelSelector{MatchLabels: sel}, Messages: "365d", Media: "90d",
				LegalHold: hold, Schedule: schedule, TimeZone: "Europe/Madrid"}}
	}
	create(t, c, policy("default", nil, false, ""), policy("hold", map[string]string{"team": "support"}, true, "@weekly"),
		policy("bad", nil, false, "every night"))

	src, err := kube.NewSource(cfg, store.NumberRef{Namespace: "acme", Name: "main"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go src.Run(ctx)
	served(t, src, "a", "b")

	var got []kube.Retention
	waitFor(t, "the policies", func() bool {
		var errs []error
		got, errs = src.Retention()
		return len(got) == 2 && len(errs) == 1 && strings.Contains(errs[0].Error(), "RetentionPolicy bad: ") &&
			strings.Contains(errs[0].Error(), "spec.schedule")
	})
	def, hold := got[0], got[1]
	if def.Name != "default" || !reflect.DeepEqual(def.Numbers, []string{"a"}) || !reflect.DeepEqual(def.Held, []string{"b"}) ||
		def.Messages != 365*24*time.Hour || def.Media != 90*24*time.Hour || def.AuditLog != 0 || def.Schedule == nil {
		t.Errorf("default = %+v", def)
	}
	if hold.Name != "hold" || len(hold.Numbers) != 0 || !reflect.DeepEqual(hold.Held, []string{"b"}) || !hold.LegalHold {
		t.Errorf("hold = %+v", hold)
	}

	p := &sbv1.RetentionPolicy{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: "acme", Name: "default"}, p); err != nil {
		t.Fatal(err)
	}
	p.Annotations = map[string]string{kube.RunNowAnnotation: "2026-11-30T12:00:00Z"}
	if err := c.Update(ctx, p); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the run-now annotation", func() bool {
		got, _ = src.Retention()
		return len(got) == 2 && got[0].RunNow == "2026-11-30T12:00:00Z"
	})

	finished := time.Date(2026, 11, 30, 12, 0, 5, 0, time.UTC)
	if err := src.PatchRetentionStatus(ctx, "default", kube.RetentionRun{Finished: finished, Messages: 3, Media: 2}); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, client.ObjectKey{Namespace: "acme", Name: "default"}, p); err != nil {
		t.Fatal(err)
	}
	if p.Status.LastRun == nil || !p.Status.LastRun.Time.Equal(finished) || p.Status.Purged == nil ||
		*p.Status.Purged != (sbv1.PurgedCounts{Messages: 3, Media: 2}) {
		t.Errorf("status = %+v", p.Status)
	}
	managers := map[string]bool{}
	for _, f := range p.ManagedFields {
		if f.Subresource == "status" {
			managers[f.Manager] = true
		}
	}
	if !managers[kube.InboxFieldManager] {
		t.Errorf("status field managers %v lack %s", managers, kube.InboxFieldManager)
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("never saw %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
