package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	"github.com/switchboard-dev/switchboard/controllers"
)

func TestManagerFlagsValidate(t *testing.T) {
	base := func() managerFlags {
		var f managerFlags
		f.register(newFlagSet())
		return f
	}
	if err := (func() error { f := base(); return f.validate() })(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	for _, tc := range []struct {
		mutate func(*managerFlags)
		want   string
	}{
		{func(f *managerFlags) { f.concurrency = 0 }, "--concurrency"},
		{func(f *managerFlags) { f.qps = 0 }, "--kube-api-qps"},
		{func(f *managerFlags) { f.maxRetryDelay = 0 }, "--min-retry-delay"},
		{func(f *managerFlags) { f.senderImage = "" }, "--sender-image"},
		{func(f *managerFlags) { f.databaseSecret = "no-key" }, "--database-secret"},
		{func(f *managerFlags) { f.senderImagePullPolicy = "Sometimes" }, "--sender-image-pull-policy"},
	} {
		f := base()
		tc.mutate(&f)
		if err := f.validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want an error naming %s, got %v", tc.want, err)
		}
	}
}

func TestNewLoggerRejectsUnknownSettings(t *testing.T) {
	var buf bytes.Buffer
	if _, err := newLogger(&buf, "loud", "json"); err == nil || !strings.Contains(err.Error(), "--log-level") {
		t.Errorf("bad level: %v", err)
	}
	if _, err := newLogger(&buf, "info", "xml"); err == nil || !strings.Contains(err.Error(), "--log-encoding") {
		t.Errorf("bad encoding: %v", err)
	}
	l, err := newLogger(&buf, "info", "json")
	if err != nil {
		t.Fatal(err)
	}
	l.Info("hello", "number", "acme/sales-es")
	if !strings.Contains(buf.String(), `"msg":"hello"`) {
		t.Errorf("json log line: %s", buf.String())
	}
}

func TestUnknownSubcommand(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), []string{"fly"}, &out); err == nil || !strings.Contains(err.Error(), `"fly"`) {
		t.Errorf("unknown subcommand: %v", err)
	}
	if err := run(t.Context(), []string{"help"}, &out); err != nil || !strings.Contains(out.String(), "simulator") {
		t.Errorf("help: %v %s", err, out.String())
	}
}

// TestBinaryLinksNoTesting: the production binary links neither Go's testing package nor
// the test helpers (dev mode starts PostgreSQL through pgserver, not pgtest), nor
// controller-runtime's envtest (dev mode starts its control plane itself), whose package
// init panics when it cannot create a directory (TestNoWritableDirectoryNeeded).
func TestBinaryLinksNoTesting(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps .: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, "github.com/switchboard-dev/switchboard/runtime/store/pgserver") {
		t.Fatalf("go list -deps . lacks pgserver; is this the main package?\n%s", out)
	}
	for _, bad := range []string{"testing", "github.com/switchboard-dev/switchboard/runtime/store/pgtest",
		"sigs.k8s.io/controller-runtime/pkg/envtest", "sigs.k8s.io/controller-runtime/pkg/internal/testing/addr"} {
		if slices.Contains(deps, bad) {
			t.Errorf("the switchboard binary links %s", bad)
		}
	}
}

// switchboard runs this test binary as the switchboard command (see TestMain) and returns
// its stdout, stderr and exit code.
func switchboard(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), "SWITCHBOARD_TEST_MAIN=1"), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("switchboard %v: %v", args, err)
	}
	return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
}

// TestHelpExitsZero: asking any subcommand (or the command) for help prints its usage on
// stdout and exits 0.
func TestHelpExitsZero(t *testing.T) {
	cases := [][]string{{"-h"}, {"--help"}, {"help"}}
	for _, sc := range subcommands {
		cases = append(cases, []string{sc.name, "-h"}, []string{sc.name, "--help"})
	}
	for _, args := range cases {
		stdout, stderr, code := switchboard(t, nil, args...)
		if code != 0 || !strings.Contains(stdout, "Usage") || !strings.Contains(stdout, "-") {
			t.Errorf("switchboard %s: exit %d, stdout %q, stderr %q; want the usage and exit 0",
				strings.Join(args, " "), code, stdout, stderr)
		}
	}
	if _, stderr, code := switchboard(t, nil, "dev", "--no-such-flag"); code != 1 || !strings.Contains(stderr, "no-such-flag") {
		t.Errorf("a bad flag: exit %d, stderr %q; want exit 1 naming it", code, stderr)
	}
}

// TestNoWritableDirectoryNeeded: every subcommand starts where no directory can be
// created, as in the image (read-only root filesystem, no HOME): the cache and
// temporary directories lie under a regular file, which even root cannot create a
// directory in.
func TestNoWritableDirectoryNeeded(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"HOME=" + file + "/home", "XDG_CACHE_HOME=" + file + "/cache", "TMPDIR=" + file + "/tmp"}
	for _, sc := range subcommands {
		stdout, stderr, code := switchboard(t, env, sc.name, "-h")
		if code != 0 || !strings.Contains(stdout, "Usage") {
			t.Errorf("switchboard %s -h without a writable directory: exit %d, stderr %q", sc.name, code, stderr)
		}
	}
}

