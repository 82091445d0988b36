package agentapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/switchboard-dev/switchboard/runtime/inbox/conversation"
	"github.com/switchboard-dev/switchboard/runtime/simulator"
)

// answer is one exchange's status, body and headers.
type answer struct {
	code int
	body string
	hdr  http.Header
}

// post sends a JSON body as token's principal with Idempotency-Key key ("" none); it is
// safe in goroutines (it reports a transport error in the answer's body).
func (r *rig) post(token, path, key string, body any) answer {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", r.url+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return answer{body: err.Error()}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, string(raw), resp.Header}
}

// customerWrote opens Meta's window for waID: the customer writes to the simulator.
func (r *rig) customerWrote(waID string) {
	r.t.Helper()
	if _, err := r.sim.Inject(pnid, simulator.Inbound{From: waID, Type: "text", Text: "hola"}); err != nil {
		r.t.Fatal(err)
	}
}

// sentTexts counts the text messages with body text the simulator accepted.
func (r *rig) sentTexts(text string) int {
	r.t.Helper()
	sent, _ := r.sim.Sent(pnid, 0)
	n := 0
	for _, m := range sent {
		var p struct {
			Text struct{ Body string } `json:"text"`
		}
		if json.Unmarshal(m.Body, &p) == nil && p.Text.Body == text {
			n++
		}
	}
	return n
}

// TestIdempotentReply: a text reply retried with the same Idempotency-Key is queued once
// and reaches the simulator once; the retry's answer is the first one byte for byte with
// Idempotent-Replayed: true; the same key with another body or another conversation is
// 422 naming Idempotency-Key; another agent's same key is its own; a failed request keeps
// no key; a template send and a note are deduplicated the same way.
func TestIdempotentReply(t *testing.T) {
	r := newRig(t)
	open := r.seed(conv{waID: "34600000031", windowOpen: true, team: "sales"})
	other := r.seed(conv{waID: "34600000032", windowOpen: true, team: "sales"})
	closed := r.seed(conv{waID: "34600000033", team: "sales"})
	r.customerWrote("34600000031")
	path := func(id int64, what string) string { return fmt.Sprintf("/api/v1/conversations/%d/%s", id, what) }
	reply := map[string]string{"text": "Tu pedido sale hoy"}

	first := r.post("sales", path(open, "messages"), "k-1", reply)
	if first.code != 201 || first.hdr.Get("Idempotent-Replayed") != "" {
		t.Fatalf("first: %d %s %v", first.code, first.body, first.hdr)
	}
	outbox, audits := r.count(`SELECT count(*) FROM outbox`), r.audits()
	again := r.post("sales", path(open, "messages"), "k-1", reply)
	if again.code != 201 || again.body != first.body || again.hdr.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry: %d %s %v, want the first answer %s replayed", again.code, again.body, again.hdr, first.body)
	}
	if n := r.count(`SELECT count(*) FROM outbox`); n != outbox || r.audits() != audits {
		t.Errorf("the retry queued %d messages and wrote %d audit entries", n-outbox, r.audits()-audits)
	}
	for _, c := range []struct {
		name string
		id   int64
		body any
	}{{"another text", open, map[string]string{"text": "Otro texto"}}, {"another conversation", other, reply}} {
		a := r.post("sales", path(c.id, "messages"), "k-1", c.body)
		if a.code != 422 || problemOf(t, a.body)["field"] != "Idempotency-Key" {
			t.Errorf("%s with the same key: %d %s", c.name, a.code, a.body)
		}
	}
	if n := r.count(`SELECT count(*) FROM outbox`); n != outbox {
		t.Errorf("refused requests queued %d messages", n-outbox)
	}

	// Another agent's key of the same name is independent: its own message, not sam's.
	var mine, theirs conversation.Message
	_ = json.Unmarshal([]byte(first.body), &mine)
	ada := r.post("admin", path(open, "messages"), "k-1", reply)
	if err := json.Unmarshal([]byte(ada.body), &theirs); err != nil || ada.code != 201 || ada.hdr.Get("Idempotent-Replayed") != "" ||
		theirs.ID == mine.ID || *theirs.Author != "agent:ada" {
		t.Errorf("another agent's same key: %d %s", ada.code, ada.body)
	}

	// A bad key is 400 and changes nothing; a failed request keeps no key.
	if a := r.post("sales", path(open, "messages"), "has space", reply); a.code != 400 || problemOf(t, a.body)["field"] != "Idempotency-Key" {
		t.Errorf("bad key: %d %s", a.code, a.body)
	}
	if a := r.post("sales", path(closed, "messages"), "k-2", reply); a.code != 422 {
		t.Fatalf("closed window: %d %s", a.code, a.body)
	}
	if a := r.post("sales", path(open, "messages"), "k-2", map[string]string{"text": "Ahora sí"}); a.code != 201 || a.hdr.Get("Idempotent-Replayed") != "" {
		t.Errorf("the key of a failed request used again: %d %s", a.code, a.body)
	}

	// A template and a note.
	tpl := map[string]any{"template": map[string]any{"name": "order_update", "language": "en_US", "parameters": []string{"A-1"}}}
	notes := r.count(`SELECT count(*) FROM conversation_notes`)
	for _, c := range []struct {
		what, key string
		body      any
	}{{"messages", "t-1", tpl}, {"notes", "n-1", map[string]string{"text": "Llamó dos veces"}}} {
		a1 := r.post("sales", path(closed, c.what), c.key, c.body)
		a2 := r.post("sales", path(closed, c.what), c.key, c.body)
		if a1.code != 201 || a2.code != 201 || a2.body != a1.body || a2.hdr.Get("Idempotent-Replayed") != "true" {
			t.Errorf("%s twice: %d %s, then %d %s", c.what, a1.code, a1.body, a2.code, a2.body)
		}
	}
	if n := r.count(`SELECT count(*) FROM outbox WHERE payload->>'type' = 'template'`); n != 1 {
		t.Errorf("%d templates queued, want 1", n)
	}
	if n := r.count(`SELECT count(*) FROM conversation_notes`); n != notes+1 {
		t.Errorf("%d notes added, want 1", n-notes)
	}

	r.runSender()
	if n := r.sentTexts("Tu pedido sale hoy"); n != 2 { // sam's and ada's
		t.Errorf("the simulator received the reply %d times, want 2 (one per agent)", n)
	}
}

