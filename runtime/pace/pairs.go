package pace

import (
	"sync"
	"time"
)

// Meta's pair rate: a business number can send 1 message every 6 s to the same user,
// in bursts of up to 45 that borrow from the future quota (error 131056 otherwise).
const (
	DefaultPairInterval = 6 * time.Second
	DefaultPairBurst    = 45
)

// minPruneEvery is the least number of entry-creating calls between two prunes.
const minPruneEvery = 1024

// pair is one recipient's state.
type pair struct {
	b     bucket
	until time.Time // blocked before this time (Backoff); zero if never blocked
}

// Pairs paces messages per recipient: one token bucket per recipient that refills one
// token per interval and holds up to burst tokens (Meta's pair rate: 1 per 6 s,
// bursts up to 45). Recipients are independent: a busy or blocked recipient never
// delays another.
//
// Memory stays bounded: a recipient whose bucket is full again and that is not
// blocked is indistinguishable from one never seen, so it is forgotten. Pruning is
// amortised: after every max(1024, entries after the previous prune) calls to Take or
// Backoff, one pass drops every forgettable recipient, which costs O(1) per call. So
// Pairs holds at most about twice the recipients that are still refilling (messaged
// within the last burst×interval, 270 s by default; 6 s for a recipient sent a single
// message) or blocked, plus 1024.
//
// Safe for concurrent use.
type Pairs struct {
	mu         sync.Mutex
	interval   time.Duration
	rate       float64 // tokens per second: 1/interval
	burst      float64
	m          map[string]*pair
	ops        int       // entry-creating calls since the last prune
	pruneEvery int       // ops that trigger the next prune
	latest     time.Time // latest now seen, for pruning from Backoff
}

// NewPairs returns an empty Pairs that allows one message per interval per recipient,
// in bursts of up to burst. An interval of 0 or less means DefaultPairInterval; a burst
// below 1 means 1.
func NewPairs(interval time.Duration, burst int) *Pairs {
	if interval <= 0 {
		interval = DefaultPairInterval
	}
	burst = max(burst, 1)
	return &Pairs{
		interval:   interval,
		rate:       1 / interval.Seconds(),
		burst:      float64(burst),
		m:          map[string]*pair{},
		pruneEvery: minPruneEvery,
	}
}

// Interval returns the time one token takes to refill.
func (p *Pairs) Interval() time.Duration { return p.interval }

// Burst returns how many messages a rested recipient may receive at once.
func (p *Pairs) Burst() int { return int(p.burst) }

// Take takes one of recipient's tokens if the recipient may receive a message at now
// (not blocked, a token available), and reports whether it did.
func (p *Pairs) Take(recipient string, now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.waitLocked(recipient, now) != 0 {
		return false
	}
	p.takeLocked(recipient, now)
	return true
}

// Wait returns how long from now until recipient may receive a message: 0 if it may
// now. It takes nothing.
func (p *Pairs) Wait(recipient string, now time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waitLocked(recipient, now)
}

// Backoff blocks recipient until the given time, after Meta answered 131056 (pair
// rate hit): Meta's bucket for the pair is empty, so the recipient is also left with at
// most one token as of until (no fresh burst afterwards): it may receive one message at
// until at the earliest, then one per interval as its bucket refills. A Backoff that
// ends before an earlier one still drains the bucket but never shortens the block.
func (p *Pairs) Backoff(recipient string, until time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.entry(recipient, until)
	st.b.advance(until) // tokens as of until (no-op if already past it)
	st.b.tokens = min(st.b.tokens, 1)
	if until.After(st.until) {
		st.until = until
	}
	p.note(p.latest)
}

// Len returns how many recipients are tracked (for metrics and tests).
func (p *Pairs) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.m)
}

// Prune forgets, now, every recipient whose bucket is full and that is not blocked,
// and returns how many it forgot. Take and Backoff prune on their own (amortised);
// calling Prune is never needed for correctness.
func (p *Pairs) Prune(now time.Time) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.see(now)
	return p.pruneLocked(p.latest)
}

// waitLocked is Wait with p.mu held.
func (p *Pairs) waitLocked(recipient string, now time.Time) time.Duration {
	st, ok := p.m[recipient]
	if !ok {
		return 0 // a recipient never seen (or forgotten) has a full bucket
	}
	st.b.advance(now)
	d := st.b.waitAt(1, now)
	if now.Before(st.until) {
		d = max(d, st.until.Sub(now))
	}
	return d
}

// takeLocked takes one token of recipient with p.mu held; the caller checked
// waitLocked(recipient, now) == 0.
func (p *Pairs) takeLocked(recipient string, now time.Time) {
	st := p.entry(recipient, now)
	st.b.advance(now)
	st.b.take(1)
	p.see(now)
	p.note(p.latest)
}

// entry returns recipient's state, creating a full bucket as of now if needed.
func (p *Pairs) entry(recipient string, now time.Time) *pair {
	st, ok := p.m[recipient]
	if !ok {
		st = &pair{b: bucket{rate: p.rate, burst: p.burst, tokens: p.burst, last: now}}
		p.m[recipient] = st
	}
	return st
}

// see records the latest now.
func (p *Pairs) see(now time.Time) {
	if now.After(p.latest) {
		p.latest = now
	}
}

// note counts one entry-creating call and prunes when enough have accumulated.
func (p *Pairs) note(now time.Time) {
	p.ops++
	if p.ops >= p.pruneEvery {
		p.pruneLocked(now)
	}
}

// pruneLocked drops every forgettable recipient as of now, with p.mu held.
func (p *Pairs) pruneLocked(now time.Time) int {
	n := 0
	for r, st := range p.m {
		if now.Before(st.until) {
			continue
		}
		st.b.advance(now)
		if st.b.tokens >= st.b.burst {
			delete(p.m, r)
			n++
		}
	}
	p.ops = 0
	p.pruneEvery = max(minPruneEvery, len(p.m))
	return n
}
