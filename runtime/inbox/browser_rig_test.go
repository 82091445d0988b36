package inbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/inbox"
	"github.com/switchboard-dev/switchboard/runtime/inbox/ingest"
	"github.com/switchboard-dev/switchboard/runtime/inbox/kube"
	"github.com/switchboard-dev/switchboard/runtime/inbox/routing"
	"github.com/switchboard-dev/switchboard/runtime/inbox/ui/browsertest"
	"github.com/switchboard-dev/switchboard/runtime/outbound"
	"github.com/switchboard-dev/switchboard/runtime/sender"
	"github.com/switchboard-dev/switchboard/runtime/simulator"
	"github.com/switchboard-dev/switchboard/runtime/store"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// browserRig is the whole path of a reply, all real, on loopback: the inbox (PostgreSQL,
// the agents' API, routing, live events, the pages) serving numA, the Cloud API
// simulator as Meta (its webhooks to the inbox; its Graph API for the templates and
// the sends), and a sender draining numA's outbox to the simulator.
//
// numA's RoutingPolicy (LeastLoaded, ten minutes to accept) has the teams iberia (ana)
// and billing (bruno); its Outbound KeywordRule "no-card-numbers" blocks "tarjeta" with a
// reason; its WABA has the template order_update (en_US) with two body parameters.
// Accounts: admin (the initial admin), ana and bruno (agents), sara (supervisor).
type browserRig struct {
	t       *testing.T
	dsn     string
	s       *server
	sim     *simulator.Server
	simURL  string
	admin   apiSession
	outbox  *store.Store
	started time.Time
}

// apiSession is one signed-in person for API calls: the Cookie header and the CSRF token.
type apiSession struct{ cookie, csrf string }

const (
	simToken      = "sim-access-token"
	adminPassword = "acme-admin-password"
	blockReason   = "never ask a customer for a card number"
)

// routingSpec is numA's RoutingPolicy.
var routingSpec = sbv1.RoutingPolicySpec{Strategy: sbv1.LeastLoaded, AssignWithin: &metav1.Duration{Duration: 10 * time.Minute},
	Teams: []sbv1.Team{{Name: "iberia", Members: []string{"ana"}}, {Name: "billing", Members: []string{"bruno"}}}}

