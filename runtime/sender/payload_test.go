package sender_test

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/runtime/sender"
	"github.com/switchboard-dev/switchboard/runtime/simulator"
	"github.com/switchboard-dev/switchboard/runtime/simulator/spectest"
	"github.com/switchboard-dev/switchboard/runtime/store"
)

// TestStoredPayloadReachesMetaVerbatim: every send-message request example in Meta's
// OpenAPI description, stored in the outbox without messaging_product and to, reaches the
// simulator through the real sender as the example says (compared as JSON), whatever
// fields the client's Message struct knows: location, contacts, a template parameter's
// parameter_name and the rest. Examples without a `type` are refused by the store,
// naming Payload.type (the read receipt among them is not a message).
func TestStoredPayloadReachesMetaVerbatim(t *testing.T) {
	examples, err := spectest.Meta(t).RequestExamples("/{Version}/{Phone-Number-ID}/messages", "post")
	if err != nil {
		t.Fatal(err)
	}
	r := newRig(t, simulator.Number{Throughput: "STANDARD", Tier: "TIER_UNLIMITED"})
	want := map[string]any{} // recipient → the body Meta must receive
	names := map[string]string{}
	for i, name := range spectest.Names(examples) {
		to := "3461" + strconv.Itoa(1000000+i)
		if r.enqueueExample(name, to, examples[name]) {
			body := decodeJSON(t, examples[name]).(map[string]any)
			body["to"] = to // the row's recipient, whatever placeholder the example has
			want[to], names[to] = body, name
		}
	}
	stop := r.run(sender.Config{Initial: sender.Limits{MessagesPerSecond: 80, CampaignPerMinute: 4800, UniqueRecipientsPer24h: -1}})
	defer func() { _ = stop() }()
	got := r.waitArrivals(len(want), 30*time.Second)
	for to, body := range want {
		arrived, ok := got[to]
		if !ok {
			t.Errorf("%s: nothing reached the simulator", names[to])
			continue
		}
		if !reflect.DeepEqual(decodeJSON(t, arrived), body) {
			t.Errorf("%s: Meta received\n  %s\nthe example is\n  %s", names[to], arrived, mustMarshal(body))
		}
	}
	if len(want) < 30 {
		t.Errorf("only %d examples went through the outbox; Meta's description has more", len(want))
	}
}

// enqueueExample stores an example as a producer would (the message object without
// messaging_product and to, the recipient in its column) and reports whether the store
// took it. The store must refuse exactly the examples without a type, naming the field.
func (r *rig) enqueueExample(name, to string, body json.RawMessage) bool {
	r.t.Helper()
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		r.t.Fatalf("%s: %v", name, err)
	}
	// The customer wrote first: free-form messages are inside the service window.
	if _, err := r.sim.Inject(pnid, simulator.Inbound{From: to, Text: "hola"}); err != nil {
		r.t.Fatal(err)
	}
	delete(obj, "messaging_product")
	delete(obj, "to")
	payload, _ := json.Marshal(obj)
	_, err := r.st.Enqueue(r.t.Context(), store.NewMessage{Number: number, Recipient: to,
		Lane: store.LaneConversation, Payload: payload})
	_, typed := obj["type"]
	switch {
	case typed && err != nil:
		r.t.Errorf("%s: the store refused it: %v", name, err)
	case !typed && (err == nil || !strings.Contains(err.Error(), "Payload.type")):
		r.t.Errorf("%s has no type: the store must refuse it naming Payload.type, got %v", name, err)
	}
	return err == nil
}

// waitArrivals waits until n different recipients' requests reached the simulator and
// returns the first body sent to each.
func (r *rig) waitArrivals(n int, limit time.Duration) map[string][]byte {
	r.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		got := map[string][]byte{}
		r.tap.mu.Lock()
		for _, a := range r.tap.log {
			if _, seen := got[a.to]; !seen {
				got[a.to] = a.body
			}
		}
		r.tap.mu.Unlock()
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func decodeJSON(t *testing.T, raw []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	return v
}

func mustMarshal(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
