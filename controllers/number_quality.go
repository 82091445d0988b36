package controllers

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/limits"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// QualityOptions configure how the Number controller reads each number's fields from
// the Graph API (quality rating, throughput level, messaging limit, status).
type QualityOptions struct {
	// Interval between two reads of one number, plus up to 10% jitter. 0 disables reads.
	Interval time.Duration
	// HTTPClient for the Graph API; nil means the shared Cloud API transport.
	HTTPClient *http.Client
}

// Back-off of failed reads: doubles from Interval up to maxReadBackoff, and never sooner
// than Meta's own Retry-After.
const (
	maxReadBackoff = time.Hour
	readTimeout    = 15 * time.Second
)

// qualityPoller reads the phone-number fields of each Number on a jittered interval,
// at once after a spec or credentials change, and backs off by error class so that a
// broken Number never becomes a stream of calls to Meta.
type qualityPoller struct {
	opts     QualityOptions
	recorder recorder.EventRecorder
	now      func() time.Time

	mu    sync.Mutex
	state map[types.NamespacedName]*readState
}

// readState remembers, per Number, when it may be read again and what the last read saw.
type readState struct {
	next       time.Time // not before, unless the spec or the credentials changed
	waitUntil  time.Time // not before, whatever changed: Meta asked us to wait
	failures   int
	generation int64
	secretRV   string
	// rejected is Meta's refusal of the token, kept until a read succeeds.
	rejected *whatsapp.Error
}

func newQualityPoller(opts QualityOptions, rec recorder.EventRecorder) *qualityPoller {
	if opts.HTTPClient == nil {
		opts.HTTPClient = whatsapp.SharedHTTPClient()
	}
	return &qualityPoller{opts: opts, recorder: rec, now: time.Now, state: map[types.NamespacedName]*readState{}}
}

// forget drops what the poller knows of a deleted Number.
func (p *qualityPoller) forget(key types.NamespacedName) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.state, key)
}

// readResult is the outcome of one poll: when to look again, and whether Meta refused
// the credentials.
type readResult struct {
	after    time.Duration
	rejected *whatsapp.Error
	// err is the failure of a read made now (nil when the read succeeded or none was due).
	err error
	// made tells whether a read was made now (successful or not).
	made bool
}

// poll reads the Number's fields if due and records them in status.quality. A read is
// due when the interval has passed, the spec or the Secret changed, or refresh asks for
// it (the switchboard.dev/refresh-quality annotation) and no failed read is backing off;
// never while Meta's Retry-After runs.
func (p *qualityPoller) poll(ctx context.Context, num *sbv1.Number, secret *corev1.Secret, refresh bool) readResult {
	if p == nil || p.opts.Interval <= 0 {
		return readResult{}
	}
	now := p.now()
	st := p.stateOf(num)
	changed := st.generation != num.Generation || st.secretRV != secret.ResourceVersion ||
		(refresh && st.failures == 0)
	if now.Before(st.waitUntil) || (now.Before(st.next) && !changed) {
		return readResult{after: laterOf(st.next, st.waitUntil).Sub(now), rejected: st.rejected}
	}
	if st.secretRV != secret.ResourceVersion {
		st.rejected = nil // a new token: judge it afresh
	}
	st.generation, st.secretRV = num.Generation, secret.ResourceVersion
	pn, err := p.read(ctx, num, secret)
	if err != nil {
		return p.failed(st, now, err)
	}
	st.failures, st.waitUntil, st.rejected = 0, time.Time{}, nil
	st.next = now.Add(jitter(p.opts.Interval))
	p.record(num, pn, now)
	return readResult{after: st.next.Sub(now), made: true}
}

func (p *qualityPoller) stateOf(num *sbv1.Number) *readState {
	p.mu.Lock()
	defer p.mu.Unlock()
	key := types.NamespacedName{Namespace: num.Namespace, Name: num.Name}
	if p.state[key] == nil {
		p.state[key] = &readState{}
	}
	return p.state[key]
}

