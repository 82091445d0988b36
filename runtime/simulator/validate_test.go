package simulator_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/runtime/simulator"
)

// send builds a send body of type typ whose type object is obj (JSON).
func send(typ, obj string) string {
	return fmt.Sprintf(`{"messaging_product":"whatsapp","to":%q,"type":%q,%q:%s}`, user, typ, typ, obj)
}

// templateText is a template whose one body parameter is text (a JSON value).
func templateText(param string) string {
	return send("template", `{"name":"order_update","language":{"code":"es"},"components":[{"type":"body","parameters":[`+param+`]}]}`)
}

func interactive(obj string) string { return send("interactive", obj) }

// rule is a request Meta refuses, the code it answers and a piece of its
// message or details.
type rule struct {
	name, body string
	code       int
	says       string
}

var typeRules = []rule{
	{"location without longitude", send("location", `{"latitude":1}`), 100, "The parameter location['longitude'] is required."},
	{"location without its object", `{"messaging_product":"whatsapp","to":"16505551234","type":"location"}`, 100, "The parameter location is required."},
	{"latitude out of range", send("location", `{"latitude":91,"longitude":2}`), 100, "location['latitude'] must be a number between -90 and 90"},
	{"latitude not a number", send("location", `{"latitude":"north","longitude":2}`), 100, "location['latitude'] must be a number"},
	{"contacts without its array", `{"messaging_product":"whatsapp","to":"16505551234","type":"contacts"}`, 100, "The parameter contacts is required."},
	{"contacts empty", send("contacts", `[]`), 100, "contacts must be an array of at least 1 element(s)"},
	{"contact without formatted_name", send("contacts", `[{"name":{"first_name":"Ana"}}]`), 100, "The parameter contacts[0]['name']['formatted_name'] is required."},
	{"contact name with formatted_name only", send("contacts", `[{"name":{"formatted_name":"Ana"}}]`), 100, "contacts[0]['name'] needs one of first_name"},
	{"contact email without address", send("contacts", `[{"name":{"formatted_name":"Ana","first_name":"Ana"},"emails":[{"type":"WORK"}]}]`), 100, "contacts[0]['emails'][0]['email'] is required"},
	{"cta_url with an empty action", interactive(`{"type":"cta_url","body":{"text":"b"},"action":{}}`), 100, "The parameter interactive['action']['parameters']['display_text'] is required."},
	{"cta_url without url", interactive(`{"type":"cta_url","body":{"text":"b"},"action":{"name":"cta_url","parameters":{"display_text":"Go"}}}`), 100, "interactive['action']['parameters']['url'] is required"},
	{"cta_url with a relative url", interactive(`{"type":"cta_url","body":{"text":"b"},"action":{"name":"cta_url","parameters":{"display_text":"Go","url":"/x"}}}`), 100, "must be an http or https URL"},
	{"cta_url display_text too long", interactive(`{"type":"cta_url","body":{"text":"b"},"action":{"name":"cta_url","parameters":{"display_text":"` + strings.Repeat("x", 21) + `","url":"https://x.example"}}}`), 100, "display_text'] must be at most 20 characters"},
	{"interactive without body", interactive(`{"type":"button","action":{"buttons":[{"type":"reply","reply":{"id":"1","title":"a"}}]}}`), 100, "The parameter interactive['body'] is required."},
	{"button title too long", interactive(`{"type":"button","body":{"text":"b"},"action":{"buttons":[{"type":"reply","reply":{"id":"1","title":"` + strings.Repeat("x", 21) + `"}}]}}`), 100, "must be at most 20 characters"},
	{"button ids repeated", interactive(`{"type":"button","body":{"text":"b"},"action":{"buttons":[{"type":"reply","reply":{"id":"1","title":"a"}},{"type":"reply","reply":{"id":"1","title":"b"}}]}}`), 100, "must be unique"},
	{"no buttons", interactive(`{"type":"button","body":{"text":"b"},"action":{"buttons":[]}}`), 100, "buttons'] must be an array of 1 to 3"},
	{"list with 11 rows", interactive(`{"type":"list","body":{"text":"b"},"action":{"button":"Pick","sections":[{"rows":[` + rows(11) + `]}]}}`), 100, "1 to 10 rows"},
	{"list sections without titles", interactive(`{"type":"list","body":{"text":"b"},"action":{"button":"Pick","sections":[{"rows":[` + rows(1) + `]},{"rows":[{"id":"x","title":"y"}]}]}}`), 100, "sections'][0]['title'] is required"},
	{"list row title too long", interactive(`{"type":"list","body":{"text":"b"},"action":{"button":"Pick","sections":[{"rows":[{"id":"r","title":"` + strings.Repeat("x", 25) + `"}]}]}}`), 100, "must be at most 24 characters"},
	{"flow with id and name", interactive(`{"type":"flow","body":{"text":"b"},"action":{"name":"flow","parameters":{"flow_message_version":"3","flow_cta":"Go","flow_id":"1","flow_name":"n"}}}`), 100, "exactly one of 'flow_id' or 'flow_name'"},
	{"product without retailer id", interactive(`{"type":"product","action":{"catalog_id":"1"}}`), 100, "product_retailer_id'] is required"},
	{"product_list without header", interactive(`{"type":"product_list","body":{"text":"b"},"action":{"catalog_id":"1","sections":[{"title":"t","product_items":[{"product_retailer_id":"p"}]}]}}`), 100, "interactive['header'] is required"},
	{"location request with another action", interactive(`{"type":"location_request_message","body":{"text":"b"},"action":{"name":"send"}}`), 100, `interactive['action']['name'] must be "send_location"`},
	{"image with id and link", send("image", `{"id":"1","link":"https://x.example/a.jpg"}`), 100, "exactly one of 'id' or 'link'"},
	{"image with neither", send("image", `{"caption":"c"}`), 100, "exactly one of 'id' or 'link'"},
	{"text body too long", send("text", `{"body":"`+strings.Repeat("x", 4097)+`"}`), 100, "at most 4096 characters"},
	{"preview_url not a boolean", send("text", `{"body":"x","preview_url":"yes"}`), 100, "text['preview_url'] must be a boolean"},
	{"no type and no text", `{"messaging_product":"whatsapp","to":"16505551234","location":{"latitude":1,"longitude":2}}`, 100, "The parameter text is required."},
	{"template text parameter without text", templateText(`{"type":"text"}`), 100, "Parameter 'text' is mandatory for component parameter type 'text'"},
	{"template named parameter without name", templateText(`{"type":"text","parameter_name":"","text":"Ana"}`), 100, "Parameter name is missing or empty"},
	{"template currency without fallback", templateText(`{"type":"currency","currency":{"code":"EUR","amount_1000":1}}`), 100, "fallback_value'] is required"},
}

