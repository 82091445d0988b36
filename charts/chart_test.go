// Package charts holds the tests of the Switchboard Helm chart in ./switchboard. They run
// the pinned helm binary named by $HELM (`make test` builds it and sets it) and check the
// rendered objects: the CRDs and the ClusterRole against the generated sources in
// config/, the manager Deployment against the values, and values.schema.json against bad
// input.
package charts

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

const (
	chartDir    = "switchboard" // relative to this package's directory, charts/
	repoRoot    = ".."
	releaseName = "switchboard"
	namespace   = "switchboard-system"
	keepKey     = "helm.sh/resource-policy"
)

// object is one rendered Kubernetes object.
type object map[string]any

func (o object) kind() string { return str(o, "kind") }
func (o object) name() string { return str(o, "metadata", "name") }

// get walks nested maps; it returns nil when a key is missing.
func (o object) get(path ...string) any {
	var cur any = map[string]any(o)
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[p]
	}
	return cur
}

func str(o object, path ...string) string {
	s, _ := o.get(path...).(string)
	return s
}

// helmBin returns $HELM, failing the test when it is not usable: the chart tests are
// part of `make test` and must not pass by skipping.
func helmBin(t *testing.T) string {
	t.Helper()
	h := os.Getenv("HELM")
	if h == "" {
		t.Fatal("HELM is not set: run `make test` (it builds bin/helm-<version> and sets HELM), " +
			"or set HELM to the pinned helm binary")
	}
	if fi, err := os.Stat(h); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		t.Fatalf("HELM=%s is not an executable file (%v): run `make test` to build it", h, err)
	}
	return h
}

var k8sAPIRe = regexp.MustCompile(`(?m)^\s*k8s\.io/api v0\.(\d+)\.(\d+)`)

// kubeVersion is the Kubernetes version the chart is rendered for: the one that
// k8s.io/api in go.mod follows (v0.X.Y -> 1.X.Y), as the Makefile derives it. It must be
// passed explicitly because a helm built with `go install` (no release ldflags) assumes
// Kubernetes v1.20, which the chart's kubeVersion rejects.
func kubeVersion(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := k8sAPIRe.FindSubmatch(b)
	if m == nil {
		t.Fatal("go.mod does not require k8s.io/api v0.X.Y")
	}
	return fmt.Sprintf("1.%s.%s", m[1], m[2])
}

// runHelm runs helm with its cache, config and data directories in a temporary directory.
func runHelm(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	home := t.TempDir()
	cmd := exec.CommandContext(t.Context(), helmBin(t), args...)
	cmd.Env = append(os.Environ(),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"),
	)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("running helm: %v", err)
	}
	return out.String(), errb.String(), err
}

// template runs `helm template` with extra arguments and returns its result unparsed.
func template(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	base := []string{"template", releaseName, chartDir, "--namespace", namespace, "--kube-version", kubeVersion(t)}
	return runHelm(t, append(base, args...)...)
}

// render runs `helm template`, fails on error, and parses every rendered object.
func render(t *testing.T, args ...string) []object {
	t.Helper()
	out, stderr, err := template(t, args...)
	if err != nil {
		t.Fatalf("helm template %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return parseDocs(t, out)
}

// parseDocs splits a multi-document YAML stream on "\n---" and parses each document.
func parseDocs(t *testing.T, s string) []object {
	t.Helper()
	var objs []object
	for i, doc := range strings.Split("\n"+s, "\n---") {
		var o object
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			t.Fatalf("document %d does not parse: %v\n%s", i, err, doc)
		}
		if len(o) > 0 {
			objs = append(objs, o)
		}
	}
	return objs
}

func ofKind(objs []object, kind string) []object {
	var r []object
	for _, o := range objs {
		if o.kind() == kind {
			r = append(r, o)
		}
	}
	return r
}

func only(t *testing.T, objs []object, kind string) object {
	t.Helper()
	r := ofKind(objs, kind)
	if len(r) != 1 {
		t.Fatalf("rendered %d objects of kind %s, want 1", len(r), kind)
	}
	return r[0]
}

// managerContainer returns the Deployment's container named manager.
func managerContainer(t *testing.T, objs []object) object {
	t.Helper()
	d := only(t, objs, "Deployment")
	cs, _ := d.get("spec", "template", "spec", "containers").([]any)
	for _, c := range cs {
		if m, ok := c.(map[string]any); ok && m["name"] == "manager" {
			return m
		}
	}
	t.Fatalf("Deployment %s has no container named manager", d.name())
	return nil
}

func managerArgs(t *testing.T, objs []object) []string {
	t.Helper()
	raw, _ := managerContainer(t, objs)["args"].([]any)
	args := make([]string, 0, len(raw))
	for _, a := range raw {
		s, ok := a.(string)
		if !ok {
			t.Fatalf("manager arg %v is a %T, want a string", a, a)
		}
		args = append(args, s)
	}
	if len(args) == 0 || args[0] != "manager" {
		t.Fatalf("manager args = %q, want the subcommand manager first", args)
	}
	return args
}

// flagValue returns the value of --name=value in args and whether it is there.
func flagValue(args []string, name string) (string, bool) {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v, true
		}
	}
	return "", false
}

