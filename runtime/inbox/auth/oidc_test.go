package auth_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/runtime/inbox/auth"
	"github.com/switchboard-dev/switchboard/runtime/inbox/auth/oidctest"
	"github.com/switchboard-dev/switchboard/runtime/inbox/openapi/openapitest"
)

// ssoLogin walks a browser through the code flow: the inbox's login redirect, the
// provider's login form, the redirects back to the inbox's callback. It returns the
// callback's answer.
func ssoLogin(t *testing.T, inbox, user, password string) (*http.Client, int) {
	t.Helper()
	c, res := ssoLoginFrom(t, inbox, "", user, password)
	return c, res.StatusCode
}

// ssoLoginFrom is ssoLogin started from a page (?next=next when not ""); it returns
// the callback's response, redirects not followed.
func ssoLoginFrom(t *testing.T, inbox, next, user, password string) (*http.Client, *http.Response) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Transport: openapitest.Transport(t, http.DefaultTransport), CheckRedirect: func(_ *http.Request, via []*http.Request) error {
		if strings.HasPrefix(via[len(via)-1].URL.String(), inbox+auth.OIDCCallbackPath) {
			return http.ErrUseLastResponse // the callback's own answer, not where it sends to
		}
		return nil
	}}
	start := inbox + auth.OIDCLoginPath
	if next != "" {
		start += "?next=" + url.QueryEscape(next)
	}
	res, err := c.Get(start)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	id := res.Request.URL.Query().Get("authRequestID")
	if !strings.HasSuffix(res.Request.URL.Path, "/login/username") || id == "" {
		t.Fatalf("not at the provider's login form: %s", res.Request.URL)
	}
	form := url.Values{"id": {id}, "username": {user}, "password": {password}}
	res, err = c.PostForm(res.Request.URL.Scheme+"://"+res.Request.URL.Host+"/login/username", form)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if !strings.HasPrefix(res.Request.URL.String(), inbox+auth.OIDCCallbackPath) {
		t.Fatalf("the flow ended at %s, not the inbox's callback", res.Request.URL)
	}
	return c, res
}

