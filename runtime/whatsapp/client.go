package whatsapp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"time"
)

const (
	// DefaultBaseURL is Meta's Graph API host.
	DefaultBaseURL = "https://graph.facebook.com"
	// DefaultAPIVersion is the Graph API version the client speaks.
	DefaultAPIVersion = "v23.0"
	// maxResponseBytes bounds how much of a response body is read.
	maxResponseBytes = 1 << 20
)

var versionPattern = regexp.MustCompile(`^v[0-9]+\.[0-9]+$`)

// Options configures a Client. Zero values take the defaults.
type Options struct {
	BaseURL     string       // default DefaultBaseURL; tests and dev mode point at the simulator
	APIVersion  string       // default DefaultAPIVersion, e.g. "v23.0"
	AccessToken string       // sent as "Authorization: Bearer …"; never logged
	HTTPClient  *http.Client // default: SharedHTTPClient()
}

// String describes the options without the access token.
func (o Options) String() string {
	return fmt.Sprintf("whatsapp.Options{BaseURL:%q APIVersion:%q AccessToken:%s}",
		o.BaseURL, o.APIVersion, redacted(o.AccessToken))
}

// GoString keeps the access token out of %#v.
func (o Options) GoString() string { return o.String() }

// LogValue keeps the access token out of slog output.
func (o Options) LogValue() slog.Value {
	return slog.GroupValue(slog.String("base_url", o.BaseURL),
		slog.String("api_version", o.APIVersion), slog.String("access_token", redacted(o.AccessToken)))
}

func redacted(token string) string {
	if token == "" {
		return "<empty>"
	}
	return "<redacted>"
}

// Client calls the WhatsApp Cloud API. It is safe for concurrent use.
type Client struct {
	base    *url.URL
	version string
	token   string
	hc      *http.Client
	now     func() time.Time
}

// New returns a Client for opts, filling in defaults.
func New(opts Options) (*Client, error) {
	if opts.BaseURL == "" {
		opts.BaseURL = DefaultBaseURL
	}
	if opts.APIVersion == "" {
		opts.APIVersion = DefaultAPIVersion
	}
	base, err := url.Parse(strings.TrimRight(opts.BaseURL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("whatsapp: invalid BaseURL %q", opts.BaseURL)
	}
	if !versionPattern.MatchString(opts.APIVersion) {
		return nil, fmt.Errorf("whatsapp: invalid APIVersion %q (want like v23.0)", opts.APIVersion)
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = SharedHTTPClient()
	}
	return &Client{base: base, version: opts.APIVersion, token: opts.AccessToken, hc: hc, now: time.Now}, nil
}

// String describes the client without the access token.
func (c *Client) String() string {
	return fmt.Sprintf("whatsapp.Client{base:%s version:%s}", c.base, c.version)
}

// GoString keeps the access token out of %#v.
func (c *Client) GoString() string { return c.String() }

// APIVersion returns the Graph API version the client uses.
func (c *Client) APIVersion() string { return c.version }

// endpoint builds base/version/segments…?query.
func (c *Client) endpoint(query url.Values, segments ...string) string {
	u := *c.base
	u.RawPath = ""
	u.Path = strings.Join(append([]string{u.Path, c.version}, segments...), "/")
	u.RawQuery = query.Encode()
	return u.String()
}

// validID reports whether id can be a Graph node ID path segment.
func validID(id string) bool {
	return id != "" && !strings.ContainsAny(id, "/?#") && id != "." && id != ".."
}

// do sends one request and decodes a 2xx body into out; any failure is a *Error, whose
// Ambiguous field says whether the request may have reached Meta.
func (c *Client) do(ctx context.Context, method, endpoint string, body, out any) error {
	var wrote atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err == nil {
				wrote.Store(true)
			}
		},
	})
	req, err := c.newRequest(ctx, method, endpoint, body)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return c.networkError(ctx, err, wrote.Load())
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return c.networkError(ctx, err, true)
	}
	return c.decode(resp, raw, out)
}

