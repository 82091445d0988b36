package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/runtime/store"
)

func lockNumber(t *testing.T, s *store.Store, ref store.NumberRef) *store.NumberLock {
	t.Helper()
	l, err := s.LockNumber(testCtx(t), ref)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Release(context.Background()) })
	return l
}

func closedWithin(ch <-chan struct{}, d time.Duration) bool {
	select {
	case <-ch:
		return true
	case <-time.After(d):
		return false
	}
}

func TestLockNumberExcludesASecondHolder(t *testing.T) {
	t.Parallel()
	s, dsn := newStore(t)
	ctx := testCtx(t)
	l := lockNumber(t, s, numA)
	if l.Number() != numA {
		t.Fatalf("Number() = %v", l.Number())
	}

	// Another session, even from another Store (another process), is refused.
	other := openStore(t, dsn)
	if _, err := other.LockNumber(ctx, numA); !errors.Is(err, store.ErrLocked) {
		t.Fatalf("second LockNumber: %v, want ErrLocked", err)
	}
	// Another number is independent.
	lockNumber(t, other, numB)

	// The lock shows in pg_locks under LockKey, held by the lock's session.
	key := store.LockKey(numA)
	if n := queryInt(t, sqlConn(t, dsn), `
		SELECT count(*) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND pid = $1
		  AND classid::bigint = ($2::bigint >> 32) & 4294967295 AND objid::bigint = $2::bigint & 4294967295`,
		int64(l.BackendPID()), key); n != 1 {
		t.Errorf("advisory lock %d of session %d not in pg_locks", key, l.BackendPID())
	}

	// The waiting variant gives up when its context ends...
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := other.LockNumberWait(short, numA); err == nil {
		t.Fatal("LockNumberWait succeeded while the lock was held")
	}
	// ...and gets the lock as soon as it is released.
	got := make(chan error, 1)
	go func() {
		l2, err := other.LockNumberWait(ctx, numA)
		if err == nil {
			err = l2.Release(ctx)
		}
		got <- err
	}()
	time.Sleep(100 * time.Millisecond)
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("LockNumberWait did not get the released lock")
	}

	// After Release: operations fail with ErrLockLost, Lost() stays open, Release again is fine.
	if _, err := l.QueueDepth(ctx); !errors.Is(err, store.ErrLockLost) {
		t.Errorf("QueueDepth after Release: %v, want ErrLockLost", err)
	}
	select {
	case <-l.Lost():
		t.Error("Lost() closed by Release")
	default:
	}
	if err := l.Release(ctx); err != nil {
		t.Errorf("second Release: %v", err)
	}
}

func terminate(t *testing.T, dsn string, pid uint32) {
	t.Helper()
	var ok bool
	if err := sqlConn(t, dsn).QueryRow(testCtx(t), "SELECT pg_terminate_backend($1)", int64(pid)).Scan(&ok); err != nil || !ok {
		t.Fatalf("pg_terminate_backend(%d) = %v, %v", pid, ok, err)
	}
}

func TestKilledLockConnectionIsLostByPing(t *testing.T) {
	t.Parallel()
	s, dsn := newStore(t)
	ctx := testCtx(t)
	enqueue(t, s, numA, store.LaneConversation, "1", time.Time{})
	l := lockNumber(t, s, numA)
	terminate(t, dsn, l.BackendPID())

	if !closedWithin(l.Lost(), 10*time.Second) {
		t.Fatal("Lost() not closed after the lock's session was terminated")
	}
	if _, err := l.Claim(ctx, store.LaneConversation, 10); !errors.Is(err, store.ErrLockLost) {
		t.Fatalf("Claim after loss: %v, want ErrLockLost", err)
	}
	if err := l.MarkSent(ctx, 1, "wamid.x"); !errors.Is(err, store.ErrLockLost) {
		t.Fatalf("MarkSent after loss: %v, want ErrLockLost", err)
	}
	if l.BackendPID() != 0 {
		t.Error("BackendPID of a lost lock is not 0")
	}
	// The server released the lock with the session.
	waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	l2, err := s.LockNumberWait(waitCtx, numA)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l2.Release(ctx) }()
	msgs, err := l2.Claim(ctx, store.LaneConversation, 10)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("new holder claims %d messages, %v", len(msgs), err)
	}
	if err := l.Release(ctx); err != nil {
		t.Errorf("Release of a lost lock: %v", err)
	}
}

