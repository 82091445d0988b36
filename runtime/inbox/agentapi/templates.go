package agentapi

import (
	"context"
	"sync"
	"time"

	"github.com/switchboard-dev/switchboard/runtime/inbox/kube"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// TemplateTTL is how long a Number's approved templates are kept before the Graph API
// is asked again: a template approved in WhatsApp Manager shows within a minute, and a
// busy inbox asks Meta at most once a minute per Number.
const TemplateTTL = time.Minute

// Templates lists the approved message templates a Number may send: those of its
// WhatsApp Business Account (Graph API GET /{waba-id}/message_templates).
type Templates interface {
	Approved(ctx context.Context, n kube.Number) ([]whatsapp.MessageTemplate, error)
}

// TemplateCache is Templates from the Graph API, kept per Number for a TTL. Errors are
// not kept: the next call asks again.
type TemplateCache struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]cachedTemplates
}

type cachedTemplates struct {
	at   time.Time
	list []whatsapp.MessageTemplate
}

// NewTemplateCache returns an empty cache keeping answers for ttl.
func NewTemplateCache(ttl time.Duration) *TemplateCache {
	return &TemplateCache{ttl: ttl, m: map[string]cachedTemplates{}}
}

// Approved implements Templates.
func (c *TemplateCache) Approved(ctx context.Context, n kube.Number) ([]whatsapp.MessageTemplate, error) {
	key := n.Ref.String() + "\x00" + n.WABAID
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	if ok && time.Since(e.at) < c.ttl {
		return e.list, nil
	}
	client, err := whatsapp.New(whatsapp.Options{BaseURL: n.APIBaseURL, APIVersion: n.APIVersion, AccessToken: n.AccessToken})
	if err != nil {
		return nil, err
	}
	list, err := client.ListTemplates(ctx, n.WABAID, whatsapp.ListTemplatesOptions{ApprovedOnly: true})
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.m[key] = cachedTemplates{at: time.Now(), list: list}
	c.mu.Unlock()
	return list, nil
}
