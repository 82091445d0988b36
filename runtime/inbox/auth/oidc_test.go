package auth_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/switchboard-dev/switchboard/runtime/inbox/auth"
	"github.com/switchboard-dev/switchboard/runtime/inbox/openapi/openapitest"
)

// users of the test provider: login name, password and groups.
var oidcUsers = map[string]struct {
	password string
	groups   []string
}{
	"carla":   {"carla-sso-password", []string{"staff", "support-leads"}},
	"diego":   {"diego-sso-password", []string{"staff"}},
	"mallory": {"mallory-sso-password", []string{"contractors"}},
	"admin":   {"admin-sso-password", []string{"support-leads"}},
}

type userStore struct{}

func (userStore) GetUserByID(id string) *storage.User {
	u, ok := oidcUsers[id]
	if !ok {
		return nil
	}
	return &storage.User{ID: id, Username: strings.ToUpper(id[:1]) + id[1:], Password: u.password, FirstName: id, LastName: "Test",
		Email: id + "@example.com", EmailVerified: true}
}

func (s userStore) GetUserByUsername(name string) *storage.User {
	return s.GetUserByID(strings.ToLower(name))
}

func (userStore) ExampleClientID() string { return storage.ServiceUserID }

// withGroups is the example storage plus what it lacks: a groups claim (and the login
// as preferred_username) in the ID token.
type withGroups struct{ *storage.Storage }

func (w withGroups) SetUserinfoFromScopes(ctx context.Context, ui *oidc.UserInfo, userID, clientID string, scopes []string) error {
	if err := w.Storage.SetUserinfoFromScopes(ctx, ui, userID, clientID, scopes); err != nil {
		return err
	}
	ui.PreferredUsername = userStore{}.GetUserByID(userID).Username
	ui.AppendClaims("groups", oidcUsers[userID].groups)
	return nil
}

// startProvider runs zitadel's example OpenID provider on loopback with one web client
// whose redirect URL is the inbox's callback.
func startProvider(t *testing.T, callback string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + ln.Addr().String()
	clients := map[string]*storage.Client{"switchboard": storage.WebClient("switchboard", "sso-client-secret", callback)}
	st := withGroups{storage.NewStorageWithClients(userStore{}, clients)}
	srv := httptest.NewUnstartedServer(exampleop.SetupServer(issuer, st, nil, false))
	_ = srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return issuer
}

// ssoLogin walks a browser through the code flow: the inbox's login redirect, the
// provider's login form, the redirects back to the inbox's callback. It returns the
// callback's answer.
func ssoLogin(t *testing.T, inbox, user, password string) (*http.Client, int) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Transport: openapitest.Transport(t, http.DefaultTransport)}
	res, err := c.Get(inbox + auth.OIDCLoginPath)
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
	return c, res.StatusCode
}

func TestOIDCLoginWithGroupMapping(t *testing.T) {
	r := newRig(t, srv.NewDatabase(t), "acme", "support", func(c *auth.Config) { c.InsecureLoopbackCookies = true })
	inbox := httptest.NewServer(r.mux)
	t.Cleanup(inbox.Close)
	inboxURL := inbox.URL
	issuer := startProvider(t, inboxURL+auth.OIDCCallbackPath)
	r.seedAdmin("initial-admin-password-1")
	r.setDirectory(func(d *auth.Directory) {
		d.OIDC = &auth.OIDCConfig{Issuer: issuer, ClientID: "switchboard", ClientSecret: "sso-client-secret",
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
	// mallory's group is bound to nothing: refused, naming the claim; no account.
	if _, code := ssoLogin(t, inboxURL, "mallory", "mallory-sso-password"); code != 403 {
		t.Fatalf("mallory: %d", code)
	}
	if n := r.count(`SELECT count(*) FROM agents WHERE login = 'mallory'`); n != 0 {
		t.Fatal("mallory got an account")
	}
	// The provider's "admin" does not take over the local admin account.
	if _, code := ssoLogin(t, inboxURL, "admin", "admin-sso-password"); code != 409 {
		t.Fatalf("sso admin over the local admin: %d", code)
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
