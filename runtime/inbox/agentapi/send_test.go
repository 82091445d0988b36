package agentapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/runtime/inbox/agentapi"
	"github.com/switchboard-dev/switchboard/runtime/inbox/conversation"
)

// outboxPayload returns the payload of the message's outbox row and its recipient.
func (r *rig) outboxPayload(m conversation.Message) (map[string]any, string) {
	r.t.Helper()
	var raw []byte
	var to string
	if m.OutboxID == nil {
		r.t.Fatalf("message %d has no outbox row", m.ID)
	}
	if err := r.conn.QueryRow(r.t.Context(), `SELECT payload, recipient FROM outbox WHERE id = $1`, *m.OutboxID).Scan(&raw, &to); err != nil {
		r.t.Fatal(err)
	}
	var p map[string]any
	_ = json.Unmarshal(raw, &p)
	return p, to
}

// postToGraph sends an outbox payload to the simulator as the sender would, and returns
// its status code and body.
func postToGraph(t *testing.T, graph string, payload map[string]any, to string) (int, string) {
	t.Helper()
	payload["messaging_product"], payload["to"] = "whatsapp", to
	b, _ := json.Marshal(payload)
	req, _ := http.NewRequest("POST", graph+"/v23.0/"+pnid+"/messages", bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+graphToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	return resp.StatusCode, buf.String()
}

// TestSend: a text inside the window is queued in the outbox and audited; a blocked word
// is 422 naming the rule and the word; a closed window is 422 listing the approved
// templates; templates are checked against the WhatsApp Business Account's (unknown
// name, wrong parameter count) and a good one is queued as the simulator accepts it.
func TestSend(t *testing.T) {
	r := newRig(t)
	open := r.seed(conv{waID: "34600000001", windowOpen: true, team: "sales"})
	closed := r.seed(conv{waID: "34600000002", team: "sales"})
	path := func(id int64) string { return fmt.Sprintf("/api/v1/conversations/%d/messages", id) }

	var m conversation.Message
	if code, raw := r.do(r.url, "sales", "POST", path(open), map[string]string{"text": "Hola, ¿en qué te ayudo?"}, &m); code != 201 ||
		m.Status != "queued" || m.Author == nil || *m.Author != "agent:sam" {
		t.Fatalf("text: %d %s", code, raw)
	}
	if p, to := r.outboxPayload(m); to != "34600000001" || p["type"] != "text" {
		t.Fatalf("outbox %v to %s", p, to)
	}
	audits := r.audits()
	code, raw := r.do(r.url, "sales", "POST", path(open), map[string]string{"text": "Éxito GARANTIZADO"}, nil)
	if p := problemOf(t, raw); code != 422 || p["rule"] != "no-guarantees" || p["word"] != "garantizado" || p["field"] != "text" {
		t.Fatalf("blocked: %d %s", code, raw)
	}
	code, raw = r.do(r.url, "sales", "POST", path(closed), map[string]string{"text": "¿Sigues ahí?"}, nil)
	p := problemOf(t, raw)
	if code != 422 || !strings.Contains(p["detail"].(string), "template is required") {
		t.Fatalf("window closed: %d %s", code, raw)
	}
	if got, _ := json.Marshal(p["templates"]); string(got) !=
		`[{"category":"MARKETING","language":"en_US","name":"hello_world","parameters":0},{"category":"UTILITY","language":"en_US","name":"order_update","parameters":1}]` {
		t.Errorf("templates %s (the pending one must not be listed)", got)
	}
	for _, c := range []struct {
		tpl   map[string]any
		field string
	}{
		{map[string]any{"name": "order_update", "language": "en_US"}, "template.parameters"},
		{map[string]any{"name": "order_update", "language": "en_US", "parameters": []string{"a", "b"}}, "template.parameters"},
		{map[string]any{"name": "order_update", "language": "es"}, "template.language"},
		{map[string]any{"name": "draft", "language": "en_US"}, "template.name"},
		{map[string]any{"name": "nope", "language": "en_US"}, "template.name"},
		{map[string]any{"name": "order_update", "language": "en_US", "parameters": []string{"garantizado"}}, "template.parameters"},
	} {
		code, raw := r.do(r.url, "sales", "POST", path(closed), map[string]any{"template": c.tpl}, nil)
		if p := problemOf(t, raw); code != 422 || p["field"] != c.field {
			t.Errorf("template %v: %d %s, want 422 naming %s", c.tpl, code, raw, c.field)
		}
	}
	if n := r.audits(); n != audits {
		t.Errorf("refused sends wrote %d audit entries", n-audits)
	}
	if code, raw := r.do(r.url, "sales", "POST", path(closed), map[string]any{"template": map[string]any{
		"name": "order_update", "language": "en_US", "parameters": []string{"A-1001"}}}, &m); code != 201 || m.Type != "template" {
		t.Fatalf("template: %d %s", code, raw)
	}
	payload, to := r.outboxPayload(m)
	if code, raw := postToGraph(t, r.graph, payload, to); code != 200 {
		t.Errorf("the simulator refused the queued template: %d %s", code, raw)
	}
	payload["template"].(map[string]any)["components"] = nil
	if code, raw := postToGraph(t, r.graph, payload, to); code == 200 || !strings.Contains(raw, "132000") {
		t.Errorf("the simulator accepted a template without its parameter: %d %s", code, raw)
	}
	if code, raw := r.do(r.url, "sales", "POST", path(closed), map[string]any{"template": map[string]any{
		"name": "hello_world", "language": "en_US"}}, &m); code != 201 {
		t.Fatalf("hello_world: %d %s", code, raw)
	}
	if n := r.lists.Load(); n != 1 {
		t.Errorf("the templates were listed %d times, want once (cached for a minute)", n)
	}
	if n := r.audits(); n != audits+2 {
		t.Errorf("%d audit entries for 2 sends", n-audits)
	}
	var d agentapi.Detail
	r.do(r.url, "sales", "GET", fmt.Sprintf("/api/v1/conversations/%d", closed), nil, &d)
	if len(d.Messages) != 3 || d.Messages[2].Direction != "out" || len(d.Templates) != 2 || d.Templates[1].Parameters != 1 {
		t.Errorf("detail of a closed window: messages %+v, templates %+v", d.Messages, d.Templates)
	}
	d = agentapi.Detail{}
	r.do(r.url, "sales", "GET", fmt.Sprintf("/api/v1/conversations/%d", open), nil, &d)
	if !d.WindowOpen || d.Templates != nil {
		t.Errorf("detail of an open window lists templates: %+v", d.Templates)
	}
}
