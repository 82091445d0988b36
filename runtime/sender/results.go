package sender

import (
	"context"
	"fmt"
	"time"

	"github.com/switchboard-dev/switchboard/runtime/store"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// record stores Meta's answers: sent messages in one batch, the others by error class.
func (s *sender) record(ctx context.Context, results []result) {
	var sent []store.Sent
	for _, r := range results {
		if r.newRecipient {
			s.budget.inFlight--
		}
		if r.err == nil {
			sent = append(sent, store.Sent{ID: r.msg.ID, WAMID: r.res.WAMID()})
			s.cfg.Metrics.Sent.WithLabelValues(string(r.msg.Lane)).Inc()
			continue
		}
		s.failed(ctx, r)
	}
	if len(sent) == 0 {
		return
	}
	ctx, cancel := recording(ctx)
	defer cancel()
	// If this write fails the messages stay "sending": the next holder of the fence
	// requeues them as possibly duplicated, the one case the outbox cannot rule out.
	if err := s.cfg.Outbox.MarkSentBatch(ctx, sent); err != nil {
		s.cfg.Log.Error("recording sent messages", "count", len(sent), "error", err)
	}
}

// failed handles one error by its class (never by HTTP status).
func (s *sender) failed(ctx context.Context, r result) {
	now := s.cfg.Now()
	code, msg := errorCode(r.err), r.err.Error()
	s.cfg.Metrics.Failed.WithLabelValues(fmt.Sprint(code)).Inc()
	switch whatsapp.ClassOf(r.err) {
	case whatsapp.RetryLater:
		wait := max(whatsapp.RetryAfterOf(r.err), time.Second)
		s.throttle(now.Add(wait))
		s.requeue(ctx, r.msg, now.Add(wait), code, msg)
	case whatsapp.RetryRecipientLater:
		until := now.Add(whatsapp.PairRateBackoff(r.msg.Attempts - 1))
		s.pacer.BackoffRecipient(r.msg.Recipient, until)
		s.requeue(ctx, r.msg, until, code, msg)
	case whatsapp.PauseNumber:
		s.pause(now.Add(max(whatsapp.RetryAfterOf(r.err), s.cfg.PauseFor)), fmt.Sprintf("Meta answered %d: %s", code, msg))
		s.requeue(ctx, r.msg, s.pausedUntil, code, msg)
	case whatsapp.Permanent:
		if e, _ := whatsapp.AsError(r.err); !e.TokenRefused() {
			s.fail(ctx, r.msg, code, msg)
			return
		}
		// Meta refused the token: the message is not at fault. Pause and keep it; the
		// manager sees the refusal too and restarts the sender with new credentials.
		s.pause(now.Add(credentialsPause), fmt.Sprintf("Meta refused the access token (code %d)", code))
		s.requeue(ctx, r.msg, s.pausedUntil, code, msg)
	case whatsapp.WindowClosed:
		s.fail(ctx, r.msg, code, "template required: the 24-hour customer-service window is closed ("+msg+")")
	default:
		s.fail(ctx, r.msg, code, msg)
	}
}

// credentialsPause is how long a number waits after Meta refused its token.
const credentialsPause = time.Minute

// pause stops both lanes and says so once per pause (an event and status fields on the
// Number, reported in the background).
func (s *sender) pause(until time.Time, reason string) {
	wasPaused := s.cfg.Now().Before(s.pausedUntil)
	s.throttle(until)
	if !wasPaused {
		go s.cfg.OnPause(reason, s.pausedUntil)
	}
}

// throttle stops both lanes until the given time.
func (s *sender) throttle(until time.Time) {
	if until.After(s.pausedUntil) {
		s.cfg.Metrics.ThrottledSeconds.Add(until.Sub(laterOf(s.pausedUntil, s.cfg.Now())).Seconds())
		s.pausedUntil = until
	}
}

func (s *sender) fail(ctx context.Context, m store.Message, code int, why string) {
	ctx, cancel := recording(ctx)
	defer cancel()
	if err := s.cfg.Outbox.Fail(ctx, m.ID, code, why); err != nil {
		s.cfg.Log.Error("recording a failed message", "id", m.ID, "error", err)
	}
}

func errorCode(err error) int {
	if e, ok := whatsapp.AsError(err); ok {
		return e.Code
	}
	return 0
}

func laterOf(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
