// Package sender drains one number's outbox under its effective limits: conversation
// replies first, campaigns from what is left, each message paced by the number's
// throughput, the recipient's pair rate and, for campaigns, the campaign rate and the
// unique-recipients budget. Every claimed message is first checked against the
// number's Outbound KeywordRules (Guard, runtime/outbound): a match fails it, unsent. It
// runs only while it holds the number's fence (the PostgreSQL advisory lock of
// store.NumberLock), so its in-process limiter is exact.
package sender

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/switchboard-dev/switchboard/runtime/pace"
	"github.com/switchboard-dev/switchboard/runtime/store"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// Limits are the number's effective limits (the Number's status.sending).
type Limits struct {
	MessagesPerSecond      int32
	CampaignPerMinute      int32
	UniqueRecipientsPer24h int32 // -1: unlimited
}

// Outbox is the number's outbox, reached through its fence.
type Outbox interface {
	Claim(ctx context.Context, lane store.Lane, limit int) ([]store.Message, error)
	MarkSentBatch(ctx context.Context, sent []store.Sent) error
	Retry(ctx context.Context, id int64, at time.Time, o store.Outcome) error
	Fail(ctx context.Context, id int64, o store.Outcome) error
	FailAudited(ctx context.Context, id int64, o store.Outcome, a store.Audit) error
	RecoverInFlight(ctx context.Context) (int, error)
	CampaignRecipients(ctx context.Context, since time.Time) (int, error)
	PruneCampaignRecipients(ctx context.Context, before time.Time) (int, error)
	RecentCampaignRecipients(ctx context.Context, recipients []string, since time.Time) (map[string]bool, error)
	QueueDepth(ctx context.Context) (map[store.Lane]int, error)
	Lost() <-chan struct{}
}

// CloudAPI sends messages (the whatsapp client): a stored payload goes to Meta as it is,
// with messaging_product and to (see whatsapp.Client.SendPayload).
type CloudAPI interface {
	SendPayload(ctx context.Context, phoneNumberID, to string, payload json.RawMessage) (whatsapp.SendResult, error)
}

// Config is one sender's wiring.
type Config struct {
	PhoneNumberID string
	API           CloudAPI
	Outbox        Outbox
	// Wake signals new work (LISTEN/NOTIFY); Poll is the fallback interval.
	Wake <-chan struct{}
	Poll time.Duration
	// Limits delivers live changes of the effective limits; Initial applies at start.
	Limits  <-chan Limits
	Initial Limits
	// Workers bounds the concurrent calls to Meta.
	Workers int
	// PauseFor is how long the number pauses after Meta says to stop (131048 and kin)
	// when Meta gives no delay.
	PauseFor time.Duration
	// OnPause reports a pause of the number (an event and a status field on the Number).
	OnPause func(reason string, until time.Time)
	// Retry bounds the retries of each class; classes left out take DefaultRetryPolicy.
	Retry RetryPolicy
	// Guard checks every claimed message against the Number's Outbound KeywordRules
	// before it is sent; nil checks nothing (`switchboard sender` always sets it).
	Guard   Guard
	Metrics *Metrics
	Log     *slog.Logger
	Now     func() time.Time
}

