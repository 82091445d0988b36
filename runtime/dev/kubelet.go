package dev

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/switchboard-dev/switchboard/controllers"
	"github.com/switchboard-dev/switchboard/runtime/contract"
)

// devKubelet runs every Deployment the manager declares (label
// app.kubernetes.io/managed-by: switchboard-manager: the senders and the inboxes) as one
// local process each, whatever its replicas, with exactly its command, arguments and
// environment (Secret and field references resolved), under its own ServiceAccount
// token so that its Role applies. Only the bind addresses move to free loopback ports,
// since all workloads share one machine, except that one inbox's traffic port gets
// inboxAddr; inboxes also get --api-token-file, and --media-dir (a directory under the
// state dir, removed at the end) unless their Inbox archives to S3 (spec.media). It restarts a process when its
// Deployment changes or it exits, and reports it in the Deployment's status, as the
// Deployment controller and kubelet would.
type devKubelet struct {
	c      client.Client
	cs     *kubernetes.Clientset
	cfg    *rest.Config
	dir    string
	logDir string
	out    io.Writer
	procs  map[client.ObjectKey]*devProc
	// inboxAddr is the traffic address of the first inbox started (inboxOwner), and
	// inboxToken the file of the read API's bearer token every inbox gets.
	inboxAddr, inboxToken string
	inboxOwner            client.ObjectKey
	// tokens are the kubeconfig files holding ServiceAccount tokens, removed at the end.
	tokens map[string]bool
	// mediaDirs are the inboxes' media archives (--media-dir), removed at the end.
	mediaDirs map[string]bool
	// crashes counts a Deployment's consecutive crashes; notBefore delays its restart.
	crashes   map[client.ObjectKey]int
	notBefore map[client.ObjectKey]time.Time
}

// devProc is one running workload: the Deployment generation it runs and its readiness
// URL.
type devProc struct {
	*process
	generation int64
	health     string
}

func newDevKubelet(cfg *rest.Config, c client.Client, dir string, out io.Writer) (*devKubelet, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	logDir := filepath.Join(dir, devLogDir)
	if err := os.MkdirAll(logDir, 0o700); err != nil {
		return nil, err
	}
	return &devKubelet{c: c, cs: cs, cfg: cfg, dir: dir, logDir: logDir, out: out,
		procs: map[client.ObjectKey]*devProc{}, tokens: map[string]bool{}, mediaDirs: map[string]bool{},
		crashes: map[client.ObjectKey]int{}, notBefore: map[client.ObjectKey]time.Time{}}, nil
}

// devLogDir holds one log file per workload, NAMESPACE_DEPLOYMENT.log, under the state dir.
const devLogDir = "workloads"

