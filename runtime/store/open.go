package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"time"

	"github.com/go-logr/logr"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
)

//go:embed migrations/*.sql
var migrations embed.FS

// notifyChannel is the NOTIFY channel of the outbox; the payload is "namespace/name".
const notifyChannel = "switchboard_outbox"

// Store is the PostgreSQL system of record. It is safe for concurrent use.
type Store struct {
	pool     *pgxpool.Pool
	connCfg  *pgx.ConnConfig // template for the dedicated connections (Listen, LockNumber)
	password string          // scrubbed from every error text
	log      logr.Logger
}

// Option configures Open.
type Option func(*options)

type options struct {
	log logr.Logger
}

// WithLogger sets the logger for background work (Listen reconnects, lock loss).
func WithLogger(l logr.Logger) Option { return func(o *options) { o.log = l } }

// Open connects to PostgreSQL (dsn: a URL or key=value string as libpq takes it) and
// applies the embedded migrations. Several processes may Open the same database at once:
// the migrations run under a session-level advisory lock (see migrate). No error returned
// here contains the DSN's password.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	o := options{log: logr.Discard()}
	for _, opt := range opts {
		opt(&o)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx redacts the password from its parse errors only on a best-effort basis (an
		// invalid string is ambiguous), so none of its text is passed on.
		return nil, errors.New("store: open: cannot parse the DSN (details withheld because they may contain the password)")
	}
	password := cfg.ConnConfig.Password
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, redact(fmt.Errorf("store: open: %w", err), password)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, redact(fmt.Errorf("store: open: %w", err), password)
	}
	s := &Store{pool: pool, connCfg: cfg.ConnConfig.Copy(), password: password, log: o.log}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the pool. Listeners and NumberLocks have their own connections: end
// them first (cancel the Listen context, Release the lock).
func (s *Store) Close() { s.pool.Close() }

// migrationLockKey is the advisory lock that serialises migrations between processes.
var migrationLockKey = hashKey("switchboard/migrations")

// migrate applies migrations/*.sql with goose, which records them in its own table
// (goose_db_version). goose's Provider takes no lock unless given one: a SessionLocker
// is passed, so two processes starting at once run the migrations one after the other
// and the second finds nothing to do. goose takes the lock before it creates its version
// table and before it reads which versions are applied.
//
// The migrations run on a database/sql handle of their own (not on the pool): closing
// it closes the locked session, so the lock cannot outlive this call even if the
// explicit unlock fails.
func (s *Store) migrate(ctx context.Context) error {
	db := stdlib.OpenDB(*s.connCfg.Copy())
	defer func() { _ = db.Close() }()
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys,
		goose.WithSessionLocker(advisoryLocker{key: migrationLockKey}),
		goose.WithDisableGlobalRegistry(true),
		// A migration may land with a lower number than one a database already has
		// (features built in parallel): apply it rather than refuse to start. Each
		// migration touches only its own tables and columns.
		goose.WithAllowOutofOrder(true),
	)
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return redact(fmt.Errorf("store: migrate: %w", err), s.password)
	}
	return nil
}

// advisoryLocker is a goose SessionLocker that waits in PostgreSQL (pg_advisory_lock)
// rather than polling: goose's own Postgres locker retries at most once a second, which
// would make every concurrent start wait at least that long.
type advisoryLocker struct{ key int64 }

func (l advisoryLocker) SessionLock(ctx context.Context, conn *sql.Conn) error {
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", l.key); err != nil {
		return fmt.Errorf("take the migration lock: %w", err)
	}
	return nil
}

func (l advisoryLocker) SessionUnlock(ctx context.Context, conn *sql.Conn) error {
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_unlock($1)", l.key); err != nil {
		return fmt.Errorf("release the migration lock: %w", err)
	}
	return nil
}

// hashKey is a stable 64-bit key (FNV-1a) for pg_advisory_lock.
func hashKey(s string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s))
	return int64(h.Sum64())
}

// LockKey is the pg_advisory_lock key of a number: FNV-1a 64 of "namespace/name", as
// a signed bigint. In pg_locks it shows as classid = key>>32, objid = key&0xffffffff.
func LockKey(ref NumberRef) int64 { return hashKey(ref.String()) }

// connect opens a dedicated connection (not from the pool) named appName in
// pg_stat_activity. If cancelOnCtx, a cancelled context cancels the running statement
// with a cancel request and keeps the session (pgx's default closes the connection,
// which would drop a session-level lock).
func (s *Store) connect(ctx context.Context, appName string, cancelOnCtx bool) (*pgx.Conn, error) {
	cfg := s.connCfg.Copy()
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	if len(appName) > 63 {
		appName = appName[:63]
	}
	cfg.RuntimeParams["application_name"] = appName
	if cancelOnCtx {
		cfg.BuildContextWatcherHandler = func(pc *pgconn.PgConn) ctxwatch.Handler {
			return &pgconn.CancelRequestContextWatcherHandler{
				Conn:               pc,
				CancelRequestDelay: 0,
				// If the server has not answered the cancel by then, the connection is
				// closed (and the lock is lost).
				DeadlineDelay: 5 * time.Second,
			}
		}
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, redact(err, s.password)
	}
	return conn, nil
}
