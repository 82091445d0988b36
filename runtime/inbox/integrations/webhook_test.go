package integrations

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchboard-dev/switchboard/runtime/inbox/authz"
	"github.com/switchboard-dev/switchboard/runtime/inbox/kube"
	"github.com/switchboard-dev/switchboard/runtime/inbox/openapi/openapitest"
)

func hook(name, url string, events ...string) kube.Webhook {
	return kube.Webhook{Name: name, URL: url, Events: events, Secret: []byte(hookSecret), Timeout: 2 * time.Second, MaxAttempts: 5}
}

func TestWebhookSignedRetriedWithBackoffAndLogged(t *testing.T) {
	rc := newReceiver(t, hookSecret, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n <= 2 {
			http.Error(w, "try later", http.StatusInternalServerError)
		}
	})
	r := newRig(t, &kube.Integrations{Webhooks: []kube.Webhook{hook("orders", rc.srv.URL, "message.received")}})
	conv := r.receive("34600111222", "wamid.A", "where is my order?")
	w := r.worker(nil)
	r.until(w, "three requests", func() bool { return len(rc.requests()) >= 3 })
	r.until(w, "the delivery to be delivered", func() bool {
		return len(r.query(`SELECT 1 FROM integration_deliveries WHERE state = 'delivered'`)) == 1
	})

	reqs := rc.requests()
	if len(reqs) != 3 {
		t.Fatalf("the receiver got %d requests, want 3 (two 500s, then 200)", len(reqs))
	}
	m := w.cfg.Metrics.Attempts
	if retry, ok := testutil.ToFloat64(m.WithLabelValues(KindWebhook, "retry")), testutil.ToFloat64(m.WithLabelValues(KindWebhook, "delivered")); retry != 2 || ok != 1 {
		t.Errorf("switchboard_inbox_integration_attempts_total: retry %v, delivered %v; want 2 and 1", retry, ok)
	}
	for i, q := range reqs {
		if q.verified != nil {
			t.Errorf("request %d: the receiver could not verify the signature: %v", i+1, q.verified)
		}
		if q.delivery == "" || q.delivery != reqs[0].delivery {
			t.Errorf("request %d: delivery id %q, want the first one's %q on every attempt", i+1, q.delivery, reqs[0].delivery)
		}
		if string(q.body) != string(reqs[0].body) || q.event != "message.received" {
			t.Errorf("request %d: body or event differs from the first attempt's", i+1)
		}
	}
	var ev Event
	if err := json.Unmarshal(reqs[0].body, &ev); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ev.ID, "evt_") || ev.Timestamp.IsZero() || ev.Type != "message.received" || ev.Namespace != ns ||
		ev.Data.Conversation.ID != conv || ev.Data.Contact.WAID != "34600111222" || ev.Data.Message == nil ||
		ev.Data.Message.Text != "where is my order?" || ev.Data.Message.WAMID != "wamid.A" {
		t.Errorf("event body = %s", reqs[0].body)
	}

	// The delivery log through the API.
	body := get(t, r, "/api/v1/integrations/deliveries", authz.RoleAuditor, http.StatusOK)
	var page struct{ Items []Delivery }
	if err := json.Unmarshal([]byte(body), &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1 {
		t.Fatalf("delivery log = %s", body)
	}
	d := page.Items[0]
	if d.ID != reqs[0].delivery || d.State != "delivered" || d.Attempts != 3 || d.Endpoint != "orders" || d.EventID != ev.ID || len(d.Log) != 3 {
		t.Fatalf("delivery = %+v", d)
	}
	for i, want := range []int{500, 500, 200} {
		a := d.Log[i]
		if a.Attempt != i+1 || a.StatusCode == nil || *a.StatusCode != want {
			t.Errorf("attempt %d = %+v, want status %d", i+1, a, want)
		}
		if (want == 500) != (a.Error != nil) {
			t.Errorf("attempt %d: error %v for status %d", i+1, a.Error, want)
		}
	}
	// Backoff: the second retry waited at least half of twice the base (jitter drops at most half).
	gap1 := d.Log[1].At.Sub(d.Log[0].At)
	gap2 := d.Log[2].At.Sub(d.Log[1].At)
	if gap1 < 2500*time.Microsecond || gap2 < 5*time.Millisecond {
		t.Errorf("attempts were not spaced by the backoff: %s then %s", gap1, gap2)
	}
	r.assertNoSecrets(body)
}

