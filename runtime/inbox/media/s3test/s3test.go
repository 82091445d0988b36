// Package s3test starts a real S3-protocol server for tests: the Versity S3 Gateway
// (github.com/versity/versitygw, Apache-2.0), a maintained Go module, serving a POSIX
// directory on a free loopback port. The binary is built once with `go install` into the
// user cache directory (about 2 minutes the first time) unless VERSITYGW names one. Tests
// that need S3 fail, never skip, when it cannot be built or started.
package s3test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Module is the versitygw command built by Binary.
const Module = "github.com/versity/versitygw/cmd/versitygw@v1.8.0"

// Server is a running gateway: Endpoint is "http://127.0.0.1:PORT"; Bucket exists.
type Server struct {
	Endpoint, Region, Bucket, AccessKey, SecretKey string
}

var (
	buildOnce sync.Once
	built     string
	buildErr  error
)

// Binary returns the path of the versitygw binary: $VERSITYGW, or one built once from
// Module into the user cache directory.
func Binary() (string, error) {
	if p := os.Getenv("VERSITYGW"); p != "" {
		return p, nil
	}
	buildOnce.Do(func() { built, buildErr = install() })
	return built, buildErr
}

func install() (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cache, "switchboard", "versitygw-v1.8.0")
	bin := filepath.Join(dir, "versitygw")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "build-")
	if err != nil {
		return "", err
	}
	defer func() { _ = os.RemoveAll(tmp) }() // left only when another process installed first
	cmd := exec.Command("go", "install", Module)
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("s3test: go install %s: %v\n%s", Module, err, out)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(bin); statErr != nil {
			return "", err
		}
	}
	return bin, nil
}

// Start runs a gateway for the test with one bucket and stops it at cleanup.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(t.TempDir(), "data")
	s := &Server{Region: "us-east-1", Bucket: "media", AccessKey: "test-access", SecretKey: "test-secret-key"}
	if err := os.MkdirAll(filepath.Join(root, s.Bucket), 0o755); err != nil {
		t.Fatal(err)
	}
	for attempt := 0; attempt < 3 && s.Endpoint == ""; attempt++ {
		s.Endpoint, err = s.run(t, bin, root)
	}
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// run starts the gateway on a free port and waits until it accepts connections.
func (s *Server) run(t testing.TB, bin, root string) (string, error) {
	port, err := freePort()
	if err != nil {
		return "", err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	var out bytes.Buffer
	cmd := exec.Command(bin, "--port", addr, "--access", s.AccessKey, "--secret", s.SecretKey,
		"--region", s.Region, "--quiet", "posix", "--sidecar", filepath.Join(filepath.Dir(root), "sidecar"), root)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := os.MkdirAll(filepath.Join(filepath.Dir(root), "sidecar"), 0o755); err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
	if err := waitListening(addr, exited); err != nil {
		return "", fmt.Errorf("s3test: versitygw on %s: %v\n%s", addr, err, out.String())
	}
	return "http://" + addr, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func waitListening(addr string, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		var d net.Dialer
		if c, err := d.DialContext(ctx, "tcp", addr); err == nil {
			return c.Close()
		}
		select {
		case <-exited:
			return fmt.Errorf("exited")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
