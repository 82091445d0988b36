// Package dev is `switchboard dev`, the embedded default: a local control plane (etcd,
// kube-apiserver and kube-controller-manager's garbage collector and namespace controller,
// started directly from --control-plane-bin), the CRDs, the manager, the samples,
// PostgreSQL, the Cloud API simulator, and every Deployment the manager declares run as a
// local process. The binary's manager wiring stays in package main and comes in as a
// Manager.
//
// It does not import controller-runtime's envtest, so that the switchboard binary does
// not link it: envtest's package init creates a directory under the user's cache or
// temporary directory and panics when it cannot, which would stop every subcommand on a
// read-only root filesystem.
package dev

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/config/crd"
	"github.com/switchboard-dev/switchboard/config/samples"
	"github.com/switchboard-dev/switchboard/runtime/logging"
	"github.com/switchboard-dev/switchboard/runtime/sender"
	"github.com/switchboard-dev/switchboard/runtime/simulator"
	"github.com/switchboard-dev/switchboard/runtime/store/pgserver"
)

// DefaultSimulatorListen is the default --simulator-listen: the address the samples'
// spec.apiBaseURL names. Another address (127.0.0.1:0: a free port) moves the samples too.
const DefaultSimulatorListen = "127.0.0.1:18090"

// DefaultInboxListen is the default --inbox-listen: the address the simulator scenario's
// webhookURLs name. Another address (127.0.0.1:0: a free port) moves them too.
const DefaultInboxListen = "127.0.0.1:18080"

// Manager is how dev mode runs the operator. Start runs it against the control plane of
// cfg until ctx ends (loopback only, no leader election), reading each number's quality
// every pollInterval; DatabaseSecret is its --database-secret, NAME/KEY, the Secret dev
// mode creates in every namespace that has Numbers.
type Manager struct {
	Start          func(ctx context.Context, cfg *rest.Config, pollInterval time.Duration) error
	DatabaseSecret string
}

// devFlags configure `switchboard dev`.
type devFlags struct {
	controlPlaneBin string
	samples         string
	stateDir        string
	wait            time.Duration
	simListen       string
	inboxListen     string
	simScenario     string
	pollInterval    time.Duration
	databaseSecret  string // the manager's, NAME/KEY
}

