package store

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// ClaimUnfenced runs Claim's statement on a pool connection, without a NumberLock, so
// tests can run it from several sessions at once (the fence allows only one).
func ClaimUnfenced(ctx context.Context, s *Store, ref NumberRef, lane Lane, limit int) ([]Message, error) {
	return claim(ctx, s.pool, ref, lane, limit)
}

// ExecOnLock runs sql on the lock's connection as an operation.
func ExecOnLock(ctx context.Context, l *NumberLock, sql string) error {
	return l.do("exec", func(conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, sql)
		return err
	})
}
