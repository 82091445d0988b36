package controllers

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/selection"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/simulator"
)

// The integration tests share one real kube-apiserver and etcd (envtest) with the
// generated CRDs, and one manager running every controller.
var (
	k8sClient client.Client
	testCtx   context.Context
	// testCfg and testScheme let a test start a manager of its own.
	testCfg    *rest.Config
	testScheme *runtime.Scheme
	// sim stands in for Meta's Graph API; every test Number points at simURL.
	sim    *simulator.Server
	simURL string
)

// testPollInterval is the quality read interval of the tests' manager.
const testPollInterval = 300 * time.Millisecond

const testSenderImage = "switchboard:test"

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		fmt.Fprintln(os.Stderr, "KUBEBUILDER_ASSETS is not set: run `make test`, which builds kube-apiserver and etcd into bin/k8s")
		return 1
	}
	log.SetLogger(logr.Discard())
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting envtest:", err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	fmt.Printf("envtest: kube-apiserver %s and etcd running from %s\n", cfg.Host, os.Getenv("KUBEBUILDER_ASSETS"))

	var stopSim func()
	if sim, simURL, stopSim, err = startSimulator(); err != nil {
		fmt.Fprintln(os.Stderr, "starting the simulator:", err)
		return 1
	}
	defer stopSim()

	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = sbv1.AddToScheme(scheme)
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:  scheme,
		Metrics: metricsserver.Options{BindAddress: "0"},
		Client:  client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}}}},
		Cache:   cache.Options{ByObject: map[client.Object]cache.ByObject{&sbv1.Number{}: {Label: slowPollSelector(selection.DoesNotExist)}}},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "creating manager:", err)
		return 1
	}
	testCfg, testScheme = cfg, scheme
	err = SetupWithManager(mgr, Options{
		Controller: testControllerOptions(),
		Sender:     testSenderOptions,
		Quality:    QualityOptions{Interval: testPollInterval, HTTPClient: loopbackOnlyClient()},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "setting up controllers:", err)
		return 1
	}
	var cancel context.CancelFunc
	testCtx, cancel = context.WithCancel(context.Background())
	defer cancel()
	go func() {
		if err := mgr.Start(testCtx); err != nil {
			fmt.Fprintln(os.Stderr, "manager stopped:", err)
		}
	}()
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		fmt.Fprintln(os.Stderr, "creating client:", err)
		return 1
	}
	return m.Run()
}

func ptrTo[T any](v T) *T { return &v }

// testSenderOptions are the workload settings of the tests' managers.
var testSenderOptions = SenderOptions{Image: testSenderImage, ImagePullPolicy: corev1.PullIfNotPresent,
	DatabaseSecret: "switchboard-database", DatabaseSecretKey: "dsn"}

func testControllerOptions() controller.Options {
	return controller.Options{
		MaxConcurrentReconciles: 4,
		SkipNameValidation:      ptrTo(true),
		RateLimiter:             workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](10*time.Millisecond, time.Second),
	}
}

// slowPollLabel marks the Numbers that the shared manager leaves alone, for a test that
// runs a Number controller of its own with a long quality read interval.
const slowPollLabel = "test.switchboard.dev/slow-poll"

func slowPollSelector(op selection.Operator) labels.Selector {
	req, err := labels.NewRequirement(slowPollLabel, op, nil)
	if err != nil {
		panic(err)
	}
	return labels.NewSelector().Add(*req)
}

// newNamespace creates a namespace of its own for one test.
func newNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "test-"}}
	if err := k8sClient.Create(testCtx, ns); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	return ns.Name
}

// eventually polls cond until it returns nil or the timeout passes, then fails with
// its last error.
func eventually(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		if err = cond(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: %v", what, err)
}

// consistently checks that cond keeps returning nil for the given time.
func consistently(t *testing.T, what string, d time.Duration, cond func() error) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if err := cond(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
}

// startSimulator serves the Cloud API simulator on loopback.
func startSimulator() (*simulator.Server, string, func(), error) {
	s, err := simulator.New(simulator.Config{Seed: 1})
	if err != nil {
		return nil, "", nil, err
	}
	srv := httptest.NewServer(s)
	return s, srv.URL, func() { srv.Close(); s.Close() }, nil
}

// loopbackOnlyClient refuses to connect anywhere but loopback, so that a test Number left
// at the default API URL can never reach Meta.
func loopbackOnlyClient() *http.Client {
	dialer := &net.Dialer{Timeout: 2 * time.Second}
	transport := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			return nil, fmt.Errorf("test guard: refusing to dial %s (loopback only)", addr)
		}
		return dialer.DialContext(ctx, network, addr)
	}}
	return &http.Client{Transport: transport}
}
