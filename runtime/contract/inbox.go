// Package contract holds the names a Switchboard workload and the operator that declares
// it must agree on: arguments, ports, paths, environment variables, object names and
// annotations. Both sides import them from here, so that they are written once.
package contract

// The inbox's side of the contract: what the manager puts in the inbox Deployment and
// Service, and what `switchboard inbox` reads and serves.
const (
	// InboxSubcommand is the switchboard subcommand that runs the inbox.
	InboxSubcommand = "inbox"
	// InboxFlag names the Inbox the process serves, as NAMESPACE/NAME. The inbox serves
	// the Numbers of that namespace whose status.inbox names the Inbox: the operator
	// decides it (the oldest Inbox selecting a Number wins) and its Role grants the
	// credentials Secrets of exactly those Numbers.
	InboxFlag = "inbox"
	// InboxHTTPAddressFlag is the bind address of the traffic port (webhooks, API, UI).
	InboxHTTPAddressFlag = "http-bind-address"
	// InboxMetricsAddressFlag is the bind address of the metrics port, which also
	// serves the probes.
	InboxMetricsAddressFlag = MetricsBindAddressFlag

	// InboxContainer is the name of the inbox container in the pod.
	InboxContainer = "inbox"
	// InboxHTTPPort serves the webhooks, the agents' API and the web inbox.
	InboxHTTPPort = 8080
	// InboxHTTPPortName names InboxHTTPPort on the container and the Service.
	InboxHTTPPortName = "http"
	// InboxMetricsPort serves /metrics, /healthz and /readyz.
	InboxMetricsPort = 9090
	// InboxMetricsPortName names InboxMetricsPort on the container.
	InboxMetricsPortName = "metrics"
	// InboxServicePort is the port of the inbox Service, forwarded to InboxHTTPPort.
	InboxServicePort = 80

	// InboxWebhookPath receives Meta's webhooks: GET for the verification handshake
	// (hub.mode, hub.verify_token, hub.challenge), POST for signed events.
	InboxWebhookPath = "/webhooks/whatsapp"
	// InboxHealthPath answers 200 while the process lives (liveness probe).
	InboxHealthPath = HealthzPath
	// InboxReadyPath answers 200 when the inbox can take traffic (readiness probe).
	InboxReadyPath = ReadyzPath
	// InboxMetricsPath serves the Prometheus metrics.
	InboxMetricsPath = "/metrics"

	// InboxPodNameEnv and InboxPodNamespaceEnv carry the pod's name and namespace
	// (downward API): the pod's identity in Leases and Events.
	InboxPodNameEnv      = PodNameEnv
	InboxPodNamespaceEnv = PodNamespaceEnv
	// InboxDatabaseURLEnv holds the PostgreSQL DSN of the namespace's database, from
	// the same Secret and under the same variable name as the senders' (the operator's
	// tests check both names agree).
	InboxDatabaseURLEnv = DatabaseURLEnv

	// InboxLabel names the Inbox an object belongs to, on every object the operator
	// declares for it.
	InboxLabel = "switchboard.dev/inbox"
)

// QualityRefreshAnnotation on a Number asks the operator to read the number's fields
// (quality rating, messaging limit, throughput, status) from the Graph API at once,
// rather than at the next poll. The inbox sets it to a new value (an RFC 3339 time)
// when Meta sends phone_number_quality_update, account_update or
// business_capability_update; the operator mirrors the value it handled to the Number's
// status.lastHandledQualityRefresh, so setting the same value again does nothing. The
// read still waits for the back-off of failed reads and for Meta's Retry-After.
const QualityRefreshAnnotation = "switchboard.dev/refresh-quality"

// InboxObjectName is the name of the Deployment, Service, PodDisruptionBudget,
// ServiceAccount, Role, RoleBinding and Lease of the Inbox named inbox.
func InboxObjectName(inbox string) string { return "inbox-" + inbox }

// InboxArgs are the container arguments (after the switchboard command) of the inbox
// that serves the Inbox namespace/name.
// The media archive's S3 bucket (Inbox spec.media.s3), as inbox flags, and its
// credentials, as environment variables from the Secret spec.media.s3.credentialsSecretRef
// names (keys MediaS3AccessKeyIDKey, MediaS3SecretAccessKeyKey).
const (
	InboxMediaS3BucketFlag    = "media-s3-bucket"
	InboxMediaS3EndpointFlag  = "media-s3-endpoint"
	InboxMediaS3RegionFlag    = "media-s3-region"
	InboxMediaS3PathStyleFlag = "media-s3-path-style"
	InboxMediaS3AccessKeyEnv  = "SWITCHBOARD_MEDIA_S3_ACCESS_KEY_ID"
	InboxMediaS3SecretKeyEnv  = "SWITCHBOARD_MEDIA_S3_SECRET_ACCESS_KEY"
	MediaS3AccessKeyIDKey     = "accessKeyID"
	MediaS3SecretAccessKeyKey = "secretAccessKey"
)

// InboxMediaS3Args are the flags of a media bucket (endpoint and region only when set).
func InboxMediaS3Args(bucket, endpoint, region string, pathStyle bool) []string {
	args := []string{flag(InboxMediaS3BucketFlag, bucket)}
	if endpoint != "" {
		args = append(args, flag(InboxMediaS3EndpointFlag, endpoint))
	}
	if region != "" {
		args = append(args, flag(InboxMediaS3RegionFlag, region))
	}
	if pathStyle {
		args = append(args, "--"+InboxMediaS3PathStyleFlag)
	}
	return args
}

func InboxArgs(namespace, name string) []string {
	return []string{
		InboxSubcommand,
		flag(InboxFlag, namespace+"/"+name),
		flag(InboxHTTPAddressFlag, BindAll(InboxHTTPPort)),
		flag(InboxMetricsAddressFlag, BindAll(InboxMetricsPort)),
	}
}
