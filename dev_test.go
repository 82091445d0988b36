package main

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/sender"
)

// TestMain lets this test binary stand in for the switchboard binary: dev mode runs the
// sender Deployments as processes of its own executable, and the command-line tests run
// it with SWITCHBOARD_TEST_MAIN=1.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "sender" || os.Getenv("SWITCHBOARD_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// signalWriter collects output and closes ready once it has seen a marker.
type signalWriter struct {
	mu     sync.Mutex
	buf    strings.Builder
	marker string
	ready  chan struct{}
	once   sync.Once
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.marker) {
		w.once.Do(func() { close(w.ready) })
	}
	return len(p), nil
}

func (w *signalWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestDevMode runs `switchboard dev` as `make dev` does: the samples must be applied and
// reconciled, the printed kubeconfig must work, and Ctrl-C must clean up.
func TestDevMode(t *testing.T) {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run `make test`, which builds kube-apiserver and etcd into bin/k8s")
	}
	// The default simulator port is taken, as when `make dev` runs on the same machine.
	if ln, err := net.Listen("tcp", devSimulatorListen); err == nil {
		defer ln.Close()
	}
	state := t.TempDir()
	out := &signalWriter{marker: "Press Ctrl-C", ready: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- runDev(ctx, []string{"--control-plane-bin", assets, "--samples", "config/samples", "--state-dir", state,
			"--simulator-listen", "127.0.0.1:0"}, out) // a free port: `make dev` may hold the default one

	}()
	select {
	case <-out.ready:
	case err := <-done:
		t.Fatalf("dev mode stopped early: %v\n%s", err, out)
	case <-time.After(3 * time.Minute):
		t.Fatalf("dev mode did not get ready:\n%s", out)
	}
	text := out.String()
	for _, want := range []string{"export KUBECONFIG=", "kubectl get switchboard -A", "RoutingPolicy    sales            True",
		"Number           sales-es         True   Reconciled", "Number           support-en       True   Reconciled"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}

	kubeconfig := filepath.Join(state, "kubeconfig")
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatalf("printed kubeconfig: %v", err)
	}
	c, err := client.New(cfg, client.Options{Scheme: newScheme()})
	if err != nil {
		t.Fatal(err)
	}
	var numbers sbv1.NumberList
	if err := c.List(ctx, &numbers, client.InNamespace("acme")); err != nil || len(numbers.Items) != 3 {
		t.Fatalf("listing sample Numbers through the kubeconfig: %d, %v", len(numbers.Items), err)
	}
	for _, n := range numbers.Items {
		if n.Status.Sender == nil || n.Status.ObservedGeneration != n.Generation {
			t.Errorf("Number %s not reconciled: %+v", n.Name, n.Status)
		}
	}
	expectDevQuality(t, ctx, c, "GREEN")

	// `switchboard send` reaches the simulator through the sample number's sender.
	dsn := regexp.MustCompile(`postgres://[^"]+`).FindString(text)
	t.Setenv(sender.DatabaseURLEnv, dsn)
	var sendOut strings.Builder
	err = sender.SendMain(ctx, []string{"--number", "acme/sales-es", "--to", "34600000001", "--template", "hello_world", "--wait", "30s"}, &sendOut)
	if err != nil || !strings.Contains(sendOut.String(), "sent wamid.") {
		t.Fatalf("switchboard send: %v\n%s", err, sendOut.String())
	}

	// A quality drop through the simulator's control API reaches the Number's status.
	sim := regexp.MustCompile(`curl -X PATCH (127\.0\.0\.1:\d+)/_sim/`).FindStringSubmatch(text)
	if sim == nil || sim[1] == devSimulatorListen {
		t.Fatalf("dev mode does not print the simulator's free port:\n%s", text)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPatch,
		"http://"+sim[1]+"/_sim/numbers/106540352242922", strings.NewReader(`{"quality":"RED"}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("simulator control API: %v %v", resp, err)
	}
	resp.Body.Close()
	expectDevQuality(t, ctx, c, "RED")

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("dev mode ended with %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("dev mode did not stop after Ctrl-C")
	}
	if _, err := os.Stat(kubeconfig); !os.IsNotExist(err) {
		t.Errorf("kubeconfig left behind: %v", err)
	}
	if err := c.List(context.Background(), &numbers); err == nil {
		t.Error("the control plane still answers after dev mode stopped")
	}
}

// expectDevQuality waits until the sample Number sales-es reports the quality rating.
func expectDevQuality(t *testing.T, ctx context.Context, c client.Client, rating string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	n := &sbv1.Number{}
	for time.Now().Before(deadline) {
		if err := c.Get(ctx, client.ObjectKey{Namespace: "acme", Name: "sales-es"}, n); err == nil &&
			n.Status.Quality != nil && n.Status.Quality.Rating == rating {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("sales-es quality is %+v, want %s", n.Status.Quality, rating)
}