func TestWebhookGivesUpAfterMaxAttempts(t *testing.T) {
	rc := newReceiver(t, hookSecret, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	h := hook("orders", rc.srv.URL, "message.received")
	h.MaxAttempts = 3
	r := newRig(t, &kube.Integrations{Webhooks: []kube.Webhook{h}})
	r.receive("34600111222", "wamid.A", "hi")
	w := r.worker(nil)
	r.until(w, "the delivery to fail", func() bool {
		return len(r.query(`SELECT 1 FROM integration_deliveries WHERE state = 'failed'`)) == 1
	})
	rows := r.query(`SELECT attempts, last_status_code, last_error FROM integration_deliveries`)
	if rows[0]["attempts"] != int32(3) || rows[0]["last_status_code"] != int32(503) {
		t.Errorf("delivery = %v, want 3 attempts ending with 503", rows[0])
	}
	for range 5 {
		if _, err := w.Once(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(rc.requests()); n != 3 {
		t.Errorf("the receiver got %d requests, want 3 (maxAttempts)", n)
	}
}

func TestTwoWorkersNeverDeliverOneRowTwice(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	rc := newReceiver(t, hookSecret, func(_ int, _ http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.Header.Get(DeliveryHeader)]++
		mu.Unlock()
		time.Sleep(2 * time.Millisecond)
	})
	r := newRig(t, &kube.Integrations{Webhooks: []kube.Webhook{hook("orders", rc.srv.URL, "message.received")}})
	const messages = 60
	for i := range messages {
		r.receive("346001112"+string(rune('0'+i/10))+string(rune('0'+i%10)), "wamid."+string(rune('A'+i/26))+string(rune('a'+i%26)), "hi")
	}
	a, b := r.worker(func(c *Config) { c.Batch = 7 }), r.worker(func(c *Config) { c.Batch = 5 })
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, w := range []*Worker{a, b} {
		wg.Go(func() { _ = w.Run(ctx) })
	}
	r.until(nil, "every delivery delivered", func() bool {
		return len(r.query(`SELECT 1 FROM integration_deliveries WHERE state = 'delivered'`)) == messages
	})
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != messages {
		t.Errorf("%d distinct deliveries received, want %d", len(seen), messages)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("delivery %s was sent %d times", id, n)
		}
	}
	if rows := r.query(`SELECT count(*) AS n FROM integration_attempts`); rows[0]["n"] != int64(messages) {
		t.Errorf("%v attempts logged, want %d", rows[0]["n"], messages)
	}
}

func TestAssignedAndResolvedEvents(t *testing.T) {
	rc := newReceiver(t, hookSecret, nil)
	r := newRig(t, &kube.Integrations{Webhooks: []kube.Webhook{
		hook("all", rc.srv.URL, "conversation.assigned", "conversation.resolved")}})
	conv := r.receive("34600111222", "wamid.A", "hi")
	r.exec(`UPDATE conversations SET assignee = 'maria', team = 'sales' WHERE id = $1`, conv)
	r.exec(`UPDATE conversations SET assignee = 'juan' WHERE id = $1`, conv)
	r.exec(`UPDATE conversations SET status = 'resolved', resolved_at = now() WHERE id = $1`, conv)
	w := r.worker(nil)
	r.until(w, "three events", func() bool { return len(rc.requests()) >= 3 })
	// Deliveries run concurrently (no order between them): sort by the event's time.
	var evs []Event
	for _, q := range rc.requests() {
		var ev Event
		if err := json.Unmarshal(q.body, &ev); err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	slices.SortFunc(evs, func(a, b Event) int { return a.Timestamp.Compare(b.Timestamp) })
	var got []string
	for _, ev := range evs {
		got = append(got, ev.Type+":"+ev.Data.PreviousAssignee+">"+ev.Data.Assignee)
		if ev.Data.Message != nil {
			t.Errorf("%s carries a message", ev.Type)
		}
	}
	want := "conversation.assigned:>maria conversation.assigned:maria>juan conversation.resolved:>juan"
	if strings.Join(got, " ") != want {
		t.Errorf("events = %v, want %s (message.received not subscribed)", got, want)
	}
}

func TestEventsOfUnsubscribedTypesAreDropped(t *testing.T) {
	r := newRig(t, nil)
	r.receive("34600111222", "wamid.A", "hi")
	if _, err := r.worker(nil).Once(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(r.query(`SELECT 1 FROM integration_events`)) + len(r.query(`SELECT 1 FROM integration_deliveries`)); n != 0 {
		t.Errorf("%d events or deliveries left without any integration", n)
	}
}

// get calls the API as a principal of role and checks the status.
func get(t *testing.T, r *rig, path, role string, status int) string {
	t.Helper()
	if r.api == nil {
		r.api = NewAPI(r.store, ns, NewCRMLookup(r.snapshot, nil, nil, r.log), r.log)
	}
	api := r.api
	mux := http.NewServeMux()
	api.Register(mux, authz.AuthenticatorFunc(func(*http.Request) (*authz.Principal, error) {
		if role == "" {
			return nil, nil
		}
		// "<role>-in-team": the role, in the conversation's team.
		base, inTeam := strings.CutSuffix(role, "-in-team")
		p := authz.NewPrincipal(ns, "support", authz.KindAgent, "maria", base, authz.Predefined()[base])
		if inTeam {
			p.Teams = []string{"sales"}
		}
		return p, nil
	}))
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", path, nil)
	mux.ServeHTTP(rec, req)
	if rec.Code != status {
		t.Fatalf("GET %s as %q: %d %s, want %d", path, role, rec.Code, rec.Body, status)
	}
	openapitest.Recorded(t, req, nil, rec)
	return rec.Body.String()
}

func TestDeliveriesAPIPermissionAndParameters(t *testing.T) {
	r := newRig(t, nil)
	get(t, r, "/api/v1/integrations/deliveries", "", http.StatusUnauthorized)
	if body := get(t, r, "/api/v1/integrations/deliveries", authz.RoleAgent, http.StatusForbidden); !strings.Contains(body, "integrations.read") {
		t.Errorf("403 does not name the permission: %s", body)
	}
	if body := get(t, r, "/api/v1/integrations/deliveries?limit=0", authz.RoleSupervisor, http.StatusBadRequest); !strings.Contains(body, `"field":"limit"`) {
		t.Errorf("400 does not name the field: %s", body)
	}
	get(t, r, "/api/v1/integrations/deliveries?state=lost", authz.RoleSupervisor, http.StatusBadRequest)
	// Another tenant's deliveries and conversations are never seen.
	r.exec(`INSERT INTO integration_deliveries (namespace, number, kind, endpoint, event_id, event_type, conversation_id, body)
		VALUES ('globex', 'n', 'webhook', 'x', 1, 'message.received', 1, '{}')`)
	if body := get(t, r, "/api/v1/integrations/deliveries", authz.RoleSupervisor, http.StatusOK); !strings.Contains(body, `"items":[]`) {
		t.Errorf("log = %s, want empty (the delivery is another namespace's)", body)
	}
	r.exec(`INSERT INTO contacts (namespace, wa_id) VALUES ('globex', '15550001111')`)
	r.exec(`INSERT INTO conversations (id, namespace, number, contact_id) SELECT 4242, 'globex', 'n', id FROM contacts WHERE namespace = 'globex'`)
	get(t, r, "/api/v1/conversations/4242/crm", authz.RoleAdmin, http.StatusNotFound)
}

func TestPurgeKeepsRecentAndPendingDeliveries(t *testing.T) {
	rc := newReceiver(t, hookSecret, nil)
	r := newRig(t, &kube.Integrations{Webhooks: []kube.Webhook{hook("orders", rc.srv.URL, "message.received")}})
	r.receive("34600111222", "wamid.A", "old")
	r.receive("34600111333", "wamid.B", "new")
	w := r.worker(func(c *Config) { c.Keep = 24 * time.Hour })
	r.until(w, "two deliveries", func() bool {
		return len(r.query(`SELECT 1 FROM integration_deliveries WHERE state = 'delivered'`)) == 2
	})
	r.exec(`UPDATE integration_deliveries SET finished_at = now() - interval '25 hours'
		WHERE body LIKE '%wamid.A%'`)
	if err := w.Purge(t.Context()); err != nil {
		t.Fatal(err)
	}
	left := r.query(`SELECT body FROM integration_deliveries`)
	if len(left) != 1 || !strings.Contains(left[0]["body"].(string), "wamid.B") {
		t.Errorf("left after the purge: %v, want the recent delivery", left)
	}
	if n := len(r.query(`SELECT 1 FROM integration_attempts`)); n != 1 {
		t.Errorf("%d attempts left, want 1 (the purged delivery's go with it)", n)
	}
}

func TestOneStatementOfManyMessagesQueuesEachInboundOne(t *testing.T) {
	rc := newReceiver(t, hookSecret, nil)
	r := newRig(t, &kube.Integrations{Webhooks: []kube.Webhook{hook("orders", rc.srv.URL, "message.received")}})
	conv := r.receive("34600111222", "wamid.A", "first")
	// Two inbound and one outbound message in one INSERT: two events.
	r.exec(`INSERT INTO messages (namespace, conversation_id, direction, wamid, type, text, content, status)
		VALUES ($1, $2, 'in', 'wamid.B', 'text', 'b', '{}', 'received'), ($1, $2, 'in', 'wamid.C', 'text', 'c', '{}', 'received'),
		       ($1, $2, 'out', NULL, 'text', 'reply', '{}', 'queued')`, ns, conv)
	w := r.worker(nil)
	r.until(w, "three deliveries", func() bool { return len(rc.requests()) >= 3 })
	var texts []string
	for _, q := range rc.requests() {
		var ev Event
		_ = json.Unmarshal(q.body, &ev)
		texts = append(texts, ev.Data.Message.Text)
	}
	slices.Sort(texts)
	if n := len(r.query(`SELECT 1 FROM integration_deliveries`)); n != 3 {
		t.Errorf("%d deliveries, want 3", n)
	}
	if strings.Join(texts, ",") != "b,c,first" {
		t.Errorf("delivered messages %v, want first, b and c (not the outbound reply)", texts)
	}
}
