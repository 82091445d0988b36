package store

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// How often a NumberLock checks its connection, and how long a check may take.
const (
	lockPingInterval = time.Second
	lockPingTimeout  = 5 * time.Second
)

// NumberLock is the fence of one number's sender: a session-level advisory lock held on
// a dedicated connection. Every outbox operation of the sender runs on that connection,
// so an operation can only succeed while the lock is held; once the connection is gone
// the server has released the lock, another sender may hold it, and every operation
// returns ErrLockLost. Operations touch only the locked number's rows.
//
// A sender's loop, roughly (after winning its Lease):
//
//	l, err := st.LockNumberWait(ctx, ref) // the previous holder's session must be gone
//	defer l.Release(context.Background())
//	_, err = l.RecoverInFlight(ctx)       // before the first Claim
//	wake, err := st.Listen(ctx, ref)
//	for {
//		msgs, err := l.Claim(ctx, store.LaneConversation, 50) // then the campaign lane
//		// ... limiter, Cloud API call, then MarkSent / MarkSentBatch / Retry / Fail
//		select {
//		case <-wake:
//		case <-timer.C: // the next NextAttemptAt, or a poll interval
//		case <-l.Lost(): // stop sending; take the lock again
//		case <-ctx.Done():
//		}
//	}
//
// The methods are safe for concurrent use; they run one at a time on the connection.
// Cancelling an operation's context cancels its statement and keeps the session (and
// the lock), unless the server does not answer the cancel within a few seconds, in
// which case the connection is closed and the lock lost.
type NumberLock struct {
	ref NumberRef
	key int64
	s   *Store

	mu       sync.Mutex
	conn     *pgx.Conn // nil once lost or released
	released bool

	lost     chan struct{}
	lostOnce sync.Once
	stop     chan struct{} // closed by Release: ends the pinger
	pinger   sync.WaitGroup
}

// LockNumber takes the number's lock without waiting: pg_try_advisory_lock(LockKey(ref))
// on a new dedicated connection. If another session holds it, it returns ErrLocked; the
// caller may poll, or use LockNumberWait.
func (s *Store) LockNumber(ctx context.Context, ref NumberRef) (*NumberLock, error) {
	return s.lockNumber(ctx, ref, "SELECT pg_try_advisory_lock($1)")
}

// LockNumberWait takes the number's lock, waiting in PostgreSQL (pg_advisory_lock) until
// the holder releases it or its session ends, or until ctx ends. A new leader uses it to
// take over from the previous one as soon as the previous one's connection is gone.
func (s *Store) LockNumberWait(ctx context.Context, ref NumberRef) (*NumberLock, error) {
	return s.lockNumber(ctx, ref, "SELECT true FROM pg_advisory_lock($1)")
}

func (s *Store) lockNumber(ctx context.Context, ref NumberRef, query string) (*NumberLock, error) {
	if err := validateRef(ref); err != nil {
		return nil, fmt.Errorf("store: lock number: %w", err)
	}
	conn, err := s.connect(ctx, "switchboard-lock "+ref.String(), true)
	if err != nil {
		return nil, fmt.Errorf("store: lock number %s: %w", ref, err)
	}
	key := LockKey(ref)
	var ok bool
	if err := conn.QueryRow(ctx, query, key).Scan(&ok); err != nil {
		// Closing the session also drops the lock if the server granted it just as
		// the wait was cancelled.
		closeQuietly(conn)
		return nil, redact(fmt.Errorf("store: lock number %s: %w", ref, err), s.password)
	}
	if !ok {
		closeQuietly(conn)
		return nil, fmt.Errorf("store: lock number %s: %w", ref, ErrLocked)
	}
	l := &NumberLock{
		ref: ref, key: key, s: s, conn: conn,
		lost: make(chan struct{}), stop: make(chan struct{}),
	}
	l.pinger.Add(1)
	go l.ping()
	return l, nil
}

// Number is the locked number.
func (l *NumberLock) Number() NumberRef { return l.ref }

