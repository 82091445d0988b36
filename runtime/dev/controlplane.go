package dev

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The binaries dev mode runs from --control-plane-bin (make envtest-assets builds them,
// the version following k8s.io/api in go.mod).
const (
	etcdBin              = "etcd"
	apiServerBin         = "kube-apiserver"
	controllerManagerBin = "kube-controller-manager"
)

// controlPlaneBins are the binaries --control-plane-bin must hold.
var controlPlaneBins = []string{etcdBin, apiServerBin, controllerManagerBin}

// devControllers are the kube-controller-manager controllers dev mode runs: the garbage
// collector (a deleted Number's sender, or Inbox's workload, goes through their owner
// references) and the namespace controller (a deleted namespace empties and goes). Dev
// mode has no pods, so the ReplicaSet, scheduler and node controllers are not needed.
const devControllers = "garbagecollector,namespace"

// controlPlaneTimeout bounds each wait of startControlPlane: etcd healthy, kube-apiserver
// ready, the CRDs established.
const controlPlaneTimeout = time.Minute

// controlPlane is the local cluster of dev mode: etcd, kube-apiserver (client
// certificates, RBAC, ServiceAccount tokens) and kube-controller-manager, each a child
// process logging to <state-dir>/<binary>.log, their certificates and etcd's data in a
// temporary directory. It stands in for controller-runtime's envtest, which the binary
// does not link: envtest's package init creates a directory under the user's cache or
// temporary directory and panics when it cannot, as on a read-only root filesystem.
type controlPlane struct {
	tmp        string
	kubeconfig string
	cfg        *rest.Config // the admin user dev-admin (group system:masters)
	procs      []*process   // started in order; stopped in reverse
}

// startControlPlane starts etcd and kube-apiserver from binDir, installs crds and waits
// until they are established, writes the admin kubeconfig to <stateDir>/kubeconfig, and
// only then starts kube-controller-manager: its garbage collector notices the objects of
// a resource that appears after it started only at its 30-second discovery rescan. On an
// error it stops what it started. A process that exits before stop is reported on out.
func startControlPlane(ctx context.Context, binDir, stateDir string, crds []*apiextensionsv1.CustomResourceDefinition, out io.Writer) (_ *controlPlane, err error) {
	tmp, err := os.MkdirTemp("", "switchboard-dev-")
	if err != nil {
		return nil, err
	}
	cp := &controlPlane{tmp: tmp, kubeconfig: filepath.Join(stateDir, "kubeconfig")}
	defer func() {
		if err != nil {
			cp.stop()
		}
	}()
	p, err := newPKI(tmp)
	if err != nil {
		return nil, err
	}
	etcdAddr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	etcdURL := "http://" + etcdAddr
	if err := cp.run(binDir, etcdBin, stateDir, out,
		"--data-dir="+filepath.Join(tmp, "etcd"),
		"--listen-client-urls="+etcdURL,
		"--advertise-client-urls="+etcdURL,
		"--listen-peer-urls=http://127.0.0.1:0",
		"--unsafe-no-fsync=true", // throw-away data
	); err != nil {
		return nil, err
	}
	if err := waitUntil(ctx, cp.procs[0], "etcd to be healthy", func() bool { return healthy(etcdURL + "/health") }); err != nil {
		return nil, err
	}

	apiAddr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	_, apiPort, err := net.SplitHostPort(apiAddr)
	if err != nil {
		return nil, err
	}
	if err := cp.run(binDir, apiServerBin, stateDir, out,
		"--etcd-servers="+etcdURL,
		// Loopback only; no endpoint reconciler, which refuses a loopback address (nothing
		// in dev mode reaches kube-apiserver through the kubernetes Service).
		"--advertise-address=127.0.0.1",
		"--endpoint-reconciler-type=none",
		"--bind-address=127.0.0.1",
		"--secure-port="+apiPort,
		"--cert-dir="+tmp,
		"--tls-cert-file="+p.servingCert,
		"--tls-private-key-file="+p.servingKey,
		"--client-ca-file="+p.caCert,
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://"+apiAddr+"/",
		"--service-account-key-file="+p.saKey,
		"--service-account-signing-key-file="+p.saKey,
		"--service-cluster-ip-range=10.0.0.0/24",
		"--allow-privileged=true",
		// No pods, so no default ServiceAccount to admit them with (as in envtest).
		"--disable-admission-plugins=ServiceAccount",
	); err != nil {
		return nil, err
	}
	cp.cfg = &rest.Config{Host: "https://" + apiAddr,
		TLSClientConfig: rest.TLSClientConfig{CAData: p.caPEM, CertData: p.adminCertPEM, KeyData: p.adminKeyPEM}}
	cs, err := kubernetes.NewForConfig(cp.cfg)
	if err != nil {
		return nil, err
	}
	if err := waitUntil(ctx, cp.procs[1], "kube-apiserver to be ready", func() bool {
		return cs.Discovery().RESTClient().Get().AbsPath("/readyz").Do(ctx).Error() == nil
	}); err != nil {
		return nil, err
	}
	if err := cp.installCRDs(ctx, crds); err != nil {
		return nil, err
	}
	if err := cp.writeKubeconfig(); err != nil {
		return nil, err
	}
	if err := cp.run(binDir, controllerManagerBin, stateDir, out,
		"--kubeconfig="+cp.kubeconfig,
		"--controllers="+devControllers,
		"--leader-elect=false",
		"--secure-port=0", // no serving port: nothing in dev mode reads its metrics or health
	); err != nil {
		return nil, err
	}
	return cp, nil
}

// run starts binDir/name with args, its output in <stateDir>/<name>.log.
func (cp *controlPlane) run(binDir, name, stateDir string, out io.Writer, args ...string) error {
	logPath := filepath.Join(stateDir, name+".log")
	p, err := startProcess(filepath.Join(binDir, name), args, nil, logPath, func(err error) {
		fmt.Fprintf(out, "switchboard dev: %s exited (%v); see %s\n", name, err, logPath)
	})
	if err != nil {
		return fmt.Errorf("starting %s: %w", name, err)
	}
	cp.procs = append(cp.procs, p)
	return nil
}

// waitUntil polls cond every 100 ms for up to controlPlaneTimeout, failing at once when
// p exits.
func waitUntil(ctx context.Context, p *process, what string, cond func() bool) error {
	deadline := time.Now().Add(controlPlaneTimeout)
	for !cond() {
		switch {
		case p.hasExited():
			return fmt.Errorf("waiting for %s: %s exited; see %s", what, filepath.Base(p.cmd.Path), p.logPath)
		case ctx.Err() != nil:
			return ctx.Err()
		case time.Now().After(deadline):
			return fmt.Errorf("waiting for %s: not after %s; see %s", what, controlPlaneTimeout, p.logPath)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

// installCRDs creates the CRDs and waits until each is established (its kind served).
func (cp *controlPlane) installCRDs(ctx context.Context, crds []*apiextensionsv1.CustomResourceDefinition) error {
	c, err := client.New(cp.cfg, client.Options{Scheme: newScheme()})
	if err != nil {
		return err
	}
	for _, crd := range crds {
		if err := c.Create(ctx, crd.DeepCopy()); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("installing CRD %s: %w", crd.Name, err)
		}
	}
	for _, crd := range crds {
		got := &apiextensionsv1.CustomResourceDefinition{}
		if err := waitUntil(ctx, cp.procs[1], "CRD "+crd.Name+" to be established", func() bool {
			return c.Get(ctx, client.ObjectKeyFromObject(crd), got) == nil && established(got)
		}); err != nil {
			return err
		}
	}
	return nil
}

func established(crd *apiextensionsv1.CustomResourceDefinition) bool {
	for _, c := range crd.Status.Conditions {
		if c.Type == apiextensionsv1.Established {
			return c.Status == apiextensionsv1.ConditionTrue
		}
	}
	return false
}

// writeKubeconfig writes the admin kubeconfig (mode 0600): the one dev mode prints, and
// kube-controller-manager's.
func (cp *controlPlane) writeKubeconfig() error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["dev"] = &clientcmdapi.Cluster{Server: cp.cfg.Host, CertificateAuthorityData: cp.cfg.CAData}
	kc.AuthInfos["dev-admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: cp.cfg.CertData, ClientKeyData: cp.cfg.KeyData}
	kc.Contexts["dev"] = &clientcmdapi.Context{Cluster: "dev", AuthInfo: "dev-admin"}
	kc.CurrentContext = "dev"
	return clientcmd.WriteToFile(*kc, cp.kubeconfig)
}

// stop ends kube-controller-manager, kube-apiserver and etcd, in that order, and removes
// the kubeconfig, the certificates and etcd's data.
func (cp *controlPlane) stop() {
	for i := len(cp.procs) - 1; i >= 0; i-- {
		cp.procs[i].stop()
	}
	cp.procs = nil
	_ = os.Remove(cp.kubeconfig)
	_ = os.RemoveAll(cp.tmp)
}
