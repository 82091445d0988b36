package store

import "context"

// TryLock takes the session-level advisory lock named key (hashed like LockKey) on a
// connection held from the pool, without waiting: ErrLocked when another session (another
// inbox replica) holds it. The lock lasts until release is called or the process dies
// (its connection closes): background jobs that one replica at a time may run (retention)
// hold it for their whole run. release never fails; call it once.
func (s *Store) TryLock(ctx context.Context, key string) (release func(), err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, redact(err, s.password)
	}
	k := hashKey(key)
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, k).Scan(&got); err != nil {
		conn.Release()
		return nil, redact(err, s.password)
	}
	if !got {
		conn.Release()
		return nil, ErrLocked
	}
	return func() {
		if _, err := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, k); err != nil {
			// The session may still hold the lock: close the connection instead of
			// returning it to the pool.
			_ = conn.Conn().Close(context.WithoutCancel(ctx))
		}
		conn.Release()
	}, nil
}