// TestIdempotentConcurrent: duplicates sent at once (the first still in flight) queue
// one message; every answer is that message, all but one replayed.
func TestIdempotentConcurrent(t *testing.T) {
	r := newRig(t)
	id := r.seed(conv{waID: "34600000041", windowOpen: true, team: "sales"})
	r.customerWrote("34600000041")
	const n = 6
	answers := make([]answer, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			answers[i] = r.post("sales", fmt.Sprintf("/api/v1/conversations/%d/messages", id), "dup-1", map[string]string{"text": "Una sola vez"})
		})
	}
	wg.Wait()
	fresh := 0
	for _, a := range answers {
		if a.code != 201 || a.body != answers[0].body {
			t.Fatalf("answers differ: %d %s vs %s", a.code, a.body, answers[0].body)
		}
		if a.hdr.Get("Idempotent-Replayed") == "" {
			fresh++
		}
	}
	if fresh != 1 {
		t.Errorf("%d answers not replayed, want 1", fresh)
	}
	if c := r.count(`SELECT count(*) FROM outbox WHERE payload->'text'->>'body' = 'Una sola vez'`); c != 1 {
		t.Errorf("%d outbox rows, want 1", c)
	}
	r.runSender()
	if c := r.sentTexts("Una sola vez"); c != 1 {
		t.Errorf("the simulator received the message %d times", c)
	}
	if c := r.count(`SELECT count(*) FROM idempotency_keys WHERE namespace = $1 AND principal = 'agent:sam' AND key = 'dup-1'
		AND status = 201 AND position('Una sola vez' in convert_from(body, 'UTF8')) > 0`, ns); c != 1 {
		t.Errorf("%d key rows", c)
	}
	if !strings.Contains(answers[0].body, `"status":"queued"`) {
		t.Errorf("answer %s", answers[0].body)
	}
}
