package whatsapp_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// classTable lists every code the issue names, with its class and the wait
// suggested when no Retry-After header is present.
var classTable = []struct {
	code  int
	class whatsapp.Class
	wait  time.Duration
}{
	{130429, whatsapp.RetryLater, time.Second},
	{131057, whatsapp.RetryLater, time.Minute},
	{131000, whatsapp.RetryLater, 5 * time.Second},
	{131016, whatsapp.RetryLater, 30 * time.Second},
	{2, whatsapp.RetryLater, 30 * time.Second},
	{4, whatsapp.RetryLater, 5 * time.Minute},
	{80007, whatsapp.RetryLater, 5 * time.Minute},
	{131056, whatsapp.RetryRecipientLater, time.Second},
	{131048, whatsapp.PauseNumber, 0},
	{368, whatsapp.PauseNumber, 0},
	{131031, whatsapp.PauseNumber, 0},
	{130497, whatsapp.PauseNumber, 0},
	{131047, whatsapp.WindowClosed, 0},
	{100, whatsapp.Permanent, 0},
	{132000, whatsapp.Permanent, 0},
	{132001, whatsapp.Permanent, 0},
	{132012, whatsapp.Permanent, 0},
	{132015, whatsapp.Permanent, 0},
	{132016, whatsapp.Permanent, 0},
	{131026, whatsapp.Permanent, 0},
	{131050, whatsapp.Permanent, 0},
	{131008, whatsapp.Permanent, 0},
	{131009, whatsapp.Permanent, 0},
	{131051, whatsapp.Permanent, 0},
	{190, whatsapp.Permanent, 0},
	{104, whatsapp.Permanent, 0},
	{0, whatsapp.Permanent, 0},
	{3, whatsapp.Permanent, 0},
	{10, whatsapp.Permanent, 0},
	{200, whatsapp.Permanent, 0},
	{299, whatsapp.Permanent, 0},
	{999999, whatsapp.Permanent, 0},
}

func envelopeBody(code int) string {
	return fmt.Sprintf(`{"error":{"message":"(#%d) title","type":"OAuthException","code":%d,`+
		`"error_data":{"messaging_product":"whatsapp","details":"details of %d"},`+
		`"error_subcode":2494055,"fbtrace_id":"Az8or2yhqkZfEZ-_4Qn_Bam"}}`, code, code, code)
}

