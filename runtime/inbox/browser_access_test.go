package inbox_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/inbox/auth"
	"github.com/switchboard-dev/switchboard/runtime/inbox/auth/oidctest"
	"github.com/switchboard-dev/switchboard/runtime/inbox/kube"
	"github.com/switchboard-dev/switchboard/runtime/inbox/ui/browsertest"
)

// TestSupervisorDashboardInABrowser: the supervisor's dashboard follows the floor live,
// without a reload: an agent's open count goes up when a customer's conversation is
// routed to her and down when she resolves it; the team's queue goes up when a customer
// writes while nobody is online.
func TestSupervisorDashboardInABrowser(t *testing.T) {
	r := newBrowserRig(t)
	ana := r.signIn("ana", password("ana"))
	r.api(ana, "PUT", "/api/v1/me/availability", `{"availability":"online"}`, 200)
	ctx := browsertest.New(t)
	r.signInPage(ctx, "/supervisor", "sara", password("sara"))
	open := `(document.querySelector('#agents tr[data-agent="ana"] td.open') || {}).textContent === '%s'`
	queued := `[...document.querySelectorAll('#queues td.queue')].some(td => td.textContent.trim() === '%s')`
	until(t, ctx, "ana's open count at 0", fmt.Sprintf(open, "0"))
	browsertest.NoSeriousViolations(t, ctx, "supervisor")
	mark(t, ctx)

	id := r.customerWrites("34633333333", "buenas, una consulta")
	until(t, ctx, "ana's open count at 1", fmt.Sprintf(open, "1"))
	browsertest.Screenshot(t, ctx, "inbox-supervisor")
	r.api(ana, "POST", fmt.Sprintf("/api/v1/conversations/%d/resolve", id), `{}`, 200)
	until(t, ctx, "ana's open count back at 0", fmt.Sprintf(open, "0"))

	if browsertest.Get(t, ctx, "a queue before anyone waits", chromedp.Evaluate[bool](fmt.Sprintf(queued, "1"))) {
		t.Error("a queue shows 1 before anyone waits")
	}
	r.api(ana, "PUT", "/api/v1/me/availability", `{"availability":"offline"}`, 200)
	r.customerWrites("34644444444", "¿hay alguien?")
	until(t, ctx, "a queue at 1", fmt.Sprintf(queued, "1"))
	notReloaded(t, ctx, "the dashboard")
}

// TestAccessInABrowser: what each role may see, through the pages.
//   - An agent without conversations.readAll does not see another team's conversation
//     in the list, and its URL answers the not-found page (404), as one that does not
//     exist; the agent has no admin link and /admin answers the forbidden page (403).
//   - An unknown page answers the translated not-found page (404).
//   - The admin sees agents, roles, API tokens and the audit log; a supervisor only the
//     audit log.
//   - The accessibility checker finds nothing serious on any of these pages.
func TestAccessInABrowser(t *testing.T) {
	r := newBrowserRig(t)
	mine := seedConversationText(t, r.dsn, "34655555555", "hola iberia")
	theirs := seedConversationText(t, r.dsn, "34666666666", "hola billing")
	r.exec(`UPDATE conversations SET team = 'iberia' WHERE id = $1`, mine)
	r.exec(`UPDATE conversations SET team = 'billing' WHERE id = $1`, theirs)

	ctx := browsertest.New(t)
	r.signInPage(ctx, "/conversations?view=teams", "ana", password("ana"))
	browsertest.Do(t, ctx, "ana's team's conversation", chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`tr.row[data-id="%d"]`, mine))))
	if browsertest.Get(t, ctx, "another team's row", chromedp.Evaluate[bool](fmt.Sprintf(`document.querySelector('tr.row[data-id="%d"]') !== null`, theirs))) {
		t.Error("ana's list shows billing's conversation")
	}
	if browsertest.Get(t, ctx, "the admin link", chromedp.Evaluate[bool](`document.querySelector('a[href="/admin"]') !== null`)) {
		t.Error("a plain agent's navigation links to the admin page")
	}

	browsertest.Do(t, ctx, "billing's conversation by URL", chromedp.Navigate(fmt.Sprintf("%s/conversations/%d", r.s.traffic, theirs)),
		chromedp.WaitVisible(chromedp.CSS("p.error")))
	if e := text(t, ctx, "p.error"); e != "Not found, or not yours to see." {
		t.Errorf("billing's conversation by URL shows %q", e)
	}
	if strings.Contains(text(t, ctx, "main"), "hola billing") {
		t.Error("the not-found page shows billing's message")
	}
	browsertest.NoSeriousViolations(t, ctx, "not-found (conversation)")
	browsertest.Do(t, ctx, "the admin page as an agent", chromedp.Navigate(r.s.traffic+"/admin"), chromedp.WaitVisible(chromedp.CSS("p.error")))
	if e := text(t, ctx, "p.error"); e != "Your role does not allow this." {
		t.Errorf("/admin as an agent shows %q", e)
	}
	if strings.Contains(text(t, ctx, "main"), "bruno") {
		t.Error("/admin as an agent lists the agents")
	}
	browsertest.Do(t, ctx, "an unknown page", chromedp.Navigate(r.s.traffic+"/no/such/page"), chromedp.WaitVisible(chromedp.CSS("p.error")))
	if e := text(t, ctx, "p.error"); e != "Not found, or not yours to see." {
		t.Errorf("an unknown page shows %q", e)
	}
	browsertest.NoSeriousViolations(t, ctx, "not-found")
	browsertest.Screenshot(t, ctx, "inbox-not-found")

	// The answers' status codes, and the language.
	ana := r.signIn("ana", password("ana"))
	sara := r.signIn("sara", password("sara"))
	for _, c := range []struct {
		who         apiSession
		path, lang  string
		code        int
		has, hasNot string
	}{
		{ana, fmt.Sprintf("/conversations/%d", theirs), "", 404, "Not found", "hola billing"},
		{ana, "/admin", "", 403, "Your role does not allow this.", "bruno"},
		{ana, "/no/such/page", "es", 404, "No existe, o no le corresponde verlo.", "Not found"},
		{ana, "/no/such/page", "pt-BR", 404, "Não existe, ou não cabe a você vê-lo.", "Not found"},
		{apiSession{}, "/no/such/page", "", 404, "Not found", ""},
		{ana, "/api/v1/no-such-operation", "", 404, `"status":404`, "<html"},
		{sara, "/admin", "", 200, "Audit log", "API tokens"},
	} {
		get := call
		if strings.HasPrefix(c.path, "/api/") {
			get = callUnchecked // a path the document does not have, on purpose
		}
		code, body, _ := get(t, "GET", r.s.traffic+c.path, "", "Cookie", c.who.cookie, "Accept-Language", c.lang)
		if code != c.code || !strings.Contains(body, c.has) || (c.hasNot != "" && strings.Contains(body, c.hasNot)) {
			t.Errorf("GET %s (%s): %d, want %d with %q and without %q:\n%.600s", c.path, c.lang, code, c.code, c.has, c.hasNot, body)
		}
	}

	// The admin's page.
	r.api(r.admin, "POST", "/api/v1/tokens", `{"name":"crm-sync","role":"auditor"}`, 201)
	browsertest.Do(t, ctx, "signing out", chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)), chromedp.WaitVisible(chromedp.CSS("#password")))
	r.signInPage(ctx, "/admin", "admin", adminPassword)
	main := text(t, ctx, "main")
	for _, want := range []string{"Agents", "Roles", "API tokens", "Audit log", "bruno", "sara", "supervisor", "crm-sync", "agent.created"} {
		if !strings.Contains(main, want) {
			t.Errorf("the admin page lacks %q", want)
		}
	}
	browsertest.NoSeriousViolations(t, ctx, "admin")
	browsertest.Screenshot(t, ctx, "inbox-admin")
}