func appVersion(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		AppVersion string `json:"appVersion"`
	}
	if err := yaml.Unmarshal(b, &c); err != nil || c.AppVersion == "" {
		t.Fatalf("Chart.yaml: no appVersion (%v)", err)
	}
	return c.AppVersion
}

// sourceCRDs reads the generated CRDs that hack/sync-chart.sh copies into the chart.
func sourceCRDs(t *testing.T) map[string]object {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot, "config", "crd", "bases", "switchboard.dev_*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no CRDs in config/crd/bases (%v): run make manifests", err)
	}
	crds := map[string]object{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range parseDocs(t, string(b)) {
			crds[o.name()] = o
		}
	}
	return crds
}

func TestLint(t *testing.T) {
	t.Parallel()
	out, stderr, err := runHelm(t, "lint", "--strict", chartDir, "--namespace", namespace, "--kube-version", kubeVersion(t))
	if err != nil {
		t.Fatalf("helm lint --strict: %v\n%s%s", err, out, stderr)
	}
}

func TestDefaultsRenderCRDsKeptAndCurrent(t *testing.T) {
	t.Parallel()
	objs := render(t)
	want := sourceCRDs(t)
	got := ofKind(objs, "CustomResourceDefinition")
	if len(got) != len(want) || len(got) != 5 {
		t.Fatalf("rendered %d CRDs, config/crd/bases has %d, want 5 of each", len(got), len(want))
	}
	for _, crd := range got {
		name := crd.name()
		if v := str(crd, "metadata", "annotations", keepKey); v != "keep" {
			t.Errorf("CRD %s: annotation %s = %q, want keep", name, keepKey, v)
		}
		if v := str(crd, "metadata", "labels", "app.kubernetes.io/instance"); v != releaseName {
			t.Errorf("CRD %s: label app.kubernetes.io/instance = %q, want %q", name, v, releaseName)
		}
		src, ok := want[name]
		if !ok {
			t.Errorf("CRD %s is rendered but not in config/crd/bases", name)
			continue
		}
		// Apart from the chart's labels and the keep annotation, the chart must carry the
		// generated CRD unchanged; a difference means hack/sync-chart.sh was not run.
		meta := crd["metadata"].(map[string]any)
		delete(meta, "labels")
		delete(meta["annotations"].(map[string]any), keepKey)
		if !reflect.DeepEqual(map[string]any(crd), map[string]any(src)) {
			t.Errorf("CRD %s in the chart differs from config/crd/bases: run make manifests (hack/sync-chart.sh)", name)
		}
	}
}

