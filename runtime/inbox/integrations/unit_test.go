package integrations

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestBackoffDoublesUpToTheCapWithJitter(t *testing.T) {
	b := Backoff{Base: 4 * time.Second, Max: 30 * time.Second}
	cases := []struct {
		attempt int
		jitter  float64
		want    time.Duration
	}{
		{1, 0, 2 * time.Second}, {1, 0.5, 3 * time.Second}, {2, 0, 4 * time.Second}, {3, 0, 8 * time.Second},
		{4, 0.999999, 30*time.Second - 15*time.Microsecond}, {5, 0, 15 * time.Second}, {50, 0, 15 * time.Second},
	}
	for _, c := range cases {
		if got := b.Delay(c.attempt, c.jitter); got.Round(time.Millisecond) != c.want.Round(time.Millisecond) {
			t.Errorf("Delay(%d, %v) = %s, want %s", c.attempt, c.jitter, got, c.want)
		}
	}
}

func TestVerifyRefusesTamperingAndReplays(t *testing.T) {
	secret, body := []byte("s3cret"), []byte(`{"id":"evt_1"}`)
	now := time.Unix(1_800_000_000, 0)
	ts := strconv.FormatInt(now.Unix(), 10)
	sig := Sign(secret, now.Unix(), body)
	if err := Verify(secret, ts, sig, body, now.Add(time.Minute), DefaultTolerance); err != nil {
		t.Fatalf("a good signature: %v", err)
	}
	for name, err := range map[string]error{
		"other body":      Verify(secret, ts, sig, []byte(`{"id":"evt_2"}`), now, DefaultTolerance),
		"other secret":    Verify([]byte("other"), ts, sig, body, now, DefaultTolerance),
		"other timestamp": Verify(secret, strconv.FormatInt(now.Unix()+1, 10), sig, body, now, DefaultTolerance),
		"replayed later":  Verify(secret, ts, sig, body, now.Add(10*time.Minute), DefaultTolerance),
		"no timestamp":    Verify(secret, "", sig, body, now, DefaultTolerance),
	} {
		if err == nil {
			t.Errorf("%s: verified", name)
		}
	}
	if err := Verify(secret, ts, sig, body, now.Add(10*time.Minute), DefaultTolerance); !errors.Is(err, ErrStale) {
		t.Errorf("replay: %v, want ErrStale", err)
	}
}

func TestClientBoundsAnswersAndHidesTheURL(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(strings.Repeat("x", MaxResponse+10)))
	}))
	defer srv.Close()
	c := NewClient()
	res := c.Do(context.Background(), Request{Method: "POST", URL: srv.URL + "/?token=abc", Body: []byte("{}"), Timeout: time.Second})
	if res.Err == nil || len(res.Body) != MaxResponse || res.OK() {
		t.Errorf("an over-long answer: err %v, %d bytes read", res.Err, len(res.Body))
	}
	srv.Close()
	res = c.Do(context.Background(), Request{Method: "POST", URL: srv.URL + "/?token=abc", Body: []byte("{}"), Timeout: time.Second})
	if res.Err == nil || strings.Contains(res.Err.Error(), "token=abc") {
		t.Errorf("a refused connection: %v (must not contain the URL's query)", res.Err)
	}
}

func TestDecodeAnswer(t *testing.T) {
	long := `{"text":"` + strings.Repeat("a", maxAnswerText+1) + `"}`
	for body, wantErr := range map[string]string{
		`{"text":"hi"}`: "", ``: "", `{"handoff":true}`: "", `[1]`: "not the expected JSON object",
		`{"template":{"name":"x"}}`: "needs a name and a language", long: "longer than 4096",
	} {
		_, err := decodeAnswer([]byte(body))
		if (wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), wantErr)) {
			t.Errorf("decodeAnswer(%.30q) = %v, want %q", body, err, wantErr)
		}
	}
}
