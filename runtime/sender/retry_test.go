package sender_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"

	"github.com/switchboard-dev/switchboard/runtime/sender"
	"github.com/switchboard-dev/switchboard/runtime/simulator"
	"github.com/switchboard-dev/switchboard/runtime/store"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// failing is the recipient for whom Meta always answers HTTP 500, code 131000.
const failing = "34699999999"

// TestFailingRecipientHoldsUpNoOne: a recipient whose every message fails with 131000
// (HTTP 500) is retried on its own row, never by stopping the lanes. In one run, 400
// messages to others take as long with the failing recipient beside them as without
// (within generous noise), and the failing message ends failed with Meta's last error
// after the transient class's bound of attempts.
func TestFailingRecipientHoldsUpNoOne(t *testing.T) {
	r := newRig(t, simulator.Number{Throughput: "STANDARD", Tier: "TIER_UNLIMITED"})
	if err := r.sim.AddFault(simulator.Fault{Recipient: failing, Code: 131000, HTTPStatus: 500, Always: true}); err != nil {
		t.Fatal(err)
	}
	stop := r.run(sender.Config{
		Initial: sender.Limits{MessagesPerSecond: 80, CampaignPerMinute: 4800, UniqueRecipientsPer24h: -1},
		Retry:   sender.RetryPolicy{sender.RetryTransient: {MaxAttempts: 3, MaxAge: time.Hour}},
	})
	defer func() { _ = stop() }()

	time.Sleep(time.Second) // the pacer fills up, as it will before the second round
	without := r.meanLatency(r.enqueue(400, store.LaneConversation, recipients(400)))
	time.Sleep(time.Second)
	bad := r.enqueue(3, store.LaneConversation, func(int) string { return failing })
	with := r.meanLatency(r.enqueue(400, store.LaneConversation, recipients(400)))
	t.Logf("mean latency of 400 messages: %s without the failing recipient, %s with it", without, with)
	if ratio := with.Seconds() / without.Seconds(); ratio > 2 {
		t.Errorf("the others took %.2f times as long beside the failing recipient; want about the same", ratio)
	}

	for _, id := range bad {
		m := r.waitFinal(id, time.Minute)
		if m.State != store.StateFailed || m.ErrorCode != 131000 || m.Retry.Count != 3 ||
			!strings.Contains(m.ErrorMessage, "Something went wrong") || !strings.Contains(m.ErrorMessage, "gave up after 3 transient failures") {
			t.Errorf("failing message %d: %s, code %d, %d failures: %q; want failed with Meta's last error after 3",
				id, m.State, m.ErrorCode, m.Retry.Count, m.ErrorMessage)
		}
		if m.PossiblyDuplicate {
			t.Errorf("failing message %d marked possibly duplicate; Meta's JSON error says it refused it", id)
		}
	}
	if got := r.sim.Counters().Rejected[131000]; got != 9 {
		t.Errorf("the simulator refused %d calls; want 3 messages × 3 attempts", got)
	}
}

// meanLatency waits for the messages to be sent and returns their mean time from insert
// to Meta's acceptance (both PostgreSQL times).
func (r *rig) meanLatency(ids []int64) time.Duration {
	r.t.Helper()
	var sum time.Duration
	for _, id := range ids {
		m := r.waitFinal(id, time.Minute)
		if m.State != store.StateSent {
			r.t.Fatalf("message %d to %s is %s: %s", id, m.Recipient, m.State, m.ErrorMessage)
		}
		sum += m.SentAt.Sub(m.CreatedAt)
	}
	return sum / time.Duration(len(ids))
}

// waitFinal waits until the message is sent or failed, and returns it.
func (r *rig) waitFinal(id int64, limit time.Duration) store.Message {
	r.t.Helper()
	return r.waitMessage(id, limit, func(m store.Message) bool {
		return m.State == store.StateSent || m.State == store.StateFailed
	})
}

