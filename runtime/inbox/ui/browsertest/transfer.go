package browsertest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// Resource is one response a tab received, as Chromium's network domain reports it.
type Resource struct {
	URL, MIMEType string
	// Encoding is the response's Content-Encoding ("" when not compressed).
	Encoding string
	Status   int64
	// Bytes is what came over the wire for it (Chromium's encodedDataLength: headers and
	// the body as transferred, compressed when it was); 0 when served from the cache.
	Bytes int64
	// Cached: served from the browser's cache, nothing transferred.
	Cached bool
}

// Transfer records every response a tab receives from the time it is made, with the
// bytes transferred for it. Safe for concurrent use.
type Transfer struct {
	mu    sync.Mutex
	order []network.RequestID
	byID  map[network.RequestID]*Resource
	// redirects are the bytes of redirect answers (their own requests end without a
	// loadingFinished of their own).
	redirects []Resource
}

// RecordTransfer starts recording ctx's tab (a context from New).
func RecordTransfer(t testing.TB, ctx context.Context) *Transfer {
	t.Helper()
	tr := &Transfer{byID: map[network.RequestID]*Resource{}}
	if err := chromedp.Listen(ctx, tr.event); err != nil {
		t.Fatalf("listening to the tab's network: %v", err)
	}
	return tr
}

func (tr *Transfer) event(ev any) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		if r := ev.RedirectResponse; r != nil {
			tr.redirects = append(tr.redirects, Resource{URL: r.URL, MIMEType: r.MimeType, Status: r.Status,
				Bytes: int64(r.EncodedDataLength)})
		}
	case *network.EventResponseReceived:
		r := ev.Response
		res := tr.resource(ev.RequestID)
		res.URL, res.MIMEType, res.Status = r.URL, r.MimeType, r.Status
		res.Cached = res.Cached || r.FromDiskCache || r.FromPrefetchCache
		for k, v := range r.Headers {
			if strings.EqualFold(k, "Content-Encoding") {
				res.Encoding = fmt.Sprint(v)
			}
		}
	case *network.EventDataReceived:
		// A stream that does not end while recorded (the live events' EventSource) is
		// counted as its data arrives.
		tr.resource(ev.RequestID).Bytes += int64(ev.EncodedDataLength)
	case *network.EventLoadingFinished:
		tr.resource(ev.RequestID).Bytes = int64(ev.EncodedDataLength)
	case *network.EventRequestServedFromCache:
		tr.resource(ev.RequestID).Cached = true
	}
}

func (tr *Transfer) resource(id network.RequestID) *Resource {
	r := tr.byID[id]
	if r == nil {
		r = &Resource{}
		tr.byID[id] = r
		tr.order = append(tr.order, id)
	}
	return r
}

// Take returns what was received since the last Take (redirects first, then the
// responses in the order they were requested), and starts afresh.
func (tr *Transfer) Take() []Resource {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	out := slices.Clone(tr.redirects)
	for _, id := range tr.order {
		if r := tr.byID[id]; r.URL != "" {
			out = append(out, *r)
		}
	}
	tr.order, tr.byID, tr.redirects = nil, map[network.RequestID]*Resource{}, nil
	return out
}

// Responded reports whether a response from a URL containing sub, with bytes received
// for it, has been recorded since the last Take (its body may still be arriving).
func (tr *Transfer) Responded(sub string) bool {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, r := range tr.byID {
		if r.URL != "" && r.Bytes > 0 && strings.Contains(r.URL, sub) {
			return true
		}
	}
	return false
}

// Total is the bytes transferred for rs.
func Total(rs []Resource) int64 {
	var n int64
	for _, r := range rs {
		n += r.Bytes
	}
	return n
}
