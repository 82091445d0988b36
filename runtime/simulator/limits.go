package simulator

import "time"

// bucket is a token bucket: rate tokens per second, up to burst.
type bucket struct {
	rate, burst, tokens float64
	last                time.Time
}

func newBucket(rate, burst float64) *bucket { return &bucket{rate: rate, burst: burst, tokens: burst} }

func (b *bucket) refill(now time.Time) {
	if b.last.IsZero() {
		b.last = now
		return
	}
	if dt := now.Sub(b.last).Seconds(); dt > 0 {
		b.tokens = min(b.burst, b.tokens+dt*b.rate)
		b.last = now
	}
}

// take spends one token if there is one.
func (b *bucket) take(now time.Time) bool {
	b.refill(now)
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// drain spends one token if there is one, never failing (inbound traffic
// uses the same capacity but is never refused).
func (b *bucket) drain(now time.Time) {
	b.refill(now)
	b.tokens = max(b.tokens-1, 0)
}

// full reports whether the bucket has refilled completely (safe to forget).
func (b *bucket) full(now time.Time) bool {
	b.refill(now)
	return b.tokens >= b.burst
}

func (b *bucket) setRate(now time.Time, rate, burst float64) {
	b.refill(now)
	b.rate, b.burst = rate, burst
	b.tokens = min(b.tokens, burst)
}

// recipientLog counts unique recipients over a rolling window.
type recipientLog struct {
	window time.Duration
	last   map[string]time.Time
	order  []recipientAt
}

type recipientAt struct {
	id string
	at time.Time
}

func newRecipientLog(window time.Duration) *recipientLog {
	return &recipientLog{window: window, last: map[string]time.Time{}}
}

// add records id at now and reports whether it is new in the window.
func (l *recipientLog) add(id string, now time.Time) bool {
	l.prune(now)
	_, seen := l.last[id]
	l.last[id] = now
	l.order = append(l.order, recipientAt{id, now})
	return !seen
}

// count returns the unique recipients within the window ending at now.
func (l *recipientLog) count(now time.Time) int {
	l.prune(now)
	return len(l.last)
}

func (l *recipientLog) prune(now time.Time) {
	i := 0
	for ; i < len(l.order) && now.Sub(l.order[i].at) >= l.window; i++ {
		e := l.order[i]
		if l.last[e.id].Equal(e.at) {
			delete(l.last, e.id)
		}
	}
	l.order = l.order[i:]
}
