package kube

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
)

func TestCompileIntegrations(t *testing.T) {
	secrets := map[string]map[string]string{"hooks": {"secret": "hook-value-1"}, "crm": {"token": "crm-token-2", "empty": ""}}
	read := func(_ context.Context, name, key string) ([]byte, error) {
		s, ok := secrets[name]
		if !ok {
			return nil, fmt.Errorf("the Secret %s: NotFound", name)
		}
		v, ok := s[key]
		if !ok {
			return nil, fmt.Errorf("the Secret %s has no key %q", name, key)
		}
		return []byte(v), nil
	}
	ref := func(name, key string) sbv1.SecretKeyRef { return sbv1.SecretKeyRef{Name: name, Key: key} }
	token, empty := ref("crm", "token"), ref("crm", "empty")
	spec := &sbv1.InboxIntegrations{
		Webhooks: []sbv1.IntegrationWebhook{
			{Name: "ok", URL: "https://a.example/h", Events: []sbv1.IntegrationEvent{sbv1.EventMessageReceived}, SecretRef: ref("hooks", "secret")},
			{Name: "missing", URL: "https://a.example/h", Events: []sbv1.IntegrationEvent{sbv1.EventMessageReceived}, SecretRef: ref("nope", "secret")},
			{Name: "ftp", URL: "ftp://a.example/h", Events: []sbv1.IntegrationEvent{sbv1.EventMessageReceived}, SecretRef: ref("hooks", "secret")},
		},
		Chatbot: &sbv1.IntegrationChatbot{URL: "http://bot/answer", SecretRef: ref("hooks", "secret"), Timeout: &metav1.Duration{Duration: time.Minute}},
		CRM:     &sbv1.IntegrationCRM{URL: "https://crm.example/c/{wa_id}", BearerTokenRef: &token, SecretRef: nil},
	}
	got, errs := CompileIntegrations(context.Background(), spec, read)
	if len(got.Webhooks) != 1 || got.Webhooks[0].Name != "ok" || got.Webhooks[0].Timeout != DefaultWebhookTimeout ||
		got.Webhooks[0].MaxAttempts != DefaultWebhookMaxAttempts || string(got.Webhooks[0].Secret) != "hook-value-1" {
		t.Errorf("webhooks = %+v", got.Webhooks)
	}
	if got.Chatbot != nil {
		t.Error("a chatbot with a 1m timeout was compiled")
	}
	if got.CRM == nil || got.CRM.BearerToken != "crm-token-2" || got.CRM.Timeout != DefaultCRMTimeout || got.CRM.CacheTTL != DefaultCRMCacheTTL {
		t.Errorf("crm = %+v", got.CRM)
	}
	all := fmt.Sprint(errs)
	for _, want := range []string{"webhooks[1].secretRef", "webhooks[2].url", "chatbot.timeout"} {
		if !strings.Contains(all, want) {
			t.Errorf("errors %s do not name %s", all, want)
		}
	}
	if strings.Contains(all, "hook-value-1") || strings.Contains(all, "crm-token-2") || strings.Contains(fmt.Sprint(got.Webhooks[0]), "hook-value-1") {
		t.Error("a secret appears in an error or a String")
	}
	spec.CRM.BearerTokenRef = &empty
	if got, errs := CompileIntegrations(context.Background(), spec, read); got.CRM != nil || !strings.Contains(fmt.Sprint(errs), "crm.bearerTokenRef") {
		t.Errorf("an empty bearer token: crm %+v, errors %v", got.CRM, errs)
	}
	if got, errs := CompileIntegrations(context.Background(), nil, read); got == nil || len(errs) != 0 {
		t.Error("no spec.integrations must compile to no integration")
	}
}
