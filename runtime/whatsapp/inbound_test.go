package whatsapp_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/switchboard-dev/switchboard/runtime/simulator/spectest"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp/inboundtest"
)

// semanticallyEqual compares two JSON texts as values.
func semanticallyEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("decoding %s: %v", a, err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
	return reflect.DeepEqual(va, vb)
}

// reencodeValues decodes every "messages" change and re-encodes it from the decoded
// elements (messages, statuses, contacts one by one), so that the elements' own Raw is
// what is tested, not the envelope's.
func reencodeValues(t *testing.T, n whatsapp.Notification) {
	t.Helper()
	for _, e := range n.Entry {
		for _, c := range e.Changes {
			if c.Field != whatsapp.FieldMessages {
				continue
			}
			v, err := c.DecodeMessages()
			if err != nil {
				t.Fatalf("DecodeMessages: %v", err)
			}
			var orig map[string]json.RawMessage
			_ = json.Unmarshal(c.Value, &orig)
			for key, got := range map[string]any{"messages": v.Messages, "statuses": v.Statuses, "contacts": v.Contacts} {
				if orig[key] == nil {
					continue
				}
				b, _ := json.Marshal(got)
				if !semanticallyEqual(t, orig[key], b) {
					t.Errorf("%s re-encoded as %s, want %s", key, b, orig[key])
				}
			}
		}
	}
}

func TestInboundExamplesRoundTrip(t *testing.T) {
	ex := inboundtest.Examples(t)
	if len(ex) < 30 {
		t.Fatalf("only %d examples", len(ex))
	}
	for _, name := range spectest.Names(ex) {
		t.Run(name, func(t *testing.T) {
			n, err := whatsapp.DecodeNotification(ex[name])
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if n.Object != whatsapp.WebhookObject || len(n.Entry) == 0 || len(n.Entry[0].Changes) == 0 {
				t.Fatalf("envelope not decoded: %+v", n)
			}
			b, err := json.Marshal(n)
			if err != nil || !semanticallyEqual(t, ex[name], b) {
				t.Fatalf("re-encoded (%v) as %s", err, b)
			}
			reencodeValues(t, n)
		})
	}
}

// firstMessage decodes the first message of the first change.
func firstMessage(t *testing.T, body []byte) whatsapp.Inbound {
	t.Helper()
	n, err := whatsapp.DecodeNotification(body)
	if err != nil {
		t.Fatal(err)
	}
	v, err := n.Entry[0].Changes[0].DecodeMessages()
	if err != nil || len(v.Messages) == 0 {
		t.Fatalf("no message (%v)", err)
	}
	return v.Messages[0]
}

func TestInboundTypedView(t *testing.T) {
	ex := inboundtest.Examples(t)
	checks := map[string]func(m whatsapp.Inbound) bool{
		"openapi/Image Message": func(m whatsapp.Inbound) bool { return m.Body() == "Taj Mahal" && m.Media().ID == "1003383421387256" },
		"openapi/Location Message": func(m whatsapp.Inbound) bool {
			return m.Location.Latitude == 37.44221496582 && m.Location.Name == "Philz Coffee"
		},
		"openapi/Contact Sharing Message": func(m whatsapp.Inbound) bool {
			return m.Contacts[0].Phones[0].WAID == "19835552319"
		},
		"openapi/Interactive List Reply Message": func(m whatsapp.Inbound) bool {
			return m.Interactive.ListReply.ID == "priority_express" && m.Body() == "Priority Mail Express"
		},
		"openapi/Interactive Button Reply Message": func(m whatsapp.Inbound) bool {
			return m.Context.ID != "" && m.Body() == "Cancel"
		},
		"openapi/Button Message":   func(m whatsapp.Inbound) bool { return m.Button.Payload == "Unsubscribe" },
		"openapi/Reaction Message": func(m whatsapp.Inbound) bool { return m.Reaction.Emoji == "👍" },
		"openapi/Order Message": func(m whatsapp.Inbound) bool {
			return len(m.Order.ProductItems) == 2 && m.Order.ProductItems[0].Quantity == 2
		},
		"openapi/System Message": func(m whatsapp.Inbound) bool {
			return m.System.Type == "user_changed_number" && m.System.WAID == "12195555358"
		},
		"openapi/Unsupported Message": func(m whatsapp.Inbound) bool { return m.Errors[0].Code == 131051 },
		"openapi/Text Message from Click to WhatsApp Ad": func(m whatsapp.Inbound) bool {
			return m.Referral.CTWAClid != "" && m.Body() == "Hello! Can I get more info on this?"
		},
		"openapi/Text Message with Context (Product Inquiry)": func(m whatsapp.Inbound) bool {
			return m.Context.ReferredProduct.ProductRetailerID == "di9ozbzfi4"
		},
		"interactive-nfm-reply": func(m whatsapp.Inbound) bool {
			return m.Interactive.NFMReply.ResponseJSON == `{"flow_token":"abc","size":"M"}`
		},
		"audio-voice": func(m whatsapp.Inbound) bool { return m.Audio.Voice && m.Body() == "" },
		"document":    func(m whatsapp.Inbound) bool { return m.Document.Filename == "invoice.pdf" },
		"text-forwarded-nonascii": func(m whatsapp.Inbound) bool {
			return m.Context.Forwarded && m.Body() == "¿cuánto cuesta? 价格 🙂"
		},
		"unknown-type": func(m whatsapp.Inbound) bool { return m.Type == "hologram" && m.DecodeError == "" },
	}
	for name, ok := range checks {
		if body, found := ex[name]; !found || !ok(firstMessage(t, body)) {
			t.Errorf("%s: typed view wrong (example found: %t)", name, found)
		}
	}
}

