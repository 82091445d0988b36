package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// InboxSpec declares the inbox service that receives the webhooks of the selected
// Numbers: its Deployment, Service and permissions are declared by the operator.
// +kubebuilder:validation:XValidation:rule="!has(self.integrations) || ((!has(self.integrations.webhooks) || self.integrations.webhooks.all(w, has(self.secretRefs) && self.secretRefs.exists(r, r.name == w.secretRef.name))) && (!has(self.integrations.chatbot) || (has(self.secretRefs) && self.secretRefs.exists(r, r.name == self.integrations.chatbot.secretRef.name))) && (!has(self.integrations.crm) || ((!has(self.integrations.crm.secretRef) || (has(self.secretRefs) && self.secretRefs.exists(r, r.name == self.integrations.crm.secretRef.name))) && (!has(self.integrations.crm.bearerTokenRef) || (has(self.secretRefs) && self.secretRefs.exists(r, r.name == self.integrations.crm.bearerTokenRef.name))))))",message="spec.integrations: every Secret it names must also be listed in spec.secretRefs (the inbox's Role grants only those)"
type InboxSpec struct {
	// NumberSelector selects the Numbers in this namespace whose webhooks this Inbox
	// receives. An empty selector selects every Number in the namespace. A Number
	// selected by two Inboxes belongs to the older one (creationTimestamp, then name).
	// +required
	NumberSelector metav1.LabelSelector `json:"numberSelector"`

	// Replicas of the inbox Deployment. Every replica serves traffic (the inbox is
	// stateless: all its state is in PostgreSQL); two or more survive a node drain.
	// +optional
	// +kubebuilder:default=2
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=20
	Replicas *int32 `json:"replicas,omitempty"`

	// Resources of the inbox container. Unset values keep the operator's defaults
	// (requests cpu 100m, memory 128Mi; limits cpu 2, memory 512Mi).
	// +optional
	Resources *InboxResources `json:"resources,omitempty"`

	// SecretRefs name Secrets of this namespace that the inbox may read besides the
	// credentials Secrets of the Numbers it serves (integrations and authentication use
	// them). Its Role grants get on exactly these names.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=20
	SecretRefs []LocalObjectReference `json:"secretRefs,omitempty"`

	// Media is where the inbox archives media files (images, documents, audio, video,
	// stickers) as soon as they arrive: Meta's media URLs expire within minutes. Unset:
	// no archive (agents see that a message carried media, not the file).
	// +optional
	Media *InboxMedia `json:"media,omitempty"`

	// InboxAccess: custom roles, declared agents and single sign-on (inbox_auth_types.go).
	InboxAccess `json:",inline"`
	// Integrations connect the inbox to the user's services: outbound webhooks, a
	// chatbot hook and a CRM lookup (docs/integrations.md). Every Secret they name must
	// also be listed in secretRefs, so that the inbox's Role may read it.
	// +optional
	Integrations *InboxIntegrations `json:"integrations,omitempty"`

	// Suspend stops the operator from reconciling this Inbox: nothing is created,
	// changed or repaired until it is set back to false. A running inbox keeps running.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// InboxMedia is the media archive's storage.
type InboxMedia struct {
	// S3 is an S3-compatible bucket (AWS S3, MinIO, Ceph, …).
	// +required
	S3 S3Bucket `json:"s3"`
}

// S3Bucket locates an S3-compatible bucket and its credentials.
type S3Bucket struct {
	// Bucket is the bucket's name (it must exist). Objects are named
	// <namespace>/<number>/<media-id>.
	// +required
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`
	Bucket string `json:"bucket"`

	// Endpoint is the S3 API's URL, for S3-compatible servers (https://minio.example:9000).
	// Unset: AWS S3 of Region.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^https?://[^\s/]+(/.*)?$`
	Endpoint string `json:"endpoint,omitempty"`

	// Region of the bucket (default us-east-1).
	// +optional
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[a-z0-9-]*$`
	Region string `json:"region,omitempty"`

	// PathStyle puts the bucket in the URL's path rather than its host name, as most
	// S3-compatible servers need.
	// +optional
	PathStyle bool `json:"pathStyle,omitempty"`

	// CredentialsSecretRef names a Secret of the Inbox's namespace with the keys
	// accessKeyID and secretAccessKey, given to the inbox pods as environment variables
	// (the kubelet reads the Secret; the inbox's Role does not need it). Unset: the pods'
	// ambient credentials (an IAM role for service accounts, instance metadata).
	// +optional
	CredentialsSecretRef *LocalObjectReference `json:"credentialsSecretRef,omitempty"`
}

// IntegrationEvent is an event the outbound webhooks can subscribe to.
// +kubebuilder:validation:Enum=message.received;conversation.assigned;conversation.resolved
type IntegrationEvent string

// The integration events (docs/integrations.md gives their bodies).
const (
	EventMessageReceived      IntegrationEvent = "message.received"
	EventConversationAssigned IntegrationEvent = "conversation.assigned"
	EventConversationResolved IntegrationEvent = "conversation.resolved"
)

// InboxIntegrations are the inbox's connections to the user's services. Every request
// to them is signed with HMAC-SHA256 (X-Switchboard-Signature) using the named secret.
// +kubebuilder:validation:XValidation:rule="!has(self.webhooks) || self.webhooks.all(w, self.webhooks.exists_one(v, v.name == w.name))",message="spec.integrations.webhooks: names must be unique"
type InboxIntegrations struct {
	// Webhooks receive the events they subscribe to, retried with exponential backoff
	// until delivered or maxAttempts is reached.
	// +optional
	// +kubebuilder:validation:MaxItems=10
	// +listType=atomic
	Webhooks []IntegrationWebhook `json:"webhooks,omitempty"`
	// Chatbot receives every inbound message of a conversation no agent has taken yet,
	// and may answer it.
	// +optional
	Chatbot *IntegrationChatbot `json:"chatbot,omitempty"`
	// CRM is asked for a contact's fields when a conversation is opened.
	// +optional
	CRM *IntegrationCRM `json:"crm,omitempty"`
}

// IntegrationWebhook is one of the user's HTTP endpoints.
// +kubebuilder:validation:XValidation:rule="!has(self.timeout) || (duration(self.timeout) > duration('0s') && duration(self.timeout) <= duration('30s'))",message="timeout must be more than 0s and at most 30s"
type IntegrationWebhook struct {
	// Name identifies the endpoint in the delivery log (a DNS label).
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`
	// URL receives POST requests with a JSON body (http or https).
	// +required
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && (self.startsWith('https://') || self.startsWith('http://'))",message="must be an http or https URL"
	URL string `json:"url"`
	// Events this endpoint receives.
	// +required
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=3
	// +listType=set
	Events []IntegrationEvent `json:"events"`
	// SecretRef is the key holding the HMAC-SHA256 signing secret.
	// +required
	SecretRef SecretKeyRef `json:"secretRef"`
	// Timeout of one attempt (default 10s, at most 30s).
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`
	// MaxAttempts before a delivery is given up (default 8, at most 20). Attempts are
	// spaced by exponential backoff with jitter: about 5s, 10s, 20s, … capped at 1h.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=20
	MaxAttempts *int32 `json:"maxAttempts,omitempty"`
}

// IntegrationChatbot is the user's service that may answer inbound messages.
// +kubebuilder:validation:XValidation:rule="!has(self.timeout) || (duration(self.timeout) > duration('0s') && duration(self.timeout) <= duration('30s'))",message="timeout must be more than 0s and at most 30s"
type IntegrationChatbot struct {
	// URL receives each inbound message (POST, JSON, signed) and may answer with a
	// reply: {"text": "..."}, or {"template": {...}}, and/or {"handoff": true}.
	// +required
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && (self.startsWith('https://') || self.startsWith('http://'))",message="must be an http or https URL"
	URL string `json:"url"`
	// SecretRef is the key holding the HMAC-SHA256 signing secret.
	// +required
	SecretRef SecretKeyRef `json:"secretRef"`
	// Timeout after which the conversation is handed to a human (default 5s, at most
	// 30s).
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`
}

// IntegrationCRM is the user's CRM, asked for a contact's fields by wa_id.
// +kubebuilder:validation:XValidation:rule="!has(self.timeout) || (duration(self.timeout) > duration('0s') && duration(self.timeout) <= duration('5s'))",message="timeout must be more than 0s and at most 5s"
// +kubebuilder:validation:XValidation:rule="!has(self.cacheTTL) || (duration(self.cacheTTL) >= duration('0s') && duration(self.cacheTTL) <= duration('24h'))",message="cacheTTL must be between 0s and 24h"
type IntegrationCRM struct {
	// URL is requested with GET; "{wa_id}" in it is replaced by the contact's wa_id,
	// otherwise ?wa_id= is added. The answer is a JSON object of fields.
	// +required
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self.replace('{wa_id}', '0')) && (self.startsWith('https://') || self.startsWith('http://'))",message="must be an http or https URL"
	URL string `json:"url"`
	// SecretRef is the key holding the HMAC-SHA256 signing secret (the request's
	// signature covers its timestamp and path).
	// +optional
	SecretRef *SecretKeyRef `json:"secretRef,omitempty"`
	// BearerTokenRef is the key holding a token sent as Authorization: Bearer.
	// +optional
	BearerTokenRef *SecretKeyRef `json:"bearerTokenRef,omitempty"`
	// Timeout of one lookup (default 500ms, at most 5s); past it the conversation is
	// returned without the fields.
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`
	// CacheTTL is how long a contact's fields are reused (default 5m; 0s disables).
	// +optional
	CacheTTL *metav1.Duration `json:"cacheTTL,omitempty"`
}

// InboxResources are the compute resources of the inbox container, keyed by resource
// name: cpu, memory or ephemeral-storage (Kubernetes quantities such as 250m or 256Mi).
// +kubebuilder:validation:XValidation:rule="!has(self.requests) || !has(self.limits) || self.requests.all(k, !(k in self.limits) || quantity(string(self.limits[k])).compareTo(quantity(string(self.requests[k]))) >= 0)",message="spec.resources: each limit must be at least its request"
type InboxResources struct {
	// Requests are what the scheduler reserves for each inbox pod.
	// +optional
	// +kubebuilder:validation:MaxProperties=3
	// +kubebuilder:validation:XValidation:rule="self.all(k, k in ['cpu', 'memory', 'ephemeral-storage'])",message="spec.resources.requests: only cpu, memory and ephemeral-storage may be set"
	Requests map[string]resource.Quantity `json:"requests,omitempty"`
	// Limits are the most each inbox pod may use.
	// +optional
	// +kubebuilder:validation:MaxProperties=3
	// +kubebuilder:validation:XValidation:rule="self.all(k, k in ['cpu', 'memory', 'ephemeral-storage'])",message="spec.resources.limits: only cpu, memory and ephemeral-storage may be set"
	Limits map[string]resource.Quantity `json:"limits,omitempty"`
}

// InboxStatus is what is true about the Inbox now.
type InboxStatus struct {
	// ObservedGeneration is the metadata.generation that the operator last reconciled
	// without error.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready, Reconciling, Stalled (kstatus conventions).
	// +optional
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`

	// Replicas is the number of inbox replicas the Deployment wants.
	// +optional
	Replicas int32 `json:"replicas"`

	// ReadyReplicas is the number of inbox pods that are ready.
	// +optional
	ReadyReplicas int32 `json:"readyReplicas"`

	// ServedNumbers is how many Numbers this Inbox receives the webhooks of: those it
	// selects and no older Inbox does.
	// +optional
	ServedNumbers int32 `json:"servedNumbers"`

	// Numbers lists the names of the served Numbers, sorted, at most 20.
	// +optional
	// +kubebuilder:validation:MaxItems=20
	// +listType=atomic
	Numbers []string `json:"numbers,omitempty"`

	// Service is the name of the Service in front of the inbox pods.
	// +optional
	Service string `json:"service,omitempty"`

	// WebhookPath is the path to give Meta as the callback URL's path, behind the
	// Service (or the Ingress that exposes it): /webhooks/whatsapp.
	// +optional
	WebhookPath string `json:"webhookPath,omitempty"`

	// LastHandledReconcileAt is the last value of the
	// switchboard.dev/reconcile-requested-at annotation that the operator handled.
	// +optional
	LastHandledReconcileAt string `json:"lastHandledReconcileAt,omitempty"`
}

