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
	want := ref.String()
	ch, err := s.watch(ctx, notifyChannel, "switchboard-listen "+want, func(payload string) bool { return payload == want })
	if err != nil {
		return nil, fmt.Errorf("store: listen for %s: %w", ref, err)
	}
	return ch, nil
}

// Watch is Listen for any NOTIFY channel: it signals (coalesced, capacity 1, never
// blocking) on every notification on channel, whatever its payload, and once after a
// reconnect. channel must be a plain SQL identifier (letters, digits, underscores).
func (s *Store) Watch(ctx context.Context, channel string) (<-chan struct{}, error) {
	if !plainIdentifier(channel) {
		return nil, fmt.Errorf("store: watch: channel %q is not a plain SQL identifier", channel)
	}
	ch, err := s.watch(ctx, channel, "switchboard-watch "+channel, func(string) bool { return true })
	if err != nil {
		return nil, fmt.Errorf("store: watch %s: %w", channel, err)
	}
	return ch, nil
}

func plainIdentifier(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i, r := range s {
		letter := r == '_' || r >= 'a' && r <= 'z'
		digit := i > 0 && r >= '0' && r <= '9'
		if !letter && !digit {
			return false
		}
	}
	return true
}

// watcher is one LISTEN connection: its channel, its name in pg_stat_activity and the
// payloads it signals for.
type watcher struct {
	channel, appName string
	match            func(payload string) bool
}

func (s *Store) watch(ctx context.Context, channel, appName string, match func(string) bool) (<-chan struct{}, error) {
	w := watcher{channel: channel, appName: appName, match: match}
	conn, err := s.listenConn(ctx, w)
	if err != nil {
		return nil, err
	}
	ch := make(chan struct{}, 1)
	go s.listenLoop(ctx, w, conn, ch)
	return ch, nil
}

func (s *Store) listenConn(ctx context.Context, w watcher) (*pgx.Conn, error) {
	conn, err := s.connect(ctx, w.appName, false)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "LISTEN "+w.channel); err != nil {
		closeQuietly(conn)
		return nil, redact(err, s.password)
	}
	return conn, nil
}

func (s *Store) listenLoop(ctx context.Context, w watcher, conn *pgx.Conn, ch chan<- struct{}) {
	defer close(ch)
	for {
		n, err := conn.WaitForNotification(ctx)
		if err == nil {
			if n.Channel == w.channel && w.match(n.Payload) {
				signal(ch)
			}
			continue
		}
		closeQuietly(conn)
		if ctx.Err() != nil {
			return
		}
		s.log.Info("listener connection lost; reconnecting", "listener", w.appName, "error", redact(err, s.password).Error())
		if conn = s.reconnectListen(ctx, w); conn == nil {
			return
		}
		signal(ch)
	}
}

// reconnectListen retries with capped, jittered exponential backoff until it succeeds
// (the connection is returned) or ctx ends (nil).
func (s *Store) reconnectListen(ctx context.Context, w watcher) *pgx.Conn {
	delay := 100 * time.Millisecond
	for {
		conn, err := s.listenConn(ctx, w)
		if err == nil {
			return conn
		}
		if ctx.Err() != nil {
			return nil
		}
		s.log.Info("listener cannot reconnect", "listener", w.appName, "error", err.Error(), "retryIn", delay)
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
