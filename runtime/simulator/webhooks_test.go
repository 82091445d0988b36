package simulator_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/runtime/simulator"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// decodeStatuses returns the statuses carried by webhook bodies, in order.
func decodeValues(t *testing.T, bodies [][]byte) []whatsapp.MessagesValue {
	t.Helper()
	var out []whatsapp.MessagesValue
	for _, b := range bodies {
		var p whatsapp.WebhookPayload
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatal(err)
		}
		if p.Object != "whatsapp_business_account" || len(p.Entry) != 1 || len(p.Entry[0].Changes) != 1 {
			t.Fatalf("envelope: %s", b)
		}
		ch := p.Entry[0].Changes[0]
		if ch.Field != "messages" {
			continue
		}
		var v whatsapp.MessagesValue
		if err := ch.Decode(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

func TestStatusWebhooksSignedAndValid(t *testing.T) {
	e := newEnv(t, simulator.Config{}, simulator.Number{})
	e.inject(user)
	e.idle()
	res, err := e.send(whatsapp.TextMessage(user, "hola"))
	if err != nil {
		t.Fatal(err)
	}
	e.advance(3 * time.Second)
	bodies, sigs := e.sink.received()
	if len(bodies) != 4 {
		t.Fatalf("want inbound + sent + delivered + read, got %d webhooks", len(bodies))
	}
	for i, b := range bodies {
		if !whatsapp.VerifySignature(appSecret, b, sigs[i]) {
			t.Fatalf("webhook %d: signature does not verify with the app secret", i)
		}
		if whatsapp.VerifySignature("not-the-secret", b, sigs[i]) {
			t.Fatalf("webhook %d: signature verifies with a wrong secret", i)
		}
		if err := loadSpec(t).Validate("WebhookPayload", b); err != nil {
			t.Fatalf("webhook %d fails the spec: %v\n%s", i, err, b)
		}
	}
	var statuses []whatsapp.Status
	for _, v := range decodeValues(t, bodies) {
		if v.Metadata.PhoneNumberID != pnid || v.Metadata.DisplayPhoneNumber != "15550783881" {
			t.Fatalf("metadata %+v", v.Metadata)
		}
		statuses = append(statuses, v.Statuses...)
	}
	got := map[string]whatsapp.Status{}
	for _, s := range statuses {
		if s.ID != res.WAMID() || s.RecipientID != user {
			t.Fatalf("status for the wrong message: %+v", s)
		}
		got[s.Status] = s
	}
	sent, delivered, read := got["sent"], got["delivered"], got["read"]
	if sent.Pricing == nil || sent.Pricing.PricingModel != "PMP" || sent.Pricing.Category != "service" ||
		sent.Pricing.Billable || sent.Conversation == nil || sent.Conversation.ExpirationTimestamp == "" {
		t.Fatalf("sent: %+v", sent)
	}
	if delivered.Pricing == nil || delivered.Conversation == nil || read.Status != "read" || read.Pricing != nil {
		t.Fatalf("delivered %+v read %+v", delivered, read)
	}
}

func TestTemplateStatusIsBillable(t *testing.T) {
	e := newEnv(t, simulator.Config{Statuses: simulator.StatusConfig{DeliveredAfter: -1, ReadAfter: -1}}, simulator.Number{})
	if _, err := e.send(template(user)); err != nil {
		t.Fatal(err)
	}
	e.advance(time.Second)
	bodies, _ := e.sink.received()
	vals := decodeValues(t, bodies)
	if len(vals) != 1 || vals[0].Statuses[0].Status != "sent" {
		t.Fatalf("want only sent: %s", bodies)
	}
	p := vals[0].Statuses[0].Pricing
	if !p.Billable || p.Category != "marketing" || p.Type != "regular" {
		t.Fatalf("pricing %+v", p)
	}
}

func TestFailedStatus(t *testing.T) {
	const nonUser = "34699999999"
	e := newEnv(t, simulator.Config{Recipients: simulator.RecipientConfig{NotOnWhatsApp: []string{nonUser}}}, simulator.Number{})
	if _, err := e.send(template("+" + nonUser)); err != nil { // a possible number, but no WhatsApp user
		t.Fatal(err)
	}
	e.advance(time.Second)
	bodies, _ := e.sink.received()
	vals := decodeValues(t, bodies)
	if len(vals) != 1 {
		t.Fatalf("want one failed status, got %s", bodies)
	}
	s := vals[0].Statuses[0]
	if s.Status != "failed" || len(s.Errors) != 1 || s.Errors[0].Code != 131026 || s.Pricing != nil {
		t.Fatalf("failed status %+v", s)
	}
	if err := loadSpec(t).Validate("WebhookPayload", bodies[0]); err != nil {
		t.Fatal(err)
	}
}

func TestConversationOmittedFromV24(t *testing.T) {
	e := newEnv(t, simulator.Config{Statuses: simulator.StatusConfig{DeliveredAfter: -1, ReadAfter: -1}}, simulator.Number{})
	status, body := e.postRaw("/v24.0/"+pnid+"/messages", token,
		`{"messaging_product":"whatsapp","to":"16505551234","type":"template","template":{"name":"hello_world","language":{"code":"en_US"}}}`)
	if status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	e.advance(time.Second)
	bodies, _ := e.sink.received()
	s := decodeValues(t, bodies)[0].Statuses[0]
	if s.Conversation != nil || s.Pricing == nil {
		t.Fatalf("v24 status %+v", s)
	}
}

// TestWebhookRetries: non-200 answers are retried with back-off until the
// attempts run out.
func TestWebhookRetries(t *testing.T) {
	cfg := simulator.Config{Webhooks: simulator.WebhookConfig{MaxAttempts: 4, BaseDelay: time.Second}}
	e := newEnv(t, cfg, simulator.Number{})
	e.sink.failFirst = 2
	e.inject(user)
	e.idle()
	if bodies, _ := e.sink.received(); len(bodies) != 0 {
		t.Fatal("first attempt should have failed")
	}
	e.advance(time.Second) // first retry after BaseDelay: fails again
	if c := e.sim.Counters().Webhooks; c.Retried != 2 || c.Delivered != 0 {
		t.Fatalf("after first retry: %+v", c)
	}
	e.advance(time.Second) // second retry is due at 2 s after the first retry, not yet
	if bodies, _ := e.sink.received(); len(bodies) != 0 {
		t.Fatal("retry came before its back-off")
	}
	e.advance(time.Second)
	if bodies, _ := e.sink.received(); len(bodies) != 1 {
		t.Fatal("third attempt should have been delivered")
	}
	if c := e.sim.Counters().Webhooks; c.Retried != 2 || c.Delivered != 1 || c.Failed != 0 {
		t.Fatalf("counters %+v", c)
	}
	e.sink.reset()
	e.sink.failFirst = 100
	e.inject(user)
	e.idle()
	for i := 0; i < 3; i++ {
		e.advance(time.Duration(1<<i) * time.Second)
	}
	if c := e.sim.Counters().Webhooks; c.Failed != 1 || c.Retried != 5 {
		t.Fatalf("after exhausting attempts: %+v", c)
	}
}

func TestDuplicateDelivery(t *testing.T) {
	cfg := simulator.Config{Webhooks: simulator.WebhookConfig{DuplicateProbability: 1}}
	e := newEnv(t, cfg, simulator.Number{})
	e.inject(user)
	e.idle()
	bodies, _ := e.sink.received()
	if len(bodies) != 2 || string(bodies[0]) != string(bodies[1]) {
		t.Fatalf("want the same webhook twice, got %d", len(bodies))
	}
	if c := e.sim.Counters().Webhooks; c.Duplicated != 1 || c.Delivered != 2 {
		t.Fatalf("counters %+v", c)
	}
}

func TestQualityAndAccountWebhooks(t *testing.T) {
	e := newEnv(t, simulator.Config{}, simulator.Number{})
	events := []simulator.Event{
		{Number: pnid, Quality: &simulator.QualityChange{Rating: "RED"}},
		{Number: pnid, Quality: &simulator.QualityChange{Rating: "GREEN"}},
		{Number: pnid, Quality: &simulator.QualityChange{Tier: "TIER_2K"}},
		{Number: pnid, Quality: &simulator.QualityChange{Throughput: "HIGH", Tier: "TIER_UNLIMITED", Event: "THROUGHPUT_UPGRADE"}},
		{Number: pnid, Restrict: &simulator.Restriction{Restricted: true, Status: "FLAGGED"}},
	}
	for _, ev := range events {
		if err := e.sim.Schedule(ev); err != nil {
			t.Fatal(err)
		}
	}
	e.idle()
	bodies, sigs := e.sink.received()
	want := []string{`"event":"FLAGGED"`, `"event":"UNFLAGGED"`, `"event":"UPGRADE"`, `"event":"THROUGHPUT_UPGRADE"`, `"event":"ACCOUNT_RESTRICTION"`}
	if len(bodies) != len(want) {
		t.Fatalf("want %d webhooks, got %d", len(want), len(bodies))
	}
	for i, b := range bodies {
		if !whatsapp.VerifySignature(appSecret, b, sigs[i]) {
			t.Fatal("bad signature")
		}
		if err := loadSpec(t).Validate("WebhookPayload", b); err != nil {
			t.Fatalf("%v\n%s", err, b)
		}
		found := false
		for _, w := range want {
			found = found || containsAll(string(b), w)
		}
		if !found {
			t.Fatalf("unexpected webhook %s", b)
		}
	}
	p, err := e.client.GetPhoneNumber(t.Context(), pnid)
	if err != nil {
		t.Fatal(err)
	}
	if p.Throughput.Level != "HIGH" || p.MessagingLimit != "TIER_UNLIMITED" || p.Status != "FLAGGED" || p.QualityRating != "GREEN" {
		t.Fatalf("GET after changes: %+v", p)
	}
}

// TestBatchedWebhooks: with a batch window, a URL's updates share one signed POST, one
// entry each, up to Meta's 1,000; receivers must read every entry and change.
func TestBatchedWebhooks(t *testing.T) {
	e := newEnv(t, simulator.Config{Webhooks: simulator.WebhookConfig{BatchWindow: 500 * time.Millisecond}}, simulator.Number{})
	e.inject(user)
	e.inject("34600000002")
	if _, err := e.send(whatsapp.TextMessage(user, "hola")); err != nil {
		t.Fatal(err)
	}
	e.idle()
	if bodies, _ := e.sink.received(); len(bodies) != 0 {
		t.Fatalf("%d webhooks before the batch window ended", len(bodies))
	}
	e.advance(500 * time.Millisecond) // the window ends: inbound × 2 and "sent" (100 ms)
	bodies, sigs := e.sink.received()
	if len(bodies) != 1 {
		t.Fatalf("want one batched webhook, got %d", len(bodies))
	}
	if !whatsapp.VerifySignature(appSecret, bodies[0], sigs[0]) {
		t.Fatal("the batched webhook's signature does not verify")
	}
	if err := loadSpec(t).Validate("WebhookPayload", bodies[0]); err != nil {
		t.Fatalf("the batched webhook fails the spec: %v\n%s", err, bodies[0])
	}
	var p whatsapp.WebhookPayload
	if err := json.Unmarshal(bodies[0], &p); err != nil {
		t.Fatal(err)
	}
	var inbound, statuses int
	for _, entry := range p.Entry {
		for _, ch := range entry.Changes {
			var v whatsapp.MessagesValue
			if err := ch.Decode(&v); err != nil {
				t.Fatal(err)
			}
			inbound += len(v.Messages)
			statuses += len(v.Statuses)
		}
	}
	if len(p.Entry) != 3 || inbound != 2 || statuses != 1 {
		t.Errorf("batch of %d entries with %d inbound and %d statuses; want 3: 2 inbound, 1 sent", len(p.Entry), inbound, statuses)
	}

	// More than 1,000 updates in one window: the first 1,000 go at once, the rest when
	// the window ends.
	e.sink.reset()
	for i := range 1200 {
		if _, err := e.sim.Inject(pnid, simulator.Inbound{From: fmt.Sprintf("3460%07d", i), Text: "hola"}); err != nil {
			t.Fatal(err)
		}
	}
	e.idle()
	sizes := func() []int {
		bodies, _ := e.sink.received()
		var out []int
		for _, b := range bodies {
			var p whatsapp.WebhookPayload
			if err := json.Unmarshal(b, &p); err != nil {
				t.Fatal(err)
			}
			out = append(out, len(p.Entry))
		}
		return out
	}
	if got := sizes(); !slices.Equal(got, []int{1000}) {
		t.Errorf("before the window ends: batches of %v entries, want [1000]", got)
	}
	e.advance(time.Second)
	// The window ends at 1 s, with the first message's "delivered" status (due at 1 s).
	if got := sizes(); !slices.Equal(got, []int{1000, 201}) {
		t.Errorf("after the window: batches of %v entries, want [1000 201]: 1000, then 200 and a status", got)
	}
	if c := e.sim.Counters().Webhooks; c.Updates <= c.Enqueued {
		t.Errorf("counters: %d updates in %d webhooks; batching should put several in one", c.Updates, c.Enqueued)
	}
}

// TestSignedAsMetaSigns: a customer's non-ASCII message arrives escaped as
// Meta escapes it, signed over those bytes: a receiver that hashes the raw
// body verifies, one that hashes Go's re-encoding of the decoded body does not.
func TestSignedAsMetaSigns(t *testing.T) {
	e := newEnv(t, simulator.Config{}, simulator.Number{})
	const text = "¿Cuánto cuesta? 😀 <b>50%</b> @ana"
	if _, err := e.sim.Inject(pnid, simulator.Inbound{From: user, Name: "José", Text: text}); err != nil {
		t.Fatal(err)
	}
	e.idle()
	bodies, sigs := e.sink.received()
	if len(bodies) != 1 {
		t.Fatalf("want one webhook, got %d", len(bodies))
	}
	raw := bodies[0]
	for _, want := range []string{`\u00bfCu\u00e1nto`, `\ud83d\ude00`, `\u003Cb>`, `\u003C\/b>`, `50\u0025`, `\u0040ana`, `Jos\u00e9`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("body lacks %s: %s", want, raw)
		}
	}
	if !whatsapp.VerifySignature(appSecret, raw, sigs[0]) {
		t.Fatal("a receiver hashing the raw bytes rejects the signature")
	}
	var decoded any
	if err := json.Unmarshal(raw, &decoded); err != nil {
		t.Fatal(err)
	}
	reencoded, _ := json.Marshal(decoded)
	if whatsapp.VerifySignature(appSecret, reencoded, sigs[0]) {
		t.Fatal("a receiver hashing re-encoded JSON verifies: the body is not escaped as Meta's")
	}
	var v whatsapp.MessagesValue
	if err := decodeFirstChange(raw, &v); err != nil || v.Messages[0].Text.Body != text || v.Contacts[0].Profile.Name != "José" {
		t.Fatalf("decoded %+v (%v)", v, err)
	}
}

func decodeFirstChange(raw []byte, v any) error {
	var p whatsapp.WebhookPayload
	if err := json.Unmarshal(raw, &p); err != nil {
		return err
	}
	return p.Entry[0].Changes[0].Decode(v)
}