// Main is `switchboard dev`: a local kube-apiserver and etcd (the same binaries as the
// integration tests) with kube-controller-manager's garbage collector and namespace
// controller, the CRDs, the manager and the samples. It runs until ctx ends (Ctrl-C),
// then stops everything it started and removes what it wrote.
func Main(ctx context.Context, args []string, stdout io.Writer, mgr Manager) error {
	var f devFlags
	fs := flag.NewFlagSet("switchboard dev", flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.StringVar(&f.controlPlaneBin, "control-plane-bin", "bin/k8s", "directory holding kube-apiserver, etcd and kube-controller-manager (make envtest-assets builds them)")
	fs.StringVar(&f.samples, "samples", "config/samples", "directory of YAML objects to apply once the manager runs (empty: none)")
	fs.StringVar(&f.stateDir, "state-dir", "bin/dev", "directory for the kubeconfig and the manager's log")
	fs.DurationVar(&f.wait, "wait", 60*time.Second, "how long to wait for the samples to be reconciled before printing them")
	fs.StringVar(&f.simListen, "simulator-listen", DefaultSimulatorListen, "loopback address of the Cloud API simulator (127.0.0.1:0: a free port); sample Numbers whose apiBaseURL is http://"+DefaultSimulatorListen+" are pointed at it")
	fs.StringVar(&f.inboxListen, "inbox-listen", DefaultInboxListen, "loopback address of the sample Inbox's traffic port (webhooks, read API; 127.0.0.1:0: a free port); the simulator's webhookURLs on http://"+DefaultInboxListen+" are pointed at it")
	fs.StringVar(&f.simScenario, "simulator-scenario", "config/dev/simulator.yaml", "scenario of the simulator: the sample numbers and their tokens")
	fs.DurationVar(&f.pollInterval, "quality-poll-interval", 3*time.Second, "how often the manager reads each number's quality from the simulator")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for _, bin := range controlPlaneBins {
		if _, err := os.Stat(filepath.Join(f.controlPlaneBin, bin)); err != nil {
			return fmt.Errorf("--control-plane-bin: %w (run make envtest-assets, or make dev)", err)
		}
	}
	if err := os.MkdirAll(f.stateDir, 0o700); err != nil {
		return err
	}
	logFile, err := os.Create(filepath.Join(f.stateDir, "manager.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	l, err := logging.New(logFile, "info", "console")
	if err != nil {
		return err
	}
	ctrl.SetLogger(logging.Logr(l))
	klog.SetLogger(logging.Logr(l))
	f.databaseSecret = mgr.DatabaseSecret
	return devSession(ctx, f, mgr, stdout, logFile.Name())
}

func devSession(ctx context.Context, f devFlags, mgr Manager, stdout io.Writer, logPath string) error {
	crds, err := crd.All()
	if err != nil {
		return err
	}
	inboxAddr, err := reserveLoopback(f.inboxListen)
	if err != nil {
		return fmt.Errorf("--inbox-listen: %w", err)
	}
	// The simulator stops with dev mode, also when dev mode stops on an error.
	simCtx, stopSim := context.WithCancel(ctx)
	defer stopSim()
	simAddr, simDone, err := startDevSimulator(simCtx, f, inboxAddr)
	if err != nil {
		return err
	}
	defer func() { stopSim(); <-simDone }()
	fmt.Fprintln(stdout, "switchboard dev: starting a local control plane (kube-apiserver + etcd + kube-controller-manager) ...")
	cp, err := startControlPlane(ctx, f.controlPlaneBin, f.stateDir, crds, stdout)
	if err != nil {
		return fmt.Errorf("starting the local control plane: %w", err)
	}
	defer func() {
		fmt.Fprintln(stdout, "switchboard dev: stopping the manager and the control plane ...")
		cp.stop()
	}()
	cfg, kubeconfig := cp.cfg, cp.kubeconfig

	mgrCtx, stopManager := context.WithCancel(ctx)
	defer stopManager()
	mgrDone := make(chan error, 1)
	go func() { mgrDone <- mgr.Start(mgrCtx, cfg, f.pollInterval) }()

	c, err := client.New(cfg, client.Options{Scheme: newScheme()})
	if err != nil {
		return err
	}
	objs, err := applySamples(ctx, c, f.samples, simAddr)
	if err != nil {
		return err
	}
	tokenFile, err := writeInboxToken(f.stateDir)
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(tokenFile) }()
	dsn, stopWorkloads, err := startDevWorkloads(ctx, cfg, c, f, devInbox{addr: inboxAddr, tokenFile: tokenFile}, stdout)
	if err != nil {
		return err
	}
	defer stopWorkloads()
	waitReconciled(ctx, c, objs, f.wait)
	printSummary(ctx, stdout, c, objs, kubeconfig, logPath, simAddr)
	printWalkthrough(stdout, dsn, simAddr, inboxAddr, tokenFile)
	if agents, err := setDevPasswords(ctx, c, inboxAddr, tokenFile, f.wait); err != nil {
		fmt.Fprintln(stdout, "switchboard dev: the sample agents have no dev passwords:", err)
	} else {
		printDevAgents(stdout, inboxAddr, tokenFile, agents)
	}
	fmt.Fprintln(stdout, "Press Ctrl-C to stop everything and clean up.")

	select {
	case <-ctx.Done():
	case err := <-mgrDone:
		return fmt.Errorf("the manager stopped: %w", err)
	}
	stopManager()
	return <-mgrDone
}

// newScheme holds the kinds dev mode reads and writes: Kubernetes', the CRDs, ours.
func newScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, apiextensionsv1.AddToScheme, sbv1.AddToScheme} {
		if err := add(s); err != nil {
			panic(err) // only on a programming error: a kind registered twice
		}
	}
	return s
}

// startDevSimulator serves the Cloud API simulator with the sample numbers until ctx ends,
// their webhooks on the default inbox address sent to inboxAddr. It returns the address
// it listens on; the returned channel closes once it has stopped.
func startDevSimulator(ctx context.Context, f devFlags, inboxAddr string) (string, <-chan struct{}, error) {
	sc, err := simulator.LoadScenario(f.simScenario)
	if err != nil {
		return "", nil, fmt.Errorf("--simulator-scenario: %w", err)
	}
	for i, n := range sc.Numbers {
		if rest, ok := strings.CutPrefix(n.WebhookURL, "http://"+DefaultInboxListen+"/"); ok {
			sc.Numbers[i].WebhookURL = "http://" + inboxAddr + "/" + rest
		}
	}
	var cfg simulator.Config
	sc.Apply(&cfg)
	ln, err := net.Listen("tcp", f.simListen)
	if err != nil {
		return "", nil, fmt.Errorf("--simulator-listen: %w", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = simulator.Serve(ctx, ln, cfg)
	}()
	return ln.Addr().String(), done, nil
}

// applySamples creates every object of the YAML files in dir, in file-name order, with
// the Numbers that name the default simulator address pointed at simAddr.
func applySamples(ctx context.Context, c client.Client, dir, simAddr string) ([]*unstructured.Unstructured, error) {
	if dir == "" {
		return nil, nil
	}
	objs, err := samples.Read(dir)
	if err != nil {
		return nil, fmt.Errorf("--samples: %w", err)
	}
	for _, u := range objs {
		pointAtSimulator(u, simAddr)
		if err := c.Create(ctx, u); err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("sample %s %s: %w", u.GetKind(), u.GetName(), err)
		}
	}
	return objs, nil
}