func TestOIDCLoginWithGroupMapping(t *testing.T) {
	r := newRig(t, srv.NewDatabase(t), "acme", "support", func(c *auth.Config) { c.InsecureLoopbackCookies = true })
	inbox := httptest.NewServer(r.mux)
	t.Cleanup(inbox.Close)
	inboxURL := inbox.URL
	issuer := oidctest.Start(t, inboxURL+auth.OIDCCallbackPath)
	r.seedAdmin("initial-admin-password-1")
	r.setDirectory(func(d *auth.Directory) {
		d.OIDC = &auth.OIDCConfig{Issuer: issuer, ClientID: oidctest.ClientID, ClientSecret: oidctest.ClientSecret,
			GroupBindings: []auth.GroupBinding{{Group: "support-leads", Role: "supervisor"}, {Group: "staff", Role: "agent"}}}
	})
	// carla is in both groups: the first binding (supervisor) wins; her teams come along.
	r.setDirectory(func(d *auth.Directory) { d.Teams["carla"] = []string{"iberia"} })
	c, code := ssoLogin(t, inboxURL, "Carla", "carla-sso-password")
	if code != 200 {
		t.Fatalf("carla's callback: %d", code)
	}
	res, err := c.Get(inboxURL + "/api/v1/me")
	if err != nil {
		t.Fatal(err)
	}
	var me auth.PrincipalView
	_ = json.NewDecoder(res.Body).Decode(&me)
	_ = res.Body.Close()
	if res.StatusCode != 200 || me.Subject != "carla" || me.Role != "supervisor" || strings.Join(me.Teams, ",") != "iberia" || me.CSRFToken == "" {
		t.Fatalf("carla's session: %d %+v", res.StatusCode, me)
	}
	if n := r.count(`SELECT count(*) FROM agents WHERE login = 'carla' AND source = 'oidc' AND role = 'supervisor' AND password_hash IS NULL`); n != 1 {
		t.Fatal("carla's account was not made from the ID token")
	}
	// diego is staff only: agent.
	if _, code := ssoLogin(t, inboxURL, "diego", "diego-sso-password"); code != 200 {
		t.Fatalf("diego: %d", code)
	}
	if n := r.count(`SELECT count(*) FROM agents WHERE login = 'diego' AND role = 'agent'`); n != 1 {
		t.Fatal("diego is not an agent")
	}
	// mallory's group is bound to nothing: the API's flow is refused with a problem
	// naming the claim; no account.
	_, res = ssoLoginFrom(t, inboxURL, "", "mallory", "mallory-sso-password")
	b, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if res.StatusCode != http.StatusForbidden || res.Header.Get("Content-Type") != "application/problem+json" || !strings.Contains(string(b), `"field":"groups"`) {
		t.Fatalf("mallory: %d %s %s", res.StatusCode, res.Header.Get("Content-Type"), b)
	}
	if n := r.count(`SELECT count(*) FROM agents WHERE login = 'mallory'`); n != 0 {
		t.Fatal("mallory got an account")
	}
	// From a page, mallory goes back to the login page with the reason's code (303),
	// without a session; the state cookie is dropped.
	c, res = ssoLoginFrom(t, inboxURL, "/conversations?view=mine", "mallory", "mallory-sso-password")
	_ = res.Body.Close()
	if want := "/login?next=%2Fconversations%3Fview%3Dmine&sso=" + auth.SSONoRole; res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != want {
		t.Fatalf("mallory from a page: %d to %q, want 303 to %q", res.StatusCode, res.Header.Get("Location"), want)
	}
	if res, err = c.Get(inboxURL + "/api/v1/me"); err != nil || res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("mallory has a session after the page's failed callback: %v %v", res, err)
	}
	_ = res.Body.Close()
	if n := r.count(`SELECT count(*) FROM agents WHERE login = 'mallory'`); n != 0 {
		t.Fatal("mallory got an account from the page's flow")
	}
	if !strings.Contains(r.logs.String(), `"reason":"`+auth.SSONoRole+`"`) {
		t.Error("the failure's reason is not logged")
	}
	// The provider's "admin" does not take over the local admin account.
	if _, code := ssoLogin(t, inboxURL, "admin", "admin-sso-password"); code != 409 {
		t.Fatalf("sso admin over the local admin: %d", code)
	}
	if _, res := ssoLoginFrom(t, inboxURL, "/conversations", "admin", "admin-sso-password"); res.StatusCode != http.StatusSeeOther ||
		res.Header.Get("Location") != "/login?next=%2Fconversations&sso="+auth.SSOLocalAccount {
		t.Fatalf("sso admin over the local admin, from a page: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	// Started from a page: the callback sets the session and sends the browser back (303).
	c, res = ssoLoginFrom(t, inboxURL, "/conversations/7?view=mine", "diego", "diego-sso-password")
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/conversations/7?view=mine" {
		t.Fatalf("the page's callback: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	if res, err = c.Get(inboxURL + "/api/v1/me"); err != nil || res.StatusCode != 200 {
		t.Fatalf("diego's session after the page's callback: %v %v", res, err)
	}
	_ = res.Body.Close()
	// Another site is no place to go back to: refused before the provider is asked.
	for _, next := range []string{"https://evil.example/", "//evil.example/x", "/\\evil.example", "conversations", "/x\r\nSet-Cookie: a=b"} {
		res, err = http.Get(inboxURL + auth.OIDCLoginPath + "?next=" + url.QueryEscape(next))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		if res.StatusCode != 400 || !strings.Contains(string(b), `"field":"next"`) {
			t.Errorf("next=%q: %d %s", next, res.StatusCode, b)
		}
	}
	// The provider's error (the person cancelled) goes back to the page too, and so does
	// a state that is not this browser's; the provider's text is not passed on.
	jar, _ := cookiejar.New(nil)
	c = &http.Client{Jar: jar, Transport: openapitest.Transport(t, http.DefaultTransport),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tc := range []struct{ query, reason string }{
		{"error=access_denied&error_description=%3Cb%3Eno%3C%2Fb%3E&state=", auth.SSODenied},
		{"code=x&state=not-mine-", auth.SSOExpired},
	} {
		if res, err = c.Get(inboxURL + auth.OIDCLoginPath + "?next=%2Fconversations"); err != nil || res.StatusCode != http.StatusFound {
			t.Fatalf("starting the login: %v %v", res, err)
		}
		_ = res.Body.Close()
		loc, _ := url.Parse(res.Header.Get("Location"))
		if res, err = c.Get(inboxURL + auth.OIDCCallbackPath + "?" + tc.query + url.QueryEscape(loc.Query().Get("state"))); err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		if want := "/login?next=%2Fconversations&sso=" + tc.reason; res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != want {
			t.Errorf("callback?%s from a page: %d to %q, want %q", tc.query, res.StatusCode, res.Header.Get("Location"), want)
		}
	}
	// A callback without the browser's state cookie is refused.
	res, err = openapitest.Client(t).Get(inboxURL + auth.OIDCCallbackPath + "?code=x&state=y")
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != 400 {
		t.Fatalf("callback without state: %d", res.StatusCode)
	}
	if s := contains(r.logs.String(), "sso-client-secret", "carla-sso-password"); s != "" {
		t.Fatalf("the log holds %q", s)
	}
}
