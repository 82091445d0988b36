package integrations

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// MaxResponse is the most of an answer that is read: 64 KiB. A longer answer is an
// error (the chatbot's and the CRM's) or cut (a webhook's, whose body is not used).
const MaxResponse = 64 << 10

// Client calls the user's services with bounds: each call has its timeout (the whole
// exchange, body included), answers are read up to MaxResponse, redirects are never
// followed (a 3xx is an error naming the Location's host), and errors never contain the
// URL (its query could carry a token) nor any header.
type Client struct {
	http *http.Client
	now  func() time.Time
}

// NewClient returns a Client with its own connection pool.
func NewClient() *Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = 5 * time.Second
	tr.MaxIdleConnsPerHost = 16
	tr.MaxResponseHeaderBytes = 16 << 10
	return &Client{now: time.Now, http: &http.Client{Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// Request is one signed call.
type Request struct {
	Method, URL string
	Body        []byte // signed; for a GET, the path and query are signed instead
	Secret      []byte // nil: not signed
	Bearer      string // "": no Authorization header
	DeliveryID  string // "": no DeliveryHeader
	Event       string // "": no EventHeader
	Timeout     time.Duration
}

// Result is what one call did: Status is 0 when no answer came (Err says why).
type Result struct {
	Status   int
	Body     []byte
	Duration time.Duration
	Err      error
	Timeout  bool // Err is the call's timeout
}

// OK reports a 2xx answer.
func (r Result) OK() bool { return r.Err == nil && r.Status >= 200 && r.Status < 300 }

// Do sends r and reads the answer.
func (c *Client) Do(ctx context.Context, r Request) Result {
	start := c.now()
	res := c.do(ctx, r)
	res.Duration = c.now().Sub(start)
	return res
}

func (c *Client) do(ctx context.Context, r Request) Result {
	ctx, cancel := context.WithTimeout(ctx, r.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, bytes.NewReader(r.Body))
	if err != nil {
		return Result{Err: errors.New("the URL does not make a request")}
	}
	signed := r.Body
	if r.Method == http.MethodGet {
		req.Body, req.ContentLength, signed = nil, 0, []byte(req.URL.RequestURI())
	} else {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "switchboard-inbox")
	if r.Secret != nil {
		ts := c.now().Unix()
		req.Header.Set(TimestampHeader, strconv.FormatInt(ts, 10))
		req.Header.Set(SignatureHeader, Sign(r.Secret, ts, signed))
	}
	if r.Bearer != "" {
		req.Header.Set("Authorization", "Bearer "+r.Bearer)
	}
	if r.DeliveryID != "" {
		req.Header.Set(DeliveryHeader, r.DeliveryID)
	}
	if r.Event != "" {
		req.Header.Set(EventHeader, r.Event)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return failure(ctx, err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponse+1))
	res := Result{Status: resp.StatusCode, Body: body}
	switch {
	case err != nil:
		res.Err = failure(ctx, err).Err
		res.Timeout = ctx.Err() != nil
	case len(body) > MaxResponse:
		res.Body, res.Err = body[:MaxResponse], fmt.Errorf("the answer is longer than %d bytes", MaxResponse)
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		res.Err = fmt.Errorf("answered %d: redirects are not followed (Location host %q)", resp.StatusCode, locationHost(resp))
	case resp.StatusCode >= 400:
		res.Err = fmt.Errorf("answered %d", resp.StatusCode)
	}
	return res
}

// failure describes a transport error without the URL.
func failure(ctx context.Context, err error) Result {
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
		return Result{Err: errors.New("timed out"), Timeout: true}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return Result{Err: errors.New("timed out"), Timeout: true}
	}
	msg := err.Error()
	if len(msg) > 300 {
		msg = msg[:300]
	}
	return Result{Err: errors.New(msg)}
}

func locationHost(resp *http.Response) string {
	u, err := resp.Location()
	if err != nil {
		return ""
	}
	return u.Host
}
