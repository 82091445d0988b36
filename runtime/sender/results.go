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
			s.budget.landed(r.msg)
		}
		if r.err == nil {
			sent = append(sent, store.Sent{ID: r.msg.ID, WAMID: r.res.WAMID(), ResolvedWAID: r.res.ResolvedWAID()})
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

// failed handles one error by its class (never by HTTP status): a retry class schedules
// the message again on its row (and, for number-wide errors, stops both lanes) until the
// class's bound is reached; anything else fails the message. A call that may have reached
// Meta marks the row possibly_duplicate.
func (s *sender) failed(ctx context.Context, r result) {
	s.cfg.Metrics.Failed.WithLabelValues(fmt.Sprint(errorCode(r.err))).Inc()
	e, _ := whatsapp.AsError(r.err)
	out := s.outcome(r.err, e)
	if class := retryClassOf(e); class != "" {
		s.retryOrGiveUp(ctx, r.msg, e, class, out)
		return
	}
	s.fail(ctx, r.msg, out)
}

// outcome is what the row records about a failed call (e is err as a *whatsapp.Error, or
// nil); a call that may have reached Meta is counted.
func (s *sender) outcome(err error, e *whatsapp.Error) store.Outcome {
	out := store.Outcome{Code: errorCode(err), Message: err.Error(), MaybeSent: e != nil && e.Ambiguous}
	if out.MaybeSent {
		s.cfg.Metrics.Ambiguous.Inc()
	}
	if whatsapp.ClassOf(err) == whatsapp.WindowClosed {
		out.Message = "template required: the 24-hour customer-service window is closed (" + out.Message + ")"
	}
	return out
}

// retryOrGiveUp requeues a message that failed with a retry class, or fails it with the
// last error once the class's bound is reached.
func (s *sender) retryOrGiveUp(ctx context.Context, m store.Message, e *whatsapp.Error, class RetryClass, out store.Outcome) {
	now := s.cfg.Now()
	var again bool
	out.Retry, again = s.cfg.Retry.count(m, class, now)
	at := s.retryAt(class, e, m.Recipient, out.Retry.Count, now)
	if again {
		s.retry(ctx, m, at, out)
		return
	}
	out.Message = fmt.Sprintf("gave up after %d %s failures in %s (the retry limit): %s",
		out.Retry.Count, class, now.Sub(out.Retry.Since).Round(time.Millisecond), out.Message)
	s.fail(ctx, m, out)
}

// retryAt is when a message that failed with e, the n-th failure of class in a row, may
// be sent again. Number-wide classes also stop both lanes until then (and a pause is
// reported); a pair-rate failure holds back only that recipient.
func (s *sender) retryAt(class RetryClass, e *whatsapp.Error, recipient string, n int, now time.Time) time.Time {
	switch class {
	case RetryPairRate:
		until := now.Add(whatsapp.PairRateBackoff(n - 1))
		s.pacer.BackoffRecipient(recipient, until)
		return until
	case RetryThroughput:
		until := now.Add(max(e.RetryAfter, time.Second))
		s.throttle(until)
		return until
	case RetryPaused:
		s.pauseFor(e, now)
		return s.pausedUntil
	}
	return now.Add(transientBackoff(e.RetryAfter, n))
}

// pauseFor pauses the number after Meta restricted it or refused its token.
func (s *sender) pauseFor(e *whatsapp.Error, now time.Time) {
	if e.TokenRefused() {
		// The message is not at fault; the manager sees the refusal too and restarts the
		// sender with new credentials.
		s.pause(now.Add(credentialsPause), fmt.Sprintf("Meta refused the access token (code %d)", e.Code))
		return
	}
	s.pause(now.Add(max(e.RetryAfter, s.cfg.PauseFor)), fmt.Sprintf("Meta answered %d: %s", e.Code, e.Error()))
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

func (s *sender) fail(ctx context.Context, m store.Message, out store.Outcome) {
	ctx, cancel := recording(ctx)
	defer cancel()
	if err := s.cfg.Outbox.Fail(ctx, m.ID, out); err != nil {
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