func TestKilledLockConnectionIsLostByOperation(t *testing.T) {
	t.Parallel()
	s, dsn := newStore(t)
	ctx := testCtx(t)
	l := lockNumber(t, s, numA)
	terminate(t, dsn, l.BackendPID())
	// The backend ends asynchronously: operate until an operation sees it (the pinger
	// may see it first; either way the error is ErrLockLost).
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := l.QueueDepth(ctx)
		if err != nil {
			if !errors.Is(err, store.ErrLockLost) {
				t.Fatalf("QueueDepth: %v, want ErrLockLost", err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("operations still succeed 10s after the session was terminated")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !closedWithin(l.Lost(), time.Second) {
		t.Fatal("Lost() not closed")
	}
}

func TestCancelledOperationKeepsTheLock(t *testing.T) {
	t.Parallel()
	s, dsn := newStore(t)
	l := lockNumber(t, s, numA)
	pid := l.BackendPID()
	ctx, cancel := context.WithTimeout(testCtx(t), 100*time.Millisecond)
	defer cancel()
	if err := store.ExecOnLock(ctx, l, "SELECT pg_sleep(10)"); err == nil {
		t.Fatal("pg_sleep(10) was not cancelled")
	}
	if closedWithin(l.Lost(), 1500*time.Millisecond) {
		t.Fatal("cancelling an operation lost the lock")
	}
	if _, err := l.QueueDepth(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if l.BackendPID() != pid {
		t.Fatal("the lock's session changed")
	}
	if _, err := openStore(t, dsn).LockNumber(testCtx(t), numA); !errors.Is(err, store.ErrLocked) {
		t.Fatalf("LockNumber from another session: %v, want ErrLocked", err)
	}
}

func TestLockKeyIsStable(t *testing.T) {
	t.Parallel()
	// Operators find a sender's session in pg_locks by this key: it must not change.
	if got := store.LockKey(store.NumberRef{Namespace: "acme", Name: "sales-es"}); got != store.LockKey(numA) || got == store.LockKey(numB) {
		t.Fatal("LockKey is not a function of namespace/name")
	}
	const want = int64(0x0c08571e1dc199b7) // FNV-1a 64 of "acme/sales-es"
	if got := store.LockKey(numA); got != want {
		t.Errorf("LockKey(acme/sales-es) = %#x, want %#x", got, want)
	}
}

// A transaction cancelled while it waits (here for a row another session holds) is
// rolled back without closing the lock's session.
func TestCancelledTransactionKeepsTheLock(t *testing.T) {
	t.Parallel()
	s, dsn := newStore(t)
	id := enqueue(t, s, numA, store.LaneConversation, "1", time.Time{})
	l := lockNumber(t, s, numA)
	claim(t, l, store.LaneConversation, 1)

	tx, err := sqlConn(t, dsn).Begin(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(testCtx(t), "SELECT 1 FROM outbox WHERE id = $1 FOR UPDATE", id); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(testCtx(t), 200*time.Millisecond)
	defer cancel()
	if err := l.MarkSentBatch(ctx, []store.Sent{{ID: id, WAMID: "wamid.1"}}); err == nil {
		t.Fatal("MarkSentBatch did not wait for the row lock")
	}
	_ = tx.Rollback(testCtx(t))
	if closedWithin(l.Lost(), 1500*time.Millisecond) {
		t.Fatal("cancelling a transaction lost the lock")
	}
	if err := l.MarkSent(testCtx(t), id, "wamid.1"); err != nil {
		t.Fatal(err)
	}
}
