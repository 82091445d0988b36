package simulator

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

var versionPattern = regexp.MustCompile(`^v[0-9]+\.[0-9]+$`)

// graphError is a Graph API error, written in Meta's envelope.
type graphError struct {
	HTTP    int
	Code    int
	Subcode int
	Type    string
	Message string
	Details string // error_data.details (messaging errors only)
}

func (e *graphError) Error() string { return e.Message }

// writeJSON writes v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeGraphError writes e as Meta does, with a fresh fbtrace_id.
func (s *Server) writeGraphError(w http.ResponseWriter, e *graphError) {
	body := map[string]any{"message": e.Message, "type": e.Type, "code": e.Code,
		"fbtrace_id": s.nextTraceID()}
	if e.Subcode != 0 {
		body["error_subcode"] = e.Subcode
	}
	if e.Details != "" {
		body["error_data"] = map[string]any{"messaging_product": "whatsapp", "details": e.Details}
	}
	if e.Code == 2 || e.Code == 4 {
		body["is_transient"] = true
	}
	writeJSON(w, e.HTTP, map[string]any{"error": body})
}

func (s *Server) nextTraceID() string {
	s.mu.Lock()
	s.seq++
	n := s.seq
	s.mu.Unlock()
	return s.rnd.traceID(n)
}

// Graph errors the simulator returns.
func errUnknownPath(path string) *graphError {
	return &graphError{HTTP: 400, Code: 2500, Type: "OAuthException",
		Message: "Unknown path components: " + path}
}

func errNoToken() *graphError {
	return &graphError{HTTP: 401, Code: 104, Type: "OAuthException",
		Message: "An access token is required to request this resource."}
}

func errBadToken() *graphError {
	return &graphError{HTTP: 401, Code: 190, Type: "OAuthException",
		Message: "Invalid OAuth access token - Cannot parse access token"}
}

func errUnknownObject(method, id string) *graphError {
	return &graphError{HTTP: 400, Code: 100, Subcode: 33, Type: "GraphMethodException",
		Message: fmt.Sprintf("Unsupported %s request. Object with ID '%s' does not exist, cannot be loaded "+
			"due to missing permissions, or does not support this operation. Please read the Graph API "+
			"documentation at https://developers.facebook.com/docs/graph-api", method, id)}
}

// errParam is code 100 for a bad or missing request parameter.
func errParam(details string) *graphError {
	return &graphError{HTTP: 400, Code: 100, Type: "OAuthException",
		Message: "(#100) Invalid parameter", Details: details}
}

func errRequired(param string) *graphError {
	return &graphError{HTTP: 400, Code: 100, Type: "OAuthException",
		Message: fmt.Sprintf("(#100) The parameter %s is required.", param)}
}

// errTemplateParamText is Meta's answer to a template text parameter with a
// new-line or tab character or more than four consecutive spaces.
func errTemplateParamText() *graphError {
	return &graphError{HTTP: 400, Code: 132018, Type: "OAuthException",
		Message: "(#132018) There was an issue with the parameters in your template.",
		Details: "Param text cannot have new-line/tab characters or more than 4 consecutive spaces"}
}

// errInvalidRecipient is Meta's answer to a `to` it cannot read as an
// international number, such as one written with the 00 prefix.
func errInvalidRecipient() *graphError { return errParam("Parameter Invalid") }

func (s *Server) errThroughput() *graphError {
	return &graphError{HTTP: s.cfg.ThrottleHTTPStatus, Code: 130429, Subcode: 2494055, Type: "OAuthException",
		Message: "(#130429) Rate limit hit", Details: "Cloud API message throughput has been reached."}
}

func (s *Server) errPairRate() *graphError {
	return &graphError{HTTP: s.cfg.ThrottleHTTPStatus, Code: 131056, Type: "OAuthException",
		Message: "(#131056) (Business Account, Consumer Account) pair rate limit hit",
		Details: "Too many messages sent from the sender phone number to the same recipient phone number in a short period of time."}
}

func (s *Server) errRestricted() *graphError {
	return &graphError{HTTP: s.cfg.ThrottleHTTPStatus, Code: 131048, Type: "OAuthException",
		Message: "(#131048) Spam rate limit hit",
		Details: "Message failed to send because there are restrictions on how many messages can be sent from " +
			"this phone number. This may be because too many previous messages were blocked or flagged as spam."}
}

func errWindowClosed() *graphError {
	return &graphError{HTTP: 400, Code: 131047, Type: "OAuthException",
		Message: "(#131047) Re-engagement message",
		Details: "Message failed to send because more than 24 hours have passed since the customer last replied to this number."}
}

