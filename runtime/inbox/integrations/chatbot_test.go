package integrations

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/inbox/kube"
	"github.com/switchboard-dev/switchboard/runtime/outbound"
	"github.com/switchboard-dev/switchboard/runtime/store"
)

func bot(url string, timeout time.Duration) *kube.Integrations {
	return &kube.Integrations{Chatbot: &kube.Chatbot{URL: url, Secret: []byte(botSecret), Timeout: timeout}}
}

func (r *rig) chatbotDone() bool {
	return len(r.query(`SELECT 1 FROM integration_deliveries WHERE kind = 'chatbot' AND state <> 'pending'`)) > 0
}

// nextMessageSkipsTheChatbot: another message of the customer makes no chatbot
// delivery (there was one before).
func (r *rig) nextMessageSkipsTheChatbot(w *Worker) {
	r.t.Helper()
	r.receive("34600111222", "wamid.next", "anyone?")
	if _, err := w.Once(r.t.Context()); err != nil {
		r.t.Fatal(err)
	}
	if n := len(r.query(`SELECT 1 FROM integration_deliveries WHERE kind = 'chatbot'`)); n != 1 {
		r.t.Errorf("%d chatbot deliveries, want 1: the next message went to the chatbot", n)
	}
}

func TestChatbotAnswerIsSentAsAReply(t *testing.T) {
	rc := newReceiver(t, botSecret, func(_ int, w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"text":"Your order 1234 ships today."}`))
	})
	r := newRig(t, bot(rc.srv.URL, 5*time.Second))
	conv := r.receive("34600111222", "wamid.A", "where is order 1234?")
	w := r.worker(nil)
	r.until(w, "the chatbot call", r.chatbotDone)

	reqs := rc.requests()
	if len(reqs) != 1 || reqs[0].verified != nil {
		t.Fatalf("chatbot requests = %d, signature: %v", len(reqs), reqs[0].verified)
	}
	var ev Event
	_ = json.Unmarshal(reqs[0].body, &ev)
	if ev.Data.Message == nil || ev.Data.Message.Text != "where is order 1234?" {
		t.Errorf("the chatbot got %s", reqs[0].body)
	}
	out := r.query(`SELECT o.recipient, o.lane, o.payload, m.author, m.text, m.conversation_id
		FROM outbox o JOIN messages m ON m.outbox_id = o.id`)
	if len(out) != 1 {
		t.Fatalf("outbox rows with a message = %v, want the chatbot's reply", out)
	}
	payload, _ := json.Marshal(out[0]["payload"])
	if out[0]["recipient"] != "34600111222" || out[0]["lane"] != "conversation" || out[0]["author"] != ChatbotActor ||
		out[0]["text"] != "Your order 1234 ships today." || out[0]["conversation_id"] != conv ||
		!strings.Contains(string(payload), `"body":"Your order 1234 ships today."`) {
		t.Errorf("reply = %v (payload %s)", out[0], payload)
	}
	if a := r.query(`SELECT actor FROM audit_log WHERE action = 'conversation.reply' AND object_id = $1`, strconv.FormatInt(conv, 10)); len(a) != 1 {
		t.Errorf("audit entries of the reply = %v", a)
	}
	if h := r.query(`SELECT 1 FROM conversations WHERE bot_handoff_at IS NOT NULL`); len(h) != 0 {
		t.Error("the conversation was handed off after an answer")
	}
	r.assertNoSecrets()
}

func TestChatbotTimeoutHandsTheConversationToAHuman(t *testing.T) {
	release := make(chan struct{})
	rc := newReceiver(t, botSecret, func(_ int, w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		_, _ = w.Write([]byte(`{"text":"too late"}`))
	})
	defer close(release)
	r := newRig(t, bot(rc.srv.URL, 100*time.Millisecond))
	conv := r.receive("34600111222", "wamid.A", "hello?")
	w := r.worker(nil)
	r.until(w, "the chatbot call", r.chatbotDone)

	h := r.query(`SELECT bot_handoff_reason FROM conversations WHERE id = $1`, conv)
	if h[0]["bot_handoff_reason"] != HandoffTimeout {
		t.Errorf("handoff = %v, want %q", h[0], HandoffTimeout)
	}
	if o := r.query(`SELECT 1 FROM outbox`); len(o) != 0 {
		t.Error("a reply was sent after the timeout")
	}
	d := r.query(`SELECT d.state, a.error FROM integration_deliveries d JOIN integration_attempts a ON a.delivery_id = d.id`)
	if len(d) != 1 || d[0]["state"] != "failed" || d[0]["error"] != "timed out" {
		t.Errorf("delivery log = %v", d)
	}
	if a := r.query(`SELECT after->>'reason' AS reason FROM audit_log WHERE action = 'conversation.handoff'`); len(a) != 1 || a[0]["reason"] != HandoffTimeout {
		t.Errorf("audit of the handoff = %v", a)
	}
	// The next message of the conversation does not go to the chatbot any more.
	r.nextMessageSkipsTheChatbot(w)
}

func TestChatbotHandoffErrorsAndAgents(t *testing.T) {
	cases := []struct {
		name, answer string
		status       int
		reason       string
		replies      int
	}{
		{"handoff with a text", `{"text":"Let me get a colleague.","handoff":true}`, 200, HandoffRequested, 1},
		{"server error", `oops`, 500, HandoffError, 0},
		{"not JSON", `<html>`, 200, HandoffError, 0},
		{"text and template", `{"text":"a","template":{"name":"hello_world","language":"en"}}`, 200, HandoffError, 0},
		{"silence", ``, 204, "", 0},
		{"template", `{"template":{"name":"order_update","language":"en","components":[{"type":"body","parameters":[{"type":"text","text":"1234"}]}]}}`, 200, "", 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rc := newReceiver(t, botSecret, func(_ int, w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(c.status)
				_, _ = w.Write([]byte(c.answer))
			})
			r := newRig(t, bot(rc.srv.URL, 5*time.Second))
			conv := r.receive("34600111222", "wamid.A", "hi")
			r.until(r.worker(nil), "the chatbot call", r.chatbotDone)
			h := r.query(`SELECT COALESCE(bot_handoff_reason, '') AS reason FROM conversations WHERE id = $1`, conv)
			if h[0]["reason"] != c.reason {
				t.Errorf("handoff reason %q, want %q", h[0]["reason"], c.reason)
			}
			if n := len(r.query(`SELECT 1 FROM outbox`)); n != c.replies {
				t.Errorf("%d replies, want %d", n, c.replies)
			}
		})
	}
}

func TestChatbotIsNotAskedAboutAnAssignedConversation(t *testing.T) {
	rc := newReceiver(t, botSecret, func(_ int, w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{"text":"hi"}`)) })
	r := newRig(t, bot(rc.srv.URL, 5*time.Second))
	conv := r.receive("34600111222", "wamid.A", "hi")
	w := r.worker(nil)
	// The first message is queued for the chatbot, then an agent takes the conversation
	// before the call: the answer is not sent.
	if _, err := w.dispatch(t.Context(), r.snapshot().Integrations, []string{number}); err != nil {
		t.Fatal(err)
	}
	r.exec(`UPDATE conversations SET assignee = 'maria' WHERE id = $1`, conv)
	r.until(w, "the first chatbot call", r.chatbotDone)
	if n := len(r.query(`SELECT 1 FROM outbox`)); n != 0 {
		t.Errorf("%d replies into an assigned conversation", n)
	}
	if d := r.query(`SELECT last_error FROM integration_deliveries`); !strings.Contains(d[0]["last_error"].(string), "not sent") {
		t.Errorf("delivery log = %v", d)
	}
	r.nextMessageSkipsTheChatbot(w)
	if n := len(rc.requests()); n != 1 {
		t.Errorf("%d chatbot calls, want 1", n)
	}
}

