package simulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
)

// The control API, all JSON:
//
//	GET   /_sim/healthz           → {"ok":true}
//	GET   /_sim/numbers           → [Number…] (credentials shown as "<set>")
//	GET   /_sim/numbers/{id}      → Number
//	PUT   /_sim/numbers/{id}      ← Number: register or replace
//	PATCH /_sim/numbers/{id}      ← partial Number: update the given fields
//	POST  /_sim/numbers/{id}/verify-webhook → Verification: Meta's hub.challenge request
//	GET   /_sim/numbers/{id}/messages?limit=N → {"messages":[SentMessage…]}: accepted sends as received
//	POST  /_sim/events            ← Event or [Event…]: now, or after "after"
//	POST  /_sim/load              ← Load → LoadStatus: inbound load for benchmarks
//	GET   /_sim/load/{id}         → LoadStatus; DELETE stops the load
//	GET   /_sim/counters          → Counters
//	GET   /_sim/templates         → [Template…]: every message template
//	POST  /_sim/templates         ← Template: register, or replace the same WABA/name/language
//
// Errors answer {"error": "..."} with 400 or 404.
func (s *Server) controlRoutes() {
	s.mux.HandleFunc("GET /_sim/healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	s.mux.HandleFunc("GET /_sim/numbers", s.ctlListNumbers)
	s.mux.HandleFunc("GET /_sim/numbers/{id}", s.ctlGetNumber)
	s.mux.HandleFunc("PUT /_sim/numbers/{id}", s.ctlPutNumber)
	s.mux.HandleFunc("PATCH /_sim/numbers/{id}", s.ctlPatchNumber)
	s.mux.HandleFunc("POST /_sim/numbers/{id}/verify-webhook", s.ctlVerifyWebhook)
	s.mux.HandleFunc("GET /_sim/numbers/{id}/messages", s.ctlSent)
	s.mux.HandleFunc("POST /_sim/events", s.ctlEvents)
	s.mux.HandleFunc("POST /_sim/load", s.ctlStartLoad)
	s.mux.HandleFunc("GET /_sim/load/{id}", s.ctlLoad)
	s.mux.HandleFunc("DELETE /_sim/load/{id}", s.ctlLoad)
	s.mux.HandleFunc("GET /_sim/templates", func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		out := append([]Template{}, s.templates...)
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, out)
	})
	s.mux.HandleFunc("POST /_sim/templates", s.ctlPutTemplate)
	s.mux.HandleFunc("GET /_sim/counters", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Counters())
	})
}

func ctlError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, map[string]string{"error": err.Error()})
}

func (s *Server) ctlListNumbers(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	out := make([]Number, 0, len(s.numbers))
	for _, st := range s.numbers {
		out = append(out, st.redacted())
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) ctlGetNumber(w http.ResponseWriter, r *http.Request) {
	n, ok := s.Number(r.PathValue("id"))
	if !ok {
		ctlError(w, http.StatusNotFound, fmt.Errorf("no number %s", r.PathValue("id")))
		return
	}
	writeJSON(w, http.StatusOK, n.redacted())
}

func (s *Server) ctlPutNumber(w http.ResponseWriter, r *http.Request) {
	var n Number
	if err := decodeStrict(r.Body, &n); err != nil {
		ctlError(w, http.StatusBadRequest, err)
		return
	}
	n.ID = r.PathValue("id")
	if err := s.PutNumber(n); err != nil {
		ctlError(w, http.StatusBadRequest, err)
		return
	}
	s.ctlGetNumber(w, r)
}

func (s *Server) ctlPutTemplate(w http.ResponseWriter, r *http.Request) {
	var t Template
	if err := decodeStrict(r.Body, &t); err != nil {
		ctlError(w, http.StatusBadRequest, err)
		return
	}
	if err := s.PutTemplate(t); err != nil {
		ctlError(w, http.StatusBadRequest, err)
		return
	}
	writeJSON(w, http.StatusOK, t.withDefaults(s.rnd))
}

func (s *Server) ctlPatchNumber(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		ctlError(w, http.StatusBadRequest, err)
		return
	}
	id := r.PathValue("id")
	if _, ok := s.Number(id); !ok {
		ctlError(w, http.StatusNotFound, fmt.Errorf("no number %s", id))
		return
	}
	var decodeErr error
	err = s.UpdateNumber(id, func(n *Number) { decodeErr = decodeStrict(bytes.NewReader(raw), n) })
	if err = firstErr(decodeErr, err); err != nil {
		ctlError(w, http.StatusBadRequest, err)
		return
	}
	s.ctlGetNumber(w, r)
}

func (s *Server) ctlEvents(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		ctlError(w, http.StatusBadRequest, err)
		return
	}
	events, err := decodeEvents(raw)
	if err != nil {
		ctlError(w, http.StatusBadRequest, err)
		return
	}
	for i, ev := range events {
		if err := s.Schedule(ev); err != nil {
			ctlError(w, http.StatusBadRequest, fmt.Errorf("event %d: %w", i, err))
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]int{"accepted": len(events)})
}

// decodeEvents reads one event object or an array of them.
func decodeEvents(raw []byte) ([]Event, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '[' {
		var evs []Event
		return evs, decodeStrict(bytes.NewReader(raw), &evs)
	}
	var ev Event
	if err := decodeStrict(bytes.NewReader(raw), &ev); err != nil {
		return nil, err
	}
	return []Event{ev}, nil
}

// decodeStrict decodes JSON, rejecting unknown fields.
func decodeStrict(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
