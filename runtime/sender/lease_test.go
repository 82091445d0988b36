package sender_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/sender"
	"github.com/switchboard-dev/switchboard/runtime/simulator"
	"github.com/switchboard-dev/switchboard/runtime/store"
)

// mainEnv makes this test binary run `switchboard sender` (sender.Main) with its
// arguments after "--".
const mainEnv = "SENDER_TEST_MAIN"

func senderMain() int {
	args := os.Args[1:]
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	ctx, stop := signalNotify()
	defer stop()
	if err := sender.Main(ctx, args, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "sender:", err)
		return 1
	}
	return 0
}

// startAPIServer runs a kube-apiserver (envtest) with the CRDs and writes an admin
// kubeconfig.
func startAPIServer(t *testing.T) (*envtest.Environment, client.Client, string) {
	t.Helper()
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run `make test`, which builds kube-apiserver and etcd into bin/k8s")
	}
	env := &envtest.Environment{CRDDirectoryPaths: []string{filepath.Join("..", "..", "config", "crd", "bases")}, ErrorIfCRDPathMissing: true}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	path := kubeconfigFor(t, env, envtest.User{Name: "admin", Groups: []string{"system:masters"}})
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = sbv1.AddToScheme(scheme)
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return env, c, path
}

// kubeconfigFor writes a kubeconfig authenticating as user (a client certificate).
func kubeconfigFor(t *testing.T, env *envtest.Environment, user envtest.User) string {
	t.Helper()
	u, err := env.AddUser(user, nil)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := u.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	// KUBECONFIG is a list separated by colons, which user names may contain.
	path := filepath.Join(t.TempDir(), strings.ReplaceAll(user.Name, ":", "_")+".kubeconfig")
	if err := os.WriteFile(path, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestLeaseHandover: two `switchboard sender` processes for one Number elect one
// leader through the Lease sender-NAME; the leader reports itself in status.delivery;
// when it is killed the standby takes the Lease and the fence and finishes the work,
// and together they never exceed the limit.
func TestLeaseHandover(t *testing.T) {
	r := newRig(t, simulator.Number{Throughput: "STANDARD", Tier: "TIER_UNLIMITED"})
	c, kubeconfig := setupNumber(t, r)
	ids := r.enqueue(400, store.LaneConversation, recipients(200))
	procs := map[string]*exec.Cmd{"sender-a": r.runMain(kubeconfig, "sender-a", r.dsn), "sender-b": r.runMain(kubeconfig, "sender-b", r.dsn)}

	holder := waitLeaseHolder(t, c, "")
	r.waitSent(100, 30*time.Second)
	if got := activeSender(t, c); got != holder {
		t.Errorf("status.delivery.activeSender = %q, want the Lease holder %q", got, holder)
	}
	_ = procs[holder].Process.Kill()
	_ = procs[holder].Wait()

	next := waitLeaseHolder(t, c, holder)
	r.waitSent(len(ids), 60*time.Second)
	r.accounted(ids)
	if got := activeSender(t, c); got != next {
		t.Errorf("after the hand-over status.delivery.activeSender = %q, want %q", got, next)
	}
	if cs := r.sim.Counters(); cs.Rejected[130429] != 0 {
		t.Errorf("the simulator saw more than the limit: %d × 130429", cs.Rejected[130429])
	}
}

// TestSIGTERMWithLeaderElection: the leader drains before it exits — its in-flight
// calls recorded and the fence released — so nothing is left "sending".
func TestSIGTERMWithLeaderElection(t *testing.T) {
	r := newRig(t, simulator.Number{Throughput: "STANDARD", Tier: "TIER_UNLIMITED"})
	c, kubeconfig := setupNumber(t, r)
	r.enqueue(600, store.LaneConversation, recipients(300))
	cmd := r.runMain(kubeconfig, "sender-a", r.dsn)
	waitLeaseHolder(t, c, "")
	r.waitSent(100, 30*time.Second)
	r.terminate(cmd)
}

// TestLeaderThatCannotSendGivesUp: a leader that cannot reach PostgreSQL does not keep
// the Lease: it exits with the error, so a healthy replica can take over.
func TestLeaderThatCannotSendGivesUp(t *testing.T) {
	r := newRig(t, simulator.Number{Throughput: "STANDARD", Tier: "TIER_UNLIMITED"})
	_, kubeconfig := setupNumber(t, r)
	cmd := r.runMain(kubeconfig, "sender-broken", "postgres://nobody@127.0.0.1:1/none?connect_timeout=2")
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("the sender exited 0 although it could not send")
		}
	case <-time.After(60 * time.Second):
		t.Fatal("a leader that cannot reach PostgreSQL kept running")
	}
}