func TestDefaultsDeployment(t *testing.T) {
	t.Parallel()
	objs := render(t)
	c := managerContainer(t, objs)
	wantImage := "switchboard:" + appVersion(t)
	if c["image"] != wantImage {
		t.Errorf("manager image = %v, want %s (tag defaults to the appVersion)", c["image"], wantImage)
	}

	args := managerArgs(t, objs)
	for name, want := range map[string]string{
		"metrics-bind-address":      ":8080",
		"health-probe-bind-address": ":8081",
		"leader-elect":              "true",
		"leader-election-id":        "switchboard-manager",
		"leader-election-namespace": namespace,
		"concurrency":               "10",
		"kube-api-qps":              "50",
		"kube-api-burst":            "100",
		"min-retry-delay":           "1s",
		"max-retry-delay":           "5m",
		"quality-poll-interval":     "5m",
		"database-secret":           "switchboard-database/dsn",
		"sender-image":              wantImage,
		"sender-image-pull-policy":  "IfNotPresent",
		"log-level":                 "info",
		"log-encoding":              "json",
	} {
		if got, ok := flagValue(args, name); !ok || got != want {
			t.Errorf("manager flag --%s = %q (present %t), want %q; args %q", name, got, ok, want, args)
		}
	}
	if _, ok := flagValue(args, "watch-namespaces"); ok {
		t.Errorf("--watch-namespaces is set by default, want it absent (all namespaces): %q", args)
	}

	env, _ := c["env"].([]any)
	var podNS bool
	for _, e := range env {
		m, _ := e.(map[string]any)
		if m["name"] == "POD_NAMESPACE" && str(m, "valueFrom", "fieldRef", "fieldPath") == "metadata.namespace" {
			podNS = true
		}
	}
	if !podNS {
		t.Errorf("manager env has no POD_NAMESPACE from fieldRef metadata.namespace: %v", env)
	}

	ports := map[string]float64{}
	for _, p := range c["ports"].([]any) {
		m := p.(map[string]any)
		ports[m["name"].(string)] = m["containerPort"].(float64)
	}
	if ports["metrics"] != 8080 || ports["health"] != 8081 {
		t.Errorf("manager ports = %v, want metrics 8080 and health 8081", ports)
	}
	for probe, path := range map[string]string{"livenessProbe": "/healthz", "readinessProbe": "/readyz"} {
		if got := str(c, probe, "httpGet", "path"); got != path || str(c, probe, "httpGet", "port") != "health" {
			t.Errorf("%s = %v, want GET %s on port health", probe, c[probe], path)
		}
	}
	if v, _ := c.get("securityContext", "readOnlyRootFilesystem").(bool); !v {
		t.Error("manager securityContext.readOnlyRootFilesystem is not true")
	}
	d := only(t, objs, "Deployment")
	if v, _ := d.get("spec", "template", "spec", "securityContext", "runAsNonRoot").(bool); !v {
		t.Error("pod securityContext.runAsNonRoot is not true")
	}
	if sa := str(d, "spec", "template", "spec", "serviceAccountName"); sa != only(t, objs, "ServiceAccount").name() {
		t.Errorf("Deployment uses ServiceAccount %q, not the chart's", sa)
	}

	svc := only(t, objs, "Service")
	sp, _ := svc.get("spec", "ports").([]any)
	if len(sp) != 1 || str(sp[0].(map[string]any), "name") != "metrics" || str(sp[0].(map[string]any), "targetPort") != "metrics" {
		t.Errorf("metrics Service ports = %v, want one port named metrics targeting metrics", sp)
	}
}

