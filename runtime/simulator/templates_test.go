package simulator_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/runtime/simulator"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

const waba = "102290129340398"

// templateEnv is a simulator whose number belongs to waba, with hello_world
// (no parameters), order_update (one body parameter), a pending template,
// `extra` more approved ones and one of another WABA.
func templateEnv(t *testing.T, extra int) *env {
	t.Helper()
	tpls := []simulator.Template{
		{Name: "hello_world", Language: "en_US", Components: []simulator.TemplateComponent{
			{Type: "HEADER", Format: "TEXT", Text: "Hello World"}, {Type: "BODY", Text: "Welcome!"}}},
		{Name: "order_update", Language: "es", Category: "UTILITY", Components: []simulator.TemplateComponent{
			{Type: "BODY", Text: "Tu pedido {{1}} está en camino. Repetimos: {{1}}."}}},
		{Name: "draft", Language: "es", Status: "PENDING", Components: []simulator.TemplateComponent{{Type: "BODY", Text: "x"}}},
		{BusinessAccountID: "999", Name: "other_waba", Language: "es"},
	}
	for i := range extra {
		tpls = append(tpls, simulator.Template{BusinessAccountID: waba, Name: fmt.Sprintf("promo_%03d", i), Language: "es"})
	}
	return newEnv(t, simulator.Config{Templates: tpls}, simulator.Number{ID: pnid, DisplayPhoneNumber: display,
		AccessToken: token, AppSecret: appSecret, BusinessAccountID: waba})
}