// TestSendRefusesABadRecipient: `switchboard send --to` refuses what is not a WhatsApp
// user's number, naming the value and why, exits 1, and writes nothing (it fails before
// connecting to the database, which here does not exist).
func TestSendRefusesABadRecipient(t *testing.T) {
	env := []string{"SWITCHBOARD_DATABASE_URL=postgres://nobody@127.0.0.1:1/none?connect_timeout=1"}
	for to, why := range map[string]string{
		"0034611111111":  "international prefix 00",
		"0611111111":     "national number",
		"+34 6111 1111":  "too few digits",
		"+1-800-FLOWERS": "'F'",
	} {
		_, stderr, code := switchboard(t, env, "send", "--number", "acme/sales-es", "--to", to, "--text", "hi")
		if code != 1 || !strings.Contains(stderr, "--to: ") || !strings.Contains(stderr, strconv.Quote(to)) || !strings.Contains(stderr, why) {
			t.Errorf("send --to %q: exit %d, stderr %q; want exit 1 naming --to, the value and %q", to, code, stderr, why)
		}
	}
}

// TestContactsAndExportFlags: `switchboard contacts import` and `switchboard export`
// show their usage on --help (exit 0) and name the bad flag, before any database is
// reached (here none exists).
func TestContactsAndExportFlags(t *testing.T) {
	for _, args := range [][]string{{"contacts", "import", "--help"}, {"contacts", "import", "-h"}, {"export", "--help"}} {
		if stdout, stderr, code := switchboard(t, nil, args...); code != 0 || !strings.Contains(stdout, "-inbox") {
			t.Errorf("switchboard %s: exit %d, stdout %q, stderr %q", strings.Join(args, " "), code, stdout, stderr)
		}
	}
	env := []string{"SWITCHBOARD_DATABASE_URL=postgres://nobody@127.0.0.1:1/none?connect_timeout=1"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"contacts", "import", "--inbox", "acme", "--file", "x.csv"}, "--inbox"},
		{[]string{"contacts", "import", "--inbox", "acme/support"}, "--file"},
		{[]string{"contacts", "import", "--inbox", "acme/support", "--file", "x.txt"}, "--format"},
		{[]string{"contacts", "import", "--inbox", "acme/support", "--file", "x.csv", "--format", "xml"}, "--format"},
		{[]string{"contacts", "export"}, `"export"`},
		{[]string{"export", "--inbox", "acme/support"}, "--kind"},
		{[]string{"export", "--inbox", "acme/support", "--kind", "messages"}, "--kind"},
		{[]string{"export", "--inbox", "acme/support", "--kind", "contacts", "--format", "jsonl"}, "--format"},
		{[]string{"export", "--inbox", "acme/support", "--kind", "audit", "--from", "monday"}, "--from"},
	} {
		if _, stderr, code := switchboard(t, env, tc.args...); code != 1 || !strings.Contains(stderr, tc.want) {
			t.Errorf("switchboard %s: exit %d, stderr %q; want exit 1 naming %s", strings.Join(tc.args, " "), code, stderr, tc.want)
		}
	}
}

// TestCacheOptionsStripDeployments: the manager caches only its own Deployments, without
// their pod template and managedFields, and keeps what it reads (generation, replicas,
// status).
func TestCacheOptionsStripDeployments(t *testing.T) {
	var deployments *cache.ByObject
	for obj, by := range cacheOptions("").ByObject {
		if _, ok := obj.(*appsv1.Deployment); ok {
			deployments = &by
		}
	}
	if deployments == nil || deployments.Transform == nil || deployments.Label == nil ||
		deployments.Label.String() != controllers.ManagedByLabel+"="+controllers.ManagerName {
		t.Fatalf("the Deployments' cache options: %+v", deployments)
	}
	replicas := int32(1)
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "sender-sales-es", Generation: 3, ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "switchboard"}}},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Template: corev1.PodTemplateSpec{
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "sender", Image: "switchboard:dev"}}}}},
		Status: appsv1.DeploymentStatus{ObservedGeneration: 3, ReadyReplicas: 1},
	}
	out, err := deployments.Transform(d)
	if err != nil {
		t.Fatal(err)
	}
	got := out.(*appsv1.Deployment)
	if len(got.Spec.Template.Spec.Containers) != 0 || got.ManagedFields != nil {
		t.Errorf("pod template or managedFields kept: %+v", got)
	}
	if got.Name != "sender-sales-es" || got.Generation != 3 || *got.Spec.Replicas != 1 ||
		got.Status.ObservedGeneration != 3 || got.Status.ReadyReplicas != 1 {
		t.Errorf("what the manager reads was dropped: %+v", got)
	}
	if other, err := deployments.Transform("not a Deployment"); err != nil || other != "not a Deployment" {
		t.Errorf("another object: %v %v", other, err)
	}
}
