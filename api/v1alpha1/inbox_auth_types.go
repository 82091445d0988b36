package v1alpha1

// InboxAccess is who may use the inbox's agents' API (docs/auth.md, docs/permissions.md):
// custom roles, agents declared for GitOps, and single sign-on. Accounts made through
// the API live in the database; passwords are never in the spec.
// +kubebuilder:validation:XValidation:rule="!has(self.agents) || self.agents.all(a, a.role in ['admin', 'supervisor', 'agent', 'auditor'] || (has(self.roles) && self.roles.exists(r, r.name == a.role)))",message="spec.agents: each role must be admin, supervisor, agent, auditor or a name in spec.roles"
// +kubebuilder:validation:XValidation:rule="!has(self.auth) || !has(self.auth.oidc) || self.auth.oidc.groupBindings.all(b, b.role in ['admin', 'supervisor', 'agent', 'auditor'] || (has(self.roles) && self.roles.exists(r, r.name == b.role)))",message="spec.auth.oidc.groupBindings: each role must be admin, supervisor, agent, auditor or a name in spec.roles"
type InboxAccess struct {
	// Roles are custom roles besides the predefined admin, supervisor, agent and
	// auditor: a name and the permissions it grants (docs/permissions.md lists them).
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=50
	Roles []InboxRole `json:"roles,omitempty"`

	// Agents declares agent accounts: the inbox creates them without a password (an
	// admin sets one with POST /api/v1/agents/{login}/reset-password), keeps their
	// role and display name as declared, and deletes those removed from this list.
	// +optional
	// +listType=map
	// +listMapKey=login
	// +kubebuilder:validation:MaxItems=200
	Agents []InboxAgent `json:"agents,omitempty"`

	// Auth configures how agents sign in besides local passwords.
	// +optional
	Auth *InboxAuth `json:"auth,omitempty"`
}

// Permission is one permission of the inbox's API ("<object>.<verb>"). The enum is
// authz.All (runtime/inbox/authz); a test checks that they agree.
// +kubebuilder:validation:Enum=conversations.read;conversations.readAll;conversations.reply;conversations.update;conversations.assign;conversations.overrideCapacity;contacts.read;contacts.write;contacts.import;agents.read;agents.manage;availability.set;roles.read;tokens.manage;supervisor.read;reports.read;reports.manage;audit.read;export;campaigns.read;campaigns.manage;integrations.read
type Permission string

// InboxRole is a custom role.
type InboxRole struct {
	// Name of the role; not one of the predefined roles.
	// +required
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`
	// +kubebuilder:validation:XValidation:rule="!(self in ['admin', 'supervisor', 'agent', 'auditor'])",message="must not be a predefined role's name (admin, supervisor, agent, auditor)"
	Name string `json:"name"`
	// Permissions the role grants.
	// +required
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	Permissions []Permission `json:"permissions"`
}

// InboxAgent is a declared agent account.
type InboxAgent struct {
	// Login is the agent's login name, the name RoutingPolicy teams[].members lists.
	// +required
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([a-z0-9._@-]{0,62}[a-z0-9])?$`
	Login string `json:"login"`
	// DisplayName is how people see the agent.
	// +optional
	// +kubebuilder:validation:MaxLength=200
	DisplayName string `json:"displayName,omitempty"`
	// Role: admin, supervisor, agent, auditor or a custom role of spec.roles.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Role string `json:"role"`
}

// InboxAuth configures sign-in.
type InboxAuth struct {
	// OIDC is single sign-on with an OpenID Connect provider (authorization code flow
	// with PKCE at /auth/oidc/login).
	// +optional
	OIDC *InboxOIDC `json:"oidc,omitempty"`
}

// InboxOIDC is single sign-on with an OpenID Connect provider.
type InboxOIDC struct {
	// Issuer is the provider's issuer URL.
	// +required
	// +kubebuilder:validation:Pattern=`^https?://[^\s]+$`
	// +kubebuilder:validation:MaxLength=2048
	Issuer string `json:"issuer"`
	// ClientID registered with the provider.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	ClientID string `json:"clientID"`
	// ClientSecretRef is the key of a Secret of this namespace holding the client
	// secret; the inbox's Role is granted get on exactly that Secret.
	// +required
	ClientSecretRef SecretKeyRef `json:"clientSecretRef"`
	// GroupsClaim is the ID token's claim listing the user's groups.
	// +optional
	// +kubebuilder:default=groups
	// +kubebuilder:validation:MaxLength=128
	GroupsClaim string `json:"groupsClaim,omitempty"`
	// UsernameClaim is the claim that becomes the agent's login (lower-cased); when
	// unset, preferred_username, else email.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	UsernameClaim string `json:"usernameClaim,omitempty"`
	// GroupBindings give a role to the members of a group; the first binding matching
	// one of the user's groups decides. A user in no bound group is refused.
	// +required
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=50
	// +listType=atomic
	GroupBindings []OIDCGroupBinding `json:"groupBindings"`
	// RedirectURL is the callback URL registered with the provider; when unset it is
	// https://<the request's host>/auth/oidc/callback.
	// +optional
	// +kubebuilder:validation:Pattern=`^https?://[^\s]+/auth/oidc/callback$`
	RedirectURL string `json:"redirectURL,omitempty"`
}

// OIDCGroupBinding gives Role to the members of Group.
type OIDCGroupBinding struct {
	// Group as the groups claim writes it.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Group string `json:"group"`
	// Role: admin, supervisor, agent, auditor or a custom role of spec.roles.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Role string `json:"role"`
}

// SecretKeyRef names one key of a Secret in the same namespace.
type SecretKeyRef struct {
	// Name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// Key in the Secret's data.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	Key string `json:"key"`
}
