package simulator

import (
	"bytes"
	"context"
	"io"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// delivery is one webhook POST (and its retries).
type delivery struct {
	id        uint64
	url       string
	secret    string
	body      []byte
	attempt   int
	duplicate bool
	updates   int // changes carried (one per entry)
}

// webhookQueue holds deliveries waiting for a worker.
type webhookQueue struct {
	mu     sync.Mutex
	items  []delivery
	busy   int
	limit  int
	signal chan struct{}
}

func newWebhookQueue(limit int) *webhookQueue {
	return &webhookQueue{limit: limit, signal: make(chan struct{}, 1)}
}

func (q *webhookQueue) push(d delivery) bool {
	q.mu.Lock()
	if len(q.items) >= q.limit {
		q.mu.Unlock()
		return false
	}
	q.items = append(q.items, d)
	q.mu.Unlock()
	q.notify()
	return true
}

func (q *webhookQueue) notify() {
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

// pop takes the oldest delivery and marks a worker busy.
func (q *webhookQueue) pop() (delivery, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) == 0 {
		q.items = nil
		return delivery{}, false
	}
	d := q.items[0]
	q.items = q.items[1:]
	q.busy++
	if len(q.items) > 0 {
		q.notify() // wake another worker for the rest
	}
	return d, true
}

func (q *webhookQueue) finish() {
	q.mu.Lock()
	q.busy--
	q.mu.Unlock()
}

func (q *webhookQueue) idle() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) == 0 && q.busy == 0
}

// enqueueMessages sends a "messages" change for st (s.mu held).
func (s *Server) enqueueMessages(st *numberState, v whatsapp.MessagesValue) {
	v.MessagingProduct = "whatsapp"
	v.Metadata = metadataOf(st)
	s.enqueueChange(st, whatsapp.FieldMessages, v)
}

// metadataOf names the business number in a "messages" change.
func metadataOf(st *numberState) whatsapp.Metadata {
	return whatsapp.Metadata{DisplayPhoneNumber: digitsOnly(st.DisplayPhoneNumber), PhoneNumberID: st.ID}
}

// enqueueChange wraps value in Meta's envelope and queues it for st's
// webhook URL (s.mu held).
func (s *Server) enqueueChange(st *numberState, field string, value any) {
	change, err := whatsapp.NewChange(field, value)
	if err != nil {
		s.cfg.Logger.Error("simulator: encode webhook", "err", err)
		return
	}
	entry := whatsapp.WebhookEntry{ID: st.BusinessAccountID, Changes: []whatsapp.WebhookChange{change}}
	if field != whatsapp.FieldMessages {
		entry.Time = s.clock.Now().Unix() // account-level webhooks carry the trigger time
	}
	if st.WebhookURL == "" {
		s.totals.Webhooks.Dropped++
		return
	}
	window := s.cfg.Webhooks.BatchWindow
	if window <= 0 {
		s.queueWebhook(st.WebhookURL, st.AppSecret, []whatsapp.WebhookEntry{entry})
		return
	}
	// Batching: updates for one URL and secret within the window share a POST, one entry
	// each, up to Meta's maximum.
	k := batchKey{url: st.WebhookURL, secret: st.AppSecret}
	b := s.batches[k]
	if b == nil {
		b = &batch{}
		s.batches[k] = b
		s.sched.at(s.clock.Now().Add(window), func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.flushBatch(k, b)
		})
	}
	b.entries = append(b.entries, entry)
	if len(b.entries) >= maxBatch {
		s.flushBatch(k, b)
	}
}

// maxBatch is the most updates Meta puts in one webhook.
const maxBatch = 1000

// batchKey groups the updates that may share a webhook: same URL, same signing secret.
type batchKey struct{ url, secret string }

// batch is the updates waiting for their batch window to end.
type batch struct{ entries []whatsapp.WebhookEntry }

// flushBatch queues b's updates as one webhook (s.mu held). b stays reachable from its
// timer after a flush at maxBatch; a second flush finds it empty.
func (s *Server) flushBatch(k batchKey, b *batch) {
	if s.batches[k] == b {
		delete(s.batches, k)
	}
	if len(b.entries) > 0 {
		s.queueWebhook(k.url, k.secret, b.entries)
		b.entries = nil
	}
}

// queueWebhook queues one webhook carrying entries (s.mu held).
func (s *Server) queueWebhook(url, secret string, entries []whatsapp.WebhookEntry) {
	body, _ := metaJSON(whatsapp.WebhookPayload{Object: whatsapp.WebhookObject, Entry: entries})
	s.seq++
	s.enqueueLocked(delivery{id: s.seq, url: url, secret: secret, body: body, updates: len(entries)})
}

func (s *Server) enqueueLocked(d delivery) {
	s.totals.Webhooks.Enqueued++
	s.totals.Webhooks.Updates += int64(d.updates)
	if !s.hooks.push(d) {
		s.totals.Webhooks.Dropped++
	}
}

// requeue queues a retry.
func (s *Server) requeue(d delivery) {
	if !s.hooks.push(d) {
		s.mu.Lock()
		s.totals.Webhooks.Dropped++
		s.mu.Unlock()
	}
}

// deliverLoop is one webhook worker.
func (s *Server) deliverLoop() {
	for {
		d, ok := s.hooks.pop()
		if !ok {
			select {
			case <-s.hooks.signal:
				continue
			case <-s.ctx.Done():
				return
			}
		}
		s.afterDelivery(d, s.post(d))
		s.hooks.finish()
	}
}

// post sends one attempt; only HTTP 200 counts as delivered, as with Meta.
func (s *Server) post(d delivery) bool {
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.Webhooks.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, bytes.NewReader(d.body))
	if err != nil {
		return false
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(whatsapp.SignatureHeader, whatsapp.Sign(d.secret, d.body))
	req.Header.Set("User-Agent", "facebookexternalua")
	resp, err := s.cfg.Webhooks.HTTPClient.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// afterDelivery counts the attempt and schedules a retry or a duplicate.
func (s *Server) afterDelivery(d delivery, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := &s.totals.Webhooks
	switch {
	case ok:
		w.Delivered++
		if !d.duplicate && s.rnd.float("duplicate", d.id) < s.cfg.Webhooks.DuplicateProbability {
			w.Duplicated++
			dup := d
			dup.duplicate, dup.attempt = true, 0
			s.enqueueLocked(dup)
		}
	case d.attempt+1 >= s.cfg.Webhooks.MaxAttempts:
		w.Failed++
	default:
		w.Retried++
		delay := s.backoff(d.attempt)
		d.attempt++
		s.sched.at(s.clock.Now().Add(delay), func() { s.requeue(d) })
	}
}

// backoff is BaseDelay × 2^attempt, capped at MaxDelay.
func (s *Server) backoff(attempt int) time.Duration {
	c := s.cfg.Webhooks
	d := float64(c.BaseDelay) * math.Pow(2, float64(attempt))
	return time.Duration(min(d, float64(c.MaxDelay)))
}
