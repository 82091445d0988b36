package outbound_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/outbound"
)

// TestTexts: each kind of Meta message gives the texts a customer reads, and nothing
// else (ids, links, codes, payloads).
func TestTexts(t *testing.T) {
	cases := map[string]struct {
		payload string
		want    []string // "field=value"
	}{
		"text": {`{"type":"text","text":{"body":"hola","preview_url":true}}`, []string{"text.body=hola"}},
		"image": {`{"type":"image","image":{"link":"https://x/contraseña.png","caption":"foto"}}`,
			[]string{"image.caption=foto"}},
		"document": {`{"type":"document","document":{"id":"1","caption":"c","filename":"f.pdf"}}`,
			[]string{"document.caption=c", "document.filename=f.pdf"}},
		"video and location": {`{"type":"video","video":{"caption":"v"},"location":{"latitude":1,"name":"n","address":"a"}}`,
			[]string{"video.caption=v", "location.name=n", "location.address=a"}},
		"contacts": {`{"type":"contacts","contacts":[{"name":{"formatted_name":"Ana"},"phones":[{"phone":"+34 600"}]}]}`,
			[]string{"contacts[0].name.formatted_name=Ana", "contacts[0].phones[0].phone=+34 600"}},
		"reaction": {`{"type":"reaction","reaction":{"message_id":"wamid.X","emoji":"👍"}}`, []string{"reaction.emoji=👍"}},
		"buttons": {`{"type":"interactive","interactive":{"type":"button","header":{"type":"text","text":"h"},
			"body":{"text":"b"},"footer":{"text":"f"},"action":{"buttons":[{"type":"reply","reply":{"id":"id1","title":"t1"}},
			{"type":"reply","reply":{"id":"id2","title":"t2"}}]}}}`,
			[]string{"interactive.header.text=h", "interactive.body.text=b", "interactive.footer.text=f",
				"interactive.action.buttons[0].reply.title=t1", "interactive.action.buttons[1].reply.title=t2"}},
		"list": {`{"type":"interactive","interactive":{"type":"list","body":{"text":"b"},"action":{"button":"ver",
			"sections":[{"title":"s","rows":[{"id":"r","title":"rt","description":"rd"}]}]}}}`,
			[]string{"interactive.body.text=b", "interactive.action.button=ver", "interactive.action.sections[0].title=s",
				"interactive.action.sections[0].rows[0].title=rt", "interactive.action.sections[0].rows[0].description=rd"}},
		"cta url": {`{"type":"interactive","interactive":{"type":"cta_url","action":{"name":"cta_url",
			"parameters":{"display_text":"abrir","url":"https://x"}}}}`, []string{"interactive.action.parameters.display_text=abrir"}},
		"template": {`{"type":"template","template":{"name":"garantizado","language":{"code":"es"},"components":[
			{"type":"header","parameters":[{"type":"text","text":"h1"}]},
			{"type":"body","parameters":[{"type":"text","text":"p1"},
				{"type":"currency","currency":{"amount_1000":100990,"code":"USD","fallback_value":"$100.99"}},
				{"type":"date_time","date_time":{"fallback_value":"February 25, 1977"}}]},
			{"type":"button","sub_type":"quick_reply","index":"0","parameters":[{"type":"payload","payload":"secret"}]},
			{"type":"button","sub_type":"url","index":"1","parameters":[{"type":"text","text":"suffix"}]},
			{"type":"button","sub_type":"copy_code","index":"2","parameters":[{"type":"coupon_code","coupon_code":"GARANTIA25"}]}]}}`,
			[]string{"template.components[0].parameters[0].text=h1", "template.components[1].parameters[0].text=p1",
				"template.components[3].parameters[0].text=suffix", "template.components[4].parameters[0].coupon_code=GARANTIA25",
				"template.components[1].parameters[1].currency.fallback_value=$100.99",
				"template.components[1].parameters[2].date_time.fallback_value=February 25, 1977"}},
		"carousel": {`{"type":"template","template":{"name":"c","components":[{"type":"carousel","cards":[
			{"card_index":0,"components":[{"type":"body","parameters":[{"type":"text","text":"card"}]}]}]}]}}`,
			[]string{"template.components[0].cards[0].components[0].parameters[0].text=card"}},
		"wrong shapes": {`{"type":"text","text":{"body":5},"interactive":{"action":{"buttons":"x"}}}`, nil},
		"not json":     {`nope`, nil},
	}
	for name, c := range cases {
		var got []string
		for _, tx := range outbound.Texts(json.RawMessage(c.payload)) {
			got = append(got, tx.Field+"="+tx.Value)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: Texts = %q, want %q", name, got, c.want)
		}
	}
}