func (c *Client) newRequest(ctx context.Context, method, endpoint string, body any) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false) // keep "<", ">" and "&" in texts as typed
		if err := enc.Encode(body); err != nil {
			return nil, fmt.Errorf("whatsapp: encode request: %w", err)
		}
		rd = &buf
	}
	req, err := http.NewRequestWithContext(ctx, method, endpoint, rd)
	if err != nil {
		return nil, fmt.Errorf("whatsapp: build request: %s", c.scrub(err.Error()))
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return req, nil
}

// decode turns a response into out or a classified *Error. Meta's error
// envelope wins whatever the HTTP status; a non-2xx reply without one did not
// come from Meta's API (a proxy or load balancer) and is treated like a
// network failure. Such a reply is Ambiguous unless it is a 4xx: a proxy that
// refuses a request (407, 429, 403…) did not pass it on, while a 5xx (502, 504)
// may come after Meta received it.
func (c *Client) decode(resp *http.Response, raw []byte, out any) error {
	if e, ok := c.parseEnvelope(resp, raw); ok {
		return e
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		msg := fmt.Sprintf("HTTP %d without a Graph error body", resp.StatusCode)
		e := c.failure(msg, resp.StatusCode, nil, resp.Header)
		e.Ambiguous = resp.StatusCode < 400 || resp.StatusCode > 499
		return e
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return c.failure("undecodable response body", resp.StatusCode, err, resp.Header)
	}
	return nil
}

// envelope is Meta's error response body.
type envelope struct {
	Error *struct {
		Message     string `json:"message"`
		Type        string `json:"type"`
		Code        int    `json:"code"`
		Subcode     int    `json:"error_subcode"`
		FBTraceID   string `json:"fbtrace_id"`
		IsTransient bool   `json:"is_transient"`
		ErrorData   struct {
			Details string `json:"details"`
		} `json:"error_data"`
	} `json:"error"`
}

func (c *Client) parseEnvelope(resp *http.Response, raw []byte) (*Error, bool) {
	var env envelope
	if json.Unmarshal(raw, &env) != nil || env.Error == nil {
		return nil, false
	}
	m := env.Error
	class := Classify(m.Code, m.IsTransient)
	return &Error{
		Code: m.Code, Subcode: m.Subcode, Type: m.Type,
		Message: c.scrub(m.Message), Details: c.scrub(m.ErrorData.Details),
		FBTraceID: m.FBTraceID, Transient: m.IsTransient, HTTPStatus: resp.StatusCode,
		Class: class, RetryAfter: retryAfter(resp.Header, class, m.Code, c.now()),
	}, true
}

// networkError wraps a transport failure; it is RetryLater, and Ambiguous when the
// request had been written (wrote) before it failed. The request URL is dropped from the
// text (it is long and says nothing new).
func (c *Client) networkError(ctx context.Context, err error, wrote bool) *Error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
		err = fmt.Errorf("%w: %w", ctxErr, err)
	}
	e := c.failure("network error: "+err.Error(), 0, err, nil)
	e.Ambiguous = wrote
	return e
}

// failure is an outcome that is not Meta's error envelope: RetryLater, and Ambiguous (an
// answer came, so the request was written and may have reached Meta) unless the caller
// knows better.
func (c *Client) failure(msg string, status int, cause error, h http.Header) *Error {
	if h == nil {
		h = http.Header{}
	}
	e := &Error{Message: c.scrub(msg), HTTPStatus: status, Class: RetryLater, networkFail: true, Ambiguous: true}
	e.RetryAfter = retryAfter(h, RetryLater, 0, c.now())
	if cause != nil {
		e.Err = scrubbedError{cause, c.scrub(cause.Error())}
	}
	return e
}

// scrub removes the access token from s, whatever produced s.
func (c *Client) scrub(s string) string {
	if c.token == "" {
		return s
	}
	return strings.ReplaceAll(s, c.token, "<redacted>")
}

// scrubbedError keeps the cause for errors.Is/As but prints a scrubbed text.
type scrubbedError struct {
	err  error
	text string
}

func (s scrubbedError) Error() string { return s.text }
func (s scrubbedError) Unwrap() error { return s.err }
