package simulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
)

// Fault modes: what the simulator does with a send request to a faulty recipient.
const (
	// FaultError refuses the message with Meta's JSON error envelope (Code, HTTPStatus):
	// Meta received the request and did not accept it.
	FaultError = "error"
	// FaultAcceptThenHTML processes the message as usual (it may be accepted), then
	// answers HTTPStatus (default 502) with an HTML page, as a proxy in front of Meta
	// does when it loses Meta's answer.
	FaultAcceptThenHTML = "accept-then-html"
	// FaultAcceptThenClose processes the message, then closes the connection without an
	// answer (a connection reset after the request was written).
	FaultAcceptThenClose = "accept-then-close"
	// FaultAcceptThenHang processes the message, then never answers: the client times out
	// after writing the request.
	FaultAcceptThenHang = "accept-then-hang"
)

// Fault makes the simulator misbehave on send requests to one recipient, so that a
// client's handling of failures can be tested (POST /_sim/faults). Faults added later for
// the same recipient wait until the earlier ones are used up.
type Fault struct {
	// Recipient is the wa_id (digits) whose send requests fail; `to` is compared after
	// removing "+", spaces, dashes and parentheses.
	Recipient string `json:"recipient"`
	// Mode is FaultError (the default), FaultAcceptThenHTML, FaultAcceptThenClose or
	// FaultAcceptThenHang.
	Mode string `json:"mode,omitempty"`
	// Code is Meta's error code for FaultError (default 131000, "Something went wrong").
	Code int `json:"code,omitempty"`
	// HTTPStatus is the status of FaultError (default 500) and FaultAcceptThenHTML (502).
	HTTPStatus int `json:"httpStatus,omitempty"`
	// Times is how many requests the fault applies to (default 1); Always: every request.
	Times  int  `json:"times,omitempty"`
	Always bool `json:"always,omitempty"`
}

func (f Fault) withDefaults() Fault {
	if f.Mode == "" {
		f.Mode = FaultError
	}
	if f.Code == 0 && f.Mode == FaultError {
		f.Code = 131000
	}
	if f.HTTPStatus == 0 {
		f.HTTPStatus = map[string]int{FaultError: 500, FaultAcceptThenHTML: 502}[f.Mode]
	}
	if f.Times == 0 {
		f.Times = 1
	}
	return f
}

func (f Fault) validate() error {
	switch {
	case !validRecipient(f.Recipient):
		return fmt.Errorf("fault: recipient must be a wa_id of 7 to 15 digits, got %q", f.Recipient)
	case f.Mode != "" && f.Mode != FaultError && f.Mode != FaultAcceptThenHTML && f.Mode != FaultAcceptThenClose && f.Mode != FaultAcceptThenHang:
		return fmt.Errorf("fault: mode must be %q, %q, %q or %q, got %q", FaultError, FaultAcceptThenHTML,
			FaultAcceptThenClose, FaultAcceptThenHang, f.Mode)
	case f.Code < 0:
		return fmt.Errorf("fault: code must be positive, got %d", f.Code)
	case f.HTTPStatus != 0 && (f.HTTPStatus < 200 || f.HTTPStatus > 599):
		return fmt.Errorf("fault: httpStatus must be between 200 and 599, got %d", f.HTTPStatus)
	case f.Times < 0:
		return fmt.Errorf("fault: times must not be negative, got %d", f.Times)
	}
	return nil
}

// faultTable holds the faults not used up yet, in the order they were added.
type faultTable struct {
	mu     sync.Mutex
	faults []Fault
}

// empty tells whether no fault is left, so that requests skip the body check.
func (t *faultTable) empty() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.faults) == 0
}

// take returns the first fault for waID and uses one of its times.
func (t *faultTable) take(waID string) (Fault, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, f := range t.faults {
		if f.Recipient != waID {
			continue
		}
		if !f.Always {
			t.faults[i].Times--
			if t.faults[i].Times == 0 {
				t.faults = append(t.faults[:i], t.faults[i+1:]...)
			}
		}
		return f, true
	}
	return Fault{}, false
}

// AddFault validates f, fills in its defaults and adds it.
func (s *Server) AddFault(f Fault) error {
	if err := f.validate(); err != nil {
		return fmt.Errorf("simulator: %w", err)
	}
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.faults = append(s.faults.faults, f.withDefaults())
	return nil
}

// Faults returns the faults not used up yet.
func (s *Server) Faults() []Fault {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	return append([]Fault{}, s.faults.faults...)
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.faults = nil
}

// faultRoutes serves the faults' control API:
//
//	GET    /_sim/faults → [Fault…] not used up yet
//	POST   /_sim/faults ← Fault: add it; answers the faults
//	DELETE /_sim/faults → remove them all; answers []
func (s *Server) faultRoutes() {
	s.mux.HandleFunc("GET /_sim/faults", s.ctlFaults)
	s.mux.HandleFunc("POST /_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		var f Fault
		if err := decodeStrict(r.Body, &f); err != nil {
			ctlError(w, http.StatusBadRequest, err)
			return
		}
		if err := s.AddFault(f); err != nil {
			ctlError(w, http.StatusBadRequest, err)
			return
		}
		s.ctlFaults(w, r)
	})
	s.mux.HandleFunc("DELETE /_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		s.ClearFaults()
		s.ctlFaults(w, r)
	})
}

func (s *Server) ctlFaults(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Faults())
}

// withFaults wraps the send handler: a request to a recipient with a fault gets the fault.
func (s *Server) withFaults(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.faults.empty() {
			next(w, r)
			return
		}
		raw, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20+1))
		r.Body = io.NopCloser(bytes.NewReader(raw))
		var body struct {
			To string `json:"to"`
		}
		_ = json.Unmarshal(raw, &body)
		f, ok := s.faults.take(normalizeRecipient(body.To))
		if !ok {
			next(w, r)
			return
		}
		s.injectFault(f, w, r, next)
	}
}

func (s *Server) injectFault(f Fault, w http.ResponseWriter, r *http.Request, next http.HandlerFunc) {
	if f.Mode == FaultError {
		s.graphHeaders(w, r.PathValue("version"))
		s.mu.Lock()
		s.reject(s.numbers[r.PathValue("pnid")], f.Code)
		s.mu.Unlock()
		s.writeGraphError(w, faultError(f))
		return
	}
	next(&discardWriter{header: http.Header{}}, r)
	switch f.Mode {
	case FaultAcceptThenHTML:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(f.HTTPStatus)
		_, _ = io.WriteString(w, "<html><head><title>502 Bad Gateway</title></head><body>Bad Gateway</body></html>\n")
		return
	case FaultAcceptThenHang:
		select {
		case <-r.Context().Done():
		case <-s.ctx.Done():
		}
	}
	// Closes the connection without an answer (net/http's documented way to abort).
	panic(http.ErrAbortHandler)
}

// faultError is Meta's envelope for a fault's code; 131000 has Meta's wording.
func faultError(f Fault) *graphError {
	if f.Code == 131000 {
		return &graphError{HTTP: f.HTTPStatus, Code: 131000, Type: "OAuthException",
			Message: "(#131000) Something went wrong", Details: "Message failed to send due to an unknown error."}
	}
	return &graphError{HTTP: f.HTTPStatus, Code: f.Code, Type: "OAuthException",
		Message: fmt.Sprintf("(#%d) Simulated fault", f.Code), Details: "A fault injected with POST /_sim/faults."}
}

// discardWriter takes the answer the simulator would have given, which the fault replaces.
type discardWriter struct{ header http.Header }

func (d *discardWriter) Header() http.Header         { return d.header }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}
