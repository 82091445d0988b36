// Package pgtest gives tests a real, throwaway PostgreSQL server (pgserver) and one
// fresh database per test.
//
// Typical use, one server per test package and one database per test:
//
//	var srv *pgtest.Server
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &srv)) }
//
//	func TestX(t *testing.T) { dsn := srv.NewDatabase(t); ... }
package pgtest

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/runtime/store/pgserver"
)

// Server is a running PostgreSQL server (see pgserver.Server) that hands out databases.
type Server struct {
	*pgserver.Server
	seq atomic.Int64
}

// Start starts a server (pgserver.Start: fsync off).
func Start() (*Server, error) { return wrap(pgserver.Start()) }

// StartDurable starts a server with fsync on (pgserver.StartDurable), for benchmarks.
func StartDurable() (*Server, error) { return wrap(pgserver.StartDurable()) }

func wrap(s *pgserver.Server, err error) (*Server, error) {
	if err != nil {
		return nil, err
	}
	return &Server{Server: s}, nil
}

var nonIdent = regexp.MustCompile(`[^a-z0-9_]+`)

// NewDatabase creates an empty database for one test and returns its DSN (see
// pgserver.Server.DSN). The database is dropped, with any connection still open to it,
// when the test ends.
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("t%d_%s", s.seq.Add(1), nonIdent.ReplaceAllString(strings.ToLower(t.Name()), "_"))
	if len(name) > 63 {
		name = name[:63]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dsn, err := s.CreateDatabase(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.DropDatabase(ctx, name); err != nil {
			t.Error(err)
		}
	})
	return dsn
}

// Main is a TestMain body: it starts a server into *srv, runs the tests and stops the
// server; it returns the exit code. If the server cannot start the tests fail (they are
// never skipped). SIGINT or SIGTERM stops the server before the test binary exits.
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &srv)) }
func Main(m *testing.M, srv **Server) int { return run(m, srv, Start) }

// MainDurable is Main with a durable server (StartDurable), for benchmarks whose
// figures must include the WAL flush of each commit.
func MainDurable(m *testing.M, srv **Server) int { return run(m, srv, StartDurable) }

func run(m *testing.M, srv **Server, start func() (*Server, error)) int {
	s, err := start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		fmt.Fprintln(os.Stderr, "FAIL: the storage tests need a real PostgreSQL")
		return 1
	}
	*srv = s
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		if _, ok := <-sigs; ok {
			s.Stop()
			os.Exit(1)
		}
	}()
	code := m.Run()
	signal.Stop(sigs)
	close(sigs)
	s.Stop()
	return code
}
