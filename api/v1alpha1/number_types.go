package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// Keys the credentials Secret of a Number must hold.
const (
	// CredentialsAccessTokenKey holds the Cloud API access token (a system-user token).
	CredentialsAccessTokenKey = "accessToken"
	// CredentialsAppSecretKey holds the Meta app secret that signs webhooks.
	CredentialsAppSecretKey = "appSecret"
	// CredentialsVerifyTokenKey holds the token Meta echoes when verifying the webhook URL.
	CredentialsVerifyTokenKey = "verifyToken"
)

// CredentialsKeys lists the keys the credentials Secret must hold, in the order they are checked.
var CredentialsKeys = []string{CredentialsAccessTokenKey, CredentialsAppSecretKey, CredentialsVerifyTokenKey}

// NumberSpec declares a WhatsApp Business phone number and how Switchboard sends from it.
type NumberSpec struct {
	// PhoneNumberID is Meta's id of the phone number (digits only, as shown in
	// WhatsApp Manager). Immutable.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^[0-9]+$')",message="spec.phoneNumberID must contain digits only"
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.phoneNumberID is immutable: create a new Number for another phone number"
	PhoneNumberID string `json:"phoneNumberID"`

	// BusinessAccountID is the id of the WhatsApp Business Account (WABA) that owns the
	// number (digits only).
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^[0-9]+$')",message="spec.businessAccountID must contain digits only"
	BusinessAccountID string `json:"businessAccountID"`

	// DisplayPhoneNumber is the number as people see it, E.164-like: '+' then 8 to 15
	// digits; spaces and dashes between digits are allowed ("+34 600 000 000").
	// Informational.
	// +optional
	// +kubebuilder:validation:MaxLength=40
	// +kubebuilder:validation:XValidation:rule="self.matches('^\\\\+[0-9]([ -]?[0-9]){7,14}$')",message="spec.displayPhoneNumber must be E.164-like: '+' then 8 to 15 digits, spaces or dashes allowed"
	DisplayPhoneNumber string `json:"displayPhoneNumber,omitempty"`

	// CredentialsRef names a Secret in the same namespace with the keys accessToken
	// (Cloud API token), appSecret (verifies webhook signatures) and verifyToken
	// (answers Meta's webhook verification).
	// +required
	CredentialsRef LocalObjectReference `json:"credentialsRef"`

	// APIBaseURL is the Graph API endpoint. Tests and dev mode point it at
	// `switchboard simulator`.
	// +optional
	// +kubebuilder:default="https://graph.facebook.com"
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.matches('^https?://[^\\\\s/]+(/[^\\\\s]*)?$')",message="spec.apiBaseURL must be an http or https URL"
	APIBaseURL string `json:"apiBaseURL,omitempty"`

	// APIVersion is the Graph API version used in request paths, like v23.0.
	// +optional
	// +kubebuilder:default="v23.0"
	// +kubebuilder:validation:MaxLength=16
	// +kubebuilder:validation:XValidation:rule="self.matches('^v[0-9]+\\\\.[0-9]+$')",message="spec.apiVersion must look like v23.0"
	APIVersion string `json:"apiVersion,omitempty"`

	// Sending tunes how the sender paces outbound messages, under the limits Meta grants.
	// +optional
	Sending *SendingSpec `json:"sending,omitempty"`

	// Sender tunes the number's sender Deployment.
	// +optional
	Sender *SenderSpec `json:"sender,omitempty"`

	// Routing tunes how the inbox routes this Number's conversations to agents.
	// +optional
	Routing *NumberRouting `json:"routing,omitempty"`

	// Suspend stops the operator from reconciling this Number: nothing is created,
	// changed or repaired until it is set back to false. Running senders keep running.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// NumberRouting tunes how the inbox routes the Number's conversations.
type NumberRouting struct {
	// DefaultSkill is the skill a new conversation on this Number requires when no
	// Inbound KeywordRule's routeToSkill matched its first message, such as the
	// language of the Number's market ("es"). Under a RoutingPolicy with strategy Skills
	// only agents whose team has it take the conversation (docs/routing.md#eligibility);
	// other strategies ignore it. Like a RoutingPolicy team's skills: 1 to 63
	// characters. Unset: no default, and Skills then routes to every team of the policy.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	DefaultSkill string `json:"defaultSkill,omitempty"`
}

// SendingSpec holds the spec's overrides of the sending limits.
type SendingSpec struct {
	// Paused stops all outbound sending from this number; queued messages wait.
	// +optional
	Paused bool `json:"paused,omitempty"`

	// MaxMessagesPerSecond is a ceiling under Meta's throughput cap (80/s by default,
	// 1000/s for high-throughput numbers).
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	MaxMessagesPerSecond *int32 `json:"maxMessagesPerSecond,omitempty"`

	// Warmup sets how fast a new number's business-initiated (campaign) rate rises.
	// +optional
	Warmup *WarmupSpec `json:"warmup,omitempty"`

	// Coexistence marks a number that is also used in the WhatsApp Business app (Meta's
	// "coexistence" onboarding). Meta holds such numbers to 20 messages/s, inbound
	// included, whatever their throughput level, and the Graph API does not say which
	// numbers they are: set it so that the limits apply that cap.
	// +optional
	Coexistence bool `json:"coexistence,omitempty"`

	// Retry bounds the sender's retries of a failed message, per retry class (see
	// docs/sender.md, "Retries"). Classes left out keep the sender's defaults (its
	// --retry-* flags). Read when a sender becomes active.
	// +optional
	Retry *RetrySpec `json:"retry,omitempty"`
}

// RetrySpec bounds the sender's retries per retry class.
type RetrySpec struct {
	// Transient: one message failed for a reason that may pass (131000, 131016, 2,
	// is_transient errors, network errors). Default 10 attempts, 1h.
	// +optional
	Transient *RetryBound `json:"transient,omitempty"`
	// PairRate: too many messages to one recipient (131056). Default 8 attempts, 24h.
	// +optional
	PairRate *RetryBound `json:"pairRate,omitempty"`
	// Throughput: the number's or its account's rate (130429, 131057, 4, 80007). Default
	// 50 attempts, 24h.
	// +optional
	Throughput *RetryBound `json:"throughput,omitempty"`
	// Paused: Meta restricted or paused the number (131048, 368, 131031, 130497) or refused
	// its access token. Default 200 attempts, 72h.
	// +optional
	Paused *RetryBound `json:"paused,omitempty"`
}

// RetryBound bounds one retry class: a message fails, with Meta's last error, at its
// MaxAttempts-th failure of the class in a row, or at a failure MaxAge or more after the
// first of them.
type RetryBound struct {
	// MaxAttempts is how many failed calls of the class in a row a message may have.
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	MaxAttempts int32 `json:"maxAttempts"`

	// MaxAge is how long after the first failure of the class a message may be retried,
	// as a Go duration such as 1h.
	// +required
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="maxAge must be a positive duration such as 1h"
	MaxAge metav1.Duration `json:"maxAge"`
}

// WarmupSpec is a linear ramp of the campaign rate for a new number.
// +kubebuilder:validation:XValidation:rule="self.startPerMinute <= self.targetPerMinute",message="spec.sending.warmup.startPerMinute must not exceed spec.sending.warmup.targetPerMinute"
type WarmupSpec struct {
	// StartPerMinute is the campaign rate, in messages per minute, of a brand-new number.
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=60000
	StartPerMinute int32 `json:"startPerMinute"`

	// TargetPerMinute is the campaign rate reached at the end of the warm-up.
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=60000
	TargetPerMinute int32 `json:"targetPerMinute"`

	// Over is how long the ramp takes, as a Go duration (1344h is eight weeks).
	// +required
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="spec.sending.warmup.over must be a positive duration such as 1344h"
	Over metav1.Duration `json:"over"`
}

// SenderSpec tunes the sender Deployment.
type SenderSpec struct {
	// Replicas of the sender. One is active at a time (leader election); more are
	// warm standbys. 0 stops the sender.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=5
	Replicas *int32 `json:"replicas,omitempty"`
}

// NumberStatus is what is true about the number now.
type NumberStatus struct {
	// ObservedGeneration is the metadata.generation that the operator last reconciled
	// without error.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready, Reconciling, Stalled, CredentialsValid, SenderAvailable,
	// Throttled, InboxAvailable.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`

	// Quality is the phone number's state as last read from the Graph API.
	// +optional
	Quality *QualityStatus `json:"quality,omitempty"`

	// Sending holds the effective limits the sender applies now.
	// +optional
	Sending *SendingStatus `json:"sending,omitempty"`

	// Sender describes the number's sender Deployment.
	// +optional
	Sender *SenderStatus `json:"sender,omitempty"`

	// Delivery is what the number's active sender reports. The sender writes it with
	// its own field owner (switchboard-sender); the manager never changes it.
	// +optional
	Delivery *DeliveryStatus `json:"delivery,omitempty"`

	// RoutingPolicy names the RoutingPolicy that selects this Number (the oldest, when
	// several do). Empty when none does.
	// +optional
	RoutingPolicy string `json:"routingPolicy,omitempty"`

	// Inbox names the Inbox that receives this Number's webhooks (the oldest, when
	// several select it). Empty when none does.
	// +optional
	Inbox string `json:"inbox,omitempty"`

	// LastHandledQualityRefresh is the last value of the switchboard.dev/refresh-quality
	// annotation for which the operator read the number's fields from the Graph API.
	// +optional
	LastHandledQualityRefresh string `json:"lastHandledQualityRefresh,omitempty"`

	// LastHandledReconcileAt is the last value of the
	// switchboard.dev/reconcile-requested-at annotation that the operator handled.
	// +optional
	LastHandledReconcileAt string `json:"lastHandledReconcileAt,omitempty"`
}

// QualityStatus is the phone number's state at Meta.
type QualityStatus struct {
	// Rating is Meta's quality rating: GREEN, YELLOW, RED or UNKNOWN.
	// +optional
	Rating string `json:"rating,omitempty"`
	// Throughput is Meta's throughput level: STANDARD, HIGH or NOT_APPLICABLE.
	// +optional
	Throughput string `json:"throughput,omitempty"`
	// MessagingLimit is the business-initiated messaging tier, such as TIER_2K.
	// +optional
	MessagingLimit string `json:"messagingLimit,omitempty"`
	// Status is the number's status at Meta, such as CONNECTED, FLAGGED or RESTRICTED.
	// +optional
	Status string `json:"status,omitempty"`
	// CheckedAt is when these fields were read.
	// +optional
	CheckedAt *metav1.Time `json:"checkedAt,omitempty"`
}

// SendingStatus holds the effective sending limits.
type SendingStatus struct {
	// MessagesPerSecond is the total outbound rate the sender allows now.
	// +optional
	MessagesPerSecond int32 `json:"messagesPerSecond"`
	// CampaignPerMinute is the business-initiated (campaign lane) rate.
	// +optional
	CampaignPerMinute int32 `json:"campaignPerMinute"`
	// UniqueRecipientsPer24h is the budget of unique business-initiated recipients in
	// a rolling 24 hours; -1 means unlimited.
	// +optional
	UniqueRecipientsPer24h int32 `json:"uniqueRecipientsPer24h"`
	// Reason names what limits the rate most: Nominal, Warmup, LowQuality,
	// Restricted, Paused or SpecCeiling.
	// +optional
	Reason string `json:"reason,omitempty"`
}

// DeliveryStatus is reported by the number's active sender.
type DeliveryStatus struct {
	// ActiveSender is the pod (or process) that holds the number's Lease and fence and
	// sends now.
	// +optional
	ActiveSender string `json:"activeSender,omitempty"`
	// PausedUntil is when sending resumes after Meta told the number to stop (errors
	// 131048, 368, 131031, 130497). In the past: not paused.
	// +optional
	PausedUntil *metav1.Time `json:"pausedUntil,omitempty"`
	// PauseReason is Meta's answer that paused the number.
	// +optional
	PauseReason string `json:"pauseReason,omitempty"`
}

// SenderStatus describes the sender Deployment.
type SenderStatus struct {
	// Deployment is the name of the sender Deployment.
	Deployment string `json:"deployment"`
	// Replicas is the number of replicas the Deployment wants.
	// +optional
	Replicas int32 `json:"replicas"`
	// ReadyReplicas is the number of sender pods that are ready.
	// +optional
	ReadyReplicas int32 `json:"readyReplicas"`
}

// Number is a WhatsApp Business phone number that Switchboard sends from and receives on.
// The operator runs one sender Deployment per Number and keeps its status truthful.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=num,categories=switchboard
// +kubebuilder:printcolumn:name="Phone",type=string,JSONPath=`.spec.displayPhoneNumber`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Quality",type=string,JSONPath=`.status.quality.rating`
// +kubebuilder:printcolumn:name="Rate/s",type=integer,JSONPath=`.status.sending.messagesPerSecond`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Phone-ID",type=string,JSONPath=`.spec.phoneNumberID`,priority=1
// +kubebuilder:printcolumn:name="Sender",type=string,JSONPath=`.status.sender.deployment`,priority=1
// +kubebuilder:printcolumn:name="Routing",type=string,JSONPath=`.status.routingPolicy`,priority=1
// +kubebuilder:printcolumn:name="Inbox",type=string,JSONPath=`.status.inbox`,priority=1
// +kubebuilder:validation:XValidation:rule="self.metadata.name.size() <= 56",message="metadata.name must be at most 56 characters: the sender Deployment is named sender-<name>"
type Number struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec NumberSpec `json:"spec"`
	// +optional
	Status NumberStatus `json:"status,omitempty"`
}

// NumberList is a list of Numbers.
// +kubebuilder:object:root=true
type NumberList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Number `json:"items"`
}
