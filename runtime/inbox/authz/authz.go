// Package authz is the inbox's permission model: the named permissions every API
// operation requires, the predefined roles, custom roles declared on the Inbox
// (spec.roles), and the Principal (who is calling) that handlers read from the request's
// context. It is pure (no I/O) so that the manager's admission checks and the inbox
// agree on what a permission is. docs/permissions.md lists them.
package authz

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/switchboard-dev/switchboard/runtime/inbox/problem"
)

// Permission names one kind of operation, "<object>.<verb>".
type Permission string

// The permissions. Each API operation requires exactly one (docs/permissions.md).
const (
	ConversationsRead        Permission = "conversations.read"             // list and open the conversations of one's teams, their messages and media; live events
	ConversationsReadAll     Permission = "conversations.readAll"          // the same for every conversation of the Inbox, whatever its team
	ConversationsReply       Permission = "conversations.reply"            // send text and templates, add internal notes
	ConversationsUpdate      Permission = "conversations.update"           // accept, resolve, reopen, priority, tags
	ConversationsAssign      Permission = "conversations.assign"           // assign and transfer to an agent or a team
	ConversationsOverrideCap Permission = "conversations.overrideCapacity" // assign above an agent's capacity.max (audited)
	ContactsRead             Permission = "contacts.read"                  // search contacts, read attributes and CRM fields
	ContactsWrite            Permission = "contacts.write"                 // tags and attributes of contacts
	ContactsImport           Permission = "contacts.import"                // bulk import of contacts (CSV, JSONL)
	AgentsRead               Permission = "agents.read"                    // list agents, their availability and teams
	AgentsManage             Permission = "agents.manage"                  // create, disable agents; reset passwords
	AvailabilitySet          Permission = "availability.set"               // set one's own availability
	RolesRead                Permission = "roles.read"                     // list the roles and their permissions
	TokensManage             Permission = "tokens.manage"                  // create, list and revoke API tokens
	SupervisorRead           Permission = "supervisor.read"                // the supervisor view: every agent's load and the queues
	ReportsRead              Permission = "reports.read"                   // reports (JSON, CSV)
	ReportsManage            Permission = "reports.manage"                 // the rate card
	AuditRead                Permission = "audit.read"                     // query the audit log
	Export                   Permission = "export"                         // export conversations, contacts and the audit log
	CampaignsRead            Permission = "campaigns.read"                 // segments and campaigns, their progress
	CampaignsManage          Permission = "campaigns.manage"               // create, start, pause, resume, cancel campaigns
	IntegrationsRead         Permission = "integrations.read"              // the outbound webhooks' delivery log
)

// All lists every permission with what it allows, in the order of the docs.
var All = []struct {
	Permission  Permission
	Description string
}{
	{ConversationsRead, "list and open the conversations of one's teams, their messages and media; live events"},
	{ConversationsReadAll, "list and open every conversation of the Inbox, whatever its team"},
	{ConversationsReply, "send text and templates to the customer; add internal notes"},
	{ConversationsUpdate, "accept, resolve, reopen; set priority and tags"},
	{ConversationsAssign, "assign or transfer a conversation to an agent or a team"},
	{ConversationsOverrideCap, "assign above an agent's capacity.max (recorded in the audit log)"},
	{ContactsRead, "search contacts; read their tags, attributes and CRM fields"},
	{ContactsWrite, "change contacts' tags and attributes"},
	{ContactsImport, "import contacts in bulk (CSV, JSONL)"},
	{AgentsRead, "list agents with their availability and teams"},
	{AgentsManage, "create and disable agents, reset their passwords"},
	{AvailabilitySet, "set one's own availability (online, away, offline)"},
	{RolesRead, "list roles and their permissions"},
	{TokensManage, "create, list and revoke API tokens"},
	{SupervisorRead, "the supervisor view: every agent's load, response times and the queues"},
	{ReportsRead, "read reports"},
	{ReportsManage, "upload the rate card that message costs are computed from"},
	{AuditRead, "query the audit log"},
	{Export, "export conversations, contacts and the audit log"},
	{CampaignsRead, "read segments and campaigns with their progress"},
	{CampaignsManage, "create, start, pause, resume and cancel campaigns"},
	{IntegrationsRead, "read the delivery log of the outbound webhooks"},
}

