package charts

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// goldenPod reads the pod template of a workload the manager declares, from the golden
// files of controllers/ (the objects the manager really renders), as labels and the
// container ports by name.
func goldenPod(t *testing.T, file string) (labels map[string]any, ports map[string]float64) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "controllers", "testdata", "golden", file))
	if err != nil {
		t.Fatal(err)
	}
	d := only(t, parseDocs(t, string(b)), "Deployment")
	labels, _ = d.get("spec", "template", "metadata", "labels").(map[string]any)
	ports = map[string]float64{}
	cs, _ := d.get("spec", "template", "spec", "containers").([]any)
	for _, p := range cs[0].(map[string]any)["ports"].([]any) {
		m := p.(map[string]any)
		ports[m["name"].(string)] = m["containerPort"].(float64)
	}
	return labels, ports
}

// selects reports whether a label selector's matchLabels and In expressions match labels.
func selects(sel map[string]any, labels map[string]any) bool {
	ml, _ := sel["matchLabels"].(map[string]any)
	for k, v := range ml {
		if labels[k] != v {
			return false
		}
	}
	exprs, _ := sel["matchExpressions"].([]any)
	for _, e := range exprs {
		m := e.(map[string]any)
		if m["operator"] != "In" || !containsAny(m["values"].([]any), labels[m["key"].(string)]) {
			return false
		}
	}
	return len(ml)+len(exprs) > 0
}

func containsAny(vs []any, v any) bool {
	for _, x := range vs {
		if x == v {
			return true
		}
	}
	return false
}

func TestPodDisruptionBudget(t *testing.T) {
	t.Parallel()
	objs := render(t)
	pdb := only(t, objs, "PodDisruptionBudget")
	if v := pdb.get("spec", "maxUnavailable"); v != float64(1) {
		t.Errorf("PodDisruptionBudget maxUnavailable = %v, want 1", v)
	}
	d := only(t, objs, "Deployment")
	podLabels, _ := d.get("spec", "template", "metadata", "labels").(map[string]any)
	if sel, _ := pdb.get("spec", "selector").(map[string]any); !selects(sel, podLabels) {
		t.Errorf("PodDisruptionBudget selector %v does not select the manager pods %v", sel, podLabels)
	}
	if pdb := only(t, render(t, "--set", "podDisruptionBudget.maxUnavailable=50%"), "PodDisruptionBudget"); pdb.get("spec", "maxUnavailable") != "50%" {
		t.Errorf("maxUnavailable=50%%: rendered %v", pdb.get("spec", "maxUnavailable"))
	}
	if n := len(ofKind(render(t, "--set", "podDisruptionBudget.enabled=false"), "PodDisruptionBudget")); n != 0 {
		t.Errorf("rendered %d PodDisruptionBudgets with podDisruptionBudget.enabled=false, want none", n)
	}
}

func TestManagerResources(t *testing.T) {
	t.Parallel()
	c := managerContainer(t, render(t))
	for _, path := range [][]string{{"requests", "cpu"}, {"requests", "memory"}, {"limits", "memory"}} {
		if str(object(c), append([]string{"resources"}, path...)...) == "" {
			t.Errorf("manager resources.%s is not set: %v", strings.Join(path, "."), c["resources"])
		}
	}
	if !goMemLimitFromLimit(c) {
		t.Errorf("manager env has no GOMEMLIMIT from resourceFieldRef limits.memory: %v", c["env"])
	}
	c = managerContainer(t, render(t, "--set", "resources.limits.memory=1Gi"))
	if got := str(object(c), "resources", "limits", "memory"); got != "1Gi" {
		t.Errorf("resources.limits.memory = %q, want 1Gi", got)
	}
	if c := managerContainer(t, render(t, "--set", "resources.limits=null")); goMemLimitFromLimit(c) {
		t.Errorf("GOMEMLIMIT is set without a memory limit: %v", c["env"])
	}
}

func goMemLimitFromLimit(c object) bool {
	env, _ := c["env"].([]any)
	for _, e := range env {
		m, _ := e.(map[string]any)
		if m["name"] == "GOMEMLIMIT" && str(m, "valueFrom", "resourceFieldRef", "resource") == "limits.memory" {
			return true
		}
	}
	return false
}

func TestNetworkPoliciesOffByDefault(t *testing.T) {
	t.Parallel()
	if n := len(ofKind(render(t), "NetworkPolicy")); n != 0 {
		t.Errorf("rendered %d NetworkPolicies by default, want none", n)
	}
	_, stderr, err := template(t, "--set", "networkPolicy.enabled=true")
	if err == nil || !strings.Contains(stderr, "networkPolicy.workloadNamespaces") {
		t.Errorf("networkPolicy.enabled without namespaces rendered, or failed for another reason (%v): %s", err, stderr)
	}
}

