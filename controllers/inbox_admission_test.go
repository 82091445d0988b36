package controllers

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
)

func inboxWith(ns string, mutate func(*sbv1.Inbox)) *sbv1.Inbox {
	return newInbox(ns, "bad", nil, mutate)
}

func withResources(requests, limits map[string]string) func(*sbv1.Inbox) {
	quantities := func(m map[string]string) map[string]resource.Quantity {
		if m == nil {
			return nil
		}
		out := map[string]resource.Quantity{}
		for k, v := range m {
			out[k] = resource.MustParse(v)
		}
		return out
	}
	return func(i *sbv1.Inbox) {
		i.Spec.Resources = &sbv1.InboxResources{Requests: quantities(requests), Limits: quantities(limits)}
	}
}

func TestAdmissionInbox(t *testing.T) {
	ns := newNamespace(t)
	secrets := func(names ...string) func(*sbv1.Inbox) {
		return func(i *sbv1.Inbox) {
			for _, n := range names {
				i.Spec.SecretRefs = append(i.Spec.SecretRefs, sbv1.LocalObjectReference{Name: n})
			}
		}
	}
	many := make([]string, 21)
	for i := range many {
		many[i] = strings.Repeat("s", i+1)
	}
	expectRejected(t, []admissionCase{
		{"replicas 0", inboxWith(ns, func(i *sbv1.Inbox) { i.Spec.Replicas = ptrTo[int32](0) }), []string{"spec.replicas"}},
		{"replicas 21", inboxWith(ns, func(i *sbv1.Inbox) { i.Spec.Replicas = ptrTo[int32](21) }), []string{"spec.replicas"}},
		{"name too long", inboxWith(ns, func(i *sbv1.Inbox) { i.Name = strings.Repeat("i", 58) }), []string{"metadata.name", "at most 57"}},
		{"name with a dot", inboxWith(ns, func(i *sbv1.Inbox) { i.Name = "support.es" }), []string{"metadata.name", "must not contain dots"}},
		{"secretRefs empty name", inboxWith(ns, secrets("")), []string{"spec.secretRefs[0].name"}},
		{"secretRefs repeated", inboxWith(ns, secrets("a", "a")), []string{"spec.secretRefs[1]", "Duplicate value"}},
		{"secretRefs over 20", inboxWith(ns, secrets(many...)), []string{"spec.secretRefs", "20"}},
		{"resources gpu", inboxWith(ns, withResources(map[string]string{"nvidia.com/gpu": "1"}, nil)), []string{"spec.resources.requests", "only cpu, memory and ephemeral-storage"}},
		{"limit below request", inboxWith(ns, withResources(map[string]string{"memory": "1Gi"}, map[string]string{"memory": "512Mi"})), []string{"spec.resources", "each limit must be at least its request"}},
	})
}

func TestAdmissionInboxAcceptsAndDefaults(t *testing.T) {
	ns := newNamespace(t)
	ib := newInbox(ns, "ok", nil, withResources(map[string]string{"cpu": "250m", "memory": "256Mi"}, map[string]string{"cpu": "1", "memory": "256Mi"}))
	mustCreate(t, ib)
	if ib.Spec.Replicas == nil || *ib.Spec.Replicas != 2 {
		t.Errorf("spec.replicas not defaulted to 2: %v", ib.Spec.Replicas)
	}
}