// Inbox receives the webhooks of the Numbers it selects and stores contacts,
// conversations and messages in the namespace's database. The operator runs its
// Deployment inbox-<name> behind a Service of the same name.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=ibx,categories=switchboard
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Numbers",type=integer,JSONPath=`.status.servedNumbers`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Replicas",type=integer,JSONPath=`.status.readyReplicas`,priority=1
// +kubebuilder:printcolumn:name="Service",type=string,JSONPath=`.status.service`,priority=1
// +kubebuilder:printcolumn:name="Webhook",type=string,JSONPath=`.status.webhookPath`,priority=1
// +kubebuilder:validation:XValidation:rule="self.metadata.name.size() <= 57",message="metadata.name must be at most 57 characters: the inbox Deployment and Service are named inbox-<name>"
// +kubebuilder:validation:XValidation:rule="!self.metadata.name.contains('.')",message="metadata.name must not contain dots: the inbox Service is named inbox-<name>, a DNS label"
type Inbox struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec InboxSpec `json:"spec"`
	// +optional
	Status InboxStatus `json:"status,omitempty"`
}

// InboxList is a list of Inboxes.
// +kubebuilder:object:root=true
type InboxList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Inbox `json:"items"`
}

// GetConditions returns the conditions of the Inbox.
func (i *Inbox) GetConditions() []metav1.Condition { return i.Status.Conditions }

// GetNumberSelector returns the selector of the Numbers the Inbox receives webhooks for.
func (i *Inbox) GetNumberSelector() metav1.LabelSelector { return i.Spec.NumberSelector }
