package spectest_test

import (
	"testing"

	"github.com/switchboard-dev/switchboard/runtime/simulator/spectest"
)

// The path is relative to this package's directory (one level deeper).

func load(t *testing.T) *spectest.Spec {
	t.Helper()
	s, err := spectest.LoadMeta()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Examples in Meta's description that its own schemas (even repaired)
// reject, with the reason. Each must keep failing, so the list stays true.
var badSendExamples = map[string]string{
	"Send Catalog Template Message":          `button sub_type "CATALOG" is not in the lower-case enum`,
	"Send Flow Template Message":             `button sub_type "flow" is not in the enum`,
	"Send Location Message":                  "latitude/longitude are numbers; the schema says strings",
	"Send Reply to Location Message":         "latitude/longitude are numbers; the schema says strings",
	"Send Multi-Product Message":             "header.type is the placeholder <HEADER_TYPE>",
	"Send Order Details Message":             "interactive type order_details is missing from the enum",
	"Send Order Status Message":              "interactive type order_status is missing from the enum",
	"Send Reply to List Message":             "no type",
	"Send Text Message with Preview URL":     "no type",
	"Send typing indicator and read receipt": "a read receipt; validated as ReadReceiptRequest instead",
}

var badWebhookExamples = map[string]string{
	"Contact Sharing Message":   "the inbound contact schema is the outbound one",
	"Location Message":          "latitude/longitude are numbers; the schema says strings",
	"System Message":            "system messages reuse the outbound base (to, recipient_type)",
	"Unsupported Message":       "the error object lacks the required `type`",
	"Group Create Message":      "group timestamp is a string; the schema says integer",
	"Group Remove Participants": "group timestamp is a string; the schema says integer",
	"Group Settings Update":     "group timestamp is a string; the schema says integer",
}

func checkExamples(t *testing.T, s *spectest.Spec, path, schema string, bad map[string]string) {
	t.Helper()
	examples, err := s.RequestExamples(path, "post")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range spectest.Names(examples) {
		err := s.Validate(schema, examples[name])
		reason, known := bad[name]
		switch {
		case known && err == nil:
			t.Errorf("%s now validates (%s): remove it from the known-bad list", name, reason)
		case !known && err != nil:
			t.Errorf("%s: %v", name, err)
		}
	}
	for name := range bad {
		if _, ok := examples[name]; !ok {
			t.Errorf("known-bad example %q no longer exists", name)
		}
	}
}

func TestSendExamplesValidate(t *testing.T) {
	checkExamples(t, load(t), "/{Version}/{Phone-Number-ID}/messages", "Message", badSendExamples)
}

func TestWebhookExamplesValidate(t *testing.T) {
	checkExamples(t, load(t), "/whatsapp/webhooks", "WebhookPayload", badWebhookExamples)
}

func TestReadReceiptExample(t *testing.T) {
	s := load(t)
	examples, _ := s.RequestExamples("/{Version}/{Phone-Number-ID}/messages", "post")
	if err := s.Validate("ReadReceiptRequest", examples["Send typing indicator and read receipt"]); err != nil {
		t.Fatal(err)
	}
}

// TestValidatorRejects makes sure repairs did not make the schemas toothless.
func TestValidatorRejects(t *testing.T) {
	s := load(t)
	cases := []struct{ schema, body string }{
		{"Message", `{"messaging_product":"whatsapp","to":"1","type":"text","text":{"bdy":"x"}}`},
		{"Message", `{"messaging_product":"whatsapp","to":"1","type":"text","text":{"body":"x"},"colour":"red"}`},
		{"Message", `{"messaging_product":"whatsapp","type":"text","text":{"body":"x"}}`},
		{"Message", `{"messaging_product":"whatsapp","to":"1","type":"image","image":{}}`},
		{"Message", `{"messaging_product":"whatsapp","to":"1","type":"interactive","interactive":{"type":"button","body":{"text":"b"},"action":{"buttons":[]}}}`},
		{"WebhookPayload", `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"1","phone_number_id":"2"},"contacts":[{"profile":{"name":"n"},"wa_id":"3"}],"messages":[{"id":"w","timestamp":"1","type":"text","text":{"body":"x"}}]}}]}]}`},
		{"WebhookPayload", `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"phone_number_quality_update","value":{"display_phone_number":"1","event":"SOMETHING"}}]}]}`},
		{"ReadReceiptRequest", `{"messaging_product":"whatsapp","status":"delivered","message_id":"w"}`},
		{"GraphAPIError", `{"error":{"message":"m","type":"OAuthException"}}`},
	}
	for i, tc := range cases {
		if err := s.Validate(tc.schema, []byte(tc.body)); err == nil {
			t.Errorf("case %d: %s accepted %s", i, tc.schema, tc.body)
		}
	}
	if err := s.Validate("NoSuchSchema", []byte(`{}`)); err == nil {
		t.Error("unknown schema accepted")
	}
}

func TestMissingSpecFails(t *testing.T) {
	if _, err := spectest.Load("testdata/does-not-exist.yaml"); err == nil {
		t.Fatal("a missing description must be an error")
	}
}
