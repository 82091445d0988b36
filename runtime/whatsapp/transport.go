package whatsapp

import (
	"net"
	"net/http"
	"sync"
	"time"
)

var (
	sharedOnce   sync.Once
	sharedClient *http.Client
)

// NewTransport returns an http.Transport sized for hundreds of requests per
// second to one host (graph.facebook.com or the simulator): a deep idle pool
// per host so connections are reused rather than re-dialled under load.
func NewTransport() *http.Transport {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   512,
		MaxConnsPerHost:       0, // no cap: the sender's limiter paces requests
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// SharedHTTPClient returns the process-wide client every Client uses by
// default, so all numbers share one connection pool. Its 60 s timeout is a
// backstop; per-call context deadlines are honoured first.
func SharedHTTPClient() *http.Client {
	sharedOnce.Do(func() {
		sharedClient = &http.Client{Transport: NewTransport(), Timeout: 60 * time.Second}
	})
	return sharedClient
}