// newBrowserRig starts it all; opts change the snapshot before it is served.
func newBrowserRig(t *testing.T, opts ...func(*browserRig, *kube.Snapshot)) *browserRig {
	t.Helper()
	r := &browserRig{t: t, dsn: srv.NewDatabase(t), started: time.Now()}
	r.s = startServer(t, r.dsn, nil, func(o *inbox.Options) { o.Inbox, o.InsecureLoopbackCookies = "support", true })
	var err error
	r.sim, err = simulator.New(simulator.Config{Seed: 5,
		Numbers: []simulator.Number{{ID: numA.PhoneNumberID, DisplayPhoneNumber: "+1 555 078 3881", BusinessAccountID: numA.WABAID,
			AppSecret: numA.AppSecret, AccessToken: simToken, WebhookURL: r.s.traffic + ingest.Path}},
		Templates: []simulator.Template{{BusinessAccountID: numA.WABAID, Name: "order_update", Language: "en_US", Category: "UTILITY",
			Components: []simulator.TemplateComponent{{Type: "BODY", Text: "Your order {{1}} arrives on {{2}}."}}}},
		Webhooks: simulator.WebhookConfig{BaseDelay: 20 * time.Millisecond},
		// Far enough apart for the page to show each tick.
		Statuses: simulator.StatusConfig{SentAfter: 300 * time.Millisecond, DeliveredAfter: 2500 * time.Millisecond, ReadAfter: 4500 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.sim.Close)
	hs := httptest.NewServer(r.sim)
	t.Cleanup(hs.Close)
	r.simURL = hs.URL

	n := numA
	n.APIBaseURL, n.AccessToken = hs.URL, simToken
	block := sbv1.KeywordRule{ObjectMeta: metav1.ObjectMeta{Name: "no-card-numbers", Namespace: "acme"},
		Spec: sbv1.KeywordRuleSpec{Direction: sbv1.Outbound, Match: sbv1.KeywordMatch{Any: []string{"tarjeta"}},
			Actions: sbv1.KeywordActions{Block: &sbv1.BlockAction{Reason: blockReason}}}}
	guard, errs := outbound.Compile(&sbv1.Number{ObjectMeta: metav1.ObjectMeta{Name: numA.Ref.Name, Namespace: "acme"}}, []sbv1.KeywordRule{block}, nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	router, err := routing.New(routing.FromSpec(routingSpec))
	if err != nil {
		t.Fatal(err)
	}
	n.Policy = kube.Policy{OutboundRules: guard, Teams: routingSpec.Teams, Routing: &kube.Routing{Name: "support", Router: router}}
	snap := served(n)
	snap.Access.InitialAdminPassword = adminPassword
	snap.Access.Teams = map[string][]string{"ana": {"iberia"}, "bruno": {"billing"}}
	for _, opt := range opts {
		opt(r, snap)
	}
	r.s.snap.Store(snap)
	r.startSender()

	r.admin = r.signIn("admin", adminPassword)
	for _, a := range []struct{ login, role string }{{"ana", "agent"}, {"bruno", "agent"}, {"sara", "supervisor"}} {
		body := fmt.Sprintf(`{"login":%q,"displayName":%q,"role":%q,"password":%q}`, a.login, strings.ToUpper(a.login[:1])+a.login[1:], a.role, password(a.login))
		if code, b, _ := call(t, "POST", r.s.traffic+"/api/v1/agents", body, "Cookie", r.admin.cookie, "X-CSRF-Token", r.admin.csrf); code != 201 {
			t.Fatalf("creating %s: %d %s", a.login, code, b)
		}
	}
	return r
}

// password is a test account's password.
func password(login string) string { return login + "-long-password-1" }

// startSender runs `switchboard sender`'s loop for numA in this process (fenced by the
// number's lock, woken by LISTEN/NOTIFY) against the simulator.
func (r *browserRig) startSender() {
	t := r.t
	ctx, cancel := context.WithCancel(context.Background())
	st, err := store.Open(ctx, r.dsn)
	if err != nil {
		t.Fatal(err)
	}
	r.outbox = st
	lock, err := st.LockNumber(ctx, numA.Ref)
	if err != nil {
		t.Fatal(err)
	}
	wake, err := st.Listen(ctx, numA.Ref)
	if err != nil {
		t.Fatal(err)
	}
	api, err := whatsapp.New(whatsapp.Options{BaseURL: r.simURL, AccessToken: simToken})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- sender.Run(ctx, sender.Config{PhoneNumberID: numA.PhoneNumberID, API: api, Outbox: lock, Wake: wake, Poll: 100 * time.Millisecond,
			Initial: sender.Limits{MessagesPerSecond: 80, CampaignPerMinute: 4800, UniqueRecipientsPer24h: -1}})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && ctx.Err() == nil {
			t.Errorf("sender.Run: %v", err)
		}
		_ = lock.Release(context.Background())
		st.Close()
	})
}

// signIn logs in through the API (waiting for the inbox to have made the initial admin).
func (r *browserRig) signIn(login, pw string) apiSession {
	r.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body, res := call(r.t, "POST", r.s.traffic+"/api/v1/login", fmt.Sprintf(`{"login":%q,"password":%q}`, login, pw))
		if code == 200 {
			var v struct {
				CSRFToken string `json:"csrfToken"`
			}
			_ = json.Unmarshal([]byte(body), &v)
			var cookies []string
			for _, c := range res.Cookies() {
				cookies = append(cookies, c.Name+"="+c.Value)
			}
			return apiSession{cookie: strings.Join(cookies, "; "), csrf: v.CSRFToken}
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%s's login: %d %s", login, code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// api calls the agents' API as a session and fails the test on anything but want.
func (r *browserRig) api(as apiSession, method, path, body string, want int) string {
	r.t.Helper()
	code, b, _ := call(r.t, method, r.s.traffic+path, body, "Cookie", as.cookie, "X-CSRF-Token", as.csrf)
	if code != want {
		r.t.Fatalf("%s %s: %d %s, want %d", method, path, code, b, want)
	}
	return b
}

// customerWrites injects a customer's message through the simulator and returns the
// id of the conversation the inbox stored it in, once it has.
func (r *browserRig) customerWrites(from, text string) int64 {
	r.t.Helper()
	if _, err := r.sim.Inject(numA.PhoneNumberID, simulator.Inbound{From: from, Name: "Cliente " + from[len(from)-2:], Text: text}); err != nil {
		r.t.Fatal(err)
	}
	var id int64
	r.eventually("the customer's conversation", func(tx pgx.Tx) (bool, error) {
		err := tx.QueryRow(context.Background(), `SELECT v.id FROM conversations v JOIN contacts c ON c.id = v.contact_id
			JOIN messages m ON m.conversation_id = v.id WHERE c.wa_id = $1 AND m.text = $2`, from, text).Scan(&id)
		if err == pgx.ErrNoRows {
			return false, nil
		}
		return err == nil, err
	})
	return id
}

// eventually reads the database until check is true (30 s at most).
func (r *browserRig) eventually(what string, check func(pgx.Tx) (bool, error)) {
	r.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var ok bool
		err := r.outbox.ReadTx(context.Background(), func(tx pgx.Tx) (err error) {
			ok, err = check(tx)
			return err
		})
		if err != nil {
			r.t.Fatalf("%s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%s: not within 30 s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// count runs a count(*) query.
func (r *browserRig) count(q string, args ...any) int {
	r.t.Helper()
	var n int
	if err := r.outbox.ReadTx(context.Background(), func(tx pgx.Tx) error {
		return tx.QueryRow(context.Background(), q, args...).Scan(&n)
	}); err != nil {
		r.t.Fatal(err)
	}
	return n
}

// sent is what the simulator accepted from numA, read through its control API
// (GET /_sim/numbers/{id}/messages), as the request bodies.
func (r *browserRig) sent() []whatsapp.Message {
	r.t.Helper()
	code, body := get(r.t, r.simURL+"/_sim/numbers/"+numA.PhoneNumberID+"/messages", "")
	if code != 200 {
		r.t.Fatalf("the simulator's sent messages: %d %s", code, body)
	}
	var v struct {
		Messages []simulator.SentMessage `json:"messages"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		r.t.Fatal(err)
	}
	out := make([]whatsapp.Message, len(v.Messages))
	for i, m := range v.Messages {
		if err := json.Unmarshal(m.Body, &out[i]); err != nil {
			r.t.Fatal(err)
		}
	}
	return out
}

// waitSent waits until the simulator has accepted a message to a customer that match
// accepts, and returns it.
func (r *browserRig) waitSent(to string, match func(whatsapp.Message) bool) whatsapp.Message {
	r.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		for _, m := range r.sent() {
			if m.To == to && match(m) {
				return m
			}
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("nothing reached the simulator for %s; it has %+v", to, r.sent())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// signInPage signs in through the login page (the browser starts at path, is sent to
// the login page and back).
func (r *browserRig) signInPage(ctx context.Context, path, login, pw string) {
	r.t.Helper()
	browsertest.Do(r.t, ctx, "the login page for "+login, chromedp.Navigate(r.s.traffic+path), chromedp.WaitVisible(chromedp.CSS("#password")))
	browsertest.Do(r.t, ctx, "signing in as "+login,
		chromedp.SendKeys(chromedp.CSS("#login"), login),
		chromedp.SendKeys(chromedp.CSS("#password"), pw),
		chromedp.Submit(chromedp.CSS("#password")))
	until(r.t, ctx, login+"'s first page", `location.pathname !== '/login' && document.readyState === 'complete' && document.querySelector('main h1') !== null`)
}

// mark sets a marker in the page's window, which a reload would lose: notReloaded checks
// it is still there.
func mark(t *testing.T, ctx context.Context) {
	t.Helper()
	browsertest.Do(t, ctx, "marking the page", chromedp.Evaluate[chromedp.Void](`window.__notReloaded = true`))
}

func notReloaded(t *testing.T, ctx context.Context, what string) {
	t.Helper()
	if !browsertest.Get(t, ctx, "the page's marker", chromedp.Evaluate[bool](`window.__notReloaded === true`)) {
		t.Errorf("%s: the page was reloaded", what)
	}
}

// text is an element's text.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return browsertest.Get(t, ctx, "the text of "+sel, chromedp.Text(chromedp.CSS(sel)))
}

// until evaluates js in the page until it is true (30 s at most). An evaluation that
// fails (the page is being replaced by another) counts as false.
func until(t *testing.T, ctx context.Context, what, js string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, cancel := context.WithTimeout(ctx, 5*time.Second)
		ok, err := chromedp.Run(c, chromedp.Evaluate[bool](js))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			browsertest.Screenshot(t, ctx, "failed-"+strings.ReplaceAll(t.Name(), "/", "-"))
			t.Fatalf("%s: not within 30 s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// exec runs a statement (a test's setup).
func (r *browserRig) exec(q string, args ...any) {
	r.t.Helper()
	if err := r.outbox.InTx(context.Background(), func(tx pgx.Tx) error {
		_, err := tx.Exec(context.Background(), q, args...)
		return err
	}); err != nil {
		r.t.Fatal(err)
	}
}