// Known reports whether p is one of All.
func Known(p Permission) bool {
	for _, a := range All {
		if a.Permission == p {
			return true
		}
	}
	return false
}

// Parse returns the permission named s, or an error naming s and the known ones.
func Parse(s string) (Permission, error) {
	if p := Permission(s); Known(p) {
		return p, nil
	}
	names := make([]string, len(All))
	for i, a := range All {
		names[i] = string(a.Permission)
	}
	return "", fmt.Errorf("unknown permission %q (known: %s)", s, strings.Join(names, ", "))
}

// The predefined roles.
const (
	RoleAdmin      = "admin"
	RoleSupervisor = "supervisor"
	RoleAgent      = "agent"
	RoleAuditor    = "auditor"
)

// Predefined returns the predefined roles: admin (everything), supervisor (every
// conversation, assignment above capacity, the supervisor view, reports, campaigns),
// agent (the conversations of its teams), auditor (read-only, everything, and export).
func Predefined() map[string][]Permission {
	all := make([]Permission, len(All))
	for i, a := range All {
		all[i] = a.Permission
	}
	agent := []Permission{ConversationsRead, ConversationsReply, ConversationsUpdate, ConversationsAssign,
		ContactsRead, ContactsWrite, AgentsRead, AvailabilitySet, RolesRead}
	return map[string][]Permission{
		RoleAdmin: all,
		RoleSupervisor: append(slices.Clone(agent), ConversationsReadAll, ConversationsOverrideCap, ContactsImport,
			SupervisorRead, ReportsRead, ReportsManage, AuditRead, CampaignsRead, CampaignsManage, IntegrationsRead),
		RoleAgent: agent,
		RoleAuditor: {ConversationsRead, ConversationsReadAll, ContactsRead, AgentsRead, RolesRead, SupervisorRead,
			ReportsRead, AuditRead, Export, CampaignsRead, IntegrationsRead},
	}
}

// CustomRole is a role declared on the Inbox (spec.roles).
type CustomRole struct {
	Name        string
	Permissions []string
}

// Roles maps role names to their permissions: the predefined ones and the Inbox's own.
type Roles map[string][]Permission

// NewRoles returns the predefined roles plus custom. It refuses a custom role that
// redefines a predefined one, a duplicate name, an empty name or an unknown permission,
// naming it.
func NewRoles(custom []CustomRole) (Roles, error) {
	r := Roles(Predefined())
	for i, c := range custom {
		switch {
		case c.Name == "":
			return nil, fmt.Errorf("roles[%d].name: must not be empty", i)
		case r[c.Name] != nil:
			return nil, fmt.Errorf("roles[%d].name: %q is already defined", i, c.Name)
		}
		perms := make([]Permission, 0, len(c.Permissions))
		for j, s := range c.Permissions {
			p, err := Parse(s)
			if err != nil {
				return nil, fmt.Errorf("roles[%d].permissions[%d]: %w", i, j, err)
			}
			perms = append(perms, p)
		}
		r[c.Name] = perms
	}
	return r, nil
}

