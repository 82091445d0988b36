package simulator

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

const errorCodesHref = "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"

// scheduleStatuses plans sent → delivered → read (or failed) webhooks for m.
func (s *Server) scheduleStatuses(m sentMessage) {
	cfg := s.cfg.Statuses
	if m.failCode != 0 {
		s.statusAt(m, whatsapp.StatusFailed, max(cfg.SentAfter, 0))
		return
	}
	s.statusAt(m, whatsapp.StatusSent, cfg.SentAfter)
	s.statusAt(m, whatsapp.StatusDelivered, cfg.DeliveredAfter)
	if s.rnd.float("unread", hashString(m.wamid)) >= cfg.UnreadProbability {
		s.statusAt(m, whatsapp.StatusRead, cfg.ReadAfter)
	}
}

// statusAt schedules one status after d; negative d skips it.
func (s *Server) statusAt(m sentMessage, status string, d time.Duration) {
	if d < 0 {
		return
	}
	s.sched.at(m.accepted.Add(d), func() { s.emitStatus(m, status) })
}

func (s *Server) emitStatus(m sentMessage, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.numbers[m.number]
	if !ok {
		return
	}
	value := whatsapp.MessagesValue{Statuses: []whatsapp.Status{s.status(m, status, s.clock.Now())}}
	s.enqueueMessages(st, value)
}

// status builds a status object. pricing (and, before v24.0, conversation)
// ride on sent and delivered, as Meta's status reference describes.
func (s *Server) status(m sentMessage, status string, now time.Time) whatsapp.Status {
	out := whatsapp.Status{ID: m.wamid, Status: status, Timestamp: unix(now), RecipientID: m.waID}
	switch status {
	case whatsapp.StatusFailed:
		out.Errors = []whatsapp.StatusError{failure(m.failCode)}
	case whatsapp.StatusSent, whatsapp.StatusDelivered:
		out.Pricing = s.pricing(m)
		if conversationsIn(m.version) {
			out.Conversation = s.conversation(m, status == whatsapp.StatusSent)
		}
	}
	return out
}

// pricing follows per-message pricing: templates are billable, service
// messages inside the window are free.
func (s *Server) pricing(m sentMessage) *whatsapp.Pricing {
	if m.template {
		return &whatsapp.Pricing{Billable: true, PricingModel: "PMP", Type: "regular", Category: s.cfg.TemplateCategory}
	}
	return &whatsapp.Pricing{Billable: false, PricingModel: "PMP", Type: "free_customer_service", Category: "service"}
}

func (s *Server) conversation(m sentMessage, withExpiry bool) *whatsapp.Conversation {
	category := "service"
	if m.template {
		category = s.cfg.TemplateCategory
	}
	c := &whatsapp.Conversation{
		ID:     fmt.Sprintf("%016x%016x", s.rnd.u64("conversation:"+m.number+":"+m.waID, 0), s.rnd.u64("conversation:"+m.number+":"+m.waID, 1)),
		Origin: whatsapp.ConversationOrigin{Type: category},
	}
	if withExpiry {
		c.ExpirationTimestamp = unix(m.accepted.Add(24 * time.Hour))
	}
	return c
}

// conversationsIn reports whether statuses carry `conversation` in version
// (Meta omits it from v24.0 on).
func conversationsIn(version string) bool {
	major, _, _ := strings.Cut(strings.TrimPrefix(version, "v"), ".")
	n, err := strconv.Atoi(major)
	return err != nil || n < 24
}

// failure returns the webhook error object for an asynchronous failure.
func failure(code int) whatsapp.StatusError {
	title, details := "Message undeliverable", "Message Undeliverable."
	if code == 131053 {
		title, details = "Media upload error", "Downloading media from weblink failed: the link is not an http(s) URL."
	}
	return whatsapp.StatusError{Code: code, Title: title, Message: title,
		ErrorData: &whatsapp.ErrorData{Details: details}, Href: errorCodesHref}
}

func hashString(s string) uint64 {
	var h uint64 = 1469598103934665603
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}