// run syncs the manager's Deployments every second until ctx ends, then stops them all.
func (k *devKubelet) run(ctx context.Context) {
	defer k.stopAll()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		if err := k.sync(ctx); err != nil && ctx.Err() == nil {
			fmt.Fprintln(k.out, "switchboard dev: running workloads:", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (k *devKubelet) sync(ctx context.Context) error {
	var deps appsv1.DeploymentList
	if err := k.c.List(ctx, &deps, client.MatchingLabels{controllers.ManagedByLabel: controllers.ManagerName}); err != nil {
		return err
	}
	seen := map[client.ObjectKey]bool{}
	for i := range deps.Items {
		d := &deps.Items[i]
		key := client.ObjectKeyFromObject(d)
		seen[key] = true
		if err := k.syncOne(ctx, d); err != nil {
			fmt.Fprintf(k.out, "switchboard dev: Deployment %s: %v\n", key, err)
		}
	}
	for key := range k.procs {
		if !seen[key] {
			k.stop(key)
			fmt.Fprintf(k.out, "switchboard dev: Deployment %s is gone; its process stopped\n", key)
		}
	}
	return nil
}

// syncOne makes the process match the Deployment and reports it.
func (k *devKubelet) syncOne(ctx context.Context, d *appsv1.Deployment) error {
	key := client.ObjectKeyFromObject(d)
	want := d.Spec.Replicas != nil && *d.Spec.Replicas > 0
	p := k.procs[key]
	if p != nil && (!want || p.generation != d.Generation || p.hasExited()) {
		if p.hasExited() && p.generation == d.Generation {
			// It crashed: back off 1 s, 2 s, … up to 10 s, without holding up the others.
			k.crashes[key]++
			k.notBefore[key] = time.Now().Add(min(time.Duration(k.crashes[key])*time.Second, 10*time.Second))
		} else {
			delete(k.crashes, key) // a new generation starts afresh
		}
		k.stop(key)
		p = nil
	}
	if want && p == nil && !time.Now().Before(k.notBefore[key]) {
		var err error
		if p, err = k.start(ctx, d); err != nil {
			return err
		}
		k.procs[key] = p
	}
	return k.report(ctx, d, p)
}

// start runs the Deployment's container as a local process.
func (k *devKubelet) start(ctx context.Context, d *appsv1.Deployment) (*devProc, error) {
	pod := d.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		return nil, fmt.Errorf("want one container, got %d", len(pod.Containers))
	}
	ctr := pod.Containers[0]
	podName := d.Name + "-dev"
	env, err := k.resolveEnv(ctx, d.Namespace, podName, ctr.Env)
	if err != nil {
		return nil, err
	}
	kubeconfig, err := k.serviceAccountKubeconfig(ctx, d.Namespace, pod.ServiceAccountName)
	if err != nil {
		return nil, err
	}
	args, health, err := k.localArgs(client.ObjectKeyFromObject(d), ctr.Args)
	if err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	if len(ctr.Command) != 1 || ctr.Command[0] != "switchboard" {
		return nil, fmt.Errorf("command %q: dev mode runs only the switchboard binary", ctr.Command)
	}
	env = append(env, "KUBECONFIG="+kubeconfig, "PATH="+os.Getenv("PATH"))
	proc, err := startProcess(self, args, env, filepath.Join(k.logDir, d.Namespace+"_"+d.Name+".log"), nil)
	if err != nil {
		return nil, err
	}
	k.sayReplicas(d)
	return &devProc{process: proc, generation: d.Generation, health: health}, nil
}

// resolveEnv turns the container's env into KEY=VALUE, resolving the references a
// kubelet would.
func (k *devKubelet) resolveEnv(ctx context.Context, ns, podName string, vars []corev1.EnvVar) ([]string, error) {
	out := make([]string, 0, len(vars))
	for _, v := range vars {
		val := v.Value
		switch src := v.ValueFrom; {
		case src == nil:
		case src.FieldRef != nil && src.FieldRef.FieldPath == "metadata.name":
			val = podName
		case src.FieldRef != nil && src.FieldRef.FieldPath == "metadata.namespace":
			val = ns
		case src.SecretKeyRef != nil:
			var s corev1.Secret
			if err := k.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: src.SecretKeyRef.Name}, &s); err != nil {
				return nil, fmt.Errorf("env %s: %w", v.Name, err)
			}
			data, ok := s.Data[src.SecretKeyRef.Key]
			if !ok {
				return nil, fmt.Errorf("env %s: Secret %s has no key %q", v.Name, src.SecretKeyRef.Name, src.SecretKeyRef.Key)
			}
			val = string(data)
		default:
			return nil, fmt.Errorf("env %s: dev mode cannot resolve this reference", v.Name)
		}
		out = append(out, v.Name+"="+val)
	}
	return out, nil
}

// serviceAccountKubeconfig writes a kubeconfig holding a token of the workload's own
// ServiceAccount, so that in dev mode too it can do only what its Role allows.
func (k *devKubelet) serviceAccountKubeconfig(ctx context.Context, ns, sa string) (string, error) {
	ttl := int64(24 * 3600)
	tr, err := k.cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &ttl}}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("token of ServiceAccount %s: %w", sa, err)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["dev"] = &clientcmdapi.Cluster{Server: k.cfg.Host, CertificateAuthorityData: k.cfg.CAData}
	cfg.AuthInfos[sa] = &clientcmdapi.AuthInfo{Token: tr.Status.Token}
	cfg.Contexts["dev"] = &clientcmdapi.Context{Cluster: "dev", AuthInfo: sa, Namespace: ns}
	cfg.CurrentContext = "dev"
	path := filepath.Join(k.dir, "kubeconfig-"+ns+"-"+sa)
	k.tokens[path] = true
	return path, clientcmd.WriteToFile(*cfg, path)
}

// localArgs moves the bind-address flags to loopback (see localAddresses) and gives an
// inbox the read API's token file and, unless it archives to S3, a media directory
// (<state dir>/media/NAMESPACE_DEPLOYMENT), so that inbound media is archived and media
// can be sent.
func (k *devKubelet) localArgs(key client.ObjectKey, args []string) ([]string, string, error) {
	traffic := ""
	if len(args) > 0 && args[0] == contract.InboxSubcommand {
		if k.inboxOwner == (client.ObjectKey{}) {
			k.inboxOwner = key
		}
		if k.inboxOwner == key {
			traffic = k.inboxAddr
		}
		args = append(slices.Clone(args), "--"+devAPITokenFileFlag+"="+k.inboxToken, "--"+devInsecureCookiesFlag)
		if !hasFlag(args, contract.InboxMediaS3BucketFlag) {
			dir, err := filepath.Abs(filepath.Join(k.dir, devMediaDir, key.Namespace+"_"+key.Name))
			if err != nil {
				return nil, "", err
			}
			k.mediaDirs[dir] = true
			args = append(args, "--"+devMediaDirFlag+"="+dir)
		}
	}
	return localAddresses(args, traffic)
}