func (c *Config) defaults() {
	if c.Poll <= 0 {
		c.Poll = time.Second
	}
	if c.Workers <= 0 {
		c.Workers = 64
	}
	if c.PauseFor <= 0 {
		c.PauseFor = 15 * time.Minute
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.OnPause == nil {
		c.OnPause = func(string, time.Time) {}
	}
	if c.Metrics == nil {
		c.Metrics = NewMetrics(nil)
	}
	c.Retry = c.Retry.withDefaults()
}

// ErrFenceLost: the number's advisory lock is gone; another sender may be active.
var ErrFenceLost = errors.New("sender: the number's fence (advisory lock) was lost")

// callTimeout bounds one call to Meta; in-flight calls finish after a shutdown request.
const callTimeout = 30 * time.Second

// result is Meta's answer to one message.
type result struct {
	msg store.Message
	res whatsapp.SendResult
	err error
	// newRecipient: a campaign to a recipient outside the budget's window.
	newRecipient bool
}

type sender struct {
	cfg     Config
	pacer   *pace.Pacer
	limits  Limits
	results chan result
	// backlog holds results taken off the channel while waiting for a worker slot.
	backlog []result
	slots   chan struct{}
	flight  sync.WaitGroup
	// held are claimed messages waiting a moment for tokens, by lane.
	held map[store.Lane][]store.Message
	// pausedUntil stops both lanes (Meta said to stop, or throttled the number).
	pausedUntil time.Time
	// budget is the campaign lane's unique-recipients count, refreshed per dispatch.
	budget budgetState
}

// Run sends until ctx ends, then stops claiming, lets in-flight calls finish and
// records their results. It returns ErrFenceLost if the fence breaks.
func Run(ctx context.Context, cfg Config) error {
	cfg.defaults()
	// The pacer starts empty: a previous sender of this number may have used Meta's
	// allowance in the last second. Bursts use half of Meta's second, leaving the rest
	// for network jitter.
	pacer := pace.NewPacer(paceLimits(cfg.Initial), cfg.Now())
	pacer.LimitTotalBurst(burstFraction, cfg.Now())
	pacer.Empty(cfg.Now())
	s := &sender{
		cfg:     cfg,
		limits:  cfg.Initial,
		pacer:   pacer,
		results: make(chan result, cfg.Workers),
		slots:   make(chan struct{}, cfg.Workers),
		held:    map[store.Lane][]store.Message{},
	}
	cfg.Metrics.setLimits(cfg.Initial)
	if n, err := cfg.Outbox.RecoverInFlight(ctx); err != nil {
		return fmt.Errorf("recovering messages left in flight: %w", err)
	} else if n > 0 {
		cfg.Log.Info("requeued messages a previous sender left in flight, marked possibly duplicated", "count", n)
		cfg.Metrics.PossiblyDuplicated.Add(float64(n))
	}
	err := s.loop(ctx)
	// Finish the calls in flight, collecting their results as they come.
	go func() { s.flight.Wait(); close(s.results) }()
	final := s.backlog
	for r := range s.results {
		final = append(final, r)
	}
	s.record(context.WithoutCancel(ctx), final)
	s.releaseHeld(context.WithoutCancel(ctx))
	return err
}

func paceLimits(l Limits) pace.Limits {
	return pace.Limits{MessagesPerSecond: l.MessagesPerSecond, CampaignPerMinute: l.CampaignPerMinute}
}

// loop dispatches work and records results until ctx ends or the fence is lost.
func (s *sender) loop(ctx context.Context) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	gauges := time.NewTicker(queueDepthEvery)
	defer gauges.Stop()
	prune := time.NewTicker(pruneEvery)
	defer prune.Stop()
	s.measureQueue(ctx)
	s.pruneBudget(ctx)
	for {
		s.record(ctx, s.drainResults())
		if ctx.Err() != nil {
			return nil
		}
		next, err := s.dispatch(ctx)
		if err != nil {
			if ctx.Err() != nil {
				// Shutdown raced the claim: the claim failed because ctx ended.
				return nil
			}
			return err
		}
		timer.Reset(min(next, s.cfg.Poll))
		select {
		case <-ctx.Done():
			return nil
		case <-s.cfg.Outbox.Lost():
			return ErrFenceLost
		case l := <-s.cfg.Limits:
			s.setLimits(l)
		case r := <-s.results:
			s.record(ctx, append(s.drainResults(), r))
		case <-s.cfg.Wake:
		case <-timer.C:
		case <-gauges.C:
			s.measureQueue(ctx)
		case <-prune.C:
			s.pruneBudget(ctx)
		}
	}
}

// queueDepthEvery is how often the queue-depth gauges are refreshed.
const queueDepthEvery = 5 * time.Second

func (s *sender) measureQueue(ctx context.Context) {
	depth, err := s.cfg.Outbox.QueueDepth(ctx)
	if err != nil {
		return
	}
	for _, lane := range []store.Lane{store.LaneConversation, store.LaneCampaign} {
		s.cfg.Metrics.QueueDepth.WithLabelValues(string(lane)).Set(float64(depth[lane]))
	}
}

func (s *sender) setLimits(l Limits) {
	if l == s.limits {
		return
	}
	s.limits = l
	s.pacer.Update(paceLimits(l), s.cfg.Now())
	s.cfg.Metrics.setLimits(l)
	s.cfg.Log.Info("limits changed", "messagesPerSecond", l.MessagesPerSecond, "campaignPerMinute", l.CampaignPerMinute,
		"uniqueRecipientsPer24h", l.UniqueRecipientsPer24h)
}

// drainResults takes every result available now, the backlog first.
func (s *sender) drainResults() []result {
	out := s.backlog
	s.backlog = nil
	for {
		select {
		case r, ok := <-s.results:
			if !ok {
				return out
			}
			out = append(out, r)
		default:
			return out
		}
	}
}

// dispatch sends what the limits allow now: the conversation lane first, the campaign
// lane only when no reply waits. It returns how soon to look again.
func (s *sender) dispatch(ctx context.Context) (time.Duration, error) {
	now := s.cfg.Now()
	if now.Before(s.pausedUntil) {
		return s.pausedUntil.Sub(now), nil
	}
	next, pending, err := s.dispatchLane(ctx, store.LaneConversation, now)
	if err != nil || pending {
		return next, err
	}
	s.pacer.SetConversationPending(false)
	campaignNext, _, err := s.dispatchLane(ctx, store.LaneCampaign, now)
	return min(next, campaignNext), err
}

