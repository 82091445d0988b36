package agentapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/inbox/agentapi"
	"github.com/switchboard-dev/switchboard/runtime/inbox/authz"
	"github.com/switchboard-dev/switchboard/runtime/inbox/kube"
	"github.com/switchboard-dev/switchboard/runtime/inbox/media"
	"github.com/switchboard-dev/switchboard/runtime/inbox/media/mediaapi"
	"github.com/switchboard-dev/switchboard/runtime/inbox/openapi/openapitest"
	"github.com/switchboard-dev/switchboard/runtime/outbound"
	"github.com/switchboard-dev/switchboard/runtime/simulator"
	"github.com/switchboard-dev/switchboard/runtime/store"
	"github.com/switchboard-dev/switchboard/runtime/store/pgtest"
)

var srv *pgtest.Server

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &srv)) }

const (
	ns          = "acme"
	staticToken = "static-token"
	pnid        = "106540352242922"
	waba        = "102290129340398"
	graphToken  = "graph-token"
)

// rig is the API of namespace acme (and one of namespace globex on the same database),
// a simulator serving the Graph API with templates, and a connection for seeding.
type rig struct {
	t      *testing.T
	url    string        // acme's API
	globex string        // globex's API
	graph  string        // the simulator
	lists  *atomic.Int64 // GET …/message_templates the simulator served
	sim    *simulator.Server
	st     *store.Store
	conn   *pgx.Conn
	client *http.Client
}

// principals by bearer token (besides the static token, an auditor).
func principal(namespace, subject, role string, teams ...string) *authz.Principal {
	p := authz.NewPrincipal(namespace, "support", authz.KindAgent, subject, role, authz.Predefined()[role])
	p.Teams = teams
	return p
}

var tokens = map[string]*authz.Principal{
	"admin":      principal(ns, "ada", authz.RoleAdmin),
	"sales":      principal(ns, "sam", authz.RoleAgent, "sales"),
	"supervisor": principal(ns, "sue", authz.RoleSupervisor),
	"globex":     principal("globex", "gus", authz.RoleAdmin),
}

// lacking returns a principal holding every permission but perm.
func lacking(perm authz.Permission) *authz.Principal {
	var perms []authz.Permission
	for _, a := range authz.All {
		if a.Permission != perm {
			perms = append(perms, a.Permission)
		}
	}
	return authz.NewPrincipal(ns, "support", authz.KindAgent, "lacks", "lacks-"+string(perm), perms)
}

func bearer(r *http.Request) string {
	s, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return s
}

func authenticator(r *http.Request) (*authz.Principal, error) {
	tok := bearer(r)
	if perm, ok := strings.CutPrefix(tok, "lacks:"); ok {
		return lacking(authz.Permission(perm)), nil
	}
	if tok == "" {
		return nil, nil
	}
	if p := tokens[tok]; p != nil {
		return p, nil
	}
	return nil, fmt.Errorf("the bearer token is not valid")
}

func newRig(t *testing.T) *rig { t.Helper(); return newRigWith(t, nil) }

