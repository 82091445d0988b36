package store

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// InTx runs fn in one transaction on the pool: committed when fn returns nil, rolled back
// otherwise (and when ctx ends). Features that keep their SQL beside them (the inbox's
// conversations) write through it. Errors never contain the DSN's password.
func (s *Store) InTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return redact(pgx.BeginFunc(ctx, s.pool, fn), s.password)
}

// ReadTx is InTx in a read-only transaction.
func (s *Store) ReadTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return redact(pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, fn), s.password)
}

// Ping checks that a connection to the database works (for readiness probes).
func (s *Store) Ping(ctx context.Context) error {
	return redact(s.pool.Ping(ctx), s.password)
}
