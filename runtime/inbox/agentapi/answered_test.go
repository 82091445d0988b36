package agentapi_test

import (
	"fmt"
	"testing"

	"github.com/switchboard-dev/switchboard/runtime/inbox/agentapi"
	"github.com/switchboard-dev/switchboard/runtime/inbox/media/mediatest"
)

// acceptance reads whether a conversation is accepted and its assignee's misses in a row.
func (r *rig) acceptance(id int64) (accepted bool, misses int) {
	r.t.Helper()
	err := r.conn.QueryRow(r.t.Context(), `SELECT c.accepted_at IS NOT NULL, COALESCE(a.misses, -1) FROM conversations c
		LEFT JOIN agent_availability a ON a.namespace = c.namespace AND a.login = c.assignee WHERE c.id = $1`, id).Scan(&accepted, &misses)
	if err != nil {
		r.t.Fatal(err)
	}
	return accepted, misses
}

// assignedToSam seeds a conversation the routing assigned to sam and he has not
// accepted, with two misses in a row on his record.
func (r *rig) assignedToSam(waID string, windowOpen bool) int64 {
	r.t.Helper()
	id := r.seed(conv{waID: waID, windowOpen: windowOpen, team: "sales", assignee: "sam"})
	if _, err := r.conn.Exec(r.t.Context(), `UPDATE conversations SET assigned_at = now(), accepted_at = NULL WHERE id = $1;`, id); err != nil {
		r.t.Fatal(err)
	}
	if _, err := r.conn.Exec(r.t.Context(), `INSERT INTO agent_availability (namespace, login, availability, changed_at, misses)
		VALUES ($1, 'sam', 'online', now(), 2) ON CONFLICT (namespace, login) DO UPDATE SET misses = 2`, ns); err != nil {
		r.t.Fatal(err)
	}
	return id
}

// TestAssigneesSendAccepts: a text reply, a template and media sent by the assignee
// accept the assignment and reset his misses in the send's transaction (one
// conversation.accepted audited); a note, or a supervisor's reply, accepts nothing; an
// Idempotency-Key replay does not run it again.
func TestAssigneesSendAccepts(t *testing.T) {
	r := newRigWith(t, mediatest.Dir(t))
	msgs := func(id int64) string { return fmt.Sprintf("/api/v1/conversations/%d/messages", id) }
	id := r.assignedToSam("34600000041", true)

	if a := r.post("supervisor", msgs(id), "", map[string]string{"text": "Te atiende Sam enseguida"}); a.code != 201 {
		t.Fatalf("supervisor's reply: %d %s", a.code, a.body)
	}
	if a := r.post("sales", fmt.Sprintf("/api/v1/conversations/%d/notes", id), "", map[string]string{"text": "VIP"}); a.code != 201 {
		t.Fatalf("note: %d %s", a.code, a.body)
	}
	if ok, misses := r.acceptance(id); ok || misses != 2 {
		t.Fatalf("after a supervisor's reply and sam's note: accepted %v, misses %d; want not accepted, 2", ok, misses)
	}
	detail := func() agentapi.Detail {
		var d agentapi.Detail
		if code, raw := r.do(r.url, "sales", "GET", fmt.Sprintf("/api/v1/conversations/%d", id), nil, &d); code != 200 {
			t.Fatalf("detail: %d %s", code, raw)
		}
		return d
	}
	if d := detail(); d.AssignedAt == nil || d.AcceptedAt != nil || d.WaitingSince != nil {
		t.Fatalf("the detail of an assignment not accepted: assigned %v, accepted %v, waiting %v", d.AssignedAt, d.AcceptedAt, d.WaitingSince)
	}
	first := r.post("sales", msgs(id), "reply-1", map[string]string{"text": "Hola, soy Sam"})
	if first.code != 201 {
		t.Fatalf("sam's reply: %d %s", first.code, first.body)
	}
	if ok, misses := r.acceptance(id); !ok || misses != 0 {
		t.Fatalf("after sam's reply: accepted %v, misses %d; want accepted, 0", ok, misses)
	}
	if d := detail(); d.AcceptedAt == nil {
		t.Fatal("the API's detail does not say the conversation was accepted")
	}
	count := func(id int64) int {
		return r.count(`SELECT count(*) FROM audit_log WHERE action = 'conversation.accepted' AND object_id = $1 AND actor = 'agent:sam'`,
			fmt.Sprint(id))
	}
	if n := count(id); n != 1 {
		t.Errorf("%d conversation.accepted audited, want 1", n)
	}
	// A replay of the same request runs nothing: put the state back and retry.
	if _, err := r.conn.Exec(t.Context(), `UPDATE conversations SET accepted_at = NULL WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	if _, err := r.conn.Exec(t.Context(), `UPDATE agent_availability SET misses = 2 WHERE login = 'sam'`); err != nil {
		t.Fatal(err)
	}
	if a := r.post("sales", msgs(id), "reply-1", map[string]string{"text": "Hola, soy Sam"}); a.code != 201 || a.body != first.body ||
		a.hdr.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %d %s %v", a.code, a.body, a.hdr)
	}
	if ok, misses := r.acceptance(id); ok || misses != 2 || count(id) != 1 {
		t.Errorf("a replay accepted again: accepted %v, misses %d, %d audit rows", ok, misses, count(id))
	}

	tpl := r.assignedToSam("34600000042", false)
	if a := r.post("sales", msgs(tpl), "", map[string]any{"template": map[string]any{"name": "hello_world", "language": "en_US"}}); a.code != 201 {
		t.Fatalf("template: %d %s", a.code, a.body)
	}
	if ok, misses := r.acceptance(tpl); !ok || misses != 0 || count(tpl) != 1 {
		t.Errorf("after sam's template: accepted %v, misses %d, %d audit rows", ok, misses, count(tpl))
	}

	med := r.assignedToSam("34600000043", true)
	if code, raw, _ := r.postMedia("sales", med, upload{name: "a.png", declared: "image/png", data: pngOf(t, 3)}, nil); code != 201 {
		t.Fatalf("media: %d %s", code, raw)
	}
	if ok, misses := r.acceptance(med); !ok || misses != 0 || count(med) != 1 {
		t.Errorf("after sam's media: accepted %v, misses %d, %d audit rows", ok, misses, count(med))
	}
}
