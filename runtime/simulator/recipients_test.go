package simulator_test

import (
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/runtime/simulator"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// pairRateErrors sends 46 templates to one user, spelling the recipient in
// turn as each of spellings, with the clock stopped, and counts 131056.
func pairRateErrors(t *testing.T, spellings ...string) int {
	e := newEnv(t, simulator.Config{}, simulator.Number{})
	refused := 0
	for i := 0; i < 46; i++ {
		_, err := e.send(template(spellings[i%len(spellings)]))
		if err != nil {
			_ = wantClass(t, err, 131056, whatsapp.RetryRecipientLater)
			refused++
		}
	}
	if c := e.sim.Counters().Numbers[pnid]; c.UniqueRecipients24h != 1 {
		t.Errorf("%v counted as %d recipients", spellings, c.UniqueRecipients24h)
	}
	return refused
}

// TestOneUserWhateverTheSpelling: the pair rate and the unique-recipient
// budget key on the number Meta reads, not on how `to` was written.
func TestOneUserWhateverTheSpelling(t *testing.T) {
	one := pairRateErrors(t, "34611111111")
	split := pairRateErrors(t, "+34 611-111-111", "34611111111", "+34 (611) 111 111")
	if one != 1 || split != one {
		t.Fatalf("131056: %d with one spelling, %d with several; want 1 and 1", one, split)
	}
}

// TestResolvedWAID: Meta answers the wa_id it resolved, which may differ from
// the number sent to; statuses carry it, the pair rate and the window key on it.
func TestResolvedWAID(t *testing.T) {
	cases := []struct {
		name string
		rc   simulator.RecipientConfig
		to   string
		waID string
	}{
		{"Mexico 521", simulator.RecipientConfig{Rules: []string{simulator.RuleMexico521}}, "+52 55 1234 5678", "5215512345678"},
		{"Brazil adds the ninth digit", simulator.RecipientConfig{Rules: []string{simulator.RuleBrazilAdd9}}, "+55 11 8765-4321", "5511987654321"},
		{"Brazil drops the ninth digit", simulator.RecipientConfig{Rules: []string{simulator.RuleBrazilDrop9}}, "5511987654321", "551187654321"},
		{"a Brazilian landline keeps its digits", simulator.RecipientConfig{Rules: []string{simulator.RuleBrazilAdd9}}, "551133334444", "551133334444"},
		{"an explicit wa_id wins over the rules", simulator.RecipientConfig{Rules: []string{simulator.RuleMexico521},
			WAIDs: map[string]string{"525512345678": "525512345678"}}, "525512345678", "525512345678"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, simulator.Config{Recipients: tc.rc,
				Statuses: simulator.StatusConfig{DeliveredAfter: -1, ReadAfter: -1}}, simulator.Number{})
			res, err := e.send(template(tc.to))
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Contacts) != 1 || res.Contacts[0].WAID != tc.waID || res.Contacts[0].Input != tc.to {
				t.Fatalf("contacts %+v, want input %s wa_id %s", res.Contacts, tc.to, tc.waID)
			}
			e.wantStatusFor(tc.waID)
			e.inject(tc.waID) // the user writes in under the wa_id: the window is theirs whatever the spelling
			if _, err := e.send(whatsapp.TextMessage(tc.to, "reply")); err != nil {
				t.Fatalf("free-form reply to %s inside %s's window: %v", tc.to, tc.waID, err)
			}
		})
	}
}

func (e *env) wantStatusFor(waID string) {
	e.t.Helper()
	e.sink.reset()
	e.advance(time.Second)
	bodies, _ := e.sink.received()
	vals := decodeValues(e.t, bodies)
	if len(vals) == 0 || len(vals[0].Statuses) != 1 || vals[0].Statuses[0].RecipientID != waID {
		e.t.Fatalf("status webhook %s, want recipient_id %s", bodies, waID)
	}
}

// TestRecipientConfigRefused: a bad scenario is refused with the field named.
func TestRecipientConfigRefused(t *testing.T) {
	for want, rc := range map[string]simulator.RecipientConfig{
		"unknown rule":       {Rules: []string{"FR"}},
		"exclude each other": {Rules: []string{simulator.RuleBrazilAdd9, simulator.RuleBrazilDrop9}},
		"must be digits":     {WAIDs: map[string]string{"+34611111111": "34611111111"}},
		"7 to 15 of them":    {NotOnWhatsApp: []string{"3461"}},
	} {
		_, err := simulator.New(simulator.Config{Recipients: rc})
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "recipients.") {
			t.Errorf("%+v: got %v, want an error saying %q", rc, err, want)
		}
	}
	sc, err := simulator.ParseScenario([]byte("recipients:\n  rules: [MX521]\n  waIds: {\"5511987654321\": \"551187654321\"}\n  notOnWhatsApp: [\"34699999999\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg simulator.Config
	sc.Apply(&cfg)
	if cfg.Recipients.Rules[0] != "MX521" || cfg.Recipients.WAIDs["5511987654321"] != "551187654321" || cfg.Recipients.NotOnWhatsApp[0] != "34699999999" {
		t.Fatalf("scenario recipients not applied: %+v", cfg.Recipients)
	}
}

// TestInboundFromResolves: a user writing in carries the wa_id Meta resolves,
// and a reply to the number as the business knows it lands in that window.
func TestInboundFromResolves(t *testing.T) {
	e := newEnv(t, simulator.Config{Recipients: simulator.RecipientConfig{Rules: []string{simulator.RuleMexico521}}}, simulator.Number{})
	if _, err := e.sim.Inject(pnid, simulator.Inbound{From: "525512345678", Text: "hola"}); err != nil {
		t.Fatal(err)
	}
	e.idle()
	bodies, _ := e.sink.received()
	vals := decodeValues(t, bodies)
	if len(vals) != 1 || vals[0].Messages[0].From != "5215512345678" || vals[0].Contacts[0].WAID != "5215512345678" {
		t.Fatalf("inbound webhook %s, want from 5215512345678", bodies)
	}
	if _, err := e.send(whatsapp.TextMessage("+52 55 1234 5678", "reply")); err != nil {
		t.Fatalf("reply inside the window: %v", err)
	}
}
