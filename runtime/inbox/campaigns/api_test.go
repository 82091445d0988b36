package campaigns_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox/authz"
	"github.com/switchboard-dev/switchboard/runtime/inbox/campaigns"
	"github.com/switchboard-dev/switchboard/runtime/inbox/conversation"
	"github.com/switchboard-dev/switchboard/runtime/inbox/openapi/openapitest"
	"github.com/switchboard-dev/switchboard/runtime/inbox/problem"
	"github.com/switchboard-dev/switchboard/runtime/simulator"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// api serves the campaigns API with bearer tokens naming predefined roles, and the
// Number's templates read from the simulator with the real client.
func (e *env) api() *httptest.Server {
	roles := authz.Predefined()
	auth := authz.AuthenticatorFunc(func(r *http.Request) (*authz.Principal, error) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			return nil, nil
		}
		role, subject, _ := strings.Cut(tok, ":")
		if roles[role] == nil {
			return nil, errors.New("unknown token")
		}
		return authz.NewPrincipal(ns, "main", authz.KindAgent, subject, role, roles[role]), nil
	})
	templates := func(ctx context.Context, num string) ([]whatsapp.MessageTemplate, error) {
		if num != number.Name {
			return nil, campaigns.ErrUnknownNumber
		}
		return e.client().ListTemplates(ctx, waba, whatsapp.ListTemplatesOptions{ApprovedOnly: true})
	}
	mux := http.NewServeMux()
	(&campaigns.API{Store: e.st, Namespace: ns, Auth: auth, Templates: templates}).Register(mux)
	srv := httptest.NewServer(mux)
	e.t.Cleanup(srv.Close)
	return srv
}

func call(t *testing.T, srv *httptest.Server, tok, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := openapitest.Client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	if resp.StatusCode >= 400 && resp.Header.Get("Content-Type") != problem.ContentType {
		t.Errorf("%s %s: error with Content-Type %q", method, path, resp.Header.Get("Content-Type"))
	}
	return resp.StatusCode, out
}

const listBody = `{"name":"vip-list","number":"sales-es","template":"promo","language":"es",
	"parameters":[{"attribute":"first_name","default":"cliente"},{"value":"VIP10"}],
	"target":{"recipients":[{"phone":"+34 600 00 00 01"},{"phone":"34600000001"},{"phone":"+34 (600) 000-002"},
	  {"phone":"34600000003","parameters":["Eva","EVA5"]},{"phone":"34600000150"}]}}`