func TestInboundStatusTypedView(t *testing.T) {
	ex := inboundtest.Examples(t)
	n, _ := whatsapp.DecodeNotification(ex["status-sent-pricing"])
	v, err := n.Entry[0].Changes[0].DecodeMessages()
	if err != nil || len(v.Statuses) != 1 {
		t.Fatalf("statuses: %v %+v", err, v)
	}
	s := v.Statuses[0]
	if s.Status != "sent" || s.Pricing.Category != "marketing" || s.Conversation.Origin.Type != "marketing" || s.BizOpaqueCallbackData != "campaign-7" {
		t.Fatalf("status view: %+v", s)
	}
	n, _ = whatsapp.DecodeNotification(ex["status-failed-131050"])
	v, _ = n.Entry[0].Changes[0].DecodeMessages()
	if e := v.Statuses[0].FirstError(); e.Code != 131050 || e.ErrorData == nil {
		t.Fatalf("failed status error: %+v", e)
	}
}

// A message whose known field has an unexpected JSON type keeps its raw JSON, names the
// problem, and does not fail its batch.
func TestInboundOddFieldKeepsRaw(t *testing.T) {
	body := []byte(`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"1"},
		"messages":[{"id":"wamid.A","from":"34600000000","type":"text","text":{"body":7}},{"id":"wamid.B","from":"34600000000","type":"text","text":{"body":"ok"}}],
		"statuses":[{"id":"wamid.C","status":"read","timestamp":1750263775}]}}]}]}`)
	n, err := whatsapp.DecodeNotification(body)
	if err != nil {
		t.Fatal(err)
	}
	v, err := n.Entry[0].Changes[0].DecodeMessages()
	if err != nil {
		t.Fatal(err)
	}
	a, b, s := v.Messages[0], v.Messages[1], v.Statuses[0]
	if a.DecodeError == "" || a.ID != "wamid.A" || a.Type != "text" || !semanticallyEqual(t, a.Raw, []byte(`{"id":"wamid.A","from":"34600000000","type":"text","text":{"body":7}}`)) {
		t.Errorf("odd message: %+v", a)
	}
	if b.DecodeError != "" || b.Body() != "ok" {
		t.Errorf("good message beside it: %+v", b)
	}
	if s.DecodeError == "" || s.ID != "wamid.C" || s.Status != "read" {
		t.Errorf("odd status: %+v", s)
	}
}

func TestInboundBuiltInCodeEncodesTypedFields(t *testing.T) {
	m := whatsapp.Inbound{ID: "wamid.X", From: "1", Timestamp: "2", Type: "text", Text: &whatsapp.Text{Body: "hi"}}
	b, err := json.Marshal(whatsapp.InboundValue{Messages: []whatsapp.Inbound{m}})
	if err != nil || !semanticallyEqual(t, b, []byte(`{"messaging_product":"","metadata":{"display_phone_number":"","phone_number_id":""},
		"messages":[{"id":"wamid.X","from":"1","timestamp":"2","type":"text","text":{"body":"hi"}}]}`)) {
		t.Fatalf("encoded %s (%v)", b, err)
	}
}

func TestDecodeNotificationRefusesNonObjects(t *testing.T) {
	for _, body := range []string{``, `[]`, `"x"`, `{"entry":{}}`, `{"entry":[1]}`, `{`} {
		if _, err := whatsapp.DecodeNotification([]byte(body)); err == nil {
			t.Errorf("%q decoded", body)
		}
	}
}

func TestDecodeNotificationOddEntryAndChange(t *testing.T) {
	n, err := whatsapp.DecodeNotification([]byte(`{"object":"whatsapp_business_account","entry":[{"id":1,"changes":[]},{"id":"2","changes":[true]},{"id":"3","changes":[{"field":5,"value":{}}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if n.Entry[0].DecodeError == "" || n.Entry[1].DecodeError == "" || n.Entry[2].DecodeError != "" || n.Entry[2].Changes[0].DecodeError == "" {
		t.Fatalf("decode errors not reported: %+v", n.Entry)
	}
}

// FuzzDecodeNotification: the decoder never panics, and whatever it accepts re-encodes to
// the same JSON value. Seeded with every example; `make fuzz-short` runs it for a while,
// `make test` runs the seeds.
func FuzzDecodeNotification(f *testing.F) {
	for _, body := range inboundtest.Examples(f) {
		f.Add(body)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		n, err := whatsapp.DecodeNotification(body)
		if err != nil {
			return
		}
		b, err := json.Marshal(n)
		if err != nil || !semanticallyEqual(t, body, b) {
			t.Fatalf("accepted %q but re-encoded (%v) as %q", body, err, b)
		}
		for _, e := range n.Entry {
			for _, c := range e.Changes {
				v, err := c.DecodeMessages()
				if err == nil {
					_ = v.Messages
					for _, m := range v.Messages {
						_ = m.Body()
						_ = m.Media()
					}
				}
			}
		}
	})
}
