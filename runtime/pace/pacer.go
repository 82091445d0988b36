package pace

import (
	"math"
	"sync"
	"time"
)

// Lane is the priority class of an outbound message. Its values are the outbox's
// lanes, so a store lane converts with Lane(l).
type Lane string

const (
	// LaneConversation: replies inside the 24-hour window; limited only by the total
	// rate and the pair rate, and served first.
	LaneConversation Lane = "conversation"
	// LaneCampaign: business-initiated templates; also limited by the campaign rate
	// and the conversation headroom. Any lane other than LaneConversation is paced as
	// a campaign (the stricter lane).
	LaneCampaign Lane = "campaign"
)

// ConversationReserveFraction is the headroom campaigns leave for replies in the total
// bucket, as a fraction of the total rate (a tenth of a second's worth of messages).
const ConversationReserveFraction = 0.1

// Limits are the number's effective limits (status.sending) that pacing uses.
// Negative values count as 0.
type Limits struct {
	MessagesPerSecond int32 // total outbound rate, both lanes; 0 closes both lanes
	CampaignPerMinute int32 // campaign-lane rate; 0 closes the campaign lane
}

// Pacer paces one number's sender: a total-rate bucket shared by both lanes (rate
// MessagesPerSecond, burst one second's worth), a campaign bucket (rate
// CampaignPerMinute/60 per second, burst max(1, floor(CampaignPerMinute/60))) and the
// number's Pairs (Meta's per-recipient pair rate, shared by both lanes). See the
// package documentation for why these bursts and how replies come first.
//
// A new Pacer starts with full buckets. A sender that takes over a number from another
// one calls Empty: the previous sender may have used Meta's allowance in the last
// second, and Meta's bucket is the one that counts.
//
// Safe for concurrent use; Reserve is atomic across all the buckets involved.
type Pacer struct {
	mu       sync.Mutex
	limits   Limits
	total    bucket
	campaign bucket
	reserve  float64 // total tokens a campaign reservation must leave
	pending  bool    // replies wait for tokens (SetConversationPending)
	pairs    *Pairs
	// burstFraction scales the total bucket's burst (0 means 1: a second's worth).
	burstFraction float64
}

// NewPacer returns a pacer for limits l, its buckets full as of now, with Meta's
// default pair rate (DefaultPairInterval, DefaultPairBurst).
func NewPacer(l Limits, now time.Time) *Pacer {
	return NewPacerWithPairs(l, NewPairs(DefaultPairInterval, DefaultPairBurst), now)
}

// NewPacerWithPairs is NewPacer with the given Pairs (another pair rate, or Pairs
// shared with something else that also messages the number's recipients).
func NewPacerWithPairs(l Limits, pairs *Pairs, now time.Time) *Pacer {
	l = clean(l)
	tr, tb := totalRate(l)
	cr, cb := campaignRate(l)
	p := &Pacer{
		limits:   l,
		total:    newBucket(tr, tb, now),
		campaign: newBucket(cr, cb, now),
		pairs:    pairs,
	}
	p.reserve = reserveFor(p.total.burst)
	return p
}

// Update applies new limits live: each bucket is refilled up to now at its old rate,
// then capped to its new burst, so what was already spent stays spent (no reset).
// The pair rate is untouched.
func (p *Pacer) Update(l Limits, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	l = clean(l)
	tr, tb := totalRate(l)
	cr, cb := campaignRate(l)
	p.total.setRate(tr, p.scaledBurst(tb), now)
	p.campaign.setRate(cr, cb, now)
	p.reserve = reserveFor(p.total.burst)
	p.limits = l
}

// LimitTotalBurst lowers the total bucket's burst to a fraction of a second's worth (at
// least one message). Meta's own bucket holds a full second; a sender that bursts only
// part of it leaves Meta's bucket the rest as a margin for network jitter, which can
// bunch requests on their way. The steady-state rate is unchanged.
func (p *Pacer) LimitTotalBurst(fraction float64, now time.Time) {
	p.mu.Lock()
	p.burstFraction = fraction
	l := p.limits
	p.mu.Unlock()
	p.Update(l, now)
}

func (p *Pacer) scaledBurst(burst float64) float64 {
	if p.burstFraction <= 0 || p.burstFraction >= 1 {
		return burst
	}
	return max(min(burst, 1), math.Floor(burst*p.burstFraction))
}

// Limits returns the limits in force.
func (p *Pacer) Limits() Limits {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.limits
}

