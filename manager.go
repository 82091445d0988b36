package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/controllers"
	"github.com/switchboard-dev/switchboard/runtime/logging"
)

// managerFlags is the standard flag set of the operator.
type managerFlags struct {
	metricsAddr, healthAddr string
	leaderElect             bool
	leaderElectionID        string
	leaderElectionNamespace string
	concurrency             int
	qps                     float64
	burst                   int
	minRetryDelay           time.Duration
	maxRetryDelay           time.Duration
	watchNamespaces         string
	senderImage             string
	senderImagePullPolicy   string
	qualityPollInterval     time.Duration
	databaseSecret          string
	logLevel, logEncoding   string
}

func (f *managerFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.metricsAddr, "metrics-bind-address", ":8080", "address of the Prometheus metrics endpoint (0 disables it)")
	fs.StringVar(&f.healthAddr, "health-probe-bind-address", ":8081", "address of the /healthz and /readyz endpoints")
	fs.BoolVar(&f.leaderElect, "leader-elect", false, "elect a leader among manager replicas with a Lease (released on shutdown)")
	fs.StringVar(&f.leaderElectionID, "leader-election-id", "switchboard-manager", "name of the leader-election Lease")
	fs.StringVar(&f.leaderElectionNamespace, "leader-election-namespace", "", "namespace of the leader-election Lease (default: the manager's own)")
	fs.IntVar(&f.concurrency, "concurrency", 10, "concurrent reconciles per controller")
	fs.Float64Var(&f.qps, "kube-api-qps", 50, "queries per second to the Kubernetes API server")
	fs.IntVar(&f.burst, "kube-api-burst", 100, "burst of queries to the Kubernetes API server")
	fs.DurationVar(&f.minRetryDelay, "min-retry-delay", time.Second, "first retry delay after a failed reconcile (doubles on each failure)")
	fs.DurationVar(&f.maxRetryDelay, "max-retry-delay", 5*time.Minute, "longest retry delay after failed reconciles")
	fs.StringVar(&f.watchNamespaces, "watch-namespaces", "", "comma-separated namespaces to watch (default: all)")
	fs.StringVar(&f.senderImage, "sender-image", "switchboard:latest", "image of the sender and inbox Deployments")
	fs.StringVar(&f.senderImagePullPolicy, "sender-image-pull-policy", string(corev1.PullIfNotPresent), "image pull policy of the sender and inbox Deployments")
	fs.StringVar(&f.databaseSecret, "database-secret", "switchboard-database/dsn", "NAME/KEY of the Secret, in each Number's namespace, holding the PostgreSQL DSN the senders and inboxes use")
	fs.DurationVar(&f.qualityPollInterval, "quality-poll-interval", 5*time.Minute, "how often each number's quality, throughput, messaging limit and status are read from the Graph API (plus up to 10% jitter; 0 disables)")
	fs.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info or error")
	fs.StringVar(&f.logEncoding, "log-encoding", "json", "log encoding: json or console")
}

// validate checks the flags and names the bad one.
func (f *managerFlags) validate() error {
	switch {
	case f.concurrency < 1:
		return fmt.Errorf("--concurrency must be at least 1, got %d", f.concurrency)
	case f.qps <= 0 || f.burst < 1:
		return fmt.Errorf("--kube-api-qps and --kube-api-burst must be positive, got %v and %d", f.qps, f.burst)
	case f.minRetryDelay <= 0 || f.maxRetryDelay < f.minRetryDelay:
		return fmt.Errorf("--min-retry-delay (%s) must be positive and at most --max-retry-delay (%s)", f.minRetryDelay, f.maxRetryDelay)
	case f.qualityPollInterval < 0:
		return fmt.Errorf("--quality-poll-interval must not be negative, got %s", f.qualityPollInterval)
	case !validSecretRef(f.databaseSecret):
		return fmt.Errorf("--database-secret must be NAME/KEY, got %q", f.databaseSecret)
	case f.senderImage == "":
		return errors.New("--sender-image must not be empty")
	}
	switch corev1.PullPolicy(f.senderImagePullPolicy) {
	case corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever:
	default:
		return fmt.Errorf("--sender-image-pull-policy must be Always, IfNotPresent or Never, got %q", f.senderImagePullPolicy)
	}
	return nil
}

func runManager(ctx context.Context, args []string, stdout io.Writer) error {
	var f managerFlags
	fs := flag.NewFlagSet("switchboard manager", flag.ContinueOnError)
	fs.SetOutput(stdout)
	f.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := f.validate(); err != nil {
		return err
	}
	logger, err := newLogger(os.Stderr, f.logLevel, f.logEncoding)
	if err != nil {
		return err
	}
	ctrl.SetLogger(logger)
	klog.SetLogger(logger)
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("finding the Kubernetes API server: %w", err)
	}
	return startManager(ctx, cfg, f)
}

// newLogger builds the structured logger of a switchboard process, for controller-runtime.
func newLogger(w io.Writer, level, encoding string) (logr.Logger, error) {
	l, err := logging.New(w, level, encoding)
	if err != nil {
		return logr.Logger{}, err
	}
	return logging.Logr(l), nil
}

