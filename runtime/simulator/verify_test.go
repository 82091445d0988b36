package simulator_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/runtime/simulator"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// TestVerifyWebhook: the simulator sends Meta's verification request, and an endpoint
// passes only by echoing the challenge for the right verify token.
func TestVerifyWebhook(t *testing.T) {
	const verifyToken = "the-verify-token"
	var seen []string
	endpoint := func(token string, tamper bool) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seen = append(seen, r.Method+" "+r.URL.Path+" mode="+r.URL.Query().Get(whatsapp.HubMode))
			challenge, err := whatsapp.AnswerVerification(r.URL.Query(), token)
			if err != nil {
				http.Error(w, "forbidden", http.StatusForbidden)
				return
			}
			if tamper {
				challenge += "x"
			}
			fmt.Fprint(w, challenge)
		})
	}
	good := httptest.NewServer(endpoint(verifyToken, false))
	defer good.Close()
	wrongToken := httptest.NewServer(endpoint("another-token", false))
	defer wrongToken.Close()
	noEcho := httptest.NewServer(endpoint(verifyToken, true))
	defer noEcho.Close()

	e := newEnv(t, simulator.Config{}, simulator.Number{ID: pnid, DisplayPhoneNumber: display,
		AccessToken: token, AppSecret: appSecret, VerifyToken: verifyToken, WebhookURL: good.URL + "/webhooks/whatsapp?team=sales"})
	base := e.srv.URL + "/_sim/numbers/" + pnid
	var v simulator.Verification
	if code := call(t, "POST", base+"/verify-webhook", "", &v); code != 200 || !v.Verified || v.Reason != "" {
		t.Fatalf("good endpoint: %d %+v", code, v)
	}
	if len(seen) != 1 || seen[0] != "GET /webhooks/whatsapp mode=subscribe" {
		t.Errorf("requests seen %q", seen)
	}

	for _, tc := range []struct {
		url, reason string
	}{
		{wrongToken.URL, "answered HTTP 403"},
		{noEcho.URL, "did not echo hub.challenge"},
		{"http://127.0.0.1:1/", "could not be reached"},
	} {
		if code := call(t, "PATCH", base, fmt.Sprintf(`{"webhookURL":%q}`, tc.url), nil); code != 200 {
			t.Fatalf("PATCH webhookURL: %d", code)
		}
		v = simulator.Verification{}
		if code := call(t, "POST", base+"/verify-webhook", "", &v); code != 200 || v.Verified || !strings.Contains(v.Reason, tc.reason) {
			t.Errorf("%s: %d %+v, want not verified: %s", tc.url, code, v, tc.reason)
		}
		if strings.Contains(v.Reason, verifyToken) {
			t.Errorf("the reason %q shows the verify token", v.Reason)
		}
	}

	// What cannot be tried is an error, not a failed verification.
	var errBody map[string]string
	if code := call(t, "POST", e.srv.URL+"/_sim/numbers/404/verify-webhook", "", &errBody); code != 404 {
		t.Errorf("unknown number: %d %v", code, errBody)
	}
	if code := call(t, "PATCH", base, `{"verifyToken":""}`, nil); code != 200 {
		t.Fatalf("PATCH verifyToken: %d", code)
	}
	if code := call(t, "POST", base+"/verify-webhook", "", &errBody); code != 400 || !strings.Contains(errBody["error"], "verifyToken is not set") {
		t.Errorf("no verify token: %d %v", code, errBody)
	}
	var n simulator.Number
	call(t, "PATCH", base, `{"verifyToken":"secret"}`, &n)
	if n.VerifyToken != "<set>" {
		t.Errorf("the control API shows the verify token: %q", n.VerifyToken)
	}
}

func TestAnswerVerification(t *testing.T) {
	q := whatsapp.VerificationQuery("tok", "1158201444")
	if c, err := whatsapp.AnswerVerification(q, "tok"); err != nil || c != "1158201444" {
		t.Errorf("valid request: %q, %v", c, err)
	}
	for name, tc := range map[string]struct {
		mutate func(q map[string][]string)
		token  string
	}{
		"wrong token":       {func(map[string][]string) {}, "other"},
		"endpoint no token": {func(map[string][]string) {}, ""},
		"mode":              {func(q map[string][]string) { q[whatsapp.HubMode] = []string{"unsubscribe"} }, "tok"},
		"no challenge":      {func(q map[string][]string) { delete(q, whatsapp.HubChallenge) }, "tok"},
	} {
		q := whatsapp.VerificationQuery("tok", "1158201444")
		tc.mutate(q)
		if _, err := whatsapp.AnswerVerification(q, tc.token); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