// Names returns the role names, sorted.
func (r Roles) Names() []string {
	names := make([]string, 0, len(r))
	for n := range r {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Kind says how a principal authenticated.
type Kind string

// The kinds of principal.
const (
	KindAgent Kind = "agent" // a person: a local account or single sign-on, by session or API token
	KindToken Kind = "token" // an integration's API token not tied to a person
)

// Principal is who calls an operation: the tenant (Namespace, Inbox), the subject (an
// agent's login name, or an API token's name), its role and teams.
type Principal struct {
	Namespace string
	Inbox     string
	Kind      Kind
	Subject   string // agent login (what RoutingPolicy teams[].members names) or token name
	Role      string
	// Teams the subject belongs to (RoutingPolicy teams[].members); which conversations
	// the principal sees is ConversationScope.
	Teams []string
	perms map[Permission]bool
}

// NewPrincipal returns a principal with the permissions of its role.
func NewPrincipal(namespace, inbox string, kind Kind, subject, role string, perms []Permission) *Principal {
	p := &Principal{Namespace: namespace, Inbox: inbox, Kind: kind, Subject: subject, Role: role,
		perms: make(map[Permission]bool, len(perms))}
	for _, x := range perms {
		p.perms[x] = true
	}
	return p
}

// Can reports whether the principal holds perm. A nil principal holds nothing.
func (p *Principal) Can(perm Permission) bool { return p != nil && p.perms[perm] }

// Permissions returns the principal's permissions, sorted.
func (p *Principal) Permissions() []Permission {
	out := make([]Permission, 0, len(p.perms))
	for x := range p.perms {
		out = append(out, x)
	}
	slices.Sort(out)
	return out
}

// Actor is the principal as the audit log's actor column writes it: "agent:<login>" or
// "token:<name>".
func (p *Principal) Actor() string { return string(p.Kind) + ":" + p.Subject }

// InTeam reports whether the principal belongs to team.
func (p *Principal) InTeam(team string) bool { return slices.Contains(p.Teams, team) }

type ctxKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// FromContext returns the principal of the request, or nil.
func FromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(ctxKey{}).(*Principal)
	return p
}

// Require serves h only to an authenticated principal holding perm: 401 without a
// principal (the authentication middleware found none), 403 naming perm otherwise.
func Require(perm Permission, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := FromContext(r.Context())
		if p == nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="switchboard-inbox"`)
			problem.Respond(w, http.StatusUnauthorized, "authentication is required: a session cookie or an Authorization: Bearer token")
			return
		}
		if !p.Can(perm) {
			pr := problem.New(http.StatusForbidden, fmt.Sprintf("the role %q lacks the permission %q", p.Role, perm))
			pr.Permission = string(perm)
			problem.Write(w, pr)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// RequireFunc is Require for a handler function.
func RequireFunc(perm Permission, h http.HandlerFunc) http.Handler { return Require(perm, h) }

// Authenticator finds who sent a request (session cookie, API token). It returns nil,
// nil for a request without credentials, and an error for credentials that are wrong,
// expired or revoked (the error's text is shown to the caller: it must not contain the
// credential).
type Authenticator interface {
	Authenticate(r *http.Request) (*Principal, error)
}

// AuthenticatorFunc adapts a function to Authenticator.
type AuthenticatorFunc func(r *http.Request) (*Principal, error)

// Authenticate implements Authenticator.
func (f AuthenticatorFunc) Authenticate(r *http.Request) (*Principal, error) { return f(r) }

// Chain tries each authenticator in turn; the first that returns a principal or an
// error decides.
func Chain(as ...Authenticator) Authenticator {
	return AuthenticatorFunc(func(r *http.Request) (*Principal, error) {
		for _, a := range as {
			if p, err := a.Authenticate(r); p != nil || err != nil {
				return p, err
			}
		}
		return nil, nil
	})
}

// Authenticate puts the request's principal, if any, into its context and serves h;
// wrong credentials get 401 at once, or the status of an error that is a problem.Problem
// (403 for a missing CSRF token, 503 when the database is down). Operations then call
// Require.
func Authenticate(a Authenticator, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := a.Authenticate(r)
		var pr problem.Problem
		if errors.As(err, &pr) {
			problem.Write(w, pr)
			return
		}
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="switchboard-inbox", error="invalid_token"`)
			problem.Respond(w, http.StatusUnauthorized, err.Error())
			return
		}
		if p != nil {
			r = r.WithContext(WithPrincipal(r.Context(), p))
		}
		h.ServeHTTP(w, r)
	})
}
