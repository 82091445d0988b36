package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// Period is a retention period: a whole number of hours (h), days (d) or years (y, 365
// days), from 1 day to 10 years, such as 90d, 730d, 36h or 5y. ParsePeriod reads it.
// +kubebuilder:validation:MaxLength=7
// +kubebuilder:validation:Pattern=`^[0-9]{1,6}[hdy]$`
// +kubebuilder:validation:XValidation:rule="!self.matches('^[0-9]{1,6}[hdy]$') || (self.endsWith('h') ? (int(self.substring(0, self.size() - 1)) >= 24 && int(self.substring(0, self.size() - 1)) <= 87600) : self.endsWith('d') ? (int(self.substring(0, self.size() - 1)) >= 1 && int(self.substring(0, self.size() - 1)) <= 3650) : (int(self.substring(0, self.size() - 1)) >= 1 && int(self.substring(0, self.size() - 1)) <= 10))",message="must be a period from 1 day to 10 years, written like 90d, 730d, 36h or 5y"
type Period string

// RetentionPolicySpec declares how long the selected Numbers' data is kept.
type RetentionPolicySpec struct {
	// NumberSelector selects the Numbers in this namespace the policy applies to. An
	// empty selector selects every Number in the namespace.
	// +required
	NumberSelector metav1.LabelSelector `json:"numberSelector"`

	// Messages is how long message texts and metadata are kept.
	// +required
	Messages Period `json:"messages"`

	// Media is how long media files are kept. Empty: as long as messages.
	// +optional
	Media Period `json:"media,omitempty"`

	// AuditLog is how long the audit log is kept. Empty: as long as messages.
	// +optional
	AuditLog Period `json:"auditLog,omitempty"`

	// LegalHold keeps everything: while true, nothing is purged.
	// +optional
	LegalHold bool `json:"legalHold,omitempty"`

	// Schedule is when purges run, as a five-field cron expression (minute hour
	// day-of-month month day-of-week) or @yearly, @monthly, @weekly, @daily, @hourly,
	// in TimeZone.
	// +optional
	// +kubebuilder:default="0 3 * * *"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=100
	Schedule string `json:"schedule,omitempty"`

	// TimeZone of Schedule, an IANA name such as Europe/Madrid.
	// +optional
	// +kubebuilder:default=UTC
	// +kubebuilder:validation:MaxLength=64
	TimeZone string `json:"timeZone,omitempty"`

	// Suspend stops the operator from reconciling this policy; purges of its Numbers stop too.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// PurgedCounts counts what the last purge removed.
type PurgedCounts struct {
	// Messages removed.
	// +optional
	Messages int64 `json:"messages"`
	// Media files removed.
	// +optional
	Media int64 `json:"media"`
	// AuditLog entries removed.
	// +optional
	AuditLog int64 `json:"auditLog"`
}

// RetentionPolicyStatus is what is true about the policy now.
type RetentionPolicyStatus struct {
	PolicyStatus `json:",inline"`

	// LastRun is when the last purge finished.
	// +optional
	LastRun *metav1.Time `json:"lastRun,omitempty"`

	// NextRun is when the next purge is due.
	// +optional
	NextRun *metav1.Time `json:"nextRun,omitempty"`

	// Purged counts what the last purge removed.
	// +optional
	Purged *PurgedCounts `json:"purged,omitempty"`
}

// RetentionPolicy says how long messages, media and the audit log of the selected
// Numbers are kept, and when purges run.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=retention,categories=switchboard
// +kubebuilder:printcolumn:name="Messages",type=string,JSONPath=`.spec.messages`
// +kubebuilder:printcolumn:name="Legal-Hold",type=boolean,JSONPath=`.spec.legalHold`
// +kubebuilder:printcolumn:name="Numbers",type=integer,JSONPath=`.status.matchedNumbers`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Next-Run",type=string,JSONPath=`.status.nextRun`,priority=1
type RetentionPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec RetentionPolicySpec `json:"spec"`
	// +optional
	Status RetentionPolicyStatus `json:"status,omitempty"`
}

// RetentionPolicyList is a list of RetentionPolicies.
// +kubebuilder:object:root=true
type RetentionPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []RetentionPolicy `json:"items"`
}
