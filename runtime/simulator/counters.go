package simulator

import "maps"

// Counters is a snapshot of what the simulator has done since it started.
type Counters struct {
	Accepted         int64                     `json:"accepted"`         // messages accepted (200)
	Rejected         map[int]int64             `json:"rejected"`         // rejections by Meta error code
	ReadReceipts     int64                     `json:"readReceipts"`     // mark-as-read calls
	Inbound          int64                     `json:"inbound"`          // injected user messages
	RecipientOverage int64                     `json:"recipientOverage"` // sum over numbers
	Webhooks         WebhookCounters           `json:"webhooks"`
	Numbers          map[string]NumberCounters `json:"numbers"`
}

// WebhookCounters counts webhook deliveries.
type WebhookCounters struct {
	Enqueued   int64 `json:"enqueued"`   // webhooks created (duplicates included)
	Updates    int64 `json:"updates"`    // updates those webhooks carry: more than enqueued when batched
	Delivered  int64 `json:"delivered"`  // answered 200
	Retried    int64 `json:"retried"`    // attempts that failed and were rescheduled
	Failed     int64 `json:"failed"`     // gave up after the last attempt
	Duplicated int64 `json:"duplicated"` // extra copies sent on purpose
	Dropped    int64 `json:"dropped"`    // not sent: no webhook URL, or the queue was full
}

// NumberCounters counts one number's traffic and its messaging-limit use.
type NumberCounters struct {
	Accepted            int64         `json:"accepted"`
	Rejected            map[int]int64 `json:"rejected"`
	Inbound             int64         `json:"inbound"`
	BusinessInitiated   int64         `json:"businessInitiated"`   // accepted outside a service window
	GraphReads          int64         `json:"graphReads"`          // GET requests on the number's node
	UniqueRecipients24h int           `json:"uniqueRecipients24h"` // business-initiated, rolling window
	RecipientLimit      int           `json:"recipientLimit"`      // from the tier; -1 = unlimited
	RecipientOverage    int64         `json:"recipientOverage"`    // new recipients beyond the limit (Meta sends no error)
}

func (c NumberCounters) clone() NumberCounters {
	c.Rejected = maps.Clone(c.Rejected)
	return c
}

// Counters returns a snapshot of the counters.
func (s *Server) Counters() Counters {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	out := s.totals
	out.Rejected = maps.Clone(s.totals.Rejected)
	out.Numbers = make(map[string]NumberCounters, len(s.numbers))
	for id, st := range s.numbers {
		nc := st.counters.clone()
		nc.UniqueRecipients24h = st.recipients.count(now)
		nc.RecipientLimit, _ = tierLimit(st.Tier)
		out.Numbers[id] = nc
		out.RecipientOverage += nc.RecipientOverage
	}
	return out
}

// reject counts a rejection (s.mu held).
func (s *Server) reject(st *numberState, code int) {
	s.totals.Rejected[code]++
	if st != nil {
		st.counters.Rejected[code]++
	}
}
