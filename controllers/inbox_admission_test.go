package controllers

import (
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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
		{"integration secret not in secretRefs", inboxWith(ns, func(i *sbv1.Inbox) {
			i.Spec.Integrations = &sbv1.InboxIntegrations{Webhooks: []sbv1.IntegrationWebhook{{Name: "crm", URL: "https://example.com/h",
				Events: []sbv1.IntegrationEvent{sbv1.EventMessageReceived}, SecretRef: sbv1.SecretKeyRef{Name: "hooks", Key: "secret"}}}}
		}), []string{"spec.integrations", "spec.secretRefs"}},
		{"chatbot timeout over 30s", inboxWith(ns, func(i *sbv1.Inbox) {
			i.Spec.SecretRefs = []sbv1.LocalObjectReference{{Name: "bot"}}
			i.Spec.Integrations = &sbv1.InboxIntegrations{Chatbot: &sbv1.IntegrationChatbot{URL: "https://example.com/bot",
				SecretRef: sbv1.SecretKeyRef{Name: "bot", Key: "secret"}, Timeout: &metav1.Duration{Duration: time.Minute}}}
		}), []string{"spec.integrations.chatbot", "at most 30s"}},
		{"webhook unknown event", inboxWith(ns, func(i *sbv1.Inbox) {
			i.Spec.SecretRefs = []sbv1.LocalObjectReference{{Name: "hooks"}}
			i.Spec.Integrations = &sbv1.InboxIntegrations{Webhooks: []sbv1.IntegrationWebhook{{Name: "crm", URL: "https://example.com/h",
				Events: []sbv1.IntegrationEvent{"message.sent"}, SecretRef: sbv1.SecretKeyRef{Name: "hooks", Key: "secret"}}}}
		}), []string{"spec.integrations.webhooks[0].events[0]", "message.sent"}},
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

func TestAdmissionInboxAcceptsIntegrations(t *testing.T) {
	ns := newNamespace(t)
	ref := func(name string) sbv1.SecretKeyRef { return sbv1.SecretKeyRef{Name: name, Key: "secret"} }
	crmToken := ref("crm")
	ib := newInbox(ns, "hooks", nil, func(i *sbv1.Inbox) {
		i.Spec.SecretRefs = []sbv1.LocalObjectReference{{Name: "hooks"}, {Name: "bot"}, {Name: "crm"}}
		i.Spec.Integrations = &sbv1.InboxIntegrations{
			Webhooks: []sbv1.IntegrationWebhook{{Name: "orders", URL: "https://orders.example.com/switchboard",
				Events: []sbv1.IntegrationEvent{sbv1.EventMessageReceived, sbv1.EventConversationResolved}, SecretRef: ref("hooks")}},
			Chatbot: &sbv1.IntegrationChatbot{URL: "http://bot.shop.svc:8080/answer", SecretRef: ref("bot"),
				Timeout: &metav1.Duration{Duration: 5 * time.Second}},
			CRM: &sbv1.IntegrationCRM{URL: "https://crm.example.com/contacts/{wa_id}", BearerTokenRef: &crmToken,
				Timeout: &metav1.Duration{Duration: 500 * time.Millisecond}, CacheTTL: &metav1.Duration{Duration: 5 * time.Minute}},
		}
	})
	mustCreate(t, ib)
}
