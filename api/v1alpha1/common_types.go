package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// ReconcileRequestAnnotation asks the operator to reconcile an object now, whatever
// changed. Set it to any new value (for example a timestamp); the value handled last is
// mirrored to status.lastHandledReconcileAt.
//
//	kubectl annotate number sales-es switchboard.dev/reconcile-requested-at="$(date +%s)" --overwrite
const ReconcileRequestAnnotation = "switchboard.dev/reconcile-requested-at"

// MaxListedNumbers bounds the list of Number names that policies report in status.
const MaxListedNumbers = 20

// LocalObjectReference names an object in the same namespace.
type LocalObjectReference struct {
	// Name of the object, in the same namespace as the referrer.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// PolicyStatus is the status shared by RoutingPolicy, KeywordRule and RetentionPolicy.
type PolicyStatus struct {
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

	// MatchedNumbers is how many Numbers in this namespace spec.numberSelector selects.
	// +optional
	MatchedNumbers int32 `json:"matchedNumbers"`

	// Numbers lists the names of the selected Numbers, sorted, at most 20.
	// +optional
	// +kubebuilder:validation:MaxItems=20
	// +listType=atomic
	Numbers []string `json:"numbers,omitempty"`

	// LastHandledReconcileAt is the last value of the
	// switchboard.dev/reconcile-requested-at annotation that the operator handled.
	// +optional
	LastHandledReconcileAt string `json:"lastHandledReconcileAt,omitempty"`
}