// hasFlag reports whether args set --name (as --name=value or --name value).
func hasFlag(args []string, name string) bool {
	return slices.ContainsFunc(args, func(a string) bool {
		return a == "--"+name || strings.HasPrefix(a, "--"+name+"=")
	})
}

// devMediaDir holds the inboxes' media archives under the state dir.
const devMediaDir = "media"

// devAPITokenFileFlag is `switchboard inbox`'s flag naming the read API's token file;
// devInsecureCookiesFlag lets its session cookies work on http://127.0.0.1;
// devMediaDirFlag names its media archive's directory.
const (
	devAPITokenFileFlag    = "api-token-file"
	devInsecureCookiesFlag = "insecure-loopback-cookies"
	devMediaDirFlag        = "media-dir"
)

// localAddresses moves the bind-address flags to free loopback ports (the inbox's traffic
// port to traffic, when given) and returns the readiness URL: the sender's health port,
// or else the metrics port, which serves the inbox's probes.
func localAddresses(args []string, traffic string) ([]string, string, error) {
	out := slices.Clone(args)
	addrs := map[string]string{}
	for i, a := range args {
		for _, name := range []string{contract.MetricsBindAddressFlag, contract.SenderHealthAddressFlag, contract.InboxHTTPAddressFlag} {
			flag := "--" + name + "="
			if !strings.HasPrefix(a, flag) {
				continue
			}
			addr, err := localAddr(name, traffic)
			if err != nil {
				return nil, "", err
			}
			out[i], addrs[name] = flag+addr, addr
		}
	}
	health := cmp.Or(addrs[contract.SenderHealthAddressFlag], addrs[contract.MetricsBindAddressFlag])
	if health == "" {
		return out, "", nil
	}
	return out, "http://" + health + contract.ReadyzPath, nil
}

// localAddr is traffic for the inbox's traffic port when set, else a free loopback port.
func localAddr(flag, traffic string) (string, error) {
	if flag == contract.InboxHTTPAddressFlag && traffic != "" {
		return traffic, nil
	}
	return freeLoopbackAddr()
}

// sayReplicas tells when a Deployment asks for more replicas than the one process dev
// mode runs (an Inbox asks for 2 by default).
func (k *devKubelet) sayReplicas(d *appsv1.Deployment) {
	if d.Spec.Replicas != nil && *d.Spec.Replicas > 1 && k.crashes[client.ObjectKeyFromObject(d)] == 0 {
		fmt.Fprintf(k.out, "switchboard dev: Deployment %s/%s asks for %d replicas; dev mode runs 1 process\n",
			d.Namespace, d.Name, *d.Spec.Replicas)
	}
}

func freeLoopbackAddr() (string, error) { return reserveLoopback("127.0.0.1:0") }

// report writes the Deployment's status as its controller would.
func (k *devKubelet) report(ctx context.Context, d *appsv1.Deployment, p *devProc) error {
	var ready int32
	avail := appsv1.DeploymentCondition{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionFalse,
		Reason: "MinimumReplicasUnavailable", Message: "the dev-mode process is not ready"}
	if p != nil && !p.hasExited() && healthy(p.health) {
		ready = 1
		delete(k.crashes, client.ObjectKeyFromObject(d)) // running and ready again
		avail = appsv1.DeploymentCondition{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue,
			Reason: "MinimumReplicasAvailable", Message: "the dev-mode process is running and ready"}
	}
	want := int32(0)
	if p != nil {
		want = 1
	}
	st := d.Status
	if st.ObservedGeneration == d.Generation && st.ReadyReplicas == ready && st.Replicas == want &&
		len(st.Conditions) == 1 && st.Conditions[0].Status == avail.Status {
		return nil
	}
	now := metav1.Now()
	avail.LastUpdateTime, avail.LastTransitionTime = now, now
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: want, UpdatedReplicas: want,
		ReadyReplicas: ready, AvailableReplicas: ready, UnavailableReplicas: want - ready,
		Conditions: []appsv1.DeploymentCondition{avail}}
	return k.c.Status().Update(ctx, d)
}

// healthy tells whether a GET of url answers 200 within a second.
func healthy(url string) bool {
	c := &http.Client{Timeout: time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// stop ends one workload.
func (k *devKubelet) stop(key client.ObjectKey) {
	if p := k.procs[key]; p != nil {
		p.stop()
	}
	delete(k.procs, key)
}

// stopAll ends every workload at once.
func (k *devKubelet) stopAll() {
	var wg sync.WaitGroup
	for key, p := range k.procs {
		wg.Go(p.stop)
		delete(k.procs, key)
	}
	wg.Wait()
	for path := range k.tokens {
		_ = os.Remove(path)
	}
	for dir := range k.mediaDirs {
		_ = os.RemoveAll(dir)
	}
	_ = os.Remove(filepath.Join(k.dir, devMediaDir))
}