// errorServer answers every request with Meta's envelope for code and status.
func errorServer(t *testing.T, code, status int, header http.Header) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range header {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, envelopeBody(code))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func newClient(t *testing.T, baseURL, token string) *whatsapp.Client {
	t.Helper()
	c, err := whatsapp.New(whatsapp.Options{BaseURL: baseURL, AccessToken: token})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClassifyByCodeNotStatus(t *testing.T) {
	statuses := []int{200, 400, 401, 403, 404, 429, 500, 503}
	for i, tc := range classTable {
		status := statuses[i%len(statuses)]
		t.Run(fmt.Sprintf("%d_http%d", tc.code, status), func(t *testing.T) {
			srv := errorServer(t, tc.code, status, nil)
			_, err := newClient(t, srv.URL, "tok").Send(context.Background(), "1", whatsapp.TextMessage("34600000000", "hi"))
			e, ok := whatsapp.AsError(err)
			if !ok {
				t.Fatalf("want *whatsapp.Error, got %T %v", err, err)
			}
			if e.Code != tc.code || e.Class != tc.class || e.HTTPStatus != status {
				t.Fatalf("got code %d class %s status %d; want %d %s %d", e.Code, e.Class, e.HTTPStatus, tc.code, tc.class, status)
			}
			if got := whatsapp.ClassOf(err); got != tc.class {
				t.Fatalf("ClassOf = %s, want %s", got, tc.class)
			}
			if e.RetryAfter != tc.wait || whatsapp.RetryAfterOf(err) != tc.wait {
				t.Fatalf("RetryAfter = %s, want %s", e.RetryAfter, tc.wait)
			}
		})
	}
}

func TestClassifyPure(t *testing.T) {
	for _, tc := range classTable {
		if got := whatsapp.Classify(tc.code, false); got != tc.class {
			t.Errorf("Classify(%d) = %s, want %s", tc.code, got, tc.class)
		}
	}
	if got := whatsapp.Classify(12345, true); got != whatsapp.RetryLater {
		t.Errorf("unknown transient code: %s, want RetryLater", got)
	}
}

func TestEnvelopeFields(t *testing.T) {
	srv := errorServer(t, 130429, 400, nil)
	_, err := newClient(t, srv.URL, "tok").Send(context.Background(), "1", whatsapp.TextMessage("1", "x"))
	e, _ := whatsapp.AsError(err)
	if e == nil || e.Subcode != 2494055 || e.Type != "OAuthException" || e.Message != "(#130429) title" ||
		e.Details != "details of 130429" || e.FBTraceID != "Az8or2yhqkZfEZ-_4Qn_Bam" {
		t.Fatalf("envelope not parsed: %#v", e)
	}
	if !errors.Is(err, &whatsapp.Error{Code: 130429}) || errors.Is(err, &whatsapp.Error{Code: 131056}) {
		t.Fatal("errors.Is by code does not work")
	}
}

func TestRetryAfterHeader(t *testing.T) {
	for _, tc := range []struct {
		code   int
		header string
		want   time.Duration
	}{
		{130429, "7", 7 * time.Second},
		{131056, "12", 12 * time.Second},
		{4, "0", 0},
		{131048, "30", 0}, // PauseNumber carries no retry delay
	} {
		srv := errorServer(t, tc.code, 429, http.Header{"Retry-After": {tc.header}})
		_, err := newClient(t, srv.URL, "tok").Send(context.Background(), "1", whatsapp.TextMessage("1", "x"))
		if got := whatsapp.RetryAfterOf(err); got != tc.want {
			t.Errorf("code %d Retry-After %q: got %s, want %s", tc.code, tc.header, got, tc.want)
		}
	}
}

func TestRetryAfterHTTPDate(t *testing.T) {
	when := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	srv := errorServer(t, 130429, 400, http.Header{"Retry-After": {when}})
	_, err := newClient(t, srv.URL, "tok").Send(context.Background(), "1", whatsapp.TextMessage("1", "x"))
	if got := whatsapp.RetryAfterOf(err); got <= 0 || got > 91*time.Second {
		t.Fatalf("HTTP-date Retry-After gave %s", got)
	}
}

func TestPairRateBackoff(t *testing.T) {
	want := []time.Duration{1, 4, 16, 64, 256, 1024, 4096, 16384, 16384}
	for x, w := range want {
		if got := whatsapp.PairRateBackoff(x); got != w*time.Second {
			t.Errorf("PairRateBackoff(%d) = %s, want %s", x, got, w*time.Second)
		}
	}
	if whatsapp.PairRateBackoff(-3) != time.Second {
		t.Error("negative attempt should be 4^0")
	}
}

func TestNetworkErrorsRetryLater(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there now
	_, err := newClient(t, url, "tok").Send(context.Background(), "1", whatsapp.TextMessage("1", "x"))
	if whatsapp.ClassOf(err) != whatsapp.RetryLater || whatsapp.RetryAfterOf(err) <= 0 {
		t.Fatalf("connection refused: class %s, err %v", whatsapp.ClassOf(err), err)
	}
}

func TestNonGraphErrorIsRetryLater(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "<html>bad gateway</html>", http.StatusBadGateway)
	}))
	defer srv.Close()
	_, err := newClient(t, srv.URL, "tok").Send(context.Background(), "1", whatsapp.TextMessage("1", "x"))
	e, ok := whatsapp.AsError(err)
	if !ok || e.Class != whatsapp.RetryLater || e.HTTPStatus != 502 || e.Code != 0 {
		t.Fatalf("got %#v", err)
	}
}

