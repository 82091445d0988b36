package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// Direction is the direction of the messages a KeywordRule inspects.
// +kubebuilder:validation:Enum=Inbound;Outbound
type Direction string

const (
	// Inbound rules look at customers' messages: they reply, tag and route.
	Inbound Direction = "Inbound"
	// Outbound rules look at what agents, auto-replies and campaigns send: they block
	// sensitive words.
	Outbound Direction = "Outbound"
)

// MatchMode says how keywords are compared with a message. Word, Contains and Exact
// compare the folded message (case, accents, width, spaces) with the folded keywords;
// Regex matches the message as written, case-insensitively (docs/keywordrule.md).
// +kubebuilder:validation:Enum=Word;Contains;Exact;Regex
type MatchMode string

const (
	// MatchWord matches a keyword that stands as whole words in the message.
	MatchWord MatchMode = "Word"
	// MatchContains matches a keyword anywhere in the message.
	MatchContains MatchMode = "Contains"
	// MatchExact matches a message that is exactly the keyword.
	MatchExact MatchMode = "Exact"
	// MatchRegex treats each keyword as an RE2 regular expression.
	MatchRegex MatchMode = "Regex"
)

// When restricts a rule to business hours or to after hours.
// +kubebuilder:validation:Enum=Always;BusinessHours;AfterHours
type When string

const (
	// Always applies the rule at any time.
	Always When = "Always"
	// DuringBusinessHours applies the rule inside the RoutingPolicy's business hours.
	DuringBusinessHours When = "BusinessHours"
	// OutsideBusinessHours applies the rule outside the RoutingPolicy's business hours.
	OutsideBusinessHours When = "AfterHours"
)

// KeywordRuleSpec declares keywords and what to do when a message matches them.
// +kubebuilder:validation:XValidation:rule="self.direction != 'Outbound' || (has(self.actions.block) && !has(self.actions.reply) && !has(self.actions.tag) && !has(self.actions.routeToSkill))",message="spec.actions: an Outbound rule may only block (set spec.actions.block and nothing else)"
// +kubebuilder:validation:XValidation:rule="self.direction != 'Inbound' || (!has(self.actions.block) && (has(self.actions.reply) || has(self.actions.tag) || has(self.actions.routeToSkill)))",message="spec.actions: an Inbound rule needs at least one of reply, tag or routeToSkill, and may not block"
type KeywordRuleSpec struct {
	// NumberSelector selects the Numbers in this namespace the rule applies to. An
	// empty selector selects every Number in the namespace.
	// +required
	NumberSelector metav1.LabelSelector `json:"numberSelector"`

	// Direction is Inbound (customers' messages) or Outbound (messages sent to customers).
	// +required
	Direction Direction `json:"direction"`

	// Match holds the keywords.
	// +required
	Match KeywordMatch `json:"match"`

	// Priority orders rules: higher first, then by name. Among the inbound rules that
	// match a message, the first with a reply replies and the first with routeToSkill
	// routes; the tags of every matching rule apply. An outbound message is blocked by
	// the first matching rule.
	// +optional
	// +kubebuilder:default=0
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=10000
	Priority int32 `json:"priority"`

	// When is Always, BusinessHours or AfterHours (as the RoutingPolicy of the number
	// defines them).
	// +optional
	// +kubebuilder:default=Always
	When When `json:"when,omitempty"`

	// Actions to take on a match.
	// +required
	Actions KeywordActions `json:"actions"`

	// Suspend stops the operator from reconciling this rule.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// KeywordMatch lists keywords and how they match.
type KeywordMatch struct {
	// Any lists the keywords; a message matches when any of them does. 1 to 1000
	// entries of 1 to 100 characters.
	// +required
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=1000
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=100
	Any []string `json:"any"`

	// Mode is Word, Contains, Exact or Regex.
	// +optional
	// +kubebuilder:default=Word
	Mode MatchMode `json:"mode,omitempty"`
}

// KeywordActions are what a matching rule does.
type KeywordActions struct {
	// Reply sends an automatic answer (Inbound rules).
	// +optional
	Reply *ReplyAction `json:"reply,omitempty"`

	// Tag adds these tags to the conversation (Inbound rules).
	// +optional
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=20
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=63
	Tag []string `json:"tag,omitempty"`

	// RouteToSkill routes the conversation to agents with this skill (Inbound rules).
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	RouteToSkill string `json:"routeToSkill,omitempty"`

	// Block refuses to send a matching message (Outbound rules, sensitive words).
	// +optional
	Block *BlockAction `json:"block,omitempty"`
}

// ReplyAction is an automatic reply.
type ReplyAction struct {
	// Text of the reply.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=4096
	Text string `json:"text"`
}

// BlockAction refuses a message.
type BlockAction struct {
	// Reason is shown to the sender of the refused message and in the alert.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Reason string `json:"reason,omitempty"`
}

// KeywordRuleStatus is what is true about the rule now.
type KeywordRuleStatus struct {
	PolicyStatus `json:",inline"`
}

// KeywordRule matches keywords in messages: inbound rules reply, tag and route;
// outbound rules block sensitive words.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=kw,categories=switchboard
// +kubebuilder:printcolumn:name="Direction",type=string,JSONPath=`.spec.direction`
// +kubebuilder:printcolumn:name="Mode",type=string,JSONPath=`.spec.match.mode`
// +kubebuilder:printcolumn:name="Priority",type=integer,JSONPath=`.spec.priority`
// +kubebuilder:printcolumn:name="Numbers",type=integer,JSONPath=`.status.matchedNumbers`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type KeywordRule struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec KeywordRuleSpec `json:"spec"`
	// +optional
	Status KeywordRuleStatus `json:"status,omitempty"`
}

// KeywordRuleList is a list of KeywordRules.
// +kubebuilder:object:root=true
type KeywordRuleList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []KeywordRule `json:"items"`
}