func outboundRule(name string, prio int32, when sbv1.When, reason string, any ...string) sbv1.KeywordRule {
	return sbv1.KeywordRule{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "acme"},
		Spec: sbv1.KeywordRuleSpec{Direction: sbv1.Outbound, Priority: prio, When: when,
			NumberSelector: metav1.LabelSelector{MatchLabels: map[string]string{"market": "es"}},
			Match:          sbv1.KeywordMatch{Any: any, Mode: sbv1.MatchWord},
			Actions:        sbv1.KeywordActions{Block: &sbv1.BlockAction{Reason: reason}}}}
}

// TestCheck: the first rule in priority order wins across texts; rules of other
// Numbers and inbound rules are ignored; BusinessHours rules apply only when open.
func TestCheck(t *testing.T) {
	num := &sbv1.Number{ObjectMeta: metav1.ObjectMeta{Name: "sales-es", Namespace: "acme", Labels: map[string]string{"market": "es"}}}
	other := outboundRule("other-market", 10000, sbv1.Always, "", "hola")
	other.Spec.NumberSelector.MatchLabels["market"] = "mx"
	inbound := outboundRule("inbound", 10000, sbv1.Always, "", "hola")
	inbound.Spec.Direction, inbound.Spec.Actions = sbv1.Inbound, sbv1.KeywordActions{Tag: []string{"x"}}
	rules := []sbv1.KeywordRule{
		outboundRule("low", 1, sbv1.Always, "", "hola"),
		outboundRule("high", 100, sbv1.Always, "No prometas resultados.", "garantizado"),
		outboundRule("office", 200, sbv1.DuringBusinessHours, "", "hola"),
		other, inbound,
	}
	policy := &sbv1.RoutingPolicy{ObjectMeta: metav1.ObjectMeta{Name: "es"}, Spec: sbv1.RoutingPolicySpec{
		BusinessHours: &sbv1.BusinessHours{TimeZone: "Europe/Madrid", Weekly: []sbv1.WeeklyWindow{
			{Days: []sbv1.Weekday{"Mon", "Tue", "Wed", "Thu", "Fri"}, From: "09:00", To: "18:00"}}}}}
	r, errs := outbound.Compile(num, rules, policy)
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	payload := json.RawMessage(`{"type":"interactive","interactive":{"body":{"text":"¡Hola!"},"footer":{"text":"Éxito GARANTIZADO"}}}`)
	sunday := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	b := r.Check(payload, sunday)
	want := `blocked by KeywordRule acme/high: "garantizado" in interactive.footer.text: No prometas resultados.`
	if b == nil || b.Error() != want {
		t.Fatalf("Check on Sunday = %v, want %s", b, want)
	}
	monday := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	if b := r.Check(payload, monday); b == nil || b.Rule != "office" || b.Field != "interactive.body.text" {
		t.Fatalf("Check inside business hours = %+v, want the BusinessHours rule office on the body", b)
	}
	if b := r.Check(json.RawMessage(`{"type":"text","text":{"body":"precio"}}`), monday); b != nil {
		t.Errorf("a message without keywords was blocked: %v", b)
	}
	var none *outbound.Rules
	if b := none.Check(payload, monday); b != nil {
		t.Errorf("nil Rules blocked: %v", b)
	}
}

// TestCompileReportsBadObjects: a rule that does not compile and bad business hours are
// reported; the other rules still block.
func TestCompileReportsBadObjects(t *testing.T) {
	num := &sbv1.Number{ObjectMeta: metav1.ObjectMeta{Name: "sales-es", Namespace: "acme", Labels: map[string]string{"market": "es"}}}
	bad := outboundRule("bad", 5, sbv1.Always, "", "cvv(")
	bad.Spec.Match.Mode = sbv1.MatchRegex
	policy := &sbv1.RoutingPolicy{ObjectMeta: metav1.ObjectMeta{Name: "es"},
		Spec: sbv1.RoutingPolicySpec{BusinessHours: &sbv1.BusinessHours{TimeZone: "Mars/Olympus"}}}
	r, errs := outbound.Compile(num, []sbv1.KeywordRule{bad, outboundRule("good", 1, sbv1.DuringBusinessHours, "", "pin")}, policy)
	if len(errs) != 2 || !strings.Contains(errs[0].Error(), "cvv(") || !strings.Contains(errs[1].Error(), "RoutingPolicy es") {
		t.Fatalf("errors = %v, want the bad regex and the bad time zone", errs)
	}
	if b := r.Check(json.RawMessage(`{"type":"text","text":{"body":"tu PIN"}}`), time.Now()); b == nil || b.Rule != "good" {
		t.Fatalf("Check = %v, want the good rule (always open without valid hours)", b)
	}
}