// pointAtSimulator moves a Number whose spec.apiBaseURL is the default simulator
// address to the simulator's actual address.
func pointAtSimulator(u *unstructured.Unstructured, simAddr string) {
	url, _, _ := unstructured.NestedString(u.Object, "spec", "apiBaseURL")
	if u.GetKind() == "Number" && url == "http://"+DefaultSimulatorListen {
		_ = unstructured.SetNestedField(u.Object, "http://"+simAddr, "spec", "apiBaseURL")
	}
}

// switchboardKind tells whether an object is one of ours (it has conditions to wait for).
func switchboardKind(u *unstructured.Unstructured) bool {
	return u.GroupVersionKind().Group == sbv1.GroupVersion.Group
}

// waitReconciled waits until every switchboard object reports the current generation,
// and every Number and Inbox is Ready (its sender or inbox runs).
func waitReconciled(ctx context.Context, c client.Client, objs []*unstructured.Unstructured, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		pending := 0
		for _, o := range objs {
			if switchboardKind(o) && !observed(ctx, c, o) {
				pending++
			}
		}
		if pending == 0 {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func observed(ctx context.Context, c client.Client, o *unstructured.Unstructured) bool {
	if err := c.Get(ctx, client.ObjectKeyFromObject(o), o); err != nil {
		return false
	}
	gen, _, _ := unstructured.NestedInt64(o.Object, "status", "observedGeneration")
	if gen != o.GetGeneration() {
		return false
	}
	ready, _, _ := readyOf(o)
	return (o.GetKind() != "Number" && o.GetKind() != "Inbox") || ready == "True" // wait for their processes too
}

// printSummary shows the switchboard objects with their Ready condition, like
// `kubectl get switchboard`, and how to look at them.
func printSummary(ctx context.Context, w io.Writer, c client.Client, objs []*unstructured.Unstructured, kubeconfig, logPath, simAddr string) {
	abs, _ := filepath.Abs(kubeconfig)
	fmt.Fprintf(w, "\nswitchboard dev: the manager runs (log: %s).\n\n  export KUBECONFIG=%s\n  kubectl get switchboard -A\n\n", logPath, abs)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tKIND\tNAME\tREADY\tREASON\tMESSAGE")
	for _, o := range objs {
		if !switchboardKind(o) {
			continue
		}
		_ = c.Get(ctx, client.ObjectKeyFromObject(o), o)
		status, reason, msg := readyOf(o)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", o.GetNamespace(), o.GetKind(), o.GetName(), status, reason, msg)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "\nEach sender and inbox Deployment runs as one local process (logs: %s).\n", filepath.Join(filepath.Dir(logPath), devLogDir))
	fmt.Fprintln(w, "Try: kubectl describe number -n acme sales-es; kubectl get deploy -n acme")
	fmt.Fprintln(w, "The Cloud API simulator the samples point at runs too; drop a number's quality (Meta's")
	fmt.Fprintln(w, "phone_number_quality_update webhook reaches the inbox, which asks the manager to read it) and watch it arrive:")
	fmt.Fprintf(w, "  curl -X POST http://%s/_sim/events -d '{\"number\":%q,\"quality\":{\"rating\":\"RED\"}}'\n", simAddr, devSalesES)
	fmt.Fprintln(w, "  kubectl get numbers -n acme -w")
}

func readyOf(o *unstructured.Unstructured) (status, reason, msg string) {
	raw, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
	for _, r := range raw {
		if m, ok := r.(map[string]any); ok && m["type"] == sbv1.ReadyCondition {
			return fmt.Sprint(m["status"]), fmt.Sprint(m["reason"]), strings.TrimSpace(fmt.Sprint(m["message"]))
		}
	}
	return "Unknown", "", "not reconciled yet"
}

// devInbox is where dev mode serves the inbox: its traffic address and the file of the
// read API's bearer token.
type devInbox struct{ addr, tokenFile string }

// startDevWorkloads starts PostgreSQL, gives every namespace with Numbers the database
// Secret the sender and inbox Deployments refer to, and runs those Deployments as local
// processes. The returned stop ends them, then PostgreSQL.
func startDevWorkloads(ctx context.Context, cfg *rest.Config, c client.Client, f devFlags, ib devInbox, out io.Writer) (string, func(), error) {
	pg, err := pgserver.Start()
	if err != nil {
		return "", nil, fmt.Errorf("starting PostgreSQL: %w", err)
	}
	dsn := pg.DSN("postgres")
	if err := ensureDatabaseSecrets(ctx, c, f.databaseSecret, dsn); err != nil {
		pg.Stop()
		return "", nil, err
	}
	kubelet, err := newDevKubelet(cfg, c, f.stateDir, out)
	if err != nil {
		pg.Stop()
		return "", nil, err
	}
	kubelet.inboxAddr, kubelet.inboxToken = ib.addr, ib.tokenFile
	kctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); kubelet.run(kctx) }()
	return dsn, func() { cancel(); <-done; pg.Stop() }, nil
}

// ensureDatabaseSecrets creates the Secret secretRef (NAME/KEY: the manager's
// --database-secret) names, holding dsn, in every namespace that has Numbers.
func ensureDatabaseSecrets(ctx context.Context, c client.Client, secretRef, dsn string) error {
	var numbers sbv1.NumberList
	if err := c.List(ctx, &numbers); err != nil {
		return err
	}
	name, key, ok := strings.Cut(secretRef, "/")
	if !ok || name == "" || key == "" {
		return fmt.Errorf("the manager's database Secret must be NAME/KEY, got %q", secretRef)
	}
	done := map[string]bool{}
	for _, n := range numbers.Items {
		if done[n.Namespace] {
			continue
		}
		done[n.Namespace] = true
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: n.Namespace, Name: name}, StringData: map[string]string{key: dsn}}
		if err := c.Create(ctx, s); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating the database Secret in %s: %w", n.Namespace, err)
		}
	}
	return nil
}