// policyPorts returns the TCP ports of a NetworkPolicy's ingress or egress rules, each
// with the peers its first rule is limited to (nil: any).
func policyPorts(np object, dir string) map[float64][]any {
	out := map[float64][]any{}
	rules, _ := np.get("spec", dir).([]any)
	peerKey := map[string]string{"ingress": "from", "egress": "to"}[dir]
	for _, r := range rules {
		m := r.(map[string]any)
		peers, _ := m[peerKey].([]any)
		for _, p := range m["ports"].([]any) {
			port := p.(map[string]any)["port"].(float64)
			if _, seen := out[port]; !seen {
				out[port] = peers
			}
		}
	}
	return out
}

func TestNetworkPolicies(t *testing.T) {
	t.Parallel()
	objs := render(t, "--set", "networkPolicy.enabled=true", "--set", "watchNamespaces={acme,beta}",
		"--set", "networkPolicy.apiServer.to[0].ipBlock.cidr=10.0.0.1/32",
		"--set", "networkPolicy.database.to[0].ipBlock.cidr=10.1.0.0/16")
	if n := len(ofKind(objs, "NetworkPolicy")); n != 5 {
		t.Fatalf("rendered %d NetworkPolicies, want 5 (the manager's, and the senders' and inboxes' in acme and beta)", n)
	}
	senderLabels, senderPorts := goldenPod(t, "sender-deployment.yaml")
	inboxLabels, inboxPorts := goldenPod(t, "inbox-deployment.yaml")
	managerLabels, _ := only(t, objs, "Deployment").get("spec", "template", "metadata", "labels").(map[string]any)
	metricsFrom := []any{map[string]any{"namespaceSelector": map[string]any{"matchLabels": map[string]any{"kubernetes.io/metadata.name": "monitoring"}}}}
	for _, tc := range []struct {
		name, ns string
		pod      map[string]any
		ingress  map[float64][]any
		database bool
	}{
		{"switchboard", namespace, managerLabels, map[float64][]any{8080: metricsFrom}, false},
		{"switchboard-senders", "beta", senderLabels, map[float64][]any{senderPorts["metrics"]: metricsFrom}, true},
		{"switchboard-inboxes", "acme", inboxLabels, map[float64][]any{inboxPorts["http"]: nil, inboxPorts["metrics"]: metricsFrom}, true},
	} {
		var np object
		for _, o := range ofKind(objs, "NetworkPolicy") {
			if o.name() == tc.name && str(o, "metadata", "namespace") == tc.ns {
				np = o
			}
		}
		if np == nil {
			t.Errorf("no NetworkPolicy %s/%s", tc.ns, tc.name)
			continue
		}
		if sel, _ := np.get("spec", "podSelector").(map[string]any); !selects(sel, tc.pod) {
			t.Errorf("NetworkPolicy %s/%s: podSelector %v does not select the pods %v", tc.ns, tc.name, sel, tc.pod)
		}
		if got := policyPorts(np, "ingress"); !reflect.DeepEqual(got, tc.ingress) {
			t.Errorf("NetworkPolicy %s/%s: ingress %v, want %v", tc.ns, tc.name, got, tc.ingress)
		}
		egress := policyPorts(np, "egress")
		if peers, ok := egress[6443]; !ok || len(peers) != 1 {
			t.Errorf("NetworkPolicy %s/%s: egress to the API server (6443, 10.0.0.1/32) = %v", tc.ns, tc.name, peers)
		}
		if peers, ok := egress[443]; !ok || peers != nil {
			t.Errorf("NetworkPolicy %s/%s: no egress on 443 to anywhere (Meta's Graph API): %v", tc.ns, tc.name, egress)
		}
		if _, ok := egress[53]; !ok {
			t.Errorf("NetworkPolicy %s/%s: no DNS egress: %v", tc.ns, tc.name, egress)
		}
		if peers, ok := egress[5432]; ok != tc.database || ok && len(peers) != 1 {
			t.Errorf("NetworkPolicy %s/%s: egress to PostgreSQL = %v (present %t), want present %t, to 10.1.0.0/16", tc.ns, tc.name, peers, ok, tc.database)
		}
	}
}

