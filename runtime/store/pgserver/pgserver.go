// Package pgserver runs a real, throwaway PostgreSQL server from the machine's own
// binaries (/usr/lib/postgresql/<version>/bin, highest version first; PG_BIN overrides):
// what `switchboard dev` gives its senders, and what the tests' helpers in pgtest build
// on. The server lives in a temporary directory, listens on 127.0.0.1 on a free port and
// on a unix socket in that directory, runs with fsync off (StartDurable: on), and is
// deleted by Stop. It imports no `testing`, so the production binary may link it.
//
// initdb refuses to run as root; when run as root, initdb and postgres run as the
// "postgres" user if it exists, else as "nobody".
package pgserver

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// superuser is the bootstrap superuser created by initdb.
const superuser = "postgres"

const installHint = "install the PostgreSQL server binaries (Debian/Ubuntu: apt-get install postgresql) " +
	"or set PG_BIN to the directory holding initdb and postgres"

// Server is a running PostgreSQL server.
type Server struct {
	BinDir string // directory of initdb and postgres
	Dir    string // temporary directory: data/, socket directory, log
	Port   int

	password string
	sockDir  string
	logPath  string
	cred     *syscall.Credential // nil unless running as root

	cmd    *exec.Cmd
	exited chan struct{}

	admin    *pgxpool.Pool
	stopOnce sync.Once
	durable  bool
}

// Start runs initdb and postgres in a new temporary directory and waits until the server
// accepts connections. The server trades durability for speed: fsync,
// synchronous_commit and full_page_writes are off.
func Start() (*Server, error) { return start(false) }

// StartDurable is Start with PostgreSQL's durable defaults (fsync, synchronous_commit and
// full_page_writes on: a commit returns once its WAL is flushed to disk), for benchmarks
// whose figures must hold for a production database.
func StartDurable() (*Server, error) { return start(true) }

func start(durable bool) (srv *Server, err error) {
	bin, err := findBinDir()
	if err != nil {
		return nil, err
	}
	s := &Server{BinDir: bin, durable: durable}
	if err := s.makeDir(); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	if err := s.initdb(); err != nil {
		return nil, err
	}
	if err := s.startPostgres(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := pgxpool.New(ctx, s.DSN("postgres")+"&pool_max_conns=4")
	if err != nil {
		return nil, fmt.Errorf("pgserver: connect to the new server: %w", err)
	}
	s.admin = admin
	return s, nil
}

// findBinDir returns $PG_BIN, or the bin directory of the highest PostgreSQL version
// under /usr/lib/postgresql that has initdb and postgres.
func findBinDir() (string, error) {
	has := func(dir string) bool {
		for _, name := range []string{"initdb", "postgres"} {
			if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.IsDir() {
				return false
			}
		}
		return true
	}
	if dir := os.Getenv("PG_BIN"); dir != "" {
		if !has(dir) {
			return "", fmt.Errorf("pgserver: PG_BIN=%s does not hold initdb and postgres; %s", dir, installHint)
		}
		return dir, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	type cand struct {
		dir string
		ver []int
	}
	var cands []cand
	for _, d := range dirs {
		if !has(d) {
			continue
		}
		var ver []int
		for _, part := range strings.Split(filepath.Base(filepath.Dir(d)), ".") {
			n, err := strconv.Atoi(part)
			if err != nil {
				break
			}
			ver = append(ver, n)
		}
		cands = append(cands, cand{d, ver})
	}
	if len(cands) == 0 {
		return "", fmt.Errorf("pgserver: no PostgreSQL server binaries found in /usr/lib/postgresql/*/bin; %s", installHint)
	}
	best := slices.MaxFunc(cands, func(a, b cand) int { return slices.Compare(a.ver, b.ver) })
	return best.dir, nil
}

// makeDir creates the temporary directory. As root it is created where the unprivileged
// user can reach it and handed over to that user.
func (s *Server) makeDir() error {
	parent := os.TempDir()
	if os.Getuid() == 0 {
		u, err := unprivilegedUser()
		if err != nil {
			return err
		}
		s.cred = u
		if !traversable(parent) {
			parent = "/tmp"
		}
	}
	dir, err := os.MkdirTemp(parent, "pgtest-")
	if err != nil {
		return fmt.Errorf("pgserver: %w", err)
	}
	s.Dir = dir
	s.sockDir = filepath.Join(dir, "sock")
	s.logPath = filepath.Join(dir, "postgres.log")
	if err := os.Mkdir(s.sockDir, 0o700); err != nil {
		return fmt.Errorf("pgserver: %w", err)
	}
	s.password = randomHex(16)
	if err := os.WriteFile(filepath.Join(dir, "pwfile"), []byte(s.password+"\n"), 0o600); err != nil {
		return fmt.Errorf("pgserver: %w", err)
	}
	if s.cred != nil {
		err := filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(path, int(s.cred.Uid), int(s.cred.Gid))
		})
		if err != nil {
			return fmt.Errorf("pgserver: hand %s over to uid %d: %w", dir, s.cred.Uid, err)
		}
	}
	return nil
}

