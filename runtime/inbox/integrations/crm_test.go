package integrations

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/runtime/inbox/authz"
	"github.com/switchboard-dev/switchboard/runtime/inbox/kube"
)

func crmConfig(url string, timeout, ttl time.Duration) *kube.Integrations {
	return &kube.Integrations{CRM: &kube.CRM{URL: url + "/contacts/{wa_id}", Secret: []byte(crmSecret), BearerToken: crmBearer,
		Timeout: timeout, CacheTTL: ttl}}
}

func TestCRMFieldsWithinTheBoundAndCached(t *testing.T) {
	var auth []string
	rc := newReceiver(t, crmSecret, func(_ int, w http.ResponseWriter, r *http.Request) {
		auth = append(auth, r.Header.Get("Authorization"))
		if r.URL.Path != "/contacts/34600111222" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(`{"name":"Ana García","tier":"gold","orders":3}`))
	})
	r := newRig(t, crmConfig(rc.srv.URL, 500*time.Millisecond, time.Minute))
	conv := r.receive("34600111222", "wamid.A", "hi")
	r.exec(`UPDATE conversations SET team = 'sales' WHERE id = $1`, conv)
	path := fmt.Sprintf("/api/v1/conversations/%d/crm", conv)

	var first, second struct {
		ConversationID int64 `json:"conversation_id"`
		CRM            CRMResult
	}
	body := get(t, r, path, authz.RoleAgent+"-in-team", http.StatusOK)
	if err := json.Unmarshal([]byte(body), &first); err != nil {
		t.Fatal(err)
	}
	if first.CRM.Status != CRMOK || first.CRM.Fields["tier"] != "gold" || first.CRM.Cached || first.ConversationID != conv {
		t.Errorf("first lookup = %s", body)
	}
	body2 := get(t, r, path, authz.RoleSupervisor, http.StatusOK)
	_ = json.Unmarshal([]byte(body2), &second)
	if second.CRM.Status != CRMOK || !second.CRM.Cached || second.CRM.Fields["name"] != "Ana García" {
		t.Errorf("second lookup = %s, want the cached fields", body2)
	}
	reqs := rc.requests()
	if len(reqs) != 1 {
		t.Fatalf("the CRM was asked %d times, want 1 (cache)", len(reqs))
	}
	if reqs[0].verified != nil || auth[0] != "Bearer "+crmBearer {
		t.Errorf("the CRM could not verify the request: %v, Authorization %q", reqs[0].verified, auth[0])
	}
	// A contact the CRM does not know.
	lookup := NewCRMLookup(r.snapshot, nil, nil, r.log)
	if res := lookup.Lookup(context.Background(), "5511999998888"); res.Status != CRMNotFound || res.Fields != nil {
		t.Errorf("unknown contact = %+v", res)
	}
	r.assertNoSecrets(body, body2)
}

func TestCRMTimeoutAnswersWithoutFields(t *testing.T) {
	release := make(chan struct{})
	rc := newReceiver(t, crmSecret, func(_ int, w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		_, _ = w.Write([]byte(`{"name":"late"}`))
	})
	defer close(release)
	r := newRig(t, crmConfig(rc.srv.URL, 100*time.Millisecond, time.Minute))
	conv := r.receive("34600111222", "wamid.A", "hi")
	body := get(t, r, fmt.Sprintf("/api/v1/conversations/%d/crm", conv), authz.RoleSupervisor, http.StatusOK)
	if !strings.Contains(body, `"crm":{"status":"timeout"}`) {
		t.Errorf("answer = %s, want \"crm\":{\"status\":\"timeout\"}", body)
	}
	// A timeout is not cached: the next lookup asks again.
	get(t, r, fmt.Sprintf("/api/v1/conversations/%d/crm", conv), authz.RoleSupervisor, http.StatusOK)
	if n := len(rc.requests()); n != 2 {
		t.Errorf("the CRM was asked %d times, want 2", n)
	}
}

func TestCRMEndpointScopeAndErrors(t *testing.T) {
	rc := newReceiver(t, crmSecret, func(_ int, w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://elsewhere.example/steal", http.StatusFound)
	})
	r := newRig(t, crmConfig(rc.srv.URL, time.Second, 0))
	conv := r.receive("34600111222", "wamid.A", "hi")
	path := fmt.Sprintf("/api/v1/conversations/%d/crm", conv)
	// An agent outside the conversation's team gets 404, as for a conversation that does
	// not exist; a role without contacts.read gets 403.
	get(t, r, path, authz.RoleAgent, http.StatusNotFound)
	get(t, r, "/api/v1/conversations/999999/crm", authz.RoleSupervisor, http.StatusNotFound)
	get(t, r, "/api/v1/conversations/x/crm", authz.RoleSupervisor, http.StatusBadRequest)
	get(t, r, path, "", http.StatusUnauthorized)
	// A redirect is not followed.
	body := get(t, r, path, authz.RoleSupervisor, http.StatusOK)
	if !strings.Contains(body, `"status":"error"`) || !strings.Contains(body, "redirects are not followed") || !strings.Contains(body, "elsewhere.example") {
		t.Errorf("answer = %s", body)
	}
	// Not configured.
	r.setIntegrations(nil)
	if body := get(t, r, path, authz.RoleSupervisor, http.StatusOK); !strings.Contains(body, `"crm":{"status":"disabled"}`) {
		t.Errorf("answer = %s", body)
	}
}
