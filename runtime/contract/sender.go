package contract

// The sender's side of the contract: what the manager puts in a Number's sender
// Deployment, ServiceAccount, Role, RoleBinding, and what `switchboard sender` reads,
// serves and names its Lease and Events by. Dev mode, which runs the sender Deployments
// as local processes, reads it too.
const (
	// SenderSubcommand is the switchboard subcommand that runs a Number's sender.
	SenderSubcommand = "sender"
	// SenderFlag names the Number the process serves, as NAMESPACE/NAME.
	SenderFlag = "number"
	// SenderHealthAddressFlag is the bind address of HealthzPath and ReadyzPath (the
	// metrics have their own port, MetricsBindAddressFlag).
	SenderHealthAddressFlag = "health-probe-bind-address"

	// SenderContainer is the name of the sender container in the pod, and the value of
	// app.kubernetes.io/component on the sender objects.
	SenderContainer = "sender"
	// SenderMetricsPort serves /metrics; SenderMetricsPortName names it on the container.
	SenderMetricsPort     = 8080
	SenderMetricsPortName = "metrics"
	// SenderHealthPort serves HealthzPath and ReadyzPath; SenderHealthPortName names it.
	SenderHealthPort     = 8081
	SenderHealthPortName = "health"

	// NumberLabel names the Number a sender object belongs to, on every object the
	// manager declares for it; the manager and dev mode select sender objects by it.
	NumberLabel = "switchboard.dev/number"
)

// SenderObjectName is the name of the Deployment, ServiceAccount, Role, RoleBinding,
// leader-election Lease and Events' reporting instance of the sender of the Number
// named number: "sender-<number>".
func SenderObjectName(number string) string { return "sender-" + number }

// SenderArgs are the container arguments (after the switchboard command) of the sender
// of the Number namespace/name.
func SenderArgs(namespace, name string) []string {
	return []string{
		SenderSubcommand,
		flag(SenderFlag, namespace+"/"+name),
		flag(MetricsBindAddressFlag, BindAll(SenderMetricsPort)),
		flag(SenderHealthAddressFlag, BindAll(SenderHealthPort)),
	}
}