// waitMessage waits until the message satisfies done, and returns it.
func (r *rig) waitMessage(id int64, limit time.Duration, done func(store.Message) bool) store.Message {
	r.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		m, err := r.st.Get(r.t.Context(), id)
		if err != nil {
			r.t.Fatal(err)
		}
		if done(m) {
			return m
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("after %s, message %d is still %s (%d attempts, %q)", limit, id, m.State, m.Attempts, m.ErrorMessage)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestAmbiguousSendIsMarked: when Meta may have received a message although the sender
// saw no acceptance (a proxy's HTML 502 after Meta accepted it, a connection closed after
// the body was written), the message is sent again marked possibly_duplicate, and
// switchboard_sender_ambiguous_total counts it. Meta's JSON error is no such case.
func TestAmbiguousSendIsMarked(t *testing.T) {
	for _, tc := range []struct {
		mode      string
		ambiguous bool
	}{
		{simulator.FaultAcceptThenHTML, true},
		{simulator.FaultAcceptThenClose, true},
		{simulator.FaultError, false},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			r := newRig(t, simulator.Number{Tier: "TIER_UNLIMITED"})
			if err := r.sim.AddFault(simulator.Fault{Recipient: failing, Mode: tc.mode}); err != nil {
				t.Fatal(err)
			}
			metrics := sender.NewMetrics(nil)
			stop := r.run(sender.Config{Metrics: metrics,
				Initial: sender.Limits{MessagesPerSecond: 80, CampaignPerMinute: 4800, UniqueRecipientsPer24h: -1}})
			defer func() { _ = stop() }()
			id := r.enqueue(1, store.LaneCampaign, func(int) string { return failing })[0]
			m := r.waitFinal(id, 30*time.Second)
			if m.State != store.StateSent || m.PossiblyDuplicate != tc.ambiguous || m.Attempts != 2 {
				t.Errorf("message: %s after %d attempts, possibly_duplicate %t; want sent after 2, %t",
					m.State, m.Attempts, m.PossiblyDuplicate, tc.ambiguous)
			}
			want := 0.0
			if tc.ambiguous {
				want = 1
			}
			if got := testutil.ToFloat64(metrics.Ambiguous); got != want {
				t.Errorf("switchboard_sender_ambiguous_total = %v, want %v", got, want)
			}
		})
	}
}

// TestRefusedConnectionIsNotAmbiguous: a call that never reached Meta (nothing listens)
// is retried without the mark, as a transient failure of the message alone.
func TestRefusedConnectionIsNotAmbiguous(t *testing.T) {
	r := newRig(t, simulator.Number{})
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	api, err := whatsapp.New(whatsapp.Options{BaseURL: closed.URL, AccessToken: token})
	if err != nil {
		t.Fatal(err)
	}
	metrics := sender.NewMetrics(nil)
	stop := r.run(sender.Config{API: api, Metrics: metrics,
		Initial: sender.Limits{MessagesPerSecond: 80, CampaignPerMinute: 4800, UniqueRecipientsPer24h: -1}})
	defer func() { _ = stop() }()
	id := r.enqueue(1, store.LaneCampaign, recipients(1))[0]
	m := r.waitMessage(id, 30*time.Second, func(m store.Message) bool { return m.Retry.Count > 0 })
	if m.State != store.StateQueued || m.PossiblyDuplicate || m.Retry.Class != string(sender.RetryTransient) ||
		!strings.Contains(m.ErrorMessage, "refused") {
		t.Errorf("message: %s, possibly_duplicate %t, retry %+v, %q; want queued, unmarked, transient, refused",
			m.State, m.PossiblyDuplicate, m.Retry, m.ErrorMessage)
	}
	if got := testutil.ToFloat64(metrics.Ambiguous); got != 0 {
		t.Errorf("switchboard_sender_ambiguous_total = %v, want 0", got)
	}
}

// resolver answers a different wa_id for some recipients, as Meta does for Brazil's
// ninth digit and Mexico's 521.
type resolver struct {
	next http.Handler
	waID map[string]string // to → wa_id
}

