package pgtest_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/store/pgtest"
)

var srv *pgtest.Server

func TestMain(m *testing.M) {
	if os.Getenv("PGTEST_HELPER") == "1" {
		helper()
		return
	}
	os.Exit(pgtest.Main(m, &srv))
}

// helper starts a server, prints its postmaster pid and directory, and waits to be killed.
func helper() {
	s, err := pgtest.Start()
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	b, _ := os.ReadFile(s.Dir + "/data/postmaster.pid")
	pid, _, _ := strings.Cut(string(b), "\n")
	fmt.Println(pid, s.Dir)
	time.Sleep(time.Minute)
	s.Stop()
}

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func TestNewDatabaseIsFreshAndDropped(t *testing.T) {
	ctx := context.Background()
	var name string
	t.Run("inner", func(t *testing.T) {
		conn := connect(t, srv.NewDatabase(t))
		if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&name); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, "CREATE TABLE x (id int)"); err != nil {
			t.Fatal(err)
		}
		// Left open on purpose: the cleanup drops the database anyway.
	})
	conn := connect(t, srv.DSN("postgres"))
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if name == "" || n != 0 {
		t.Fatalf("database %q still exists after the test (count %d)", name, n)
	}
}

func TestSettingsAndUnixSocket(t *testing.T) {
	ctx := context.Background()
	conn := connect(t, srv.SocketDSN("postgres"))
	for setting, want := range map[string]string{"fsync": "off", "max_connections": "200", "listen_addresses": "127.0.0.1"} {
		var got string
		if err := conn.QueryRow(ctx, "SELECT current_setting($1)", setting).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s = %q, want %q", setting, got, want)
		}
	}
}

func TestPasswordRequiredOverTCP(t *testing.T) {
	dsn := strings.Replace(srv.DSN("postgres"), srv.Password(), "wrong", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if conn, err := pgx.Connect(ctx, dsn); err == nil {
		_ = conn.Close(ctx)
		t.Fatal("connected with a wrong password")
	}
}

func TestRunsUnprivileged(t *testing.T) {
	if os.Getuid() != 0 {
		t.Log("not root: the server runs as the current user")
		return
	}
	b, err := os.ReadFile(srv.Dir + "/data/postmaster.pid")
	if err != nil {
		t.Fatal(err)
	}
	pid, _, _ := strings.Cut(string(b), "\n")
	status, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(status)) {
		if strings.HasPrefix(line, "Uid:") {
			if f := strings.Fields(line); f[1] == "0" {
				t.Fatalf("postmaster runs as root: %s", line)
			}
			return
		}
	}
	t.Fatal("no Uid line in /proc/pid/status")
}

// TestServerDiesWithTestBinary kills (SIGKILL) a process that started a server and
// checks that the postmaster goes away too (parent-death signal).
func TestServerDiesWithTestBinary(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "PGTEST_HELPER=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		t.Fatalf("helper: %v (%q)", err, line)
	}
	f := strings.Fields(line)
	if len(f) != 2 || f[0] == "ERROR" {
		_ = cmd.Process.Kill()
		t.Fatalf("helper: %q", line)
	}
	pid, _ := strconv.Atoi(f[0])
	dir := f[1]
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("postmaster %d not running: %v", pid, err)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("postmaster %d still running 10s after its parent was killed", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