// newRigWith is newRig whose APIs keep media in ms (nil: no archive).
func newRigWith(t *testing.T, ms *media.Store) *rig {
	t.Helper()
	ctx := context.Background()
	dsn := srv.NewDatabase(t)
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	lists := new(atomic.Int64)
	graph, sim := newGraph(t, lists)
	numbers := []kube.Number{{Ref: store.NumberRef{Namespace: ns, Name: "sales-es"}, PhoneNumberID: pnid,
		WABAID: waba, AccessToken: graphToken, APIBaseURL: graph, Policy: kube.Policy{OutboundRules: outboundRules(t)}}}
	if ms != nil { // a Number whose token Meta no longer accepts: its uploads fail
		numbers = append(numbers, kube.Number{Ref: store.NumberRef{Namespace: ns, Name: "revoked"}, PhoneNumberID: pnid,
			WABAID: waba, AccessToken: "revoked-token", APIBaseURL: graph})
	}
	snap := kube.NewSnapshot(ns, numbers)
	r := &rig{t: t, conn: conn, client: openapitest.Client(t), graph: graph, lists: lists, sim: sim, st: st}
	for _, n := range []struct {
		namespace string
		dst       *string
	}{{ns, &r.url}, {"globex", &r.globex}} {
		api, err := agentapi.New(agentapi.Config{Store: st, Namespace: n.namespace, Token: staticToken,
			Authenticator: authz.AuthenticatorFunc(authenticator), Snapshot: func() *kube.Snapshot { return snap },
			Media: ms, Log: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		api.Register(mux)
		if ms != nil {
			mediaapi.New(st, ms, n.namespace, nil).Register(mux, api.Protect)
		}
		hs := httptest.NewServer(mux)
		t.Cleanup(hs.Close)
		*n.dst = hs.URL
	}
	return r
}

// newGraph starts the simulator with the dev scenario's templates and returns its URL
// and itself; lists counts the template lists it serves.
func newGraph(t *testing.T, lists *atomic.Int64) (string, *simulator.Server) {
	t.Helper()
	sim, err := simulator.New(simulator.Config{Seed: 1, Numbers: []simulator.Number{{ID: pnid, DisplayPhoneNumber: "+1 555 078 3881",
		BusinessAccountID: waba, AccessToken: graphToken, AppSecret: "s"}},
		Templates: []simulator.Template{
			{BusinessAccountID: waba, Name: "hello_world", Language: "en_US", Components: []simulator.TemplateComponent{{Type: "BODY", Text: "Hello World"}}},
			{BusinessAccountID: waba, Name: "order_update", Language: "en_US", Category: "UTILITY",
				Components: []simulator.TemplateComponent{{Type: "BODY", Text: "Your order {{1}} is on its way."}}},
			{BusinessAccountID: waba, Name: "draft", Language: "en_US", Status: "PENDING"},
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/message_templates") {
			lists.Add(1)
		}
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	return hs.URL, sim
}

// outboundRules compiles an Outbound KeywordRule blocking "garantizado" for sales-es, as
// the kube source does.
func outboundRules(t *testing.T) *outbound.Rules {
	t.Helper()
	num := &sbv1.Number{ObjectMeta: metav1.ObjectMeta{Name: "sales-es", Namespace: ns, Labels: map[string]string{"team": "sales"}}}
	rules, errs := outbound.Compile(num, []sbv1.KeywordRule{{ObjectMeta: metav1.ObjectMeta{Name: "no-guarantees", Namespace: ns},
		Spec: sbv1.KeywordRuleSpec{NumberSelector: metav1.LabelSelector{MatchLabels: map[string]string{"team": "sales"}},
			Direction: sbv1.Outbound, Match: sbv1.KeywordMatch{Any: []string{"garantizado"}},
			Actions: sbv1.KeywordActions{Block: &sbv1.BlockAction{Reason: "No prometas resultados."}}}}}, nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return rules
}

// conv seeds a conversation of namespace on sales-es with a contact and returns its id.
type conv struct {
	namespace, waID, name, status, team, assignee string
	windowOpen                                    bool
	at                                            time.Time
}

func (r *rig) seed(c conv) int64 {
	r.t.Helper()
	ctx := context.Background()
	if c.namespace == "" {
		c.namespace = ns
	}
	if c.status == "" {
		c.status = "open"
	}
	if c.at.IsZero() {
		c.at = time.Now()
	}
	var contact, id int64
	err := r.conn.QueryRow(ctx, `INSERT INTO contacts (namespace, wa_id, profile_name) VALUES ($1, $2, NULLIF($3, ''))
		ON CONFLICT (namespace, wa_id) DO UPDATE SET wa_id = EXCLUDED.wa_id RETURNING id`, c.namespace, c.waID, c.name).Scan(&contact)
	if err != nil {
		r.t.Fatal(err)
	}
	window := c.at.Add(-time.Hour)
	if c.windowOpen {
		window = time.Now().Add(time.Hour)
	}
	err = r.conn.QueryRow(ctx, `INSERT INTO conversations (namespace, number, contact_id, status, team, assignee,
		window_expires_at, last_message_at, resolved_at)
		VALUES ($1, 'sales-es', $2, $3::text, NULLIF($4, ''), NULLIF($5, ''), $6, $7::timestamptz, CASE WHEN $3::text = 'resolved' THEN $7::timestamptz END) RETURNING id`,
		c.namespace, contact, c.status, c.team, c.assignee, window, c.at).Scan(&id)
	if err != nil {
		r.t.Fatal(err)
	}
	if _, err := r.conn.Exec(ctx, `INSERT INTO messages (namespace, conversation_id, direction, wamid, type, text, content, status, created_at)
		VALUES ($1, $2, 'in', $3, 'text', 'hola', '{"type":"text","text":{"body":"hola"}}', 'received', $4)`,
		c.namespace, id, fmt.Sprintf("wamid.%d", id), c.at); err != nil {
		r.t.Fatal(err)
	}
	return id
}

// do sends a request as the bearer token's principal ("" none) and decodes a JSON
// answer into out (when not nil); it returns the status and the raw body.
func (r *rig) do(base, token, method, path string, body any, out any) (int, string) {
	r.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, base+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			r.t.Fatalf("%s %s: %v in %s", method, path, err, raw)
		}
	}
	return resp.StatusCode, string(raw)
}

// problemOf decodes a problem document.
func problemOf(t *testing.T, body string) map[string]any {
	t.Helper()
	var p map[string]any
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatalf("not a problem document: %s", body)
	}
	return p
}

// audits counts the audit log's entries.
func (r *rig) audits() int {
	var n int
	if err := r.conn.QueryRow(context.Background(), `SELECT count(*) FROM audit_log`).Scan(&n); err != nil {
		r.t.Fatal(err)
	}
	return n
}