func (v resolver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := httptest.NewRecorder()
	v.next.ServeHTTP(rec, r)
	body := rec.Body.String()
	for to, waID := range v.waID {
		body = strings.ReplaceAll(body, `"wa_id":"`+to+`"`, `"wa_id":"`+waID+`"`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(rec.Code)
	_, _ = w.Write([]byte(body))
}

// TestResolvedWAIDIsRecorded: the wa_id in Meta's answer is kept on the row beside the
// recipient it was sent to.
func TestResolvedWAIDIsRecorded(t *testing.T) {
	r := newRig(t, simulator.Number{Tier: "TIER_UNLIMITED"})
	const to, resolved = "525512345678", "5215512345678"
	r.tap.next = resolver{next: r.sim, waID: map[string]string{to: resolved}}
	stop := r.start(sender.Limits{MessagesPerSecond: 80, CampaignPerMinute: 4800, UniqueRecipientsPer24h: -1}, nil)
	defer func() { _ = stop() }()
	ids := r.enqueue(2, store.LaneCampaign, func(i int) string { return []string{to, "34600000001"}[i] })
	if m := r.waitFinal(ids[0], 30*time.Second); m.ResolvedWAID != resolved || m.Recipient != to {
		t.Errorf("message to %s: resolved wa_id %q, want %q", m.Recipient, m.ResolvedWAID, resolved)
	}
	if m := r.waitFinal(ids[1], 30*time.Second); m.ResolvedWAID != "34600000001" {
		t.Errorf("message to %s: resolved wa_id %q, want the same number", m.Recipient, m.ResolvedWAID)
	}
}

// TestRetryFlags: each class's bound is a flag of `switchboard sender`, ATTEMPTS/AGE; a
// bad value is refused naming the flag, before anything starts.
func TestRetryFlags(t *testing.T) {
	for _, bad := range []string{"x", "0/1h", "3", "3/0s", "3/-1m", "-1/1h", "3/1 hour"} {
		err := sender.Main(t.Context(), []string{"--number", "acme/sales-es", "--retry-transient", bad}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "retry-transient") || !strings.Contains(err.Error(), "ATTEMPTS/AGE") {
			t.Errorf("--retry-transient %q: %v; want an error naming the flag and its form", bad, err)
		}
	}
	b, err := sender.ParseRetryBound("5/90m")
	if err != nil || b != (sender.RetryBound{MaxAttempts: 5, MaxAge: 90 * time.Minute}) {
		t.Errorf("ParseRetryBound(5/90m) = %+v, %v", b, err)
	}
	for class, b := range sender.DefaultRetryPolicy() {
		if b.MaxAttempts < 1 || b.MaxAge <= 0 {
			t.Errorf("default bound of %s: %+v", class, b)
		}
	}
}

// TestRetryPolicyWithSpec: a Number's spec.sending.retry overrides the classes it names
// and leaves the others at the sender's flags.
func TestRetryPolicyWithSpec(t *testing.T) {
	flags := sender.DefaultRetryPolicy()
	flags[sender.RetryPaused] = sender.RetryBound{MaxAttempts: 7, MaxAge: time.Hour}
	spec := &sbv1.SendingSpec{Retry: &sbv1.RetrySpec{
		Transient: &sbv1.RetryBound{MaxAttempts: 3, MaxAge: metav1.Duration{Duration: 5 * time.Minute}}}}
	got := flags.WithSpec(spec)
	if got[sender.RetryTransient] != (sender.RetryBound{MaxAttempts: 3, MaxAge: 5 * time.Minute}) ||
		got[sender.RetryPaused] != flags[sender.RetryPaused] || got[sender.RetryPairRate] != flags[sender.RetryPairRate] {
		t.Errorf("policy with the spec: %v", got)
	}
	if flags[sender.RetryTransient] == got[sender.RetryTransient] {
		t.Error("WithSpec changed the flags' policy")
	}
	if p := flags.WithSpec(nil); p[sender.RetryPaused] != flags[sender.RetryPaused] {
		t.Errorf("without spec.sending: %v", p)
	}
}

// TestRetryClassOfEachError: each kind of error Meta answers lands in its retry class on
// the row (and the message is then sent), or fails at once when retrying cannot help; a
// refused token pauses the number instead of failing the message.
func TestRetryClassOfEachError(t *testing.T) {
	for _, tc := range []struct {
		code, status int
		class        sender.RetryClass
		state        store.State
	}{
		{131000, 500, sender.RetryTransient, store.StateSent},
		{131056, 400, sender.RetryPairRate, store.StateSent},
		{130429, 400, sender.RetryThroughput, store.StateSent},
		{190, 401, sender.RetryPaused, store.StateQueued},
		{100, 400, "", store.StateFailed},
	} {
		t.Run(strconv.Itoa(tc.code), func(t *testing.T) {
			r := newRig(t, simulator.Number{Tier: "TIER_UNLIMITED"})
			if err := r.sim.AddFault(simulator.Fault{Recipient: failing, Code: tc.code, HTTPStatus: tc.status}); err != nil {
				t.Fatal(err)
			}
			pauses := make(chan string, 10)
			stop := r.run(sender.Config{OnPause: func(reason string, _ time.Time) { pauses <- reason },
				Initial: sender.Limits{MessagesPerSecond: 80, CampaignPerMinute: 4800, UniqueRecipientsPer24h: -1}})
			defer func() { _ = stop() }()
			id := r.enqueue(1, store.LaneCampaign, func(int) string { return failing })[0]
			m := r.waitMessage(id, 30*time.Second, func(m store.Message) bool { return m.State == tc.state && m.Attempts > 0 })
			if m.Retry.Class != string(tc.class) || m.ErrorCode != tc.code {
				t.Errorf("message: %s, retry %+v, error %d %q; want class %q", m.State, m.Retry, m.ErrorCode, m.ErrorMessage, tc.class)
			}
			if tc.class != sender.RetryPaused {
				return
			}
			select {
			case reason := <-pauses:
				if !strings.Contains(reason, "access token") {
					t.Errorf("pause reason %q", reason)
				}
			case <-time.After(10 * time.Second):
				t.Error("a refused token reported no pause")
			}
		})
	}
}
