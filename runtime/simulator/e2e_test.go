package simulator_test

import (
	"time"

	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/runtime/simulator"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

func media(t *testing.T, typ string, m whatsapp.Media) whatsapp.Message {
	t.Helper()
	msg, err := whatsapp.MediaMessage(user, typ, m)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// allMessageTypes is one message of every type the client builds.
func allMessageTypes(t *testing.T, replyTo string) map[string]whatsapp.Message {
	return map[string]whatsapp.Message{
		"text": whatsapp.TextMessage(user, "Hola, ¿en qué podemos ayudarte?"),
		"template": whatsapp.TemplateMessage(user, "order_update", "es",
			whatsapp.TemplateComponent{Type: "body", Parameters: []whatsapp.TemplateParameter{
				whatsapp.TextParam("Ana"),
				{Type: "currency", Currency: &whatsapp.Currency{FallbackValue: "€10,99", Code: "EUR", Amount1000: 10990}}}},
			whatsapp.TemplateComponent{Type: "button", SubType: "quick_reply", Index: "0",
				Parameters: []whatsapp.TemplateParameter{{Type: "payload", Payload: "STOP"}}}),
		"image by link":  media(t, "image", whatsapp.Media{Link: "https://example.com/a.jpg", Caption: "foto"}),
		"document by id": media(t, "document", whatsapp.Media{ID: "1013859600285441", Filename: "factura.pdf"}),
		"audio by link":  media(t, "audio", whatsapp.Media{Link: "https://example.com/a.ogg"}),
		"video by id":    media(t, "video", whatsapp.Media{ID: "1166846181421424"}),
		"sticker by id":  media(t, "sticker", whatsapp.Media{ID: "798882015472548"}),
		"buttons": whatsapp.ButtonsMessage(user, "¿Confirmas la cita?",
			whatsapp.ReplyButton("yes", "Sí"), whatsapp.ReplyButton("no", "No")),
		"list": whatsapp.ListMessage(user, "Elige un envío", "Opciones",
			whatsapp.Section{Title: "Envío", Rows: []whatsapp.Row{
				{ID: "express", Title: "Urgente", Description: "24 h"}, {ID: "normal", Title: "Normal"}}}),
		"reaction": whatsapp.ReactionMessage(user, replyTo, "\U0001F44D"),
	}
}

// TestSendEveryMessageType sends each type from the client through the
// simulator and validates both directions against Meta's OpenAPI schemas.
func TestSendEveryMessageType(t *testing.T) {
	e := newEnv(t, simulator.Config{}, simulator.Number{})
	inboundID := e.inject(user)
	for name, msg := range allMessageTypes(t, inboundID) {
		t.Run(name, func(t *testing.T) {
			res, err := e.send(msg)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(res.WAMID(), "wamid.") || len(res.Contacts) != 1 ||
				res.Contacts[0].WAID != user || res.Contacts[0].Input != user {
				t.Fatalf("unexpected result %+v", res)
			}
			x := e.tap.last(t)
			if err := loadSpec(t).Validate("Message", x.req); err != nil {
				t.Errorf("client body fails the spec: %v\n%s", err, x.req)
			}
			if err := loadSpec(t).Validate("MessageResponsePayload", x.resp); err != nil {
				t.Errorf("simulator response fails the spec: %v", err)
			}
			if err := loadSpec(t).Validate("MessageResponse", x.resp); err != nil {
				t.Errorf("simulator response fails MessageResponse: %v", err)
			}
		})
	}
	if err := e.client.MarkRead(context.Background(), pnid, inboundID, true); err != nil {
		t.Fatal(err)
	}
	x := e.tap.last(t)
	if err := loadSpec(t).Validate("ReadReceiptRequest", x.req); err != nil {
		t.Error(err)
	}
	if err := loadSpec(t).Validate("SuccessResponse", x.resp); err != nil {
		t.Error(err)
	}
	if c := e.sim.Counters(); c.Accepted != 10 || c.ReadReceipts != 1 || c.Inbound != 1 {
		t.Fatalf("counters %+v", c)
	}
}

// TestValidationErrors sends malformed bodies and expects Meta's code 100.
func TestValidationErrors(t *testing.T) {
	e := newEnv(t, simulator.Config{}, simulator.Number{})
	e.inject(user)
	cases := map[string]string{
		"not json":                  `{`,
		"missing messaging_product": `{"to":"16505551234","type":"text","text":{"body":"x"}}`,
		"wrong messaging_product":   `{"messaging_product":"sms","to":"16505551234","type":"text","text":{"body":"x"}}`,
		"missing to":                `{"messaging_product":"whatsapp","type":"text","text":{"body":"x"}}`,
		"missing type, no text":     `{"messaging_product":"whatsapp","to":"16505551234","image":{"id":"1"}}`,
		"unknown type":              `{"messaging_product":"whatsapp","to":"16505551234","type":"fax","fax":{}}`,
		"missing type object":       `{"messaging_product":"whatsapp","to":"16505551234","type":"text"}`,
		"empty text body":           `{"messaging_product":"whatsapp","to":"16505551234","type":"text","text":{"body":""}}`,
		"media without id or link":  `{"messaging_product":"whatsapp","to":"16505551234","type":"image","image":{}}`,
		"media with id and link":    `{"messaging_product":"whatsapp","to":"16505551234","type":"image","image":{"id":"1","link":"https://x/y"}}`,
		"template without language": `{"messaging_product":"whatsapp","to":"16505551234","type":"template","template":{"name":"x"}}`,
		"four buttons": `{"messaging_product":"whatsapp","to":"16505551234","type":"interactive","interactive":{"type":"button","body":{"text":"b"},"action":{"buttons":[` +
			`{"type":"reply","reply":{"id":"1","title":"a"}},{"type":"reply","reply":{"id":"2","title":"b"}},{"type":"reply","reply":{"id":"3","title":"c"}},{"type":"reply","reply":{"id":"4","title":"d"}}]}}}`,
		"list without sections":   `{"messaging_product":"whatsapp","to":"16505551234","type":"interactive","interactive":{"type":"list","body":{"text":"b"},"action":{"button":"x","sections":[]}}}`,
		"interactive unknown":     `{"messaging_product":"whatsapp","to":"16505551234","type":"interactive","interactive":{"type":"carousel","action":{}}}`,
		"reaction without msg id": `{"messaging_product":"whatsapp","to":"16505551234","type":"reaction","reaction":{"emoji":"x"}}`,
		"read without message_id": `{"messaging_product":"whatsapp","status":"read"}`,
		"bad recipient_type":      `{"messaging_product":"whatsapp","recipient_type":"broadcast","to":"16505551234","type":"text","text":{"body":"x"}}`,
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			status, resp := e.postRaw("/v23.0/"+pnid+"/messages", token, body)
			if status != http.StatusBadRequest || errorCode(t, resp) != 100 {
				t.Fatalf("status %d body %s", status, resp)
			}
			if err := loadSpec(t).Validate("GraphAPIError", resp); err != nil {
				t.Fatal(err)
			}
		})
	}
	if got := e.sim.Counters().Rejected[100]; got != int64(len(cases)) {
		t.Fatalf("rejected[100] = %d, want %d", got, len(cases))
	}
}

