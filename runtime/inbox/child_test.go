package inbox_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/runtime/inbox"
	"github.com/switchboard-dev/switchboard/runtime/inbox/kube"
)

// childEnv makes this test binary run an inbox (inbox.Serve, serving numA) against the
// DSN in the variable, and print its traffic address on stdout: a real process that
// tests can kill with SIGKILL.
const childEnv = "INBOX_TEST_CHILD_DSN"

func childMain() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	tr, err1 := net.Listen("tcp", "127.0.0.1:0")
	pr, err2 := net.Listen("tcp", "127.0.0.1:0")
	if err1 != nil || err2 != nil {
		fmt.Fprintln(os.Stderr, err1, err2)
		return 1
	}
	fmt.Printf("TRAFFIC=%s\n", tr.Addr())
	snap := kube.NewSnapshot("acme", []kube.Number{numA})
	err := inbox.Serve(ctx, inbox.Options{Namespace: "acme", DSN: os.Getenv(childEnv), Snapshot: func() *kube.Snapshot { return snap },
		Traffic: tr, Probes: pr, RequestTimeout: 10 * time.Second, MaxAutoRepliesPerHour: 5,
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// child is a running inbox process.
type child struct {
	cmd  *exec.Cmd
	addr string
}

// startChild starts an inbox process and waits for its traffic address.
func startChild(t *testing.T, dsn string, n int) *child {
	t.Helper()
	c, err := spawnChild(t, dsn, n)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// spawnChild is startChild for goroutines other than the test's (it does not fail t).
func spawnChild(t *testing.T, dsn string, n int) (*child, error) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+dsn)
	logFile, _ := os.Create(filepath.Join(t.TempDir(), fmt.Sprintf("inbox-%d.log", n)))
	cmd.Stderr = logFile
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "TRAFFIC=")
	if err != nil || !ok {
		return nil, fmt.Errorf("inbox process %d did not start: %q %v", n, line, err)
	}
	return &child{cmd: cmd, addr: addr}, nil
}