// authorize checks the version, the bearer token and the number, in Graph's
// order: missing token, unknown object, wrong token. s.mu must NOT be held.
func (s *Server) authorize(r *http.Request, method string) (*numberState, *graphError) {
	version, pnid := r.PathValue("version"), r.PathValue("pnid")
	if !versionPattern.MatchString(version) {
		return nil, errUnknownPath(r.URL.Path)
	}
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || strings.TrimSpace(token) == "" {
		return nil, errNoToken()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, found := s.numbers[pnid]
	if !found {
		return nil, errUnknownObject(method, pnid)
	}
	want := orStr(st.AccessToken, s.cfg.AccessToken)
	if want != "" && token != want {
		return nil, errBadToken()
	}
	return st, nil
}

// graphHeaders adds the headers Graph sends on every response.
func (s *Server) graphHeaders(w http.ResponseWriter, version string) {
	h := w.Header()
	h.Set("facebook-api-version", version)
	h.Set("x-fb-trace-id", s.nextTraceID())
	h.Set("x-fb-request-id", s.nextTraceID())
}

// readBody reads a JSON object body of at most 1 MiB.
func readBody(r *http.Request) (map[string]any, []byte, *graphError) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20+1))
	if err != nil || len(raw) > 1<<20 {
		return nil, nil, errParam("Request body is unreadable or larger than 1 MiB.")
	}
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil || body == nil {
		return nil, raw, errParam("Request body must be a JSON object.")
	}
	return body, raw, nil
}

// handlePhoneNumber serves GET /{version}/{phone-number-id}?fields=…, or
// GET /{version}/{media-id} when the node is a media object (media_http.go).
func (s *Server) handlePhoneNumber(w http.ResponseWriter, r *http.Request) {
	if s.isMedia(r) {
		s.handleMediaGet(w, r)
		return
	}
	s.graphHeaders(w, r.PathValue("version"))
	st, gerr := s.authorize(r, "get")
	if gerr != nil {
		s.writeGraphError(w, gerr)
		return
	}
	s.mu.Lock()
	n := st.Number
	st.counters.GraphReads++
	throttled := st.graphReads != nil && !st.graphReads.take(s.clock.Now())
	if throttled {
		st.counters.Rejected[80007]++
		s.totals.Rejected[80007]++
	}
	s.mu.Unlock()
	if throttled {
		s.writeGraphError(w, &graphError{HTTP: 400, Code: 80007, Type: "OAuthException",
			Message: "(#80007) There have been too many calls to this WhatsApp Business account. Wait a bit and try again."})
		return
	}
	out, gerr := phoneFields(n, r.URL.Query().Get("fields"))
	if gerr != nil {
		s.writeGraphError(w, gerr)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// defaultPhoneFields are Graph's defaults for a phone number node.
var defaultPhoneFields = "id,display_phone_number,verified_name,quality_rating"

// phoneFields answers only the requested fields, plus id, as Graph does.
func phoneFields(n Number, fields string) (map[string]any, *graphError) {
	if strings.TrimSpace(fields) == "" {
		fields = defaultPhoneFields
	}
	out := map[string]any{"id": n.ID}
	for _, f := range strings.Split(fields, ",") {
		f = strings.TrimSpace(f)
		if i := strings.IndexByte(f, '{'); i >= 0 {
			f = f[:i] // nested selection such as throughput{level}
		}
		if f == "" {
			continue
		}
		v, ok := phoneField(n, f)
		if !ok {
			return nil, &graphError{HTTP: 400, Code: 100, Type: "OAuthException",
				Message: fmt.Sprintf("(#100) Tried accessing nonexisting field (%s) on node type (WhatsAppBusinessPhoneNumber)", f)}
		}
		out[f] = v
	}
	return out, nil
}

func phoneField(n Number, f string) (any, bool) {
	switch f {
	case "id":
		return n.ID, true
	case "display_phone_number":
		return n.DisplayPhoneNumber, true
	case "verified_name":
		return n.VerifiedName, true
	case "quality_rating":
		return n.Quality, true
	case "throughput":
		return map[string]string{"level": n.Throughput}, true
	case "whatsapp_business_manager_messaging_limit", "messaging_limit_tier":
		return n.Tier, true
	case "status":
		return n.Status, true
	case "name_status":
		return n.NameStatus, true
	case "code_verification_status":
		return "VERIFIED", true
	case "platform_type":
		return "CLOUD_API", true
	case "account_mode":
		return "LIVE", true
	case "is_official_business_account":
		return false, true
	case "country_code":
		region, _ := n.country()
		return region, true
	case "country_dial_code":
		_, dial := n.country()
		return dial, true
	}
	return nil, false
}

// unix formats t as Unix seconds, as webhook timestamps are.
func unix(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }
