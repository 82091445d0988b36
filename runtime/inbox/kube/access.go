package kube

import (
	"context"
	"fmt"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/inbox/authz"
)

// InboxResource is the Inbox the inbox serves (watched by name: its Role grants only it).
var InboxResource = schema.GroupVersionResource{Group: "switchboard.dev", Version: "v1alpha1", Resource: "inboxes"}

// InitialAdminKey is the key of the password in the Secret <inbox>-initial-admin.
const InitialAdminKey = "password"

// Access is what the Inbox and its namespace say about who may use the agents' API:
// the roles (predefined and spec.roles), each login's teams (RoutingPolicy
// teams[].members, over every RoutingPolicy of the namespace), the declared agents
// (spec.agents), single sign-on (spec.auth.oidc with its client secret) and the initial
// admin password (the Secret <inbox>-initial-admin; "" while it does not exist).
type Access struct {
	Roles                authz.Roles
	Teams                map[string][]string
	Agents               []sbv1.InboxAgent
	OIDC                 *OIDC
	InitialAdminPassword string
}

// OIDC is spec.auth.oidc with the client secret read from its Secret. String hides the
// secret.
type OIDC struct {
	Issuer, ClientID, ClientSecret          string
	GroupsClaim, UsernameClaim, RedirectURL string
	GroupBindings                           []sbv1.OIDCGroupBinding
}

// String names the issuer and client without the secret.
func (o OIDC) String() string { return o.Issuer + " client " + o.ClientID }

// teamsOf maps each member of the RoutingPolicies' teams to its teams, sorted.
func teamsOf(routing []sbv1.RoutingPolicy) map[string][]string {
	teams := map[string][]string{}
	for _, rp := range routing {
		for _, t := range rp.Spec.Teams {
			for _, m := range t.Members {
				teams[m] = append(teams[m], t.Name)
			}
		}
	}
	for m, ts := range teams {
		slices.Sort(ts)
		teams[m] = slices.Compact(ts)
	}
	return teams
}

// inboxObject is the Inbox as the informer holds it (false before it is known).
func (s *Source) inboxObject() (sbv1.Inbox, bool) {
	if s.inboxes == nil {
		return sbv1.Inbox{}, false
	}
	obj, err := s.inboxes.ByNamespace(s.inbox.Namespace).Get(s.inbox.Name)
	if err != nil {
		return sbv1.Inbox{}, false
	}
	ibs := convertAll[sbv1.Inbox]([]runtime.Object{obj})
	if len(ibs) != 1 {
		return sbv1.Inbox{}, false
	}
	return ibs[0], true
}

// access builds the Access of the Inbox (nil when it is not in the informer yet: the
// predefined roles only). A spec.roles that does not compile (admission prevents it)
// leaves only the predefined roles, logged.
func (s *Source) access(ctx context.Context, pols policies) Access {
	a := Access{Roles: authz.Roles(authz.Predefined()), Teams: teamsOf(pols.routing)}
	a.InitialAdminPassword = s.secretValue(ctx, s.inbox.Name+"-initial-admin", InitialAdminKey)
	ib, ok := s.inboxObject()
	if !ok {
		return a
	}
	custom := make([]authz.CustomRole, 0, len(ib.Spec.Roles))
	for _, r := range ib.Spec.Roles {
		c := authz.CustomRole{Name: r.Name}
		for _, p := range r.Permissions {
			c.Permissions = append(c.Permissions, string(p))
		}
		custom = append(custom, c)
	}
	if roles, err := authz.NewRoles(custom); err != nil {
		s.log.Error("the Inbox's spec.roles are left out", "error", err)
	} else {
		a.Roles = roles
	}
	a.Agents = ib.Spec.Agents
	if ib.Spec.Auth != nil && ib.Spec.Auth.OIDC != nil {
		o := ib.Spec.Auth.OIDC
		secret := s.secretValue(ctx, o.ClientSecretRef.Name, o.ClientSecretRef.Key)
		if secret == "" {
			s.log.Error("single sign-on is off: its client secret cannot be read", "secret", o.ClientSecretRef.Name, "key", o.ClientSecretRef.Key)
		} else {
			a.OIDC = &OIDC{Issuer: o.Issuer, ClientID: o.ClientID, ClientSecret: secret, GroupsClaim: o.GroupsClaim,
				UsernameClaim: o.UsernameClaim, RedirectURL: o.RedirectURL, GroupBindings: o.GroupBindings}
		}
	}
	return a
}

// secretValue reads one key of a Secret of the namespace ("" when it or the key is
// missing, or cannot be read; logged without the value).
func (s *Source) secretValue(ctx context.Context, name, key string) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	sec, err := s.secrets.CoreV1().Secrets(s.inbox.Namespace).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return ""
	case err != nil:
		s.log.Info("a Secret cannot be read", "secret", name, "reason", fmt.Sprint(apierrors.ReasonForError(err)))
		return ""
	}
	return string(sec.Data[key])
}
