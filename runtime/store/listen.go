package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
)

// Listen watches for messages enqueued for one number. It LISTENs on a dedicated
// connection and sends on the returned channel (capacity 1, never blocking: signals that
// arrive while one is pending are coalesced) when a notification for ref arrives.
//
// There is no signal for rows that were queued before Listen returned: claim once after
// calling it. If the connection breaks, Listen reconnects with backoff and then signals
// once, since notifications may have been missed meanwhile. The channel is closed, and
// the connection with it, when ctx ends.
func (s *Store) Listen(ctx context.Context, ref NumberRef) (<-chan struct{}, error) {
	if err := validateRef(ref); err != nil {
		return nil, fmt.Errorf("store: listen: %w", err)
	}
	conn, err := s.listenConn(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("store: listen for %s: %w", ref, err)
	}
	ch := make(chan struct{}, 1)
	go s.listenLoop(ctx, ref, conn, ch)
	return ch, nil
}

func (s *Store) listenConn(ctx context.Context, ref NumberRef) (*pgx.Conn, error) {
	conn, err := s.connect(ctx, "switchboard-listen "+ref.String(), false)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
		closeQuietly(conn)
		return nil, redact(err, s.password)
	}
	return conn, nil
}

func (s *Store) listenLoop(ctx context.Context, ref NumberRef, conn *pgx.Conn, ch chan<- struct{}) {
	defer close(ch)
	want := ref.String()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err == nil {
			if n.Channel == notifyChannel && n.Payload == want {
				signal(ch)
			}
			continue
		}
		closeQuietly(conn)
		if ctx.Err() != nil {
			return
		}
		s.log.Info("outbox listener connection lost; reconnecting", "number", want, "error", redact(err, s.password).Error())
		if conn = s.reconnectListen(ctx, ref); conn == nil {
			return
		}
		signal(ch)
	}
}

// reconnectListen retries with capped, jittered exponential backoff until it succeeds
// (the connection is returned) or ctx ends (nil).
func (s *Store) reconnectListen(ctx context.Context, ref NumberRef) *pgx.Conn {
	delay := 100 * time.Millisecond
	for {
		conn, err := s.listenConn(ctx, ref)
		if err == nil {
			return conn
		}
		if ctx.Err() != nil {
			return nil
		}
		s.log.Info("outbox listener cannot reconnect", "number", ref.String(), "error", err.Error(), "retryIn", delay)
		t := time.NewTimer(delay/2 + rand.N(delay/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		delay = min(2*delay, 5*time.Second)
	}
}

func signal(ch chan<- struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func closeQuietly(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}
