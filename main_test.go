package main

import (
	"bytes"
	"os/exec"
	"slices"
	"strings"
	"testing"
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
// the test helpers (dev mode starts PostgreSQL through pgserver, not pgtest).
func TestBinaryLinksNoTesting(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps .: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, "github.com/switchboard-dev/switchboard/runtime/store/pgserver") {
		t.Fatalf("go list -deps . lacks pgserver; is this the main package?\n%s", out)
	}
	for _, bad := range []string{"testing", "github.com/switchboard-dev/switchboard/runtime/store/pgtest"} {
		if slices.Contains(deps, bad) {
			t.Errorf("the switchboard binary links %s", bad)
		}
	}
}