// TestAPI: create (recipients deduplicated by the canonical number), read with
// progress, the state machine with its conflicts, permissions and field errors.
func TestAPI(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	e.seedContacts()
	srv := e.api()

	status, c := call(t, srv, "admin:ana", "POST", "/api/v1/campaigns", listBody)
	if status != 201 || c["state"] != "draft" || c["createdBy"] != "agent:ana" {
		t.Fatalf("create: %d %v", status, c)
	}
	prog := c["progress"].(map[string]any)
	if prog["total"] != 4.0 || prog["pending"] != 4.0 {
		t.Fatalf("5 entries, one number written twice: want 4 recipients, got %v", prog)
	}
	id := "/api/v1/campaigns/" + jsonInt(c["id"])

	for _, tc := range []struct {
		tok, method, path, body string
		status                  int
		field                   string
	}{
		{"", "GET", id, "", 401, ""},
		{"agent:bo", "GET", id, "", 403, ""},
		{"auditor:al", "POST", id + "/start", "", 403, ""},
		{"admin:ana", "GET", "/api/v1/campaigns/999", "", 404, ""},
		{"admin:ana", "GET", "/api/v1/campaigns/x", "", 400, "id"},
		{"admin:ana", "POST", id + "/resume", "", 409, ""},
		{"admin:ana", "POST", id + "/explode", "", 404, "action"},
		{"admin:ana", "POST", "/api/v1/campaigns", listBody, 409, "name"},
		{"admin:ana", "POST", "/api/v1/campaigns", `{"name":"x"`, 400, "body"},
		{"admin:ana", "POST", "/api/v1/campaigns", strings.Replace(listBody, `"vip-list"`, `"Bad Name"`, 1), 422, "name"},
		{"admin:ana", "POST", "/api/v1/campaigns", strings.Replace(strings.Replace(listBody, `"vip-list"`, `"b"`, 1), `"+34 600 00 00 01"`, `"0034 600"`, 1), 422, "target.recipients[0].phone"},
		{"admin:ana", "POST", "/api/v1/campaigns", strings.Replace(strings.Replace(listBody, `"vip-list"`, `"c"`, 1), `"promo"`, `"promo_x"`, 1), 422, "template"},
		{"admin:ana", "POST", "/api/v1/campaigns", strings.Replace(strings.Replace(listBody, `"vip-list"`, `"d"`, 1), `"sales-es"`, `"sales-xx"`, 1), 422, "number"},
		{"admin:ana", "POST", "/api/v1/campaigns", `{"name":"e","number":"sales-es","template":"promo","language":"es","parameters":[{"value":"x"}],"target":{"tags":{"allOf":["es"]}}}`, 422, "parameters"},
		{"admin:ana", "POST", "/api/v1/campaigns", `{"name":"f","number":"sales-es","template":"promo","language":"es","parameters":[{"value":"a"},{"value":"b"}],"target":{"segment":"vip"}}`, 422, "target.segment"},
		{"admin:ana", "POST", "/api/v1/campaigns", `{"name":"g","number":"sales-es","template":"promo","language":"es","target":{}}`, 422, "target"},
	} {
		status, body := call(t, srv, tc.tok, tc.method, tc.path, tc.body)
		if status != tc.status || (tc.field != "" && body["field"] != tc.field) {
			t.Errorf("%s %s as %q: %d %v, want %d field %q", tc.method, tc.path, tc.tok, status, body, tc.status, tc.field)
		}
	}
	if n := e.count(`SELECT count(*) FROM campaigns`); n != 1 {
		t.Errorf("refused requests left %d campaigns", n)
	}

	// supervisor starts, pauses; start again is a conflict; cancel ends it.
	for _, step := range []struct{ action, state string }{{"start", "running"}, {"pause", "paused"}, {"start", ""}, {"cancel", "cancelled"}, {"pause", ""}} {
		status, body := call(t, srv, "supervisor:sam", "POST", id+"/"+step.action, "")
		switch {
		case step.state == "" && status != 409:
			t.Errorf("%s: %d %v, want 409", step.action, status, body)
		case step.state != "" && (status != 200 || body["state"] != step.state):
			t.Errorf("%s: %d %v, want %s", step.action, status, body, step.state)
		}
	}
	status, got := call(t, srv, "auditor:al", "GET", id, "")
	if status != 200 || got["startedBy"] != "agent:sam" || got["progress"].(map[string]any)["cancelled"] != 4.0 {
		t.Errorf("after cancel: %d %v", status, got)
	}
	status, list := call(t, srv, "auditor:al", "GET", "/api/v1/campaigns?limit=10", "")
	if items, _ := list["items"].([]any); status != 200 || len(items) != 1 {
		t.Errorf("list: %d %v", status, list)
	}
	e.wantAudit(1, []string{"agent:ana campaign.created", "agent:sam campaign.start", "agent:sam campaign.pause", "agent:sam campaign.cancel"})
}