func TestChatbotAnswerBlockedByAnOutboundRuleHandsOff(t *testing.T) {
	rc := newReceiver(t, botSecret, func(_ int, w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"text":"Resultado garantizado."}`))
	})
	r := newRig(t, bot(rc.srv.URL, 5*time.Second))
	rule := sbv1.KeywordRule{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "no-guarantees"},
		Spec: sbv1.KeywordRuleSpec{Direction: sbv1.Outbound, Match: sbv1.KeywordMatch{Any: []string{"garantizado"}, Mode: sbv1.MatchWord},
			Actions: sbv1.KeywordActions{Block: &sbv1.BlockAction{Reason: "Never promise results."}}}}
	rules, errs := outbound.Compile(&sbv1.Number{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: number}}, []sbv1.KeywordRule{rule}, nil)
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	snap := kube.NewSnapshot(ns, []kube.Number{{Ref: store.NumberRef{Namespace: ns, Name: number}, PhoneNumberID: "100",
		Policy: kube.Policy{OutboundRules: rules}}})
	snap.Integrations = r.snapshot().Integrations
	r.snap.Store(snap)
	conv := r.receive("34600111222", "wamid.A", "¿funciona?")
	r.until(r.worker(nil), "the chatbot call", r.chatbotDone)
	h := r.query(`SELECT bot_handoff_reason FROM conversations WHERE id = $1`, conv)
	if h[0]["bot_handoff_reason"] != HandoffBlocked {
		t.Errorf("handoff = %v, want %q", h[0], HandoffBlocked)
	}
	if n := len(r.query(`SELECT 1 FROM outbox`)); n != 0 {
		t.Error("a blocked answer was enqueued")
	}
	if d := r.query(`SELECT last_error FROM integration_deliveries`); !strings.Contains(d[0]["last_error"].(string), "acme/no-guarantees") {
		t.Errorf("the delivery log does not name the rule: %v", d)
	}
}