// newScheme holds the kinds the manager reads and writes.
func newScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilRuntimeMust(clientgoscheme.AddToScheme(s))
	utilRuntimeMust(sbv1.AddToScheme(s))
	return s
}

func utilRuntimeMust(err error) {
	if err != nil {
		panic(err)
	}
}

// startManager runs the controllers until ctx ends.
func startManager(ctx context.Context, cfg *rest.Config, f managerFlags) error {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = float32(f.qps), f.burst
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        newScheme(),
		Cache:                         cacheOptions(f.watchNamespaces),
		Client:                        client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}}}},
		Metrics:                       metricsserver.Options{BindAddress: f.metricsAddr},
		HealthProbeBindAddress:        f.healthAddr,
		LeaderElection:                f.leaderElect,
		LeaderElectionID:              f.leaderElectionID,
		LeaderElectionNamespace:       f.leaderElectionNamespace,
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		return fmt.Errorf("creating the manager: %w", err)
	}
	err = controllers.SetupWithManager(mgr, controllers.Options{
		Controller: controller.Options{
			MaxConcurrentReconciles: f.concurrency,
			RateLimiter:             workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](f.minRetryDelay, f.maxRetryDelay),
		},
		Sender:  senderOptions(f),
		Quality: controllers.QualityOptions{Interval: f.qualityPollInterval},
	})
	if err != nil {
		return fmt.Errorf("setting up the controllers: %w", err)
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	return mgr.Start(ctx)
}

// cacheOptions scopes the manager's cache: managedFields stripped, the chosen
// namespaces only, and the objects the manager declares (sender and inbox objects)
// selected by their managed-by label so that the Deployments, Services, ServiceAccounts,
// PodDisruptionBudgets and RBAC of the rest of the cluster are not cached; of its
// Deployments, the pod template is dropped (stripDeployment). Secrets, and the other
// declared objects (the controllers own them with builder.OnlyMetadata), are watched as
// metadata only; Secrets are read uncached.
func cacheOptions(watchNamespaces string) cache.Options {
	declared := cache.ByObject{Label: labels.SelectorFromSet(labels.Set{controllers.ManagedByLabel: controllers.ManagerName})}
	deployments := declared
	deployments.Transform = stripDeployment
	opts := cache.Options{
		DefaultTransform: cache.TransformStripManagedFields(),
		ByObject: map[client.Object]cache.ByObject{
			&appsv1.Deployment{}:            deployments,
			&corev1.Service{}:               declared,
			&corev1.ServiceAccount{}:        declared,
			&policyv1.PodDisruptionBudget{}: declared,
			&rbacv1.Role{}:                  declared,
			&rbacv1.RoleBinding{}:           declared,
		},
	}
	if watchNamespaces != "" {
		opts.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range strings.Split(watchNamespaces, ",") {
			if ns = strings.TrimSpace(ns); ns != "" {
				opts.DefaultNamespaces[ns] = cache.Config{}
			}
		}
	}
	return opts
}

// devManagerFlags are the manager's flags in dev mode: loopback only, no leader election.
func devManagerFlags(pollInterval time.Duration) managerFlags {
	var f managerFlags
	f.register(newFlagSet())
	f.metricsAddr, f.healthAddr = "127.0.0.1:0", "127.0.0.1:0"
	f.senderImage = "switchboard:dev"
	f.qualityPollInterval = pollInterval
	return f
}

// startDevManager runs the manager in dev mode (devManagerFlags) until ctx ends.
func startDevManager(ctx context.Context, cfg *rest.Config, pollInterval time.Duration) error {
	return startManager(ctx, cfg, devManagerFlags(pollInterval))
}

// stripDeployment is the cache transform of Deployments: it keeps what the manager reads
// of its own Deployments (metadata without managedFields, spec.replicas, status) and
// drops the pod template, most of a Deployment's size (a sender's: about 7 KiB in memory).
// The manager declares the template with server-side apply and never reads it back.
func stripDeployment(in any) (any, error) {
	if d, ok := in.(*appsv1.Deployment); ok {
		d.ManagedFields = nil
		d.Spec.Template = corev1.PodTemplateSpec{}
	}
	return in, nil
}

// newFlagSet is a throw-away flag set, to fill managerFlags with their defaults.
func newFlagSet() *flag.FlagSet { return flag.NewFlagSet("switchboard", flag.ContinueOnError) }

func validSecretRef(s string) bool {
	name, key, ok := strings.Cut(s, "/")
	return ok && name != "" && key != "" && !strings.Contains(key, "/")
}

// senderOptions are the settings of every sender Deployment.
func senderOptions(f managerFlags) controllers.SenderOptions {
	name, key, _ := strings.Cut(f.databaseSecret, "/")
	return controllers.SenderOptions{Image: f.senderImage, ImagePullPolicy: corev1.PullPolicy(f.senderImagePullPolicy),
		DatabaseSecret: name, DatabaseSecretKey: key}
}