// templateParamRules are Meta's 132018: "Param text cannot have new-line/tab
// characters or more than 4 consecutive spaces".
var templateParamRules = []rule{
	{"newline", templateText(`{"type":"text","text":"line one\nline two"}`), 132018, "cannot have new-line/tab characters"},
	{"carriage return", templateText(`{"type":"text","text":"a\r\nb"}`), 132018, "cannot have new-line/tab characters"},
	{"tab", templateText(`{"type":"text","text":"a\tb"}`), 132018, "cannot have new-line/tab characters"},
	{"five spaces", templateText(`{"type":"text","text":"a     b"}`), 132018, "more than 4 consecutive spaces"},
	{"in a header", send("template", `{"name":"t","language":{"code":"es"},"components":[{"type":"header","parameters":[{"type":"text","text":"a\nb"}]}]}`), 132018, "There was an issue with the parameters in your template."},
}

// recipientRules are the `to` values Meta refuses with 100 "Parameter Invalid".
var recipientRules = []rule{
	{"00 international prefix", toBody("0033612345678"), 100, "Parameter Invalid"},
	{"00 prefix with spaces", toBody("00 34 611 111 111"), 100, "Parameter Invalid"},
	{"letters", toBody("3461111111a"), 100, "Parameter Invalid"},
	{"dots", toBody("34.611.111.111"), 100, "Parameter Invalid"},
	{"too few digits", toBody("3461111"), 100, "Parameter Invalid"},
	{"too many digits", toBody("+34 611 111 111 111"), 100, "Parameter Invalid"},
	{"unknown country code", toBody("999123456789"), 100, "Parameter Invalid"},
	{"empty", toBody(" "), 100, "The parameter to is required."},
}