// setupNumber starts an API server with the Number and its Secret, its status.sending
// filled in as the manager would.
func setupNumber(t *testing.T, r *rig) (client.Client, string) {
	t.Helper()
	env, c, kubeconfig := startAPIServer(t)
	r.env = env
	ctx := t.Context()
	mustCreate := func(o client.Object) {
		if err := c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	mustCreate(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: number.Namespace}})
	mustCreate(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: number.Namespace, Name: "creds"},
		StringData: map[string]string{"accessToken": token, "appSecret": "a", "verifyToken": "v"}})
	num := &sbv1.Number{ObjectMeta: metav1.ObjectMeta{Namespace: number.Namespace, Name: number.Name},
		Spec: sbv1.NumberSpec{PhoneNumberID: pnid, BusinessAccountID: "1", CredentialsRef: sbv1.LocalObjectReference{Name: "creds"}, APIBaseURL: r.url}}
	mustCreate(num)
	num.Status.Sending = &sbv1.SendingStatus{MessagesPerSecond: 80, CampaignPerMinute: 4800, UniqueRecipientsPer24h: -1, Reason: "Nominal"}
	if err := c.Status().Update(ctx, num); err != nil {
		t.Fatal(err)
	}
	return c, kubeconfig
}

// runMain starts `switchboard sender` (this test binary in sender.Main mode) with
// leader election and short Lease timings; extra flags come last and win.
func (r *rig) runMain(kubeconfig, pod, dsn string, extra ...string) *exec.Cmd {
	r.t.Helper()
	args := append([]string{"-test.run=^$", "--", "--number=" + number.String(), "--leader-elect",
		"--lease-duration=2s", "--renew-deadline=1500ms", "--retry-period=200ms",
		"--health-probe-bind-address=127.0.0.1:0", "--metrics-bind-address=0", "--log-encoding=console"}, extra...)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), mainEnv+"=1", "POD_NAME="+pod, "KUBECONFIG="+kubeconfig, sender.DatabaseURLEnv+"="+dsn)
	log, _ := os.Create(filepath.Join(r.t.TempDir(), pod+".log"))
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); logTail(r.t, log.Name()) })
	return cmd
}

func waitLeaseHolder(t *testing.T, c client.Client, not string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var lease coordinationv1.Lease
		err := c.Get(t.Context(), client.ObjectKey{Namespace: number.Namespace, Name: "sender-" + number.Name}, &lease)
		if err == nil && lease.Spec.HolderIdentity != nil && *lease.Spec.HolderIdentity != "" && *lease.Spec.HolderIdentity != not {
			return *lease.Spec.HolderIdentity
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no sender (other than %q) holds the Lease", not)
	return ""
}

func activeSender(t *testing.T, c client.Client) string {
	t.Helper()
	var num sbv1.Number
	if err := c.Get(t.Context(), client.ObjectKey{Namespace: number.Namespace, Name: number.Name}, &num); err != nil {
		t.Fatal(err)
	}
	if num.Status.Delivery == nil {
		return ""
	}
	return num.Status.Delivery.ActiveSender
}

func logTail(t *testing.T, path string) {
	if !t.Failed() {
		return
	}
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	var lines []string
	for sc := bufio.NewScanner(f); sc.Scan(); {
		lines = append(lines, sc.Text())
	}
	t.Logf("%s:\n%s", filepath.Base(path), strings.Join(lines[max(0, len(lines)-15):], "\n"))
}
