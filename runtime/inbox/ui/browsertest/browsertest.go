// Package browsertest drives a real headless Chromium (Debian's chromium package; .ci/run
// installs it) from Go tests with chromedp, checks pages with axe-core (vendored from npm
// under bin/npm by hack/ui-vendor.sh), and saves screenshots under bin/ui-screenshots, so
// that `make test` leaves the tree clean.
package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// ExecPathEnv overrides where Chromium is (default: /usr/lib/chromium/chromium, then
// chromium on PATH).
const ExecPathEnv = "SWITCHBOARD_CHROMIUM"

// ExecPath finds Chromium, or fails t with how to install it: a browser test never skips.
func ExecPath(t testing.TB) string {
	t.Helper()
	if p := os.Getenv(ExecPathEnv); p != "" {
		return p
	}
	for _, p := range []string{"/usr/lib/chromium/chromium", "/usr/bin/chromium"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	t.Fatalf("Chromium is not installed: `apt-get install chromium` (.ci/run does it), or set %s", ExecPathEnv)
	return ""
}

var announce sync.Once

// New starts a headless Chromium with a fresh profile and returns a browser context
// (a tab) that ends with the test. Chromium is started as this machine allows: no
// sandbox when running as root, no background networking (the network is closed).
func New(t testing.TB) context.Context {
	t.Helper()
	path := ExecPath(t)
	announce.Do(func() {
		out, _ := exec.Command(path, "--version").Output()
		fmt.Printf("browser tests: %s (%s)\n", strings.TrimSpace(string(out)), path)
	})
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.WindowSize(1280, 800),
	)
	// As root (CI), chromedp adds --no-sandbox by itself.
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	return ctx
}

// Do runs steps with a generous bound, failing t with what was being done (and a
// screenshot of the page).
func Do(t testing.TB, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(c, steps...); err != nil {
		Screenshot(t, ctx, "failed-"+safe(t.Name()))
		t.Fatalf("%s: %v", what, err)
	}
}

// Get runs one action returning a value, with the same bound.
func Get[T any](t testing.TB, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(c, a)
	if err != nil {
		Screenshot(t, ctx, "failed-"+safe(t.Name()))
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// Phone emulates a phone-sized screen (390×844, as an iPhone 13).
func Phone() chromedp.Action[chromedp.Void] {
	return chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(3), chromedp.EmulateMobile)
}

// Desktop is the 1280×800 screen.
func Desktop() chromedp.Action[chromedp.Void] { return chromedp.EmulateViewport(1280, 800) }

// root is the repository (for bin/).
func root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "..")
}

// ScreenshotDir is where screenshots go: bin/ui-screenshots (make ui-screenshots copies
// the main ones into docs/).
func ScreenshotDir() string { return filepath.Join(root(), "bin", "ui-screenshots") }

// Screenshot saves the page as bin/ui-screenshots/<name>.png; errors only log (a failed
// screenshot never hides the test's own failure).
func Screenshot(t testing.TB, ctx context.Context, name string) string {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(c, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return ""
	}
	_ = os.MkdirAll(ScreenshotDir(), 0o755)
	p := filepath.Join(ScreenshotDir(), safe(name)+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Logf("screenshot %s: %v", name, err)
	}
	return p
}

func safe(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == ' ' || r == ':' {
			return '-'
		}
		return r
	}, s)
}

// Violation is one axe-core rule the page breaks.
type Violation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target []any `json:"target"`
	} `json:"nodes"`
}

func (v Violation) String() string {
	var targets []string
	for _, n := range v.Nodes {
		targets = append(targets, fmt.Sprint(n.Target...))
	}
	return fmt.Sprintf("%s (%s): %s at %s", v.ID, v.Impact, v.Help, strings.Join(targets, ", "))
}

// AxePath is axe-core's script, installed by hack/ui-vendor.sh install.
func AxePath() string {
	return filepath.Join(root(), "bin", "npm", "node_modules", "axe-core", "axe.min.js")
}

// Axe runs axe-core (WCAG 2 A and AA rules) on the current page and returns the
// violations whose impact is serious or critical.
func Axe(t testing.TB, ctx context.Context) []Violation {
	t.Helper()
	src, err := os.ReadFile(AxePath())
	if err != nil {
		t.Fatalf("axe-core is not installed (hack/ui-vendor.sh install; make test runs it): %v", err)
	}
	Get(t, ctx, "loading axe-core", chromedp.Evaluate[any](string(src)))
	raw := Get(t, ctx, "running axe-core", chromedp.Evaluate[string](
		`axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}).then(r => JSON.stringify(r.violations))`,
		chromedp.EvalAwaitPromise))
	var all []Violation
	if err := json.Unmarshal([]byte(raw), &all); err != nil {
		t.Fatalf("axe-core's answer: %v", err)
	}
	var out []Violation
	for _, v := range all {
		if v.Impact == "serious" || v.Impact == "critical" {
			out = append(out, v)
		}
	}
	return out
}

// NoSeriousViolations fails t for each serious or critical violation on the page.
func NoSeriousViolations(t testing.TB, ctx context.Context, page string) {
	t.Helper()
	for _, v := range Axe(t, ctx) {
		t.Errorf("%s: accessibility: %s", page, v)
	}
}
