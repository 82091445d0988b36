package simulator

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// Verification is the outcome of a webhook verification request.
type Verification struct {
	Verified bool `json:"verified"`
	// Reason says why the endpoint failed; empty when verified.
	Reason string `json:"reason,omitempty"`
}

// VerifyWebhook sends Meta's verification request to the number's webhook URL, as Meta
// does when a callback URL is configured: a GET with hub.mode=subscribe, a fresh
// hub.challenge and the number's verify token. The endpoint passes if it answers 200
// with the challenge as the whole body. An error means the request could not be made
// (unknown number, no URL or verify token); a failing endpoint is a Verification with
// a reason.
func (s *Server) VerifyWebhook(ctx context.Context, id string) (Verification, error) {
	s.mu.Lock()
	st, ok := s.numbers[id]
	var target, token, challenge string
	if ok {
		s.seq++
		target, token, challenge = st.WebhookURL, st.VerifyToken, s.rnd.digits("challenge", s.seq, 10)
	}
	s.mu.Unlock()
	switch {
	case !ok:
		return Verification{}, fmt.Errorf("no number %s", id)
	case target == "":
		return Verification{}, fmt.Errorf("number %s: webhookURL is not set", id)
	case token == "":
		return Verification{}, fmt.Errorf("number %s: verifyToken is not set", id)
	}
	u, err := url.Parse(target)
	if err != nil {
		return Verification{}, fmt.Errorf("number %s: webhookURL: %w", id, err)
	}
	q := u.Query()
	for k, v := range whatsapp.VerificationQuery(token, challenge) {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Webhooks.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return Verification{}, fmt.Errorf("number %s: webhookURL: %w", id, err)
	}
	req.Header.Set("User-Agent", "facebookplatform/1.0 (+http://developers.facebook.com)")
	resp, err := s.cfg.Webhooks.HTTPClient.Do(req)
	if err != nil {
		// The URL carries the verify token: name the failure without it.
		return Verification{Reason: "the callback URL could not be reached"}, nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	switch {
	case resp.StatusCode != http.StatusOK:
		return Verification{Reason: fmt.Sprintf("the callback URL answered HTTP %d", resp.StatusCode)}, nil
	case string(body) != challenge:
		return Verification{Reason: "the callback URL did not echo hub.challenge"}, nil
	}
	return Verification{Verified: true}, nil
}

func (s *Server) ctlVerifyWebhook(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, ok := s.Number(id); !ok {
		ctlError(w, http.StatusNotFound, fmt.Errorf("no number %s", id))
		return
	}
	v, err := s.VerifyWebhook(r.Context(), id)
	if err != nil {
		ctlError(w, http.StatusBadRequest, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}