func (p *qualityPoller) read(ctx context.Context, num *sbv1.Number, secret *corev1.Secret) (whatsapp.PhoneNumber, error) {
	client, err := whatsapp.New(whatsapp.Options{
		BaseURL:     num.Spec.APIBaseURL,
		APIVersion:  num.Spec.APIVersion,
		AccessToken: string(secret.Data[sbv1.CredentialsAccessTokenKey]),
		HTTPClient:  p.opts.HTTPClient,
	})
	if err != nil {
		return whatsapp.PhoneNumber{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	return client.GetPhoneNumber(ctx, num.Spec.PhoneNumberID)
}

// failed schedules the next read after a failure: doubling from the interval up to
// maxReadBackoff. When Meta itself asked to wait (a rate limit with Retry-After), not
// even a spec change reads sooner. A refusal of the token is kept until a read succeeds
// or the Secret changes; other failures do not clear it.
func (p *qualityPoller) failed(st *readState, now time.Time, err error) readResult {
	st.failures++
	delay := backoff(p.opts.Interval, st.failures)
	werr, fromMeta := whatsapp.AsError(err)
	if fromMeta && werr.Code != 0 && werr.Class == whatsapp.RetryLater {
		wait := max(werr.RetryAfter, p.opts.Interval)
		delay = max(delay, wait)
		st.waitUntil = now.Add(wait)
	}
	st.next = now.Add(delay)
	if fromMeta && werr.TokenRefused() {
		st.rejected = werr
	}
	return readResult{after: delay, rejected: st.rejected, err: err, made: true}
}

// backoff doubles interval per failure, up to maxReadBackoff.
func backoff(interval time.Duration, failures int) time.Duration {
	delay := interval
	for i := 1; i < failures && delay < maxReadBackoff; i++ {
		delay *= 2
	}
	return min(delay, maxReadBackoff)
}

// record writes the fields into status.quality and announces a quality transition.
func (p *qualityPoller) record(num *sbv1.Number, pn whatsapp.PhoneNumber, now time.Time) {
	was := num.Status.Quality
	num.Status.Quality = &sbv1.QualityStatus{
		Rating:         pn.QualityRating,
		Throughput:     pn.Throughput.Level,
		MessagingLimit: pn.Limit(),
		Status:         pn.Status,
		CheckedAt:      &metav1.Time{Time: now},
	}
	if was == nil || (was.Rating == pn.QualityRating && was.Status == pn.Status) || p.recorder == nil {
		return
	}
	eventType := corev1.EventTypeNormal
	if qualityRank(pn.QualityRating) < qualityRank(was.Rating) || pn.Status != "CONNECTED" {
		eventType = corev1.EventTypeWarning
	}
	p.recorder.Eventf(num, nil, eventType, "QualityChanged", "ReadQuality",
		"quality %s → %s, status %s → %s", orUnknown(was.Rating), orUnknown(pn.QualityRating), orUnknown(was.Status), orUnknown(pn.Status))
}

func qualityRank(rating string) int {
	switch rating {
	case "GREEN":
		return 3
	case "YELLOW":
		return 2
	case "RED":
		return 1
	}
	return 0
}

func orUnknown(s string) string {
	if s == "" {
		return "UNKNOWN"
	}
	return s
}

func jitter(d time.Duration) time.Duration {
	return d + time.Duration(rand.Int64N(int64(d)/10+1))
}

func laterOf(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// applyLimits computes the effective sending limits from the spec and what Meta reports,
// into status.sending and the Throttled condition.
func applyLimits(num *sbv1.Number, now time.Time) limits.Limits {
	lim := limits.ForNumber(num, now)
	sending := lim.SendingStatus()
	num.Status.Sending = &sending
	status := metav1.ConditionFalse
	if lim.Throttled() {
		status = metav1.ConditionTrue
	}
	setCondition(&num.Status.Conditions, num.Generation, sbv1.ThrottledCondition, status, lim.Reason, describeLimits(lim))
	return lim
}

func describeLimits(l limits.Limits) string {
	budget := fmt.Sprint(l.UniqueRecipientsPer24h)
	if l.UniqueRecipientsPer24h < 0 {
		budget = "unlimited"
	}
	return fmt.Sprintf("%d msg/s, campaigns %d/min, %s unique recipients per 24h (%s)",
		l.MessagesPerSecond, l.CampaignPerMinute, budget, l.Reason)
}
