// Package ingest receives Meta's webhooks: GET /webhooks/whatsapp answers the
// verification handshake, POST /webhooks/whatsapp verifies X-Hub-Signature-256 over the
// raw body, decodes it, writes everything in one transaction, and answers 200 only after
// the commit (any failure is a 5xx, so that Meta retries for up to 7 days).
package ingest

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/switchboard-dev/switchboard/runtime/contract"
	"github.com/switchboard-dev/switchboard/runtime/inbox/conversation"
	"github.com/switchboard-dev/switchboard/runtime/inbox/httpapi"
	"github.com/switchboard-dev/switchboard/runtime/inbox/kube"
	"github.com/switchboard-dev/switchboard/runtime/store"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// Path is where Meta sends the webhooks of every Number the inbox serves.
const Path = contract.InboxWebhookPath

// MaxBody is Meta's limit on a webhook body: 3 MB (Meta, "Webhooks overview"). A larger
// body is answered 413.
const MaxBody = 3 << 20

// Config configures a Handler. Store, Snapshot and Log are required.
type Config struct {
	Store *store.Store
	// Snapshot returns what the inbox serves now; nil until the first one is loaded
	// (requests are answered 503 until then).
	Snapshot func() *kube.Snapshot
	// Rules returns the current inbound rules; nil: NoRules.
	Rules func() Rules
	// Refresh asks the manager to re-read Numbers from the Graph API (after quality,
	// account and capability updates); nil: nothing. It runs after the commit and before
	// the 200: when it fails the request is answered 503 and Meta's retry tries again
	// (the events are stored once).
	Refresh   func(ctx context.Context, numbers []kube.Number) error
	AutoReply conversation.AutoReplyPolicy
	// Committed, when set, is called after the commit of a request that stored new
	// customer messages, before the 200 (the inbox kicks routing with it; it must not
	// block). A process that dies in between loses nothing: routing's periodic plan
	// finds the unassigned conversations.
	Committed func()
	Metrics   *Metrics
	Log       *slog.Logger
	Now       func() time.Time // default time.Now
	// Timeout bounds one request's transaction; default 20 s.
	Timeout time.Duration
}

// Handler serves Path.
type Handler struct {
	cfg Config
}

// New returns a Handler.
func New(cfg Config) *Handler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 20 * time.Second
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	if cfg.AutoReply == (conversation.AutoReplyPolicy{}) {
		cfg.AutoReply = conversation.DefaultAutoReplyPolicy
	}
	return &Handler{cfg: cfg}
}

func (h *Handler) rules() Rules {
	if h.cfg.Rules != nil {
		if r := h.cfg.Rules(); r != nil {
			return r
		}
	}
	return NoRules{}
}

// Register adds GET and POST Path to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET "+Path, h.verify)
	mux.HandleFunc("POST "+Path, h.receive)
}

// verify answers Meta's hub.challenge handshake when hub.verify_token is the verify token
// of a served Number (compared in constant time); 403 otherwise.
func (h *Handler) verify(w http.ResponseWriter, r *http.Request) {
	snap := h.cfg.Snapshot()
	if snap == nil {
		http.Error(w, "starting", http.StatusServiceUnavailable)
		return
	}
	for _, n := range snap.Numbers() {
		if challenge, err := whatsapp.AnswerVerification(r.URL.Query(), n.VerifyToken); err == nil {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = io.WriteString(w, challenge)
			return
		}
	}
	h.cfg.Log.Info("webhook verification refused: no served Number has this verify token")
	http.Error(w, "verification refused", http.StatusForbidden)
}

// receive handles one webhook request.
func (h *Handler) receive(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	defer func() { h.cfg.Metrics.IngestSeconds.Observe(time.Since(start).Seconds()) }()
	snap := h.cfg.Snapshot()
	if snap == nil {
		http.Error(w, "starting", http.StatusServiceUnavailable)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		http.Error(w, "body over Meta's 3 MB webhook limit", http.StatusRequestEntityTooLarge)
		return
	case err != nil:
		http.Error(w, "reading the body failed", http.StatusBadRequest)
		return
	}
	secrets, reason := verifySignature(snap, body, r.Header.Get(whatsapp.SignatureHeader))
	if reason != "" {
		h.refuseSignature(w, reason)
		return
	}
	// Text PostgreSQL cannot store (a customer's NUL character, a lone surrogate, bytes
	// that are not UTF-8) is stored as U+FFFD: refusing it would make Meta retry the
	// webhook for days (docs/inbox-data.md#webhooks).
	h.ingest(r.Context(), w, snap, httpapi.CleanJSON(body), secrets)
}