func jsonInt(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestListParametersAndSkips: per-recipient parameters win, contact attributes fill the
// others (with a default), a contact without the attribute and without a default is
// skipped, and so is a parameter Meta would refuse (132018).
func TestListParametersAndSkips(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	e.exec(`INSERT INTO contacts (namespace, wa_id, attributes) VALUES
		($1, '34611000001', '{"first_name":"Ana","code":"A1"}'),
		($1, '34611000002', '{"code":"B2"}'),
		($1, '34611000003', '{"first_name":"Tab\there","code":"C3"}')`, ns)
	var c campaigns.Campaign
	e.tx(func(tx pgx.Tx) (err error) {
		c, err = campaigns.Create(t.Context(), tx, ns, "cli:ops", campaigns.Spec{Name: "params", Number: number.Name,
			Template: "promo", Language: "es",
			Parameters: []campaigns.Param{{Attribute: "first_name"}, {Attribute: "code"}},
			Target: campaigns.Target{Recipients: []campaigns.Recipient{{Phone: "+34 611 000 001"}, {Phone: "34611000002"},
				{Phone: "34611000003"}, {Phone: "34611000004", Parameters: []string{"Zoe", "Z4"}}, {Phone: "34611000005"}}}}, nil)
		return err
	})
	e.transition(c.ID, "start", "cli:ops")
	r := &campaigns.Runner{Store: e.st, Namespace: ns}
	if err := r.Tick(t.Context()); err != nil {
		t.Fatal(err)
	}
	p := e.progress(c.ID)
	if p.Queued != 2 || p.SkippedByReason["missing_parameter:first_name"] != 2 || p.SkippedByReason[campaigns.ReasonBadParameter] != 1 {
		t.Fatalf("progress %+v", p)
	}
	var payloads []string
	e.tx(func(tx pgx.Tx) error {
		rows, _ := tx.Query(t.Context(), `SELECT payload::text FROM outbox WHERE campaign_id = $1 ORDER BY recipient`, c.ID)
		var err error
		payloads, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if len(payloads) != 2 || !strings.Contains(payloads[0], `"Ana"`) || !strings.Contains(payloads[0], `"A1"`) ||
		!strings.Contains(payloads[1], `"Zoe"`) || !strings.Contains(payloads[1], `"Z4"`) {
		t.Fatalf("payloads %v", payloads)
	}
}

// TestTwoRunnersOneCampaign: two runners (two inbox replicas) on the same campaign
// enqueue each recipient once and never exceed the window.
func TestTwoRunnersOneCampaign(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	e.seedContacts()
	var c campaigns.Campaign
	e.tx(func(tx pgx.Tx) (err error) {
		c, err = campaigns.Create(t.Context(), tx, ns, "cli:ops", campaigns.Spec{Name: "twice", Number: number.Name,
			Template: "hello_world", Language: "en_US", Window: 700,
			Target: campaigns.Target{Tags: &campaigns.TagFilter{AnyOf: []string{"high-value"}, NoneOf: []string{"vip"}}}}, nil)
		return err
	})
	e.transition(c.ID, "start", "cli:ops")
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 2 {
		wg.Go(func() {
			r := &campaigns.Runner{Store: e.st, Namespace: ns, MaxPerBatch: 100}
			for range 10 {
				if err := r.Tick(context.Background()); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// A tick that found the campaign held by the other runner did nothing: a few more
	// (bounded) fill the window whatever the interleaving was.
	r := &campaigns.Runner{Store: e.st, Namespace: ns, MaxPerBatch: 100}
	for i := 0; i < 20 && e.count(`SELECT count(*) FROM outbox WHERE campaign_id = $1`, c.ID) < 700; i++ {
		if err := r.Tick(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.count(`SELECT count(*) FROM outbox WHERE campaign_id = $1`, c.ID); n != 700 {
		t.Errorf("%d rows in the outbox, want the window's 700", n)
	}
	if n := e.count(`SELECT count(*) FROM (SELECT recipient FROM outbox WHERE campaign_id = $1 GROUP BY recipient HAVING count(*) > 1) d`, c.ID); n != 0 {
		t.Errorf("%d recipients enqueued twice", n)
	}
	if p := e.progress(c.ID); p.Queued != 700 || p.Total != audience {
		t.Errorf("progress %+v", p)
	}
}

// TestScheduledStart: a start before startAt schedules; the runner starts it when due.
func TestScheduledStart(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	at := time.Now().Add(time.Hour)
	var c campaigns.Campaign
	e.tx(func(tx pgx.Tx) (err error) {
		c, err = campaigns.Create(t.Context(), tx, ns, "cli:ops", campaigns.Spec{Name: "later", Number: number.Name,
			Template: "hello_world", Language: "en_US", StartAt: &at,
			Target: campaigns.Target{Recipients: []campaigns.Recipient{{Phone: "34611000001"}}}}, nil)
		return err
	})
	if got := e.transition(c.ID, "start", "cli:ops"); got.State != campaigns.Scheduled {
		t.Fatalf("start before startAt: %s", got.State)
	}
	r := &campaigns.Runner{Store: e.st, Namespace: ns, Now: func() time.Time { return at.Add(-time.Minute) }}
	if err := r.Tick(t.Context()); err != nil || e.state(c.ID) != campaigns.Scheduled {
		t.Fatalf("before its time: %v %s", err, e.state(c.ID))
	}
	r.Now = func() time.Time { return at.Add(time.Second) }
	if err := r.Tick(t.Context()); err != nil || e.state(c.ID) != campaigns.Running {
		t.Fatalf("when due: %v %s", err, e.state(c.ID))
	}
	if p := e.progress(c.ID); p.Queued != 1 {
		t.Fatalf("progress %+v", p)
	}
	e.wantAudit(c.ID, []string{"cli:ops campaign.created", "cli:ops campaign.start", "system:campaigns campaign.running"})
}

// TestStopKeywordOptsOut: a customer who wrote STOP (any case, alone) is skipped as
// opted out; one who wrote "no pares, stop no" is not.
func TestStopKeywordOptsOut(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	for waID, text := range map[string]string{"34611000001": "  Stop ", "34611000002": "no pares, stop no", "34611000003": "stop promotions"} {
		e.tx(func(tx pgx.Tx) error {
			_, err := conversation.OptOutByKeyword(t.Context(), tx, ns, waID, text)
			return err
		})
	}
	if n := e.count(`SELECT count(*) FROM contacts WHERE marketing_opt_out AND marketing_opt_out_reason LIKE 'keyword:STOP%'`); n != 2 {
		t.Fatalf("%d contacts opted out by keyword, want 2", n)
	}
	var c campaigns.Campaign
	e.tx(func(tx pgx.Tx) (err error) {
		c, err = campaigns.Create(t.Context(), tx, ns, "cli:ops", campaigns.Spec{Name: "stop", Number: number.Name,
			Template: "hello_world", Language: "en_US", Target: campaigns.Target{Recipients: []campaigns.Recipient{
				{Phone: "34611000001"}, {Phone: "34611000002"}, {Phone: "34611000003"}, {Phone: "34611000004"}}}}, nil)
		return err
	})
	e.transition(c.ID, "start", "cli:ops")
	if err := (&campaigns.Runner{Store: e.st, Namespace: ns}).Tick(t.Context()); err != nil {
		t.Fatal(err)
	}
	if p := e.progress(c.ID); p.Queued != 2 || p.SkippedByReason[campaigns.ReasonOptedOut] != 2 {
		t.Fatalf("progress %+v", p)
	}
}

// TestCreateIdempotent: a create retried with the same Idempotency-Key answers the first
// campaign (Idempotent-Replayed: true, same body and Location) and creates nothing; the
// key with another campaign is 422 naming Idempotency-Key; another caller's key is its own.
func TestCreateIdempotent(t *testing.T) {
	e := newEnv(t, simulator.Config{})
	e.seedContacts()
	srv := e.api()
	post := func(tok, key, body string) (int, string, http.Header) {
		req, _ := http.NewRequest("POST", srv.URL+"/api/v1/campaigns", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Idempotency-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(raw), resp.Header
	}
	code1, body1, h1 := post("admin:ana", "c-1", listBody)
	code2, body2, h2 := post("admin:ana", "c-1", listBody)
	if code1 != 201 || code2 != 201 || body2 != body1 || h2.Get("Idempotent-Replayed") != "true" || h1.Get("Idempotent-Replayed") != "" ||
		h2.Get("Location") == "" || h2.Get("Location") != h1.Get("Location") {
		t.Fatalf("create twice: %d %s %v; %d %s %v", code1, body1, h1, code2, body2, h2)
	}
	other := strings.Replace(listBody, `"vip-list"`, `"vip-2"`, 1)
	if code, body, _ := post("admin:ana", "c-1", other); code != 422 || !strings.Contains(body, `"field":"Idempotency-Key"`) {
		t.Errorf("the key for another campaign: %d %s", code, body)
	}
	if code, body, h := post("admin:bob", "c-1", other); code != 201 || h.Get("Idempotent-Replayed") != "" {
		t.Errorf("another caller's key: %d %s", code, body)
	}
	var n int
	if err := e.st.ReadTx(context.Background(), func(tx pgx.Tx) error {
		return tx.QueryRow(context.Background(), `SELECT count(*) FROM campaigns`).Scan(&n)
	}); err != nil || n != 2 {
		t.Errorf("%d campaigns, want 2 (%v)", n, err)
	}
}