func errorCode(t *testing.T, body []byte) int {
	t.Helper()
	var env struct {
		Error struct {
			Code int `json:"code"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatalf("not an error envelope: %s", body)
	}
	return env.Error.Code
}

func TestAuthAndUnknownNumber(t *testing.T) {
	e := newEnv(t, simulator.Config{}, simulator.Number{})
	_, err := e.newClient("wrong-token").Send(context.Background(), pnid, whatsapp.TemplateMessage(user, "hello_world", "en_US"))
	if we := wantClass(t, err, 190, whatsapp.Permanent); we.HTTPStatus != 401 {
		t.Fatalf("190 should come with 401, got %d", we.HTTPStatus)
	}
	if strings.Contains(err.Error(), "wrong-token") {
		t.Fatal("token in error text")
	}
	status, body := e.postRaw("/v23.0/"+pnid+"/messages", "", `{}`)
	if status != 401 || errorCode(t, body) != 104 {
		t.Fatalf("missing token: %d %s", status, body)
	}
	_, err = e.client.Send(context.Background(), "999", whatsapp.TemplateMessage(user, "hello_world", "en_US"))
	if we := wantClass(t, err, 100, whatsapp.Permanent); we.Subcode != 33 || we.Type != "GraphMethodException" {
		t.Fatalf("unknown object: %+v", we)
	}
	status, body = e.get("/v23.0/"+pnid+"/messages", token)
	if status != 400 || errorCode(t, body) != 2500 {
		t.Fatalf("GET on the messages edge: %d %s", status, body)
	}
	status, body = e.postRaw("/23/"+pnid+"/messages", token, `{}`)
	if status != 400 || errorCode(t, body) != 2500 {
		t.Fatalf("bad version: %d %s", status, body)
	}
	if err := loadSpec(t).Validate("GraphAPIError", body); err != nil {
		t.Fatal(err)
	}
}

func TestGetPhoneNumberFields(t *testing.T) {
	e := newEnv(t, simulator.Config{}, simulator.Number{ID: pnid, DisplayPhoneNumber: display,
		AccessToken: token, AppSecret: appSecret, Tier: "TIER_2K", Quality: "YELLOW", Throughput: "HIGH",
		VerifiedName: "Lucky Shrub"})
	p, err := e.client.GetPhoneNumber(context.Background(), pnid)
	if err != nil {
		t.Fatal(err)
	}
	want := whatsapp.PhoneNumber{ID: pnid, DisplayPhoneNumber: display, VerifiedName: "Lucky Shrub",
		QualityRating: "YELLOW", Throughput: whatsapp.Throughput{Level: "HIGH"}, MessagingLimit: "TIER_2K",
		Status: "CONNECTED", NameStatus: "APPROVED"}
	if p != want {
		t.Fatalf("got  %+v\nwant %+v", p, want)
	}
	if err := loadSpec(t).Validate("PhoneNumberInfo", e.tap.last(t).resp); err != nil {
		t.Fatal(err)
	}
	status, body := e.get("/v23.0/"+pnid+"?fields=quality_rating,throughput{level}", token)
	var got map[string]any
	_ = json.Unmarshal(body, &got)
	if status != 200 || len(got) != 3 || got["id"] != pnid || got["quality_rating"] != "YELLOW" {
		t.Fatalf("only requested fields plus id: %d %s", status, body)
	}
	_, body = e.get("/v23.0/"+pnid, token)
	got = map[string]any{}
	_ = json.Unmarshal(body, &got)
	if len(got) != 4 || got["verified_name"] != "Lucky Shrub" {
		t.Fatalf("default fields: %s", body)
	}
	_, body = e.get("/v23.0/"+pnid+"?fields=country_code,country_dial_code", token)
	if string(body) != `{"country_code":"US","country_dial_code":"1","id":"`+pnid+`"}`+"\n" {
		t.Fatalf("country fields of %s: %s", display, body)
	}
	status, body = e.get("/v23.0/"+pnid+"?fields=nonsense", token)
	if status != 400 || errorCode(t, body) != 100 {
		t.Fatalf("unknown field: %d %s", status, body)
	}
	status, body = e.get("/v23.0/123?fields=status", token)
	if status != 400 || errorCode(t, body) != 100 || !strings.Contains(string(body), "Unsupported get request") {
		t.Fatalf("unknown number: %d %s", status, body)
	}
}

// TestGraphReadRateLimit: past GraphReadsPerHour, GET answers Meta's WABA rate-limit
// error 80007, which the client classes as retry-later; tokens come back over the hour.
func TestGraphReadRateLimit(t *testing.T) {
	e := newEnv(t, simulator.Config{}, simulator.Number{ID: pnid, DisplayPhoneNumber: display,
		AccessToken: token, AppSecret: appSecret, GraphReadsPerHour: 2})
	for i := range 2 {
		if _, err := e.client.GetPhoneNumber(t.Context(), pnid); err != nil {
			t.Fatalf("read %d within the limit: %v", i, err)
		}
	}
	_, err := e.client.GetPhoneNumber(t.Context(), pnid)
	if werr, ok := whatsapp.AsError(err); !ok || werr.Code != 80007 || werr.Class != whatsapp.RetryLater {
		t.Fatalf("third read: want 80007 RetryLater, got %v", err)
	}
	if err := loadSpec(t).Validate("GraphAPIError", e.tap.last(t).resp); err != nil {
		t.Fatal(err)
	}
	e.advance(30 * time.Minute) // one token back (2 per hour)
	if _, err := e.client.GetPhoneNumber(t.Context(), pnid); err != nil {
		t.Fatalf("after 30 minutes: %v", err)
	}
	c := e.sim.Counters().Numbers[pnid]
	if c.GraphReads != 4 || c.Rejected[80007] != 1 {
		t.Fatalf("counters: reads %d, 80007 %d", c.GraphReads, c.Rejected[80007])
	}
}
