package simulator_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/runtime/simulator"
	"github.com/switchboard-dev/switchboard/runtime/simulator/spectest"
)

// shape replaces JSON leaves by their kinds and arrays by their first
// element, so two bodies compare equal when they have the same structure.
func shape(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, c := range t {
			out[k] = shape(c)
		}
		return out
	case []any:
		if len(t) == 0 {
			return []any{}
		}
		return []any{shape(t[0])}
	default:
		return fmt.Sprintf("%T", v)
	}
}

func decodeAny(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestInboundWebhooksMatchMetaExamples injects each inbound kind and checks
// the webhook against the spec's schema and against the structure of the
// spec's own example of the same message.
func TestInboundWebhooksMatchMetaExamples(t *testing.T) {
	examples, err := loadSpec(t).RequestExamples("/whatsapp/webhooks", "post")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		example string
		in      simulator.Inbound
	}{
		{"Text Message", simulator.Inbound{Type: "text", Text: "Does it come in another color?"}},
		{"Image Message", simulator.Inbound{Type: "image", Text: "Taj Mahal"}},
		{"Interactive Button Reply Message", simulator.Inbound{Type: "button_reply", ID: "cancel-button", Title: "Cancel"}},
		{"Interactive List Reply Message", simulator.Inbound{Type: "list_reply", ID: "priority_express",
			Title: "Priority Mail Express", Description: "Next Day to 2 Days"}},
		{"Button Message", simulator.Inbound{Type: "button", ID: "Unsubscribe", Text: "Unsubscribe"}},
	}
	e := newEnv(t, simulator.Config{}, simulator.Number{})
	for _, tc := range cases {
		t.Run(tc.example, func(t *testing.T) {
			e.sink.reset()
			tc.in.From, tc.in.Name = user, "Sheena Nelson"
			if _, err := e.sim.Inject(pnid, tc.in); err != nil {
				t.Fatal(err)
			}
			e.idle()
			bodies, _ := e.sink.received()
			if len(bodies) != 1 {
				t.Fatalf("want 1 webhook, got %d", len(bodies))
			}
			if err := loadSpec(t).Validate("WebhookPayload", bodies[0]); err != nil {
				t.Fatalf("%v\n%s", err, bodies[0])
			}
			got, want := shape(decodeAny(t, bodies[0])), shape(decodeAny(t, examples[tc.example]))
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("structure differs from Meta's example\n got: %v\nwant: %v", got, want)
			}
		})
	}
}

// TestSpecRequestExamplesAccepted posts every sendMessage example from
// Meta's description to the simulator (placeholders replaced, the user's
// window opened) and expects 200 except for the documented exceptions, and
// each accepted body kept byte for byte.
func TestSpecRequestExamplesAccepted(t *testing.T) {
	examples, err := loadSpec(t).RequestExamples("/{Version}/{Phone-Number-ID}/messages", "post")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, simulator.Config{}, simulator.Number{})
	for i, name := range spectest.Names(examples) {
		to := recipient(i)
		body := strings.NewReplacer("{{Recipient-Phone-Number}}", to, "{{Recipient-WA-Phone-Number}}", to,
			"+16505551234", to).Replace(string(examples[name]))
		e.advance(time.Second) // stay under the throughput cap
		e.inject(to)
		status, resp := e.postRaw("/v23.0/"+pnid+"/messages", token, body)
		reason, bad := spectest.RefusedSendExamples[name]
		switch {
		case bad && (status != 400 || errorCode(t, resp) != 100):
			t.Errorf("%s (%s): want 100, got %d %s", name, reason, status, resp)
		case !bad && status != 200:
			t.Errorf("%s: %d %s", name, status, resp)
		case status == 200 && !strings.Contains(body, `"status"`):
			if err := loadSpec(t).Validate("MessageResponsePayload", resp); err != nil {
				t.Errorf("%s: response fails the spec: %v", name, err)
			}
			if sent, _ := e.sim.Sent(pnid, 1); len(sent) != 1 || string(sent[0].Body) != body {
				t.Errorf("%s: not kept as received: %+v", name, sent)
			}
		}
	}
}

// TestSpecResponseExamplesValidate checks the validator itself on the
// spec's own response examples, so a broken validator cannot pass silently.
func TestSpecResponseExamplesValidate(t *testing.T) {
	examples, err := loadSpec(t).ResponseExamples("/{Version}/{Phone-Number-ID}/messages", "post", "200")
	if err != nil {
		t.Fatal(err)
	}
	names := spectest.Names(examples)
	sort.Strings(names)
	for _, name := range names {
		if err := loadSpec(t).Validate("MessageResponsePayload", examples[name]); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := loadSpec(t).Validate("MessageResponsePayload", []byte(`{"messages":"not-an-array"}`)); err == nil {
		t.Error("validator accepted a malformed response")
	}
}

// TestInboundMessagesKeptWhole injects the message of each of Meta's webhook
// examples whole (Inbound.Message) and expects it delivered with every field
// as Meta wrote it, only from, id and timestamp being the simulator's.
func TestInboundMessagesKeptWhole(t *testing.T) {
	examples, err := loadSpec(t).RequestExamples("/whatsapp/webhooks", "post")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, simulator.Config{}, simulator.Number{})
	tried := 0
	for _, name := range spectest.Names(examples) {
		var p struct {
			Entry []struct {
				Changes []struct {
					Value struct{ Messages []json.RawMessage } `json:"value"`
				} `json:"changes"`
			} `json:"entry"`
		}
		if err := json.Unmarshal(examples[name], &p); err != nil || len(p.Entry[0].Changes[0].Value.Messages) == 0 {
			continue // statuses and group events carry no message
		}
		tried++
		t.Run(name, func(t *testing.T) { e.wantKeptWhole(p.Entry[0].Changes[0].Value.Messages[0]) })
	}
	if tried < 10 {
		t.Fatalf("only %d of Meta's webhook examples carry a message", tried)
	}
}

func (e *env) wantKeptWhole(message json.RawMessage) {
	e.t.Helper()
	e.sink.reset()
	id, err := e.sim.Inject(pnid, simulator.Inbound{From: user, Message: message})
	if err != nil {
		e.t.Fatal(err)
	}
	e.idle()
	bodies, _ := e.sink.received()
	if len(bodies) != 1 {
		e.t.Fatalf("want one webhook, got %d", len(bodies))
	}
	var got struct {
		Entry []struct {
			Changes []struct {
				Value struct{ Messages []map[string]any } `json:"value"`
			} `json:"changes"`
		} `json:"entry"`
	}
	_ = json.Unmarshal(bodies[0], &got)
	var want map[string]any
	_ = json.Unmarshal(message, &want)
	want["from"], want["id"] = user, id
	msg := got.Entry[0].Changes[0].Value.Messages[0]
	want["timestamp"] = msg["timestamp"]
	if !reflect.DeepEqual(msg, want) {
		e.t.Fatalf("message changed on the way\n got: %v\nwant: %v", msg, want)
	}
}