func (h *Handler) refuseSignature(w http.ResponseWriter, reason string) {
	h.cfg.Metrics.SignatureFailures.WithLabelValues(reason).Inc()
	h.cfg.Log.Info("webhook refused: bad signature", "reason", reason)
	http.Error(w, "invalid "+whatsapp.SignatureHeader, http.StatusUnauthorized)
}

func (h *Handler) ingest(ctx context.Context, w http.ResponseWriter, snap *kube.Snapshot, body []byte, secrets map[string]bool) {
	n, err := whatsapp.DecodeNotification(body)
	if err != nil {
		h.cfg.Metrics.Webhooks.WithLabelValues("", ResultRefused).Inc()
		h.cfg.Log.Info("webhook refused: not a webhook body", "error", err)
		http.Error(w, "not a webhook body: "+err.Error(), http.StatusBadRequest)
		return
	}
	p := newPlan(n, snap, secrets)
	for _, num := range p.named {
		if !secrets[num.AppSecret] {
			h.refuseSignature(w, "number")
			return
		}
	}
	t, err := h.commit(ctx, snap.Namespace, p)
	if err == nil && h.cfg.Refresh != nil {
		err = h.cfg.Refresh(ctx, p.refresh())
	}
	if err != nil {
		h.cfg.Metrics.add(p, nil, ResultFailed)
		h.cfg.Log.Error("webhook not stored; answering 503 so that Meta retries", "error", err)
		http.Error(w, "not stored, retry later", http.StatusServiceUnavailable)
		return
	}
	h.cfg.Metrics.add(p, t, ResultStored)
	if h.cfg.Committed != nil && t.newInbound() > 0 {
		h.cfg.Committed()
	}
	h.logStored(p, t)
	w.WriteHeader(http.StatusOK)
}

func (h *Handler) logStored(p *plan, t *tally) {
	h.cfg.Log.Info("webhook stored", "messages", len(p.inbound), "newMessages", t.newInbound(),
		"statuses", len(p.statuses), "events", len(p.events))
	if len(p.unserved) > 0 {
		h.cfg.Log.Info("webhook changes for phone numbers this inbox does not serve were not stored", "byField", p.unserved)
	}
}

// commit writes the plan in one transaction, retried (at most 3 times) when PostgreSQL
// aborts it for a deadlock or a serialization failure with a concurrent request.
func (h *Handler) commit(ctx context.Context, namespace string, p *plan) (*tally, error) {
	ctx, cancel := context.WithTimeout(ctx, h.cfg.Timeout)
	defer cancel()
	var t *tally
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		t = newTally()
		err = h.cfg.Store.InTx(ctx, func(tx pgx.Tx) error {
			wr := &writer{h: h, tx: tx, ns: namespace, now: h.cfg.Now(), tally: t}
			return wr.apply(ctx, p)
		})
		if !retryable(err) {
			break
		}
	}
	return t, err
}

func retryable(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && (pg.Code == "40P01" || pg.Code == "40001")
}

// refresh lists the Numbers named by quality, account and capability updates.
func (p *plan) refresh() []kube.Number {
	seen := map[string]bool{}
	var out []kube.Number
	for _, e := range p.events {
		if !refreshFields[e.ev.Field] {
			continue
		}
		for _, n := range e.numbers {
			if !seen[n.PhoneNumberID] {
				seen[n.PhoneNumberID] = true
				out = append(out, n)
			}
		}
	}
	return out
}

// newInbound counts the new customer messages stored.
func (t *tally) newInbound() int {
	n := 0
	for k, c := range t.messages {
		if k[1] == "in" {
			n += c
		}
	}
	return n
}
