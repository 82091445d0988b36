package integrations

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"golang.org/x/sync/singleflight"

	"github.com/switchboard-dev/switchboard/runtime/inbox/kube"
)

// CRM lookup statuses (CRMResult.Status).
const (
	CRMOK       = "ok"        // Fields are the CRM's
	CRMNotFound = "not_found" // the CRM answered 404
	CRMTimeout  = "timeout"   // no answer within spec.integrations.crm.timeout
	CRMError    = "error"     // another failure; Error says which (never a secret)
	CRMDisabled = "disabled"  // no spec.integrations.crm
)

// crmCacheSize bounds the cache: contacts beyond it push out the least recently used.
const crmCacheSize = 10000

// CRMResult is the "crm" member beside a conversation.
type CRMResult struct {
	Status string         `json:"status"`
	Fields map[string]any `json:"fields,omitempty"`
	// Cached: the fields come from the cache (at most spec.integrations.crm.cacheTTL old).
	Cached bool   `json:"cached,omitempty"`
	Error  string `json:"error,omitempty"`
}

// CRMLookup asks the user's CRM for a contact's fields (GET, signed when the CRM has a
// secretRef, with a bearer token when it has a bearerTokenRef), within the CRM's
// timeout or without them, and caches ok and not_found answers per contact for its
// cacheTTL. Concurrent lookups of one contact make one request. Safe for concurrent
// use.
type CRMLookup struct {
	snapshot func() *kube.Snapshot
	client   *Client
	log      *slog.Logger
	metrics  *Metrics
	group    singleflight.Group

	mu    sync.Mutex
	key   string // the CRM settings the cache was filled with
	cache *expirable.LRU[string, CRMResult]
}

// NewCRMLookup returns a lookup that follows the snapshot's spec.integrations.crm
// (client nil: NewClient(); metrics nil: unregistered).
func NewCRMLookup(snapshot func() *kube.Snapshot, client *Client, metrics *Metrics, log *slog.Logger) *CRMLookup {
	if client == nil {
		client = NewClient()
	}
	if metrics == nil {
		metrics = NewMetrics(nil)
	}
	return &CRMLookup{snapshot: snapshot, client: client, metrics: metrics, log: log}
}

// Lookup returns the CRM's fields of the contact waID (canonical digits).
func (l *CRMLookup) Lookup(ctx context.Context, waID string) CRMResult {
	r := l.lookup(ctx, waID)
	l.metrics.CRMLookups.WithLabelValues(r.Status, strconv.FormatBool(r.Cached)).Inc()
	return r
}

func (l *CRMLookup) lookup(ctx context.Context, waID string) CRMResult {
	var crm *kube.CRM
	if snap := l.snapshot(); snap != nil && snap.Integrations != nil {
		crm = snap.Integrations.CRM
	}
	if crm == nil {
		return CRMResult{Status: CRMDisabled}
	}
	cache := l.cacheFor(crm)
	if cache != nil {
		if r, ok := cache.Get(waID); ok {
			r.Cached = true
			return r
		}
	}
	ch := l.group.DoChan(waID, func() (any, error) {
		r := l.ask(context.WithoutCancel(ctx), crm, waID)
		if cache != nil && (r.Status == CRMOK || r.Status == CRMNotFound) {
			cache.Add(waID, r)
		}
		return r, nil
	})
	select {
	case res := <-ch:
		return res.Val.(CRMResult)
	case <-ctx.Done():
		return CRMResult{Status: CRMTimeout}
	}
}

// cacheFor returns the cache of these CRM settings (a new one when they changed), or
// nil when caching is off.
func (l *CRMLookup) cacheFor(crm *kube.CRM) *expirable.LRU[string, CRMResult] {
	if crm.CacheTTL <= 0 {
		return nil
	}
	sum := sha256.Sum256(fmt.Appendf(nil, "%s\x00%s\x00%s\x00%s", crm.URL, crm.CacheTTL, crm.BearerToken, crm.Secret))
	key := string(sum[:])
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cache == nil || l.key != key {
		l.cache, l.key = expirable.NewLRU[string, CRMResult](crmCacheSize, nil, crm.CacheTTL), key
	}
	return l.cache
}

// crmURL puts waID into the CRM URL: in place of "{wa_id}", or as ?wa_id=.
func crmURL(raw, waID string) string {
	if strings.Contains(raw, "{wa_id}") {
		return strings.ReplaceAll(raw, "{wa_id}", url.PathEscape(waID))
	}
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	q := u.Query()
	q.Set("wa_id", waID)
	u.RawQuery = q.Encode()
	return u.String()
}

func (l *CRMLookup) ask(ctx context.Context, crm *kube.CRM, waID string) CRMResult {
	res := l.client.Do(ctx, Request{Method: "GET", URL: crmURL(crm.URL, waID), Secret: crm.Secret,
		Bearer: crm.BearerToken, Timeout: crm.Timeout})
	l.metrics.Seconds.WithLabelValues("crm").Observe(res.Duration.Seconds())
	switch {
	case res.Timeout:
		return CRMResult{Status: CRMTimeout}
	case res.Status == 404:
		return CRMResult{Status: CRMNotFound}
	case !res.OK():
		l.log.Info("integrations: the CRM lookup failed", "error", describe(res))
		return CRMResult{Status: CRMError, Error: describe(res)}
	}
	var fields map[string]any
	if err := json.Unmarshal(res.Body, &fields); err != nil || fields == nil {
		return CRMResult{Status: CRMError, Error: "the CRM's answer is not a JSON object"}
	}
	return CRMResult{Status: CRMOK, Fields: fields}
}

// deadline bounds a lookup inside a request: the CRM's timeout and a little for the
// answer to travel.
func deadline(snapshot func() *kube.Snapshot) time.Duration {
	if snap := snapshot(); snap != nil && snap.Integrations != nil && snap.Integrations.CRM != nil {
		return snap.Integrations.CRM.Timeout + 50*time.Millisecond
	}
	return time.Second
}
