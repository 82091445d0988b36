package v1alpha1

// Condition types. Every kind carries Ready, Reconciling and Stalled, following the
// kstatus conventions (sigs.k8s.io/cli-utils/pkg/kstatus), so that `kubectl wait
// --for=condition=Ready`, Flux and Argo CD health checks work without custom code.
const (
	// ReadyCondition summarises the object. Polarity: normal-true. True when the
	// operator has done everything the spec asks and the result is healthy.
	ReadyCondition = "Ready"

	// ReconcilingCondition is present and True while the operator is still working
	// towards the spec (for example waiting for a sender Deployment to become
	// available). Polarity: abnormal-true; removed when the work is done.
	ReconcilingCondition = "Reconciling"

	// StalledCondition is present and True when the operator cannot make progress
	// without a change from a human: an invalid value admission could not check,
	// missing credentials, a conflict with another object. Polarity: abnormal-true;
	// removed when the cause is gone.
	StalledCondition = "Stalled"

	// CredentialsValidCondition (Number) tells whether the credentials Secret exists
	// and has every required key. Polarity: normal-true.
	CredentialsValidCondition = "CredentialsValid"

	// SenderAvailableCondition (Number) follows the Available condition of the
	// number's sender Deployment. Polarity: normal-true.
	SenderAvailableCondition = "SenderAvailable"

	// ThrottledCondition (Number) is True when the effective sending limits are below
	// nominal because of the warm-up, a low quality rating, a restriction or a pause; its
	// reason is the one of status.sending.reason. Polarity: abnormal-true (informational:
	// a throttled Number is still Ready).
	ThrottledCondition = "Throttled"

	// InboxAvailableCondition (Number) tells whether an Inbox receives the number's
	// webhooks, and names it. Polarity: normal-true, but informational: it is not part
	// of Ready, because a Number may send without receiving.
	InboxAvailableCondition = "InboxAvailable"
)

// Condition reasons. A reason is CamelCase and names the cause; the message carries the
// detail (the field, the value, the other object), never a secret.
const (
	// ReasonReconciled: the spec was applied and everything is healthy.
	ReasonReconciled = "Reconciled"
	// ReasonProgressing: the operator applied the spec and waits for the result.
	ReasonProgressing = "Progressing"
	// ReasonSuspended: spec.suspend is true; the operator does not touch the object.
	ReasonSuspended = "Suspended"
	// ReasonInvalidSpec: a value admission could not check is invalid (a regular
	// expression that does not compile, an unknown time zone, a bad cron schedule).
	ReasonInvalidSpec = "InvalidSpec"
	// ReasonConflict: another object already claims what this one wants (two
	// RoutingPolicies selecting the same Number: the older one wins).
	ReasonConflict = "Conflict"
	// ReasonReconcileError: a transient error (API server, network); retried with back-off.
	ReasonReconcileError = "ReconcileError"

	// ReasonSecretNotFound: the Secret named by spec.credentialsRef does not exist.
	ReasonSecretNotFound = "SecretNotFound"
	// ReasonMissingKey: the credentials Secret lacks a required key (or it is empty).
	ReasonMissingKey = "MissingKey"
	// ReasonCredentialsFound: the credentials Secret has every required key.
	ReasonCredentialsFound = "CredentialsFound"
	// ReasonCredentialsInvalid: the sender is not run because the credentials are not usable.
	ReasonCredentialsInvalid = "CredentialsInvalid"

	// ReasonDeploymentAvailable: the sender Deployment reports Available=True.
	ReasonDeploymentAvailable = "DeploymentAvailable"
	// ReasonDeploymentUnavailable: the sender Deployment has no available replica (no
	// pod is running and ready), is not in the operator's cache yet, or exceeded its
	// progress deadline.
	ReasonDeploymentUnavailable = "DeploymentUnavailable"
	// ReasonSenderStopped: spec.sender.replicas is 0, so no sender runs, as asked.
	ReasonSenderStopped = "SenderStopped"
	// ReasonCredentialsRejected: Meta's Graph API refused the access token (invalid,
	// expired, or without permission on the number).
	ReasonCredentialsRejected = "CredentialsRejected"

	// ReasonInboxSelected: an Inbox selects the Number and receives its webhooks (the
	// oldest, when several select it).
	ReasonInboxSelected = "InboxSelected"
	// ReasonNoInbox: no Inbox of the namespace selects the Number; its webhooks have no
	// receiver.
	ReasonNoInbox = "NoInbox"
)