func TestDefaultsRBAC(t *testing.T) {
	t.Parallel()
	objs := render(t)
	cr := only(t, objs, "ClusterRole")

	b, err := os.ReadFile(filepath.Join(repoRoot, "config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatalf("the manager's generated ClusterRole: %v (run make manifests)", err)
	}
	var source object
	for _, o := range parseDocs(t, string(b)) {
		if o.kind() == "ClusterRole" {
			source = o
		}
	}
	if source == nil {
		t.Fatal("config/rbac/role.yaml holds no ClusterRole")
	}
	if !reflect.DeepEqual(cr["rules"], source["rules"]) {
		t.Errorf("chart ClusterRole rules differ from config/rbac/role.yaml: run make manifests (hack/sync-chart.sh)\nchart:  %v\nsource: %v",
			cr["rules"], source["rules"])
	}

	crb := only(t, objs, "ClusterRoleBinding")
	sa := only(t, objs, "ServiceAccount")
	if str(crb, "roleRef", "name") != cr.name() {
		t.Errorf("ClusterRoleBinding refers to %q, want %q", str(crb, "roleRef", "name"), cr.name())
	}
	subjects, _ := crb["subjects"].([]any)
	if len(subjects) != 1 || subjects[0].(map[string]any)["name"] != sa.name() || subjects[0].(map[string]any)["namespace"] != namespace {
		t.Errorf("ClusterRoleBinding subjects = %v, want ServiceAccount %s/%s", subjects, namespace, sa.name())
	}

	role := only(t, objs, "Role")
	if str(role, "metadata", "namespace") != namespace {
		t.Errorf("leader-election Role is in namespace %q, want %q", str(role, "metadata", "namespace"), namespace)
	}
	var leases bool
	for _, r := range role["rules"].([]any) {
		m := r.(map[string]any)
		if slices.Contains(m["apiGroups"].([]any), any("coordination.k8s.io")) && slices.Contains(m["resources"].([]any), any("leases")) {
			leases = true
		}
	}
	if !leases {
		t.Errorf("leader-election Role has no rule for coordination.k8s.io leases: %v", role["rules"])
	}
	if rb := only(t, objs, "RoleBinding"); str(rb, "roleRef", "name") != role.name() {
		t.Errorf("RoleBinding refers to %q, want %q", str(rb, "roleRef", "name"), role.name())
	}
}

func TestRBACAndServiceAccountDisabled(t *testing.T) {
	t.Parallel()
	objs := render(t, "--set", "rbac.create=false", "--set", "serviceAccount.create=false")
	for _, kind := range []string{"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "ServiceAccount"} {
		if n := len(ofKind(objs, kind)); n != 0 {
			t.Errorf("rendered %d %s with rbac.create=false and serviceAccount.create=false, want none", n, kind)
		}
	}
	if sa := str(only(t, objs, "Deployment"), "spec", "template", "spec", "serviceAccountName"); sa != "default" {
		t.Errorf("serviceAccountName = %q, want default", sa)
	}
}

func TestCRDsDisabled(t *testing.T) {
	t.Parallel()
	objs := render(t, "--set", "crds.enabled=false")
	if n := len(ofKind(objs, "CustomResourceDefinition")); n != 0 {
		t.Errorf("rendered %d CRDs with crds.enabled=false, want none", n)
	}
	only(t, objs, "Deployment")
}

func TestCRDsNotKept(t *testing.T) {
	t.Parallel()
	crds := ofKind(render(t, "--set", "crds.keep=false"), "CustomResourceDefinition")
	if len(crds) != 5 {
		t.Fatalf("rendered %d CRDs, want 5", len(crds))
	}
	for _, crd := range crds {
		if v := crd.get("metadata", "annotations", keepKey); v != nil {
			t.Errorf("CRD %s: annotation %s = %v with crds.keep=false, want none", crd.name(), keepKey, v)
		}
	}
}

func TestWatchNamespaces(t *testing.T) {
	t.Parallel()
	args := managerArgs(t, render(t, "--set", "watchNamespaces={a,b}"))
	if got, _ := flagValue(args, "watch-namespaces"); got != "a,b" {
		t.Errorf("--watch-namespaces = %q, want a,b; args %q", got, args)
	}
}

func TestImageOverrides(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name                 string
		set                  []string
		manager, sender, spp string
	}{
		{
			name:    "manager tag is the sender's default",
			set:     []string{"image.repository=mirror/switchboard", "image.tag=9.9.9", "image.pullPolicy=Always"},
			manager: "mirror/switchboard:9.9.9", sender: "mirror/switchboard:9.9.9", spp: "Always",
		},
		{
			name:    "sender image set on its own",
			set:     []string{"sender.image.repository=sender", "sender.image.tag=1.2.3", "sender.image.pullPolicy=Never"},
			manager: "switchboard:" + appVersion(t), sender: "sender:1.2.3", spp: "Never",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var extra []string
			for _, s := range tc.set {
				extra = append(extra, "--set", s)
			}
			objs := render(t, extra...)
			if img := managerContainer(t, objs)["image"]; img != tc.manager {
				t.Errorf("manager image = %v, want %s", img, tc.manager)
			}
			args := managerArgs(t, objs)
			if got, _ := flagValue(args, "sender-image"); got != tc.sender {
				t.Errorf("--sender-image = %q, want %s", got, tc.sender)
			}
			if got, _ := flagValue(args, "sender-image-pull-policy"); got != tc.spp {
				t.Errorf("--sender-image-pull-policy = %q, want %s", got, tc.spp)
			}
		})
	}
}

