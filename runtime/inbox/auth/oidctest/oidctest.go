// Package oidctest runs an OpenID provider for tests: zitadel's example provider
// (github.com/zitadel/oidc/v3/example/server) on loopback with fixed users, their groups
// in the ID token's "groups" claim and their login as preferred_username, and one web
// client ("switchboard", secret ClientSecret) whose redirect URL is the inbox's callback.
package oidctest

import (
	"context"
	"net"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// ClientID and ClientSecret are the provider's one client.
const (
	ClientID     = "switchboard"
	ClientSecret = "sso-client-secret"
)

// User is one account of the provider.
type User struct {
	Password string
	Groups   []string
}

// Users are the provider's accounts by login (the provider's form takes any letter
// case): carla (staff, support-leads), diego (staff), mallory (contractors) and admin
// (support-leads).
var Users = map[string]User{
	"carla":   {"carla-sso-password", []string{"staff", "support-leads"}},
	"diego":   {"diego-sso-password", []string{"staff"}},
	"mallory": {"mallory-sso-password", []string{"contractors"}},
	"admin":   {"admin-sso-password", []string{"support-leads"}},
}

type userStore struct{}

func (userStore) GetUserByID(id string) *storage.User {
	u, ok := Users[id]
	if !ok {
		return nil
	}
	return &storage.User{ID: id, Username: strings.ToUpper(id[:1]) + id[1:], Password: u.Password, FirstName: id, LastName: "Test",
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
	ui.AppendClaims("groups", Users[userID].Groups)
	return nil
}

// Start runs the provider until the test ends and returns its issuer URL. callback is
// the client's redirect URL (the inbox's /auth/oidc/callback). The provider's login
// form is at /login/username (fields username and password).
func Start(t testing.TB, callback string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + ln.Addr().String()
	clients := map[string]*storage.Client{ClientID: storage.WebClient(ClientID, ClientSecret, callback)}
	st := withGroups{storage.NewStorageWithClients(userStore{}, clients)}
	srv := httptest.NewUnstartedServer(exampleop.SetupServer(issuer, st, nil, false))
	_ = srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return issuer
}