// dispatchLane sends the lane's held and newly claimed messages while tokens last. It
// reports whether the lane still has work waiting for tokens.
func (s *sender) dispatchLane(ctx context.Context, lane store.Lane, now time.Time) (time.Duration, bool, error) {
	if s.pacer.Blocked(pace.Lane(lane), now) {
		return s.cfg.Poll, false, nil
	}
	batch := s.held[lane]
	s.held[lane] = nil
	if len(batch) == 0 {
		claimed, err := s.cfg.Outbox.Claim(ctx, lane, s.claimSize(lane))
		if err != nil {
			return 0, false, s.fenceErr(err)
		}
		batch = s.screen(ctx, claimed)
	}
	if lane == store.LaneConversation {
		s.pacer.SetConversationPending(len(batch) > 0)
	}
	if err := s.loadKnownRecipients(ctx, batch, now); err != nil {
		s.held[lane] = append(s.held[lane], batch...)
		return 0, false, err
	}
	wait := s.cfg.Poll
	for i, m := range batch {
		if ok, err := s.withinBudget(ctx, m, now); err != nil || !ok {
			if err != nil {
				s.held[lane] = append(s.held[lane], batch[i:]...)
				return 0, false, err
			}
			continue
		}
		ok, w := s.pacer.Reserve(pace.Lane(lane), m.Recipient, now)
		switch {
		case ok:
			s.send(ctx, m, s.budget.claim(m))
		case w <= heldWait:
			s.held[lane] = append(s.held[lane], m)
			wait = min(wait, w)
		default:
			s.requeue(ctx, m, now.Add(w), m.ErrorCode, m.ErrorMessage)
		}
	}
	return wait, len(s.held[lane]) > 0, nil
}

// burstFraction is the share of Meta's one-second bucket the sender bursts into.
const burstFraction = 0.5

// heldWait is how long a claimed message may wait in memory for tokens; longer waits
// (a busy recipient) go back to the outbox so they never hold up the others.
const heldWait = 250 * time.Millisecond

// claimSize is a quarter of a second of the lane's rate (at least one message), so
// that claimed messages leave at once and a crash leaves few in flight.
func (s *sender) claimSize(lane store.Lane) int {
	perSecond := float64(s.limits.MessagesPerSecond)
	if lane == store.LaneCampaign {
		perSecond = min(perSecond, float64(s.limits.CampaignPerMinute)/60)
	}
	return max(1, int(perSecond/4))
}

func (s *sender) fenceErr(err error) error {
	if errors.Is(err, store.ErrLockLost) {
		return ErrFenceLost
	}
	return err
}

// send calls Meta for one message in the background, bounded by Workers. While it
// waits for a free worker it takes results off the channel (the loop records them), so
// a round larger than the worker pool never deadlocks.
func (s *sender) send(ctx context.Context, m store.Message, newRecipient bool) {
	for acquired := false; !acquired; {
		select {
		case s.slots <- struct{}{}:
			acquired = true
		case r := <-s.results:
			s.backlog = append(s.backlog, r)
		}
	}
	s.flight.Add(1)
	go func() {
		defer s.flight.Done()
		defer func() { <-s.slots }()
		callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
		defer cancel()
		res, err := s.cfg.API.SendPayload(callCtx, s.cfg.PhoneNumberID, m.Recipient, m.Payload)
		s.results <- result{msg: m, res: res, err: err, newRecipient: newRecipient}
	}()
}

// releaseHeld gives messages still waiting in memory back to the outbox at shutdown.
func (s *sender) releaseHeld(ctx context.Context) {
	for lane, msgs := range s.held {
		for _, m := range msgs {
			s.requeue(ctx, m, s.cfg.Now(), m.ErrorCode, m.ErrorMessage)
		}
		delete(s.held, lane)
	}
}

// requeue puts a message back without having called Meta for it (pacing, the budget, a
// shutdown): its retry state is kept.
func (s *sender) requeue(ctx context.Context, m store.Message, at time.Time, code int, why string) {
	s.retry(ctx, m, at, store.Outcome{Code: code, Message: why})
}

// retry puts a message back for at, recording the outcome.
func (s *sender) retry(ctx context.Context, m store.Message, at time.Time, out store.Outcome) {
	ctx, cancel := recording(ctx)
	defer cancel()
	if err := s.cfg.Outbox.Retry(ctx, m.ID, at, out); err != nil {
		s.cfg.Log.Error("requeueing a message", "id", m.ID, "error", err)
	}
}

// recordTimeout bounds a write that records a message's outcome.
const recordTimeout = 10 * time.Second

// recording is the context of a write that records a message's outcome: it outlives a
// shutdown request (an outcome left unrecorded would leave the row "sending"), but not
// forever.
func recording(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
}