// Reserve asks to send one message of lane to recipient at now. A conversation message
// needs a total-rate token and a pair token; a campaign message also needs a campaign
// token, and the total bucket must keep its conversation headroom afterwards (all of it
// while replies are pending, see SetConversationPending).
//
// Reserve takes every token atomically, or none. When it takes them it returns (true,
// 0) and the caller must send now. Otherwise wait is the soonest the same reservation
// could succeed if nobody else takes tokens meanwhile (Forever when the lane is
// closed); the wait may stem from recipient alone (its pair rate or a Backoff), so the
// caller should move on to other recipients rather than sleep.
func (p *Pacer) Reserve(lane Lane, recipient string, now time.Time) (ok bool, wait time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closedLocked(lane) {
		return false, Forever
	}
	campaign := lane != LaneConversation
	need := 1.0
	p.total.advance(now)
	if campaign {
		need += p.headroomLocked()
		p.campaign.advance(now)
		wait = p.campaign.waitAt(1, now)
	}
	wait = max(wait, p.total.waitAt(need, now))
	p.pairs.mu.Lock()
	defer p.pairs.mu.Unlock()
	wait = max(wait, p.pairs.waitLocked(recipient, now))
	if wait != 0 {
		return false, wait
	}
	p.total.take(1)
	if campaign {
		p.campaign.take(1)
	}
	p.pairs.takeLocked(recipient, now)
	return true, 0
}

// SetConversationPending tells the pacer whether replies are waiting for tokens. The
// sender sets it after a round of the conversation lane (true if replies are still
// held) and clears it when none are. While it is set, campaign reservations need a
// full total bucket: replies that consume tokens keep campaigns out entirely, while
// replies held up only by their recipients' pair rate let the bucket fill and
// campaigns proceed.
func (p *Pacer) SetConversationPending(pending bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pending = pending
}

// ConversationReserve returns the total-bucket tokens a campaign reservation must leave
// for replies when no reply is pending: ceil(ConversationReserveFraction×burst), at
// least 1, at most burst-1 (so 0 at 1 msg/s).
func (p *Pacer) ConversationReserve() float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reserve
}

// Blocked reports whether lane is closed by the limits (a rate of 0): the total rate
// closes both lanes, the campaign rate the campaign lane. It says nothing about
// tokens; now is taken so that every method reads alike.
func (p *Pacer) Blocked(lane Lane, now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closedLocked(lane)
}

// Pairs returns the number's per-recipient pacing (shared by both lanes).
func (p *Pacer) Pairs() *Pairs { return p.pairs }

// BackoffRecipient blocks recipient until the given time, after Meta answered 131056;
// see Pairs.Backoff.
func (p *Pacer) BackoffRecipient(recipient string, until time.Time) {
	p.pairs.Backoff(recipient, until)
}

// Tokens returns the total and campaign tokens available at now (for metrics and tests).
func (p *Pacer) Tokens(now time.Time) (total, campaign float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total.advance(now)
	p.campaign.advance(now)
	return p.total.tokens, p.campaign.tokens
}

func (p *Pacer) closedLocked(lane Lane) bool {
	if p.total.rate <= 0 {
		return true
	}
	return lane != LaneConversation && p.campaign.rate <= 0
}

// headroomLocked is how many total tokens a campaign reservation must leave.
func (p *Pacer) headroomLocked() float64 {
	if p.pending {
		return p.total.burst - 1
	}
	return p.reserve
}

func clean(l Limits) Limits {
	return Limits{MessagesPerSecond: max(l.MessagesPerSecond, 0), CampaignPerMinute: max(l.CampaignPerMinute, 0)}
}

// totalRate: MessagesPerSecond per second, burst one second's worth (Meta measures
// throughput per second).
func totalRate(l Limits) (rate, burst float64) {
	r := float64(l.MessagesPerSecond)
	return r, r
}

// campaignRate: CampaignPerMinute/60 per second, burst one second's worth rounded
// down, at least one message, so a campaign never bursts a minute's worth.
func campaignRate(l Limits) (rate, burst float64) {
	r := float64(l.CampaignPerMinute) / 60
	return r, max(1, math.Floor(r))
}

// reserveFor is the conversation headroom of a total bucket of the given burst.
func reserveFor(burst float64) float64 {
	if burst < 2 {
		return 0
	}
	return min(max(1, math.Ceil(ConversationReserveFraction*burst)), burst-1)
}

// Empty spends every token of the total and campaign buckets as of now: sending then
// ramps up at the rates instead of bursting. The pair rate is untouched.
func (p *Pacer) Empty(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, b := range []*bucket{&p.total, &p.campaign} {
		b.advance(now)
		b.take(b.tokens)
	}
}