// TestSingleSignOnInABrowser: the login page's "Sign in with SSO" button takes the
// browser to the OpenID provider (zitadel's example provider) and, once the user signed
// in there, back to the page it came from, signed in with the role of the user's group;
// a user whose group is bound to no role comes back to the login page, told why.
func TestSingleSignOnInABrowser(t *testing.T) {
	r := newBrowserRig(t, func(r *browserRig, snap *kube.Snapshot) {
		issuer := oidctest.Start(t, r.s.traffic+auth.OIDCCallbackPath)
		snap.Access.OIDC = &kube.OIDC{Issuer: issuer, ClientID: oidctest.ClientID, ClientSecret: oidctest.ClientSecret,
			GroupBindings: []sbv1.OIDCGroupBinding{{Group: "staff", Role: "agent"}}}
	})
	ctx := browsertest.New(t)
	browsertest.Do(t, ctx, "the login page", chromedp.Navigate(r.s.traffic+"/conversations?view=unassigned"), chromedp.WaitVisible(chromedp.CSS("#sso")))
	browsertest.NoSeriousViolations(t, ctx, "login (with single sign-on)")
	// mallory's group is bound to no role: back on the login page, told why in words.
	browsertest.Do(t, ctx, "mallory at the provider", chromedp.Click(chromedp.CSS("#sso")), chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), "mallory"),
		chromedp.SendKeys(chromedp.CSS("#password"), oidctest.Users["mallory"].Password),
		chromedp.Submit(chromedp.CSS("#password")),
		chromedp.WaitVisible(chromedp.CSS(`.error[role="alert"]`)))
	if msg := text(t, ctx, ".error"); !strings.Contains(msg, "None of your groups gives you a role") || strings.Contains(msg, "contractors") {
		t.Errorf("mallory is told %q", msg)
	}
	if loc := browsertest.Get(t, ctx, "where mallory is", chromedp.Location()); !strings.HasPrefix(loc, r.s.traffic+"/login?next=%2Fconversations%3Fview%3Dunassigned&sso=") {
		t.Errorf("after mallory's failed single sign-on the browser is at %s", loc)
	}
	browsertest.NoSeriousViolations(t, ctx, "login (single sign-on failed)")
	browsertest.Do(t, ctx, "the provider's login form", chromedp.Click(chromedp.CSS("#sso")), chromedp.WaitVisible(chromedp.CSS("#username")))
	browsertest.Do(t, ctx, "signing in at the provider",
		chromedp.SendKeys(chromedp.CSS("#username"), "diego"),
		chromedp.SendKeys(chromedp.CSS("#password"), oidctest.Users["diego"].Password),
		chromedp.Submit(chromedp.CSS("#password")),
		chromedp.WaitVisible(chromedp.CSS("#list")))
	loc := browsertest.Get(t, ctx, "where the browser is", chromedp.Location())
	if loc != r.s.traffic+"/conversations?view=unassigned" {
		t.Errorf("after single sign-on the browser is at %s", loc)
	}
	if me := text(t, ctx, ".me"); !strings.Contains(me, "(agent)") {
		t.Errorf("signed in as %q, want diego as an agent", me)
	}
}
