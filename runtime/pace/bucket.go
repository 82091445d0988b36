package pace

import (
	"math"
	"sync"
	"time"
)

// Forever is the wait of a closed lane or bucket (rate 0): it never becomes
// available. It is the largest time.Duration; compare against it, do not add it to a
// time.
const Forever = time.Duration(math.MaxInt64)

// slackNs absorbs floating-point error: a bucket that would hold the tokens needed
// within a thousandth of a nanosecond holds them now. Waits are rounded up to whole
// nanoseconds with the same slack, so waiting exactly the returned wait suffices and
// a nanosecond less does not.
const slackNs = 1e-3

// bucket is the unlocked state of a token bucket. Bucket, Pairs and Pacer guard it
// with their own mutexes.
type bucket struct {
	rate   float64   // tokens per second; 0 means closed
	burst  float64   // capacity; 0 when closed, else at least 1
	tokens float64   // tokens as of last
	last   time.Time // when tokens was computed
}

// newBucket returns a full bucket as of now.
func newBucket(rate, burst float64, now time.Time) bucket {
	b := bucket{last: now}
	b.rate, b.burst = normalise(rate, burst)
	b.tokens = b.burst
	return b
}

// normalise cleans a rate and burst: a non-positive or NaN rate closes the bucket
// (burst 0); an open bucket holds at least one token.
func normalise(rate, burst float64) (float64, float64) {
	if !(rate > 0) {
		return 0, 0
	}
	if math.IsInf(rate, 1) {
		rate = math.MaxFloat64
	}
	if !(burst >= 1) {
		burst = 1
	}
	return rate, burst
}

// advance refills the bucket up to now. A now before last changes nothing.
func (b *bucket) advance(now time.Time) {
	if !now.After(b.last) {
		return
	}
	if b.rate > 0 && b.tokens < b.burst {
		b.tokens = min(b.burst, b.tokens+b.rate*now.Sub(b.last).Seconds())
	}
	b.last = now
}

// setRate changes the rate live: tokens are refilled up to now at the old rate, then
// capped to the new burst.
func (b *bucket) setRate(rate, burst float64, now time.Time) {
	b.advance(now)
	b.rate, b.burst = normalise(rate, burst)
	b.tokens = min(b.tokens, b.burst)
}

// waitFor returns how long after b.last the bucket holds need tokens: 0 if it does
// now, Forever if it never will (closed, or need above the burst). Call advance first.
func (b *bucket) waitFor(need float64) time.Duration {
	if b.tokens >= need {
		return 0
	}
	if b.rate <= 0 || need > b.burst {
		return Forever
	}
	ns := (need - b.tokens) / b.rate * 1e9
	if ns <= slackNs {
		return 0
	}
	d := math.Ceil(ns - slackNs)
	if d >= float64(math.MaxInt64) {
		return Forever
	}
	return max(time.Duration(d), 1)
}

// waitAt is waitFor measured from now rather than from b.last (they differ when a
// caller's now is behind a time the bucket already saw). Call advance(now) first.
func (b *bucket) waitAt(need float64, now time.Time) time.Duration {
	d := b.waitFor(need)
	if d == 0 || d == Forever || !now.Before(b.last) {
		return d
	}
	return addSat(d, b.last.Sub(now))
}

// addSat adds two non-negative durations, saturating at Forever.
func addSat(a, b time.Duration) time.Duration {
	if a > Forever-b {
		return Forever
	}
	return a + b
}

// take removes n tokens; the caller checked waitFor(n) == 0.
func (b *bucket) take(n float64) { b.tokens -= n }

// Bucket is a token bucket: it holds up to burst tokens and refills at rate tokens per
// second; each message takes one token. Rate 0 means closed (paused): no tokens, Take
// fails, Wait is Forever. A new Bucket is full. Safe for concurrent use.
type Bucket struct {
	mu sync.Mutex
	b  bucket
}

// NewBucket returns a full bucket as of now. A rate of 0 (or less) makes it closed; an
// open bucket holds at least one token whatever burst says.
func NewBucket(ratePerSecond, burst float64, now time.Time) *Bucket {
	return &Bucket{b: newBucket(ratePerSecond, burst, now)}
}

// SetRate changes the rate and burst live: the tokens are refilled up to now at the
// old rate first, then capped to the new burst, so what was already spent stays spent.
// Closing the bucket (rate 0) empties it; a bucket reopened later starts empty.
func (k *Bucket) SetRate(rate, burst float64, now time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.b.setRate(rate, burst, now)
}

// Take takes one token if one is available at now, and reports whether it did.
func (k *Bucket) Take(now time.Time) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.b.advance(now)
	if k.b.waitFor(1) != 0 {
		return false
	}
	k.b.take(1)
	return true
}

// Wait returns how long from now until one token is available: 0 if one is available
// now, Forever if the bucket is closed. It takes nothing.
func (k *Bucket) Wait(now time.Time) time.Duration {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.b.advance(now)
	return k.b.waitAt(1, now)
}

// Tokens returns the tokens available at now (fractional; at most the burst).
func (k *Bucket) Tokens(now time.Time) float64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.b.advance(now)
	return k.b.tokens
}

// Rate returns the refill rate in tokens per second (0: closed).
func (k *Bucket) Rate() float64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.b.rate
}

// Burst returns the capacity in tokens (0: closed).
func (k *Bucket) Burst() float64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.b.burst
}
