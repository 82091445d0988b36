package authz_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/runtime/inbox/authz"
)

func TestPredefinedRolesHoldOnlyKnownPermissions(t *testing.T) {
	for role, perms := range authz.Predefined() {
		for _, p := range perms {
			if !authz.Known(p) {
				t.Errorf("role %s: unknown permission %q", role, p)
			}
		}
	}
	r := authz.Predefined()
	if len(r[authz.RoleAdmin]) != len(authz.All) {
		t.Errorf("admin holds %d of %d permissions", len(r[authz.RoleAdmin]), len(authz.All))
	}
	auditor := authz.NewPrincipal("ns", "inbox", authz.KindAgent, "a", authz.RoleAuditor, r[authz.RoleAuditor])
	for _, write := range []authz.Permission{authz.ConversationsReply, authz.ConversationsUpdate, authz.ConversationsAssign,
		authz.ContactsWrite, authz.AgentsManage, authz.TokensManage, authz.CampaignsManage, authz.AvailabilitySet} {
		if auditor.Can(write) {
			t.Errorf("the auditor is read-only but holds %s", write)
		}
	}
	agent := authz.NewPrincipal("ns", "inbox", authz.KindAgent, "a", authz.RoleAgent, r[authz.RoleAgent])
	if agent.Can(authz.ConversationsReadAll) || agent.Can(authz.Export) {
		t.Error("an agent holds conversations.readAll or export")
	}
}

func TestNewRolesNamesTheBadPermission(t *testing.T) {
	_, err := authz.NewRoles([]authz.CustomRole{{Name: "triage", Permissions: []string{"conversations.read", "conversations.delete"}}})
	if err == nil || !strings.Contains(err.Error(), `roles[0].permissions[1]: unknown permission "conversations.delete"`) {
		t.Fatalf("err = %v", err)
	}
	if _, err := authz.NewRoles([]authz.CustomRole{{Name: "admin"}}); err == nil {
		t.Fatal("a custom role redefined admin")
	}
	r, err := authz.NewRoles([]authz.CustomRole{{Name: "triage", Permissions: []string{"conversations.read", "conversations.assign"}}})
	if err != nil || len(r["triage"]) != 2 || r[authz.RoleAdmin] == nil {
		t.Fatalf("roles = %v, %v", r, err)
	}
}

func TestRequire(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	token := map[string]*authz.Principal{
		"agent":   authz.NewPrincipal("ns", "i", authz.KindAgent, "alice", authz.RoleAgent, authz.Predefined()[authz.RoleAgent]),
		"auditor": authz.NewPrincipal("ns", "i", authz.KindToken, "ci", authz.RoleAuditor, authz.Predefined()[authz.RoleAuditor]),
	}
	auth := authz.AuthenticatorFunc(func(r *http.Request) (*authz.Principal, error) {
		v, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !found {
			return nil, nil
		}
		if p := token[v]; p != nil {
			return p, nil
		}
		return nil, errors.New("the token is not valid")
	})
	h := authz.Authenticate(auth, authz.Require(authz.Export, ok))
	for _, c := range []struct {
		bearer string
		want   int
		perm   string
	}{{"", 401, ""}, {"wrong", 401, ""}, {"agent", 403, "export"}, {"auditor", 204, ""}} {
		req := httptest.NewRequest("GET", "/api/v1/export", nil)
		if c.bearer != "" {
			req.Header.Set("Authorization", "Bearer "+c.bearer)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != c.want {
			t.Errorf("%q: status %d, want %d", c.bearer, rec.Code, c.want)
		}
		if c.want >= 400 {
			var doc map[string]any
			if rec.Header().Get("Content-Type") != "application/problem+json" || json.Unmarshal(rec.Body.Bytes(), &doc) != nil {
				t.Errorf("%q: not a problem document: %s", c.bearer, rec.Body)
			}
			if c.perm != "" && doc["permission"] != c.perm {
				t.Errorf("%q: permission = %v, want %s", c.bearer, doc["permission"], c.perm)
			}
		}
	}
}

func TestDocsListEveryPermission(t *testing.T) {
	doc, err := os.ReadFile("../../../docs/permissions.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range authz.All {
		if !strings.Contains(string(doc), "| `"+string(a.Permission)+"` | "+a.Description+" |") {
			t.Errorf("docs/permissions.md does not list %s with its description", a.Permission)
		}
	}
}