// unprivilegedUser is the "postgres" user if it exists, else "nobody".
func unprivilegedUser() (*syscall.Credential, error) {
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil || uid == 0 {
			continue
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, errors.New(`pgserver: running as root, and initdb refuses root: no "postgres" or "nobody" user to run PostgreSQL as`)
}

// traversable reports whether every directory from / to dir can be searched by others.
func traversable(dir string) bool {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return false
	}
	for {
		fi, err := os.Stat(dir)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return true
		}
		dir = parent
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// command builds a command run as the unprivileged user when root, in its own process
// group, killed if this process dies (Linux).
func (s *Server) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(s.BinDir, name), args...)
	cmd.Dir = s.Dir
	cmd.Env = []string{"LC_ALL=C", "LANG=C", "TZ=UTC", "HOME=" + s.Dir, "PATH=" + s.BinDir + ":/usr/bin:/bin"}
	cmd.SysProcAttr = sysProcAttr(s.cred)
	return cmd
}

func (s *Server) dataDir() string { return filepath.Join(s.Dir, "data") }

func (s *Server) initdb() error {
	cmd := s.command("initdb",
		"--pgdata="+s.dataDir(),
		"--username="+superuser,
		"--pwfile="+filepath.Join(s.Dir, "pwfile"),
		"--auth-local=trust",
		"--auth-host=scram-sha-256",
		"--encoding=UTF8",
		"--locale=C",
		"--no-sync",
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("pgserver: initdb (%s): %w\n%s", cmd.Path, err, out)
	}
	return nil
}

// startPostgres starts the server on a free port, retrying with another port if the
// chosen one was taken in the meantime.
func (s *Server) startPostgres() error {
	var err error
	for range 5 {
		if s.Port, err = freePort(); err != nil {
			return err
		}
		if err = s.tryStart(); err == nil || !strings.Contains(err.Error(), "could not bind") &&
			!strings.Contains(err.Error(), "could not create any TCP/IP sockets") {
			return err
		}
	}
	return err
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgserver: find a free port: %w", err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// settings are the server's -c options: durable or not (see Start and StartDurable).
func (s *Server) settings() []string {
	durability := "off"
	if s.durable {
		durability = "on"
	}
	var args []string
	for _, kv := range []string{"fsync=" + durability, "synchronous_commit=" + durability,
		"full_page_writes=" + durability, "max_connections=200", "shared_buffers=64MB",
		"max_parallel_workers_per_gather=0", "log_min_messages=warning", "log_min_error_statement=panic",
		"logging_collector=off", "TimeZone=UTC"} {
		args = append(args, "-c", kv)
	}
	return args
}

func (s *Server) tryStart() error {
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("pgserver: %w", err)
	}
	defer logf.Close()
	cmd := s.command("postgres", append([]string{
		"-D", s.dataDir(),
		"-p", strconv.Itoa(s.Port),
		"-k", s.sockDir,
		"-c", "listen_addresses=127.0.0.1"}, s.settings()...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("pgserver: start %s: %w", cmd.Path, err)
	}
	s.cmd = cmd
	s.exited = make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(s.exited)
	}()

	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, s.DSN("postgres"))
		cancel()
		if err == nil {
			_ = conn.Close(context.Background())
			return nil
		}
		select {
		case <-s.exited:
			s.cmd = nil
			return fmt.Errorf("pgserver: postgres exited (%v) while starting; log:\n%s", waitErr, s.logTail())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pgserver: postgres did not accept connections within a minute (last error: %v); log:\n%s", err, s.logTail())
		}
	}
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(s.logPath)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(bytes.TrimSpace(b))
}

// DSN is a URL for database dbname over TCP (127.0.0.1), as the superuser with its
// password.
func (s *Server) DSN(dbname string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(superuser, s.password),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)),
		Path:     "/" + dbname,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// SocketDSN is a key=value DSN for database dbname over the unix socket (trust auth).
func (s *Server) SocketDSN(dbname string) string {
	return fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable", s.sockDir, s.Port, superuser, dbname)
}

// Password is the superuser's password (for tests about credentials).
func (s *Server) Password() string { return s.password }

// CreateDatabase creates an empty database named name (any text: it is quoted as an
// identifier, at most 63 bytes) and returns its DSN (see DSN).
func (s *Server) CreateDatabase(ctx context.Context, name string) (string, error) {
	if _, err := s.admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("pgserver: create database %s: %w", name, err)
	}
	return s.DSN(name), nil
}

// DropDatabase drops the database name, with any connection still open to it.
func (s *Server) DropDatabase(ctx context.Context, name string) error {
	if _, err := s.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("pgserver: drop database %s: %w", name, err)
	}
	return nil
}

// Stop shuts the server down (fast shutdown; killed after 10 s) and removes its
// directory. It is safe to call more than once.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		if s.admin != nil {
			s.admin.Close()
		}
		if s.cmd != nil {
			_ = s.cmd.Process.Signal(syscall.SIGINT) // fast shutdown
			select {
			case <-s.exited:
			case <-time.After(10 * time.Second):
				killGroup(s.cmd.Process.Pid)
				<-s.exited
			}
			// Any straggler of the process group (there should be none).
			killGroup(s.cmd.Process.Pid)
		}
		if s.Dir != "" {
			_ = os.RemoveAll(s.Dir)
		}
	})
}