func toBody(to string) string {
	return fmt.Sprintf(`{"messaging_product":"whatsapp","to":%q,"type":"template","template":{"name":"hello_world","language":{"code":"en_US"}}}`, to)
}

func rows(n int) string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf(`{"id":"r%d","title":"Row %d"}`, i, i)
	}
	return strings.Join(out, ",")
}

// TestMetaRefuses posts each request Meta refuses and expects its code and
// wording, and that nothing of it is kept or sent on.
func TestMetaRefuses(t *testing.T) {
	e := newEnv(t, simulator.Config{}, simulator.Number{})
	e.inject(user)
	for _, group := range [][]rule{typeRules, templateParamRules, recipientRules} {
		for _, r := range group {
			t.Run(r.name, func(t *testing.T) { e.wantRefused(r) })
		}
	}
	if sent, _ := e.sim.Sent(pnid, 0); len(sent) != 0 {
		t.Fatalf("refused messages were kept: %d", len(sent))
	}
}

func (e *env) wantRefused(r rule) {
	e.t.Helper()
	status, resp := e.postRaw("/v23.0/"+pnid+"/messages", token, r.body)
	var env struct {
		Error struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
			Data    struct {
				Details string `json:"details"`
			} `json:"error_data"`
		} `json:"error"`
	}
	_ = json.Unmarshal(resp, &env)
	said := env.Error.Message + " " + env.Error.Data.Details
	if status != http.StatusBadRequest || env.Error.Code != r.code || !strings.Contains(said, r.says) {
		e.t.Errorf("%s: got %d %s; want %d saying %q", r.name, status, resp, r.code, r.says)
	}
	if !strings.HasPrefix(env.Error.Message, fmt.Sprintf("(#%d) ", r.code)) {
		e.t.Errorf("%s: message %q is not Meta's (#code) form", r.name, env.Error.Message)
	}
}

// TestMetaAccepts posts requests at the edge of the rules above and
// expects them accepted, kept byte for byte, with the wa_id Meta answers.
func TestMetaAccepts(t *testing.T) {
	cases := []struct{ name, body, waID string }{
		{"four spaces in a template parameter", templateText(`{"type":"text","text":"a    b"}`), user},
		{"a named parameter", templateText(`{"type":"text","parameter_name":"customer_name","text":"Ana"}`), user},
		{"a button's boolean text parameter", send("template", `{"name":"t","language":{"code":"en"},"components":[{"type":"button","sub_type":"quick_reply","index":0,"parameters":[{"type":"text","text":true}]}]}`), user},
		{"location with string coordinates", send("location", `{"latitude":"-33.86","longitude":"151.2"}`), user},
		{"cta_url", interactive(`{"type":"cta_url","body":{"text":"b"},"action":{"name":"cta_url","parameters":{"display_text":"See dates","url":"https://x.example/d"}}}`), user},
		{"text without type", `{"messaging_product":"whatsapp","to":"16505551234","text":{"body":"x"}}`, user},
		{"+, spaces, dashes and parentheses", toBody("+1 (650) 555-1234"), user},
		{"a Mexican wa_id as Meta sends it", toBody("5215512345678"), "5215512345678"},
	}
	e := newEnv(t, simulator.Config{}, simulator.Number{})
	e.inject(user)
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, resp := e.postRaw("/v23.0/"+pnid+"/messages", token, tc.body)
			if status != http.StatusOK || !strings.Contains(string(resp), `"wa_id":"`+tc.waID+`"`) {
				t.Fatalf("got %d %s", status, resp)
			}
			sent, _ := e.sim.Sent(pnid, 1)
			if len(sent) != 1 || string(sent[0].Body) != tc.body || sent[0].WAID != tc.waID {
				t.Fatalf("message %d not kept as received: %+v", i, sent)
			}
		})
	}
}
