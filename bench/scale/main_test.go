package scale_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

// The package's control plane (envtest: a real kube-apiserver and etcd with the CRDs),
// the kubeconfig the manager process uses, and the switchboard binary built from this
// tree.
var (
	restCfg    *rest.Config
	kubeconfig string
	binary     string
)

// TestMain starts the control plane and builds the binary only when benchmarks run: the
// package has no tests, so `go test ./...` (make test) pays for neither.
func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f == nil || f.Value.String() == "" {
		os.Exit(m.Run())
	}
	os.Exit(runWithControlPlane(m))
}

func runWithControlPlane(m *testing.M) int {
	log.SetLogger(logr.Discard())
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		fmt.Fprintln(os.Stderr, "KUBEBUILDER_ASSETS is not set: run `make bench`, which builds kube-apiserver and etcd into bin/k8s")
		return 1
	}
	dir, err := os.MkdirTemp("", "switchboard-scale-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.RemoveAll(dir) }()
	if err := buildBinary(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	if restCfg, err = env.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "starting envtest:", err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	if err := writeKubeconfig(env, dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// buildBinary builds the switchboard command of this tree, as `make build` does.
func buildBinary(dir string) error {
	binary = filepath.Join(dir, "switchboard")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", binary, "../..").CombinedOutput()
	if err != nil {
		return fmt.Errorf("building switchboard: %v\n%s", err, out)
	}
	return nil
}

// writeKubeconfig gives the manager process a user of its own (in system:masters, as
// envtest's admin is; the ClusterRole's limits are tested in controllers/).
func writeKubeconfig(env *envtest.Environment, dir string) error {
	user, err := env.AddUser(envtest.User{Name: "switchboard-manager", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("adding the manager's user: %w", err)
	}
	b, err := user.KubeConfig()
	if err != nil {
		return err
	}
	kubeconfig = filepath.Join(dir, "kubeconfig")
	return os.WriteFile(kubeconfig, b, 0o600)
}
