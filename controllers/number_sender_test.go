package controllers

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// TestGoldenSenderObjects compares the rendered sender objects with the files in
// testdata/golden. After an intended change: make update-golden.
func TestGoldenSenderObjects(t *testing.T) {
	num := newNumber("acme", "sales-es", withCredentials("acme-whatsapp"))
	num.UID = "0b6f6a0e-3f7e-4d36-9c1e-2b0c8f0d2a11"
	opts := SenderOptions{Image: "switchboard:0.1.0", ImagePullPolicy: corev1.PullIfNotPresent,
		DatabaseSecret: "switchboard-database", DatabaseSecretKey: "dsn"}
	for name, obj := range map[string]any{
		"sender-deployment.yaml":     senderDeployment(num, opts, senderReplicas(num, true)),
		"sender-serviceaccount.yaml": senderServiceAccount(num),
		"sender-role.yaml":           senderRole(num),
		"sender-rolebinding.yaml":    senderRoleBinding(num),
	} {
		t.Run(name, func(t *testing.T) { compareGolden(t, name, obj) })
	}
}

// compareGolden compares obj, rendered as YAML, with testdata/golden/name (rewriting it
// first with -update).
func compareGolden(t *testing.T, name string, obj any) {
	t.Helper()
	got, err := yaml.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run make update-golden)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from the golden file (run make update-golden if intended):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestSenderReplicas(t *testing.T) {
	zero, three := int32(0), int32(3)
	for _, tc := range []struct {
		name   string
		spec   *sbv1.SenderSpec
		credOK bool
		want   int32
	}{
		{"default", nil, true, 1},
		{"asked for three", &sbv1.SenderSpec{Replicas: &three}, true, 3},
		{"asked for none", &sbv1.SenderSpec{Replicas: &zero}, true, 0},
		{"credentials unusable", &sbv1.SenderSpec{Replicas: &three}, false, 0},
	} {
		num := newNumber("ns", "n", func(n *sbv1.Number) { n.Spec.Sender = tc.spec })
		if got := senderReplicas(num, tc.credOK); got != tc.want {
			t.Errorf("%s: replicas %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestSenderRoleIsScopedToItsOwnObjects(t *testing.T) {
	num := newNumber("acme", "sales-es", withCredentials("acme-whatsapp"))
	role := senderRole(num)
	for _, r := range role.Rules {
		for _, res := range r.Resources {
			switch res {
			case "numbers", "numbers/status":
				if len(r.ResourceNames) != 1 || r.ResourceNames[0] != "sales-es" {
					t.Errorf("%s rule not limited to its own Number: %v", res, r.ResourceNames)
				}
			case "secrets":
				if len(r.ResourceNames) != 1 || r.ResourceNames[0] != "acme-whatsapp" {
					t.Errorf("secrets rule not limited to its own Secret: %v", r.ResourceNames)
				}
			}
		}
	}
}
