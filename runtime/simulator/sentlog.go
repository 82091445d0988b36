package simulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// SentMessage is a message the simulator accepted, kept as it was received
// so that a test can check that nothing a producer stored was lost on the way.
type SentMessage struct {
	WAMID string          `json:"wamid"` // the id the simulator answered
	WAID  string          `json:"wa_id"` // the recipient as resolved (see RecipientConfig)
	Body  json.RawMessage `json:"body"`  // the request body, byte for byte
}

// maxSentLog is how many accepted messages a number keeps at least; older
// ones are forgotten.
const maxSentLog = 10_000

// sentLog is a number's last accepted messages, oldest first.
type sentLog struct{ items []SentMessage }

func (l *sentLog) add(m SentMessage) {
	l.items = append(l.items, m)
	if len(l.items) >= 2*maxSentLog {
		l.items = append([]SentMessage(nil), l.items[len(l.items)-maxSentLog:]...)
	}
}

// last returns a copy of the newest n messages (all kept when n ≤ 0), oldest first.
func (l *sentLog) last(n int) []SentMessage {
	if n <= 0 || n > len(l.items) {
		n = len(l.items)
	}
	return append([]SentMessage{}, l.items[len(l.items)-n:]...)
}

// Sent returns the newest limit messages the number accepted (every one
// kept, at least the last 10,000, when limit ≤ 0), oldest first, with their
// request bodies as received. ok is false for an unknown number.
func (s *Server) Sent(numberID string, limit int) (msgs []SentMessage, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.numbers[numberID]
	if !ok {
		return nil, false
	}
	return st.sent.last(limit), true
}

// ctlSent serves GET /_sim/numbers/{id}/messages?limit=N.
func (s *Server) ctlSent(w http.ResponseWriter, r *http.Request) {
	limit := 0
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			ctlError(w, http.StatusBadRequest, fmt.Errorf("limit %q: want a positive whole number", v))
			return
		}
		limit = n
	}
	msgs, ok := s.Sent(r.PathValue("id"), limit)
	if !ok {
		ctlError(w, http.StatusNotFound, fmt.Errorf("no number %s", r.PathValue("id")))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"messages": msgs})
}