func TestContextDeadlineHonoured(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // bounded: the client gives up first, or the test ends
		case <-r.Context().Done():
		case <-release:
		case <-time.After(10 * time.Second):
		}
	}))
	defer srv.Close()
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := newClient(t, srv.URL, "tok").Send(ctx, "1", whatsapp.TextMessage("1", "x"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want context.DeadlineExceeded in chain, got %v", err)
	}
	if whatsapp.ClassOf(err) != whatsapp.RetryLater {
		t.Fatalf("deadline: class %s", whatsapp.ClassOf(err))
	}
}

func TestClassOfForeignErrors(t *testing.T) {
	if whatsapp.ClassOf(nil) != "" {
		t.Error("nil should have no class")
	}
	if whatsapp.ClassOf(fmt.Errorf("wrapped: %w", context.DeadlineExceeded)) != whatsapp.RetryLater {
		t.Error("deadline should be RetryLater")
	}
	if whatsapp.ClassOf(errors.New("boom")) != whatsapp.Permanent {
		t.Error("unknown error should be Permanent")
	}
	wrapped := fmt.Errorf("sender: %w", &whatsapp.Error{Code: 131047, Class: whatsapp.WindowClosed})
	if whatsapp.ClassOf(wrapped) != whatsapp.WindowClosed {
		t.Error("wrapped *Error should keep its class")
	}
}

const secretToken = "EAAJB-very-secret-token-0123456789"

// TestTokenNeverLeaks forces every kind of failure, including a hostile
// server echoing the Authorization header, and checks no error text, format
// verb or log line carries the token.
func TestTokenNeverLeaks(t *testing.T) {
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		if r.URL.Query().Get("mode") == "plain" || strings.Contains(r.URL.Path, "plain") {
			http.Error(w, "proxy says "+auth, http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `{"error":{"message":"Invalid OAuth access token %s","type":"OAuthException","code":190,"error_data":{"details":"%s"},"fbtrace_id":"x"}}`, auth, auth)
	}))
	defer echo.Close()
	c := newClient(t, echo.URL, secretToken)
	var errs []error
	_, err := c.Send(context.Background(), "1", whatsapp.TextMessage("1", "x"))
	errs = append(errs, err)
	_, err = c.Send(context.Background(), "plain", whatsapp.TextMessage("1", "x"))
	errs = append(errs, err)
	_, err = c.GetPhoneNumber(context.Background(), "1")
	errs = append(errs, err)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	_, err = newClient(t, closed.URL, secretToken).Send(context.Background(), "1", whatsapp.TextMessage("1", "x"))
	errs = append(errs, err)
	for i, err := range errs {
		if err == nil {
			t.Fatalf("case %d: expected an error", i)
		}
		for _, s := range []string{err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
			if strings.Contains(s, secretToken) {
				t.Fatalf("case %d: token leaked: %s", i, s)
			}
		}
	}
	if e, _ := whatsapp.AsError(errs[0]); e.Class != whatsapp.Permanent || e.Code != 190 {
		t.Fatalf("190 should be Permanent: %v", errs[0])
	}
	opts := whatsapp.Options{BaseURL: echo.URL, AccessToken: secretToken}
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprint(opts), fmt.Sprintf("%+v", opts), fmt.Sprintf("%#v", opts), logLine(opts)} {
		if strings.Contains(s, secretToken) {
			t.Fatalf("token leaked by formatting: %s", s)
		}
	}
}

func logLine(v any) string {
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("client", "opts", v)
	return buf.String()
}

func TestTokenRefused(t *testing.T) {
	for code, want := range map[int]bool{190: true, 102: true, 10: true, 200: true, 100: false, 131048: false, 0: false} {
		if got := (&whatsapp.Error{Code: code, HTTPStatus: 401}).TokenRefused(); got != want {
			t.Errorf("code %d: TokenRefused %v, want %v", code, got, want)
		}
	}
	var none *whatsapp.Error
	if none.TokenRefused() {
		t.Error("a nil *Error is no refusal")
	}
}