func TestListTemplatesFollowsPaging(t *testing.T) {
	e := templateEnv(t, 57)
	ctx := context.Background()
	all, err := e.client.ListTemplates(ctx, waba, whatsapp.ListTemplatesOptions{PageSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3+57 {
		t.Fatalf("got %d templates, want 60", len(all))
	}
	pages := 0
	for _, x := range e.tap.log {
		if x.path == "/v23.0/"+waba+"/message_templates" {
			pages++
		}
	}
	if pages != 6 {
		t.Errorf("%d requests for 60 templates in pages of 10, want 6", pages)
	}
	approved, err := e.client.ListTemplates(ctx, waba, whatsapp.ListTemplatesOptions{ApprovedOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(approved))
	for _, tp := range approved {
		names = append(names, tp.Name)
		if tp.Status != whatsapp.TemplateApproved {
			t.Errorf("%s: status %s", tp.Name, tp.Status)
		}
	}
	if len(approved) != 59 || slices.Contains(names, "draft") || slices.Contains(names, "other_waba") {
		t.Fatalf("approved: %d %v", len(approved), names)
	}
	i := slices.Index(names, "order_update")
	if got := approved[i]; got.Category != whatsapp.CategoryUtility || got.Language != "es" || got.Params("BODY") != 1 || got.ID == "" {
		t.Errorf("order_update: %+v (params %d)", got, got.Params("BODY"))
	}
	if approved[slices.Index(names, "hello_world")].Params("BODY") != 0 {
		t.Error("hello_world has parameters")
	}
}

// TestTemplateListShapeMatchesMeta compares the fields of a listed template
// with those of Meta's example response.
func TestTemplateListShapeMatchesMeta(t *testing.T) {
	ex, err := loadSpec(t).ResponseExamples("/{Version}/{WABA-ID}/message_templates", "get", "200")
	if err != nil || len(ex) == 0 {
		t.Fatalf("no example: %v", err)
	}
	var meta struct {
		Data []map[string]any `json:"data"`
	}
	for _, raw := range ex {
		_ = json.Unmarshal(raw, &meta)
	}
	e := templateEnv(t, 0)
	status, body := e.get("/v23.0/"+waba+"/message_templates?name=hello_world", token)
	var ours struct {
		Data   []map[string]any `json:"data"`
		Paging struct {
			Cursors map[string]string `json:"cursors"`
		} `json:"paging"`
	}
	if status != 200 || json.Unmarshal(body, &ours) != nil || len(ours.Data) != 1 || len(meta.Data) == 0 {
		t.Fatalf("%d %s", status, body)
	}
	want := keys(meta.Data[len(meta.Data)-1])
	if got := keys(ours.Data[0]); !slices.Equal(got, want) {
		t.Errorf("fields %v, Meta's example has %v", got, want)
	}
	if ours.Paging.Cursors["before"] == "" || ours.Paging.Cursors["after"] == "" {
		t.Errorf("paging cursors missing: %s", body)
	}
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		if k != "previous_category" {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func TestTemplateListErrors(t *testing.T) {
	e := templateEnv(t, 0)
	for path, want := range map[string]struct{ status, code int }{
		"/v23.0/" + waba + "/message_templates?limit=0":            {400, 100},
		"/v23.0/" + waba + "/message_templates?after=not-a-cursor": {400, 100},
		"/v23.0/555/message_templates":                             {400, 100},
		"/v1/" + waba + "/message_templates":                       {400, 2500},
	} {
		status, body := e.get(path, token)
		if status != want.status || errorCode(t, body) != want.code {
			t.Errorf("%s: %d %s, want %d code %d", path, status, body, want.status, want.code)
		}
	}
	if status, body := e.get("/v23.0/"+waba+"/message_templates", "wrong"); status != 401 || errorCode(t, body) != 190 {
		t.Errorf("wrong token: %d %s", status, body)
	}
}

func TestTemplateSendChecked(t *testing.T) {
	e := templateEnv(t, 0)
	body := func(n int) whatsapp.TemplateComponent {
		c := whatsapp.TemplateComponent{Type: "body"}
		for range n {
			c.Parameters = append(c.Parameters, whatsapp.TextParam("A-17"))
		}
		return c
	}
	for name, tc := range map[string]struct {
		msg    whatsapp.Message
		code   int
		status int
	}{
		"hello_world":            {whatsapp.TemplateMessage(user, "hello_world", "en_US"), 0, 200},
		"order_update one param": {whatsapp.TemplateMessage(user, "order_update", "es", body(1)), 0, 200},
		"unknown name":           {whatsapp.TemplateMessage(user, "nope", "en_US"), 132001, 404},
		"wrong language":         {whatsapp.TemplateMessage(user, "hello_world", "es"), 132001, 404},
		"not approved":           {whatsapp.TemplateMessage(user, "draft", "es", body(0)), 132001, 404},
		"other WABA's":           {whatsapp.TemplateMessage(user, "other_waba", "es"), 132001, 404},
		"order_update no param":  {whatsapp.TemplateMessage(user, "order_update", "es"), 132000, 400},
		"order_update two":       {whatsapp.TemplateMessage(user, "order_update", "es", body(2)), 132000, 400},
		"hello_world with param": {whatsapp.TemplateMessage(user, "hello_world", "en_US", body(1)), 132000, 400},
	} {
		t.Run(name, func(t *testing.T) {
			e.advance(10e9) // clear the pair rate
			_, err := e.send(tc.msg)
			if tc.code == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			we := wantClass(t, err, tc.code, whatsapp.Permanent)
			if we.HTTPStatus != tc.status || we.Details == "" {
				t.Errorf("HTTP %d details %q, want %d", we.HTTPStatus, we.Details, tc.status)
			}
		})
	}
	if c := e.sim.Counters(); c.Rejected[132001] != 4 || c.Rejected[132000] != 3 {
		t.Errorf("rejections counted: %v", c.Rejected)
	}
}

// TestNoTemplatesAcceptsAny keeps the behaviour of a WABA without templates.
func TestNoTemplatesAcceptsAny(t *testing.T) {
	e := newEnv(t, simulator.Config{}, simulator.Number{})
	if _, err := e.send(whatsapp.TemplateMessage(user, "anything", "xx")); err != nil {
		t.Fatal(err)
	}
}

// TestDevScenarioTemplates: dev mode's scenario carries hello_world without
// parameters and order_update with one body parameter, for the sample WABA.
func TestDevScenarioTemplates(t *testing.T) {
	sc, err := simulator.LoadScenario("../../config/dev/simulator.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg simulator.Config
	sc.Apply(&cfg)
	cfg.Numbers = cfg.Numbers[:1]
	cfg.Numbers[0].WebhookURL = ""
	e := newEnv(t, cfg, simulator.Number{ID: "1", DisplayPhoneNumber: "+1 555 000 0001"})
	c := e.newClient(cfg.Numbers[0].AccessToken)
	got, err := c.ListTemplates(context.Background(), cfg.Numbers[0].BusinessAccountID, whatsapp.ListTemplatesOptions{ApprovedOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	params := map[string]int{}
	for _, tp := range got {
		params[tp.Name+"/"+tp.Language] = tp.Params("BODY")
	}
	if p, ok := params["hello_world/en_US"]; !ok || p != 0 {
		t.Errorf("hello_world: %v", params)
	}
	if p, ok := params["order_update/es"]; !ok || p != 1 {
		t.Errorf("order_update: %v", params)
	}
}

// TestControlTemplates: POST /_sim/templates registers a template (a bad one is refused
// naming the field), and sends check it at once.
func TestControlTemplates(t *testing.T) {
	e := templateEnv(t, 0)
	if status, body := e.request("POST", "/_sim/templates", "", `{"name":"flash","language":"es","status":"MAYBE"}`); status != 400 ||
		!strings.Contains(string(body), `unknown status \"MAYBE\"`) {
		t.Errorf("bad status: %d %s", status, body)
	}
	if _, err := e.send(whatsapp.TemplateMessage(user, "flash", "es")); err == nil {
		t.Fatal("an unregistered template was accepted")
	}
	status, body := e.request("POST", "/_sim/templates", "", `{"businessAccountID":"`+waba+`","name":"flash","language":"es",
		"components":[{"type":"body","text":"Solo hoy: {{1}}"}]}`)
	if status != 200 || !strings.Contains(string(body), `"status":"APPROVED"`) {
		t.Fatalf("register: %d %s", status, body)
	}
	if _, err := e.send(whatsapp.TemplateMessage(user, "flash", "es", whatsapp.TemplateComponent{Type: "body",
		Parameters: []whatsapp.TemplateParameter{whatsapp.TextParam("2x1")}})); err != nil {
		t.Fatal(err)
	}
	if status, body := e.get("/_sim/templates", ""); status != 200 || strings.Count(string(body), `"name"`) != 5 {
		t.Errorf("list: %d %s", status, body)
	}
}