// BackendPID is the server process id of the lock's session (pg_stat_activity.pid), or
// 0 once the lock is lost or released.
func (l *NumberLock) BackendPID() uint32 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		return 0
	}
	return l.conn.PgConn().PID()
}

// Lost is closed when the lock's connection breaks (found by a ping every second or by
// a failing operation). It is not closed by Release.
func (l *NumberLock) Lost() <-chan struct{} { return l.lost }

// Release unlocks the number and closes the connection. After Release every operation
// returns ErrLockLost. The lock is free afterwards even if the explicit unlock failed
// (for example because ctx is done): closing the session releases it; the error then
// only reports the failed unlock. Releasing a lost lock, or releasing twice, returns nil.
func (l *NumberLock) Release(ctx context.Context) error {
	l.mu.Lock()
	if l.released {
		l.mu.Unlock()
		return nil
	}
	l.released = true
	close(l.stop)
	var err error
	if conn := l.conn; conn != nil {
		l.conn = nil
		if _, uerr := conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", l.key); uerr != nil && !conn.IsClosed() {
			err = redact(fmt.Errorf("store: release lock of %s: unlock: %w (released anyway: the session is closed)", l.ref, uerr), l.s.password)
		}
		closeQuietly(conn)
	}
	l.mu.Unlock()
	l.pinger.Wait()
	return err
}

// ping checks the connection every lockPingInterval. It skips a tick while an operation
// runs: the operation's own error reports a broken connection.
func (l *NumberLock) ping() {
	defer l.pinger.Done()
	t := time.NewTicker(lockPingInterval)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-l.lost:
			return
		case <-t.C:
		}
		if !l.mu.TryLock() {
			continue
		}
		if l.conn != nil {
			ctx, cancel := context.WithTimeout(context.Background(), lockPingTimeout)
			if err := l.conn.Ping(ctx); err != nil {
				// Even if the session survives (a ping that timed out but was
				// cancelled), a lock that cannot be checked is treated as lost, and
				// closing the connection makes sure the server releases it.
				l.loseLocked(err)
			}
			cancel()
		}
		l.mu.Unlock()
	}
}

// loseLocked marks the lock lost and closes its connection; l.mu is held.
func (l *NumberLock) loseLocked(cause error) {
	if l.conn != nil {
		closeQuietly(l.conn)
		l.conn = nil
	}
	l.lostOnce.Do(func() {
		l.s.log.Info("number lock lost", "number", l.ref.String(), "error", redact(cause, l.s.password).Error())
		close(l.lost)
	})
}

// do runs fn on the lock's connection, one operation at a time. It returns ErrLockLost
// (wrapped with op and the cause) when the lock is no longer held or the connection
// broke during fn.
func (l *NumberLock) do(op string, fn func(conn *pgx.Conn) error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.released {
		return fmt.Errorf("store: %s for %s: %w (released)", op, l.ref, ErrLockLost)
	}
	if l.conn == nil {
		return fmt.Errorf("store: %s for %s: %w", op, l.ref, ErrLockLost)
	}
	err := fn(l.conn)
	if err == nil {
		return nil
	}
	if l.conn.IsClosed() {
		l.loseLocked(err)
		return redact(fmt.Errorf("store: %s for %s: %w: %w", op, l.ref, ErrLockLost, err), l.s.password)
	}
	return redact(fmt.Errorf("store: %s for %s: %w", op, l.ref, err), l.s.password)
}

// inTx runs fn in a transaction on the lock's connection. Unlike pgx.BeginFunc it rolls
// back with a context that is not cancelled (pgx closes the connection when a rollback
// fails, and a cancelled context makes it fail), so a cancelled operation does not drop
// the session and the lock with it.
func inTx(ctx context.Context, conn *pgx.Conn, fn func(pgx.Tx) error) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	rollback := func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = tx.Rollback(rctx)
	}
	if err := fn(tx); err != nil {
		rollback()
		return err
	}
	if err := ctx.Err(); err != nil {
		rollback()
		return err
	}
	return tx.Commit(ctx)
}
