package contract

import "fmt"

// What every workload the manager declares (the senders and the inboxes) shares.
const (
	// DatabaseURLEnv holds the PostgreSQL DSN (libpq URL or key=value), filled by the
	// manager from the Secret its --database-secret names, in the workload's namespace.
	DatabaseURLEnv = "SWITCHBOARD_DATABASE_URL"
	// PodNameEnv and PodNamespaceEnv carry the pod's name and namespace (downward API):
	// the pod's identity in Leases and Events.
	PodNameEnv      = "POD_NAME"
	PodNamespaceEnv = "POD_NAMESPACE"
	// MetricsBindAddressFlag is the bind address of the Prometheus metrics ("0":
	// none).
	MetricsBindAddressFlag = "metrics-bind-address"
	// HealthzPath answers 200 while the process lives (liveness probe).
	HealthzPath = "/healthz"
	// ReadyzPath answers 200 when the process can do its work (readiness probe).
	ReadyzPath = "/readyz"
)

// BindAll is the bind address of port on every interface (":8080"), the form the
// container arguments use.
func BindAll(port int) string { return fmt.Sprintf(":%d", port) }

// flag is "--name=value".
func flag(name, value string) string { return "--" + name + "=" + value }