func TestMonitorsOffByDefault(t *testing.T) {
	t.Parallel()
	for _, o := range render(t) {
		if v := str(o, "apiVersion"); strings.HasPrefix(v, "monitoring.coreos.com/") || o.kind() == "ConfigMap" {
			t.Errorf("rendered %s %s by default, want no Prometheus Operator object and no dashboard", o.kind(), o.name())
		}
	}
}

func TestServiceMonitor(t *testing.T) {
	t.Parallel()
	objs := render(t, "--set", "serviceMonitor.enabled=true", "--set", "serviceMonitor.labels.release=prom")
	sm := only(t, objs, "ServiceMonitor")
	svc := only(t, objs, "Service")
	svcLabels, _ := svc.get("metadata", "labels").(map[string]any)
	if sel, _ := sm.get("spec", "selector").(map[string]any); !selects(sel, svcLabels) {
		t.Errorf("ServiceMonitor selector %v does not select the metrics Service %v", sel, svcLabels)
	}
	ep, _ := sm.get("spec", "endpoints").([]any)
	if len(ep) != 1 || ep[0].(map[string]any)["port"] != "metrics" || ep[0].(map[string]any)["honorLabels"] != true {
		t.Errorf("ServiceMonitor endpoints = %v, want port metrics with honorLabels", ep)
	}
	pm := only(t, objs, "PodMonitor")
	for _, file := range []string{"sender-deployment.yaml", "inbox-deployment.yaml"} {
		labels, ports := goldenPod(t, file)
		if sel, _ := pm.get("spec", "selector").(map[string]any); !selects(sel, labels) {
			t.Errorf("PodMonitor selector %v does not select the pods of %s: %v", sel, file, labels)
		}
		if _, ok := ports["metrics"]; !ok {
			t.Errorf("%s has no container port named metrics, which the PodMonitor scrapes", file)
		}
	}
	for _, o := range []object{sm, pm} {
		if str(o, "metadata", "labels", "release") != "prom" {
			t.Errorf("%s has no label release=prom from serviceMonitor.labels", o.kind())
		}
	}
}

func TestGrafanaDashboardConfigMap(t *testing.T) {
	t.Parallel()
	objs := render(t, "--set", "grafanaDashboard.enabled=true", "--set", "grafanaDashboard.namespace=monitoring")
	cm := only(t, objs, "ConfigMap")
	want, err := os.ReadFile(filepath.Join(chartDir, "dashboards", "switchboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got := str(cm, "data", "switchboard.json"); got != strings.TrimRight(string(want), "\n") {
		t.Errorf("dashboard ConfigMap holds %d bytes, want dashboards/switchboard.json (%d bytes)", len(got), len(want))
	}
	if str(cm, "metadata", "labels", "grafana_dashboard") != "1" || str(cm, "metadata", "namespace") != "monitoring" {
		t.Errorf("dashboard ConfigMap metadata = %v, want label grafana_dashboard=1 in namespace monitoring", cm["metadata"])
	}
}

func TestSchemaRejectsBadOperationsValues(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ set, field string }{
		{"podDisruptionBudget.maxUnavailable=0", "maxUnavailable"},
		{"podDisruptionBudget.maxUnavailable=150%", "maxUnavailable"},
		{"networkPolicy.database.port=0", "database/port"},
		{"networkPolicy.workloadNamespaces={Bad_NS}", "workloadNamespaces"},
		{"networkPolicy.metricsFrom[0].pods=x", "metricsFrom"},
		{"serviceMonitor.interval=soon", "interval"},
		{"grafanaDashboard.enabled=maybe", "grafanaDashboard/enabled"},
		{"networkPolicies.enabled=true", "networkPolicies"},
	} {
		t.Run(tc.set, func(t *testing.T) {
			t.Parallel()
			_, stderr, err := template(t, "--set", tc.set)
			if err == nil {
				t.Fatalf("helm template --set %s succeeded, want values.schema.json to reject it", tc.set)
			}
			if !strings.Contains(stderr, "schema") || !strings.Contains(stderr, tc.field) {
				t.Errorf("error for --set %s does not name the schema and the field %q:\n%s", tc.set, tc.field, stderr)
			}
		})
	}
}

func TestLintEveryOption(t *testing.T) {
	t.Parallel()
	out, stderr, err := runHelm(t, "lint", "--strict", chartDir, "--namespace", namespace, "--kube-version", kubeVersion(t),
		"--set", "networkPolicy.enabled=true,serviceMonitor.enabled=true,grafanaDashboard.enabled=true,podDisruptionBudget.enabled=false",
		"--set", "networkPolicy.workloadNamespaces={acme}")
	if err != nil {
		t.Fatalf("helm lint --strict with every option on: %v\n%s%s", err, out, stderr)
	}
}