func TestFlagValues(t *testing.T) {
	t.Parallel()
	args := managerArgs(t, render(t,
		"--set", "leaderElection.enabled=false", "--set", "concurrency=3", "--set", "kubeAPI.qps=7.5",
		"--set", "kubeAPI.burst=15", "--set", "retryDelay.min=500ms", "--set", "retryDelay.max=1h",
		"--set", "logLevel=debug", "--set", "logEncoding=console", "--set", "metrics.port=9090",
		"--set", "health.port=9091", "--set", "qualityPollInterval=30s"))
	for name, want := range map[string]string{
		"leader-elect": "false", "concurrency": "3", "kube-api-qps": "7.5", "kube-api-burst": "15",
		"min-retry-delay": "500ms", "max-retry-delay": "1h", "log-level": "debug", "log-encoding": "console",
		"metrics-bind-address": ":9090", "health-probe-bind-address": ":9091", "quality-poll-interval": "30s",
	} {
		if got, ok := flagValue(args, name); !ok || got != want {
			t.Errorf("--%s = %q (present %t), want %q", name, got, ok, want)
		}
	}
	if _, ok := flagValue(args, "leader-election-id"); ok {
		t.Errorf("--leader-election-id is set without leader election: %q", args)
	}
}

func TestSchemaRejectsBadValues(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		set   string // a --set argument
		field string // what the error must mention
	}{
		{"logLevel=loud", "logLevel"},
		{"logEncoding=xml", "logEncoding"},
		{"replicaCount=-1", "replicaCount"},
		{"concurrency=0", "concurrency"},
		{"kubeAPI.qps=0", "qps"},
		{"kubeAPI.burst=0", "burst"},
		{"retryDelay.min=soon", "retryDelay/min"},
		{"image.pullPolicy=Sometimes", "pullPolicy"},
		{"sender.image.pullPolicy=Sometimes", "sender/image/pullPolicy"},
		{"metrics.port=70000", "metrics/port"},
		{"watchNamespaces={Not_A_Namespace}", "watchNamespaces"},
		{"crds.enabled=maybe", "crds/enabled"},
		{"replicas=2", "replicas"}, // unknown top-level key: a typo of replicaCount
	} {
		t.Run(tc.set, func(t *testing.T) {
			t.Parallel()
			out, stderr, err := template(t, "--set", tc.set)
			if err == nil {
				t.Fatalf("helm template --set %s succeeded, want values.schema.json to reject it\n%.300s", tc.set, out)
			}
			if !strings.Contains(stderr, "schema") || !strings.Contains(stderr, tc.field) {
				t.Errorf("error for --set %s does not name the schema and the field %q:\n%s", tc.set, tc.field, stderr)
			}
		})
	}
}

func TestReplicasNeedLeaderElection(t *testing.T) {
	t.Parallel()
	_, stderr, err := template(t, "--set", "replicaCount=2", "--set", "leaderElection.enabled=false")
	if err == nil || !strings.Contains(stderr, "leaderElection.enabled") {
		t.Errorf("two replicas without leader election rendered, or failed for another reason (%v): %s", err, stderr)
	}
	render(t, "--set", "replicaCount=2")
}

func TestKubeVersionEnforced(t *testing.T) {
	t.Parallel()
	_, stderr, err := runHelm(t, "template", releaseName, chartDir, "--kube-version", "1.29.0")
	if err == nil || !strings.Contains(stderr, "kubeVersion") {
		t.Errorf("rendering for Kubernetes 1.29 succeeded or failed for another reason (%v): %s", err, stderr)
	}
}