// reserveLoopback checks that addr can be listened on and returns it with the port the
// system chose for port 0; the process that serves it listens on it again.
func reserveLoopback(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().String(), nil
}

// writeInboxToken writes a fresh read-API bearer token (crypto/rand's Text: 26 base32
// characters, 128 bits) to
// <stateDir>/inbox-token, mode 0600, and returns the file's absolute path.
func writeInboxToken(stateDir string) (string, error) {
	path, err := filepath.Abs(filepath.Join(stateDir, "inbox-token"))
	if err != nil {
		return "", err
	}
	_ = os.Remove(path) // a file left by a killed session may have other permissions
	return path, os.WriteFile(path, []byte(rand.Text()+"\n"), 0o600)
}

// devSalesES is the simulator's phone number ID of the sample Number acme/sales-es.
const devSalesES = "106540352242922"

// printWalkthrough shows, as commands to paste, a customer's message through the
// simulator, the Spanish auto-reply reaching it and the conversation read back.
func printWalkthrough(w io.Writer, dsn, simAddr, inboxAddr, tokenFile string) {
	token, _ := os.ReadFile(tokenFile)
	fmt.Fprintf(w, "\nThe sample Inbox acme/support runs at http://%s; the read API's bearer token is %s (in %s).\n",
		inboxAddr, strings.TrimSpace(string(token)), tokenFile)
	fmt.Fprintln(w, "A customer asks the Spanish number (acme/sales-es) for the price, through the simulator's control API:")
	fmt.Fprintf(w, "  curl -X POST http://%s/_sim/events -d '{\"number\":%q,\"inbound\":{\"from\":\"34622222222\",\"text\":\"¿cuánto cuesta?\"}}'\n", simAddr, devSalesES)
	fmt.Fprintln(w, "The KeywordRule precios-es answers at once; the reply reaches the simulator (outside the business")
	fmt.Fprintln(w, "hours of RoutingPolicy sales, Europe/Madrid, its after-hours reply comes too):")
	fmt.Fprintf(w, "  curl 'http://%s/_sim/numbers/%s/messages?limit=2'\n", simAddr, devSalesES)
	fmt.Fprintln(w, "The conversation (its id) and its messages, the question and the reply (and the after-hours one),")
	fmt.Fprintln(w, "from the inbox's read API:")
	auth := fmt.Sprintf("-H \"Authorization: Bearer $(cat %s)\"", tokenFile)
	fmt.Fprintf(w, "  curl %s http://%s/api/v1/conversations\n", auth, inboxAddr)
	fmt.Fprintf(w, "  curl %s http://%s/api/v1/conversations/1/messages   # 1: the id above\n", auth, inboxAddr)
	fmt.Fprintf(w, "\nSend a message through a sample number's sender to the simulator:\n  %s=%q %s send --number acme/sales-es --to 34600000001 --template hello_world --wait 30s\n",
		sender.DatabaseURLEnv, dsn, os.Args[0])
}
