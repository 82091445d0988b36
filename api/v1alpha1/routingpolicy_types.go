package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// RoutingStrategy chooses the agent that gets a new conversation.
// +kubebuilder:validation:Enum=RoundRobin;LeastLoaded;Skills
type RoutingStrategy string

const (
	// RoundRobin assigns agents in turn, skipping those at capacity.
	RoundRobin RoutingStrategy = "RoundRobin"
	// LeastLoaded assigns the agent with the fewest open conversations.
	LeastLoaded RoutingStrategy = "LeastLoaded"
	// Skills assigns within the teams that have the conversation's skill, least loaded first.
	Skills RoutingStrategy = "Skills"
)

// Weekday is a day of the week, abbreviated in English.
// +kubebuilder:validation:Enum=Mon;Tue;Wed;Thu;Fri;Sat;Sun
type Weekday string

// RoutingPolicySpec declares how conversations on the selected Numbers reach agents.
// +kubebuilder:validation:XValidation:rule="self.strategy != 'Skills' || (has(self.teams) && self.teams.exists(t, has(t.skills) && size(t.skills) > 0))",message="spec.teams must give at least one team skills when spec.strategy is Skills"
type RoutingPolicySpec struct {
	// NumberSelector selects the Numbers in this namespace the policy applies to. An
	// empty selector selects every Number in the namespace.
	// +required
	NumberSelector metav1.LabelSelector `json:"numberSelector"`

	// Strategy is RoundRobin, LeastLoaded or Skills.
	// +optional
	// +kubebuilder:default=LeastLoaded
	Strategy RoutingStrategy `json:"strategy,omitempty"`

	// Capacity caps the concurrent conversations per agent.
	// +optional
	Capacity *Capacity `json:"capacity,omitempty"`

	// AssignWithin is how long an agent has to accept a conversation before it is
	// routed to the next one (a Go duration, 1s to 1h).
	// +optional
	// +kubebuilder:default="3s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s') && duration(self) <= duration('1h')",message="spec.assignWithin must be a duration from 1s to 1h"
	AssignWithin *metav1.Duration `json:"assignWithin,omitempty"`

	// Teams of agents with their skills. Team names are unique.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=100
	Teams []Team `json:"teams,omitempty"`

	// BusinessHours are the hours agents work; outside them the afterHours reply is sent.
	// +optional
	BusinessHours *BusinessHours `json:"businessHours,omitempty"`

	// AfterHours says what happens to a conversation that arrives outside business hours.
	// +optional
	AfterHours *AfterHours `json:"afterHours,omitempty"`

	// Suspend stops the operator from reconciling this policy.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// Capacity is the number of concurrent conversations an agent holds.
// +kubebuilder:validation:XValidation:rule="self.target <= self.max",message="spec.capacity.target must not exceed spec.capacity.max"
type Capacity struct {
	// Target is the load routing aims for; agents above it get new conversations
	// only when everyone is.
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	Target int32 `json:"target"`
	// Max is the hard cap: an agent at max gets no new conversation.
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	Max int32 `json:"max"`
}

// Team is a group of agents with skills.
type Team struct {
	// Name of the team, unique in the policy.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`
	// Skills the team's members have, such as a language or a product.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=50
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=63
	Skills []string `json:"skills,omitempty"`
	// Members are the agents' user names.
	// +required
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=500
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=253
	Members []string `json:"members"`
}

// BusinessHours are weekly working hours in a time zone, minus holidays.
type BusinessHours struct {
	// TimeZone is an IANA time zone name, such as Europe/Madrid.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	TimeZone string `json:"timeZone"`
	// Weekly lists the working windows.
	// +required
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=50
	Weekly []WeeklyWindow `json:"weekly"`
	// Holidays are dates (YYYY-MM-DD) with no business hours.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=366
	// +kubebuilder:validation:items:Pattern=`^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$`
	Holidays []string `json:"holidays,omitempty"`
}

// WeeklyWindow is a span of working time on some days of the week.
// +kubebuilder:validation:XValidation:rule="self.from < self.to",message="spec.businessHours.weekly: from must be earlier than to"
type WeeklyWindow struct {
	// Days the window applies to: Mon, Tue, Wed, Thu, Fri, Sat, Sun.
	// +required
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=7
	Days []Weekday `json:"days"`
	// From is the start, HH:MM in 24-hour time (00:00 to 23:59).
	// +required
	// +kubebuilder:validation:MaxLength=5
	// +kubebuilder:validation:XValidation:rule="self.matches('^([01][0-9]|2[0-3]):[0-5][0-9]$')",message="spec.businessHours.weekly.from must be HH:MM between 00:00 and 23:59"
	From string `json:"from"`
	// To is the end, HH:MM in 24-hour time (00:00 to 23:59), after From.
	// +required
	// +kubebuilder:validation:MaxLength=5
	// +kubebuilder:validation:XValidation:rule="self.matches('^([01][0-9]|2[0-3]):[0-5][0-9]$')",message="spec.businessHours.weekly.to must be HH:MM between 00:00 and 23:59"
	To string `json:"to"`
}

// AfterHours is what happens outside business hours.
type AfterHours struct {
	// Reply is sent once to a customer who writes outside business hours.
	// +optional
	// +kubebuilder:validation:MaxLength=4096
	Reply string `json:"reply,omitempty"`
}

// RoutingPolicyStatus is what is true about the policy now.
type RoutingPolicyStatus struct {
	PolicyStatus `json:",inline"`
}

// RoutingPolicy says how conversations on the selected Numbers are assigned to agents.
// A Number is routed by at most one policy: when two select it, the older one wins and
// the newer reports Stalled with reason Conflict.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=rp;routing,categories=switchboard
// +kubebuilder:printcolumn:name="Strategy",type=string,JSONPath=`.spec.strategy`
// +kubebuilder:printcolumn:name="Numbers",type=integer,JSONPath=`.status.matchedNumbers`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type RoutingPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec RoutingPolicySpec `json:"spec"`
	// +optional
	Status RoutingPolicyStatus `json:"status,omitempty"`
}

// RoutingPolicyList is a list of RoutingPolicies.
// +kubebuilder:object:root=true
type RoutingPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []RoutingPolicy `json:"items"`
}
