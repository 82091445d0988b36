package simulator

import (
	"net/http"
	"slices"
	"time"

	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// sentMessage is an accepted outbound message, kept to emit its statuses.
type sentMessage struct {
	number   string
	wamid    string
	waID     string
	template bool
	accepted time.Time
	version  string
	failCode int // non-zero: the message fails asynchronously with this code
}

// handleMessages serves POST /{version}/{phone-number-id}/messages: sends
// and mark-as-read.
func (s *Server) handleMessages(w http.ResponseWriter, r *http.Request) {
	s.graphHeaders(w, r.PathValue("version"))
	res, st, gerr := s.messages(r)
	if gerr != nil {
		s.mu.Lock()
		s.reject(st, gerr.Code)
		s.mu.Unlock()
		s.writeGraphError(w, gerr)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) messages(r *http.Request) (any, *numberState, *graphError) {
	st, gerr := s.authorize(r, "post")
	if gerr != nil {
		return nil, nil, gerr
	}
	body, raw, gerr := readBody(r)
	if gerr != nil {
		return nil, st, gerr
	}
	if _, isReceipt := body["status"]; isReceipt {
		res, gerr := s.markRead(body)
		return res, st, gerr
	}
	msg, gerr := validateMessage(body)
	if gerr != nil {
		return nil, st, gerr
	}
	msg.Body = raw
	if msg.Type == whatsapp.TypeTemplate {
		if gerr := s.checkTemplateSend(st, body); gerr != nil {
			return nil, st, gerr
		}
	}
	res, gerr := s.accept(st, msg, r.PathValue("version"))
	return res, st, gerr
}

// markRead answers a read receipt (status "read" + message_id).
func (s *Server) markRead(body map[string]any) (any, *graphError) {
	if gerr := validateReadReceipt(body); gerr != nil {
		return nil, gerr
	}
	s.mu.Lock()
	s.totals.ReadReceipts++
	s.mu.Unlock()
	return map[string]bool{"success": true}, nil
}

// accept applies Meta's limits and, if they allow, accepts the message and
// schedules its status webhooks.
func (s *Server) accept(st *numberState, msg outbound, version string) (any, *graphError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	if !s.readable(st, msg.Digits) {
		return nil, errInvalidRecipient()
	}
	waID := s.cfg.Recipients.resolve(msg.Digits)
	businessInitiated, gerr := s.admit(st, msg, waID, now)
	if gerr != nil {
		return nil, gerr
	}
	s.seq++
	m := sentMessage{number: st.ID, wamid: s.rnd.wamid(waID, "out", s.seq), waID: waID,
		template: msg.Type == whatsapp.TypeTemplate, accepted: now, version: version,
		failCode: s.asyncFailure(waID, msg)}
	s.countAccepted(st, waID, businessInitiated, now)
	st.lastSentTo[waID] = m.wamid
	st.sent.add(SentMessage{WAMID: m.wamid, WAID: waID, Body: msg.Body})
	s.scheduleStatuses(m)
	return map[string]any{
		"messaging_product": "whatsapp",
		"contacts":          []map[string]string{{"input": msg.To, "wa_id": waID}},
		"messages":          []map[string]string{{"id": m.wamid}},
	}, nil
}

// admit checks, in order: throughput (130429), the service window for
// free-form messages (131047), restrictions on business-initiated messages
// (131048) and the pair rate (131056). It reports whether the message is
// business-initiated (sent outside the user's service window).
func (s *Server) admit(st *numberState, msg outbound, waID string, now time.Time) (bool, *graphError) {
	if !st.throughput.take(now) {
		return false, s.errThroughput()
	}
	open := st.windowOpen(waID, now, s.cfg.Limits.ServiceWindow)
	if !open && msg.Type != whatsapp.TypeTemplate {
		return false, errWindowClosed()
	}
	if !open && st.blocksBusinessInitiated() {
		return false, s.errRestricted()
	}
	if !st.pairTake(waID, now, s.cfg.Limits) {
		return false, s.errPairRate()
	}
	return !open, nil
}

// countAccepted updates counters, including the unique-recipient overage
// Meta does not report (s.mu held).
func (s *Server) countAccepted(st *numberState, waID string, businessInitiated bool, now time.Time) {
	s.totals.Accepted++
	st.counters.Accepted++
	if !businessInitiated {
		return
	}
	st.counters.BusinessInitiated++
	if !st.recipients.add(waID, now) {
		return
	}
	limit, _ := tierLimit(st.Tier)
	if limit != whatsapp.Unlimited && st.recipients.count(now) > limit {
		st.counters.RecipientOverage++
	}
}

// readable reports whether Meta reads digits as a recipient: a possible
// international number, or a wa_id Meta handed out (see recipients.go).
func (s *Server) readable(st *numberState, digits string) bool {
	_, wroteIn := st.inbound[digits]
	return wroteIn || possibleNumber(digits) || s.cfg.Recipients.knownWAID(digits)
}

// asyncFailure returns the code a message fails with after acceptance:
// 131026 for a recipient that is no WhatsApp user, 131053 for media whose
// link is not an http(s) URL.
func (s *Server) asyncFailure(waID string, msg outbound) int {
	switch {
	case slices.Contains(s.cfg.Recipients.NotOnWhatsApp, waID):
		return 131026
	case msg.MediaLink != "" && !isHTTPLink(msg.MediaLink):
		return 131053
	}
	return 0
}
