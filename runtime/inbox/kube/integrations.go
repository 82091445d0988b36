package kube

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
)

// Defaults and bounds of spec.integrations (the CRD enforces the same bounds).
const (
	DefaultWebhookTimeout     = 10 * time.Second
	DefaultWebhookMaxAttempts = 8
	DefaultChatbotTimeout     = 5 * time.Second
	DefaultCRMTimeout         = 500 * time.Millisecond
	DefaultCRMCacheTTL        = 5 * time.Minute
	maxCallTimeout            = 30 * time.Second
	maxCRMTimeout             = 5 * time.Second
)

// Integrations is the Inbox's spec.integrations with its secrets read from the Secrets
// it names (docs/integrations.md). It is never modified once in a Snapshot.
type Integrations struct {
	Webhooks []Webhook
	Chatbot  *Chatbot // nil: no chatbot
	CRM      *CRM     // nil: no CRM lookup
}

// Webhook is one outbound webhook endpoint.
type Webhook struct {
	Name        string
	URL         string
	Events      []string // event types, e.g. "message.received"
	Secret      []byte   `json:"-"` // the HMAC-SHA256 key
	Timeout     time.Duration
	MaxAttempts int
}

// Subscribes reports whether the endpoint receives events of type typ.
func (w Webhook) Subscribes(typ string) bool { return slices.Contains(w.Events, typ) }

// String names the endpoint without its secret.
func (w Webhook) String() string { return "webhook " + w.Name }

// Chatbot is the chatbot hook.
type Chatbot struct {
	URL     string
	Secret  []byte `json:"-"`
	Timeout time.Duration
}

// String names the hook without its secret.
func (c Chatbot) String() string { return "chatbot " + c.URL }

// CRM is the CRM lookup.
type CRM struct {
	URL         string
	Secret      []byte `json:"-"` // nil: requests are not signed
	BearerToken string `json:"-"` // "": no Authorization header
	Timeout     time.Duration
	CacheTTL    time.Duration
}

// String names the CRM without its secrets.
func (c CRM) String() string { return "crm " + c.URL }

// SecretReader returns the value of key in the Secret name of the Inbox's namespace.
type SecretReader func(ctx context.Context, name, key string) ([]byte, error)

// CompileIntegrations reads the secrets of spec and applies the defaults. An integration
// whose secret cannot be read, or whose settings are out of bounds, is left out and
// reported (the error names the field, never a secret's value); the others work. A nil
// spec is no integration.
func CompileIntegrations(ctx context.Context, spec *sbv1.InboxIntegrations, read SecretReader) (*Integrations, []error) {
	out := &Integrations{}
	if spec == nil {
		return out, nil
	}
	var errs []error
	secret := func(field string, ref sbv1.SecretKeyRef) ([]byte, error) {
		v, err := read(ctx, ref.Name, ref.Key)
		if err == nil && len(v) == 0 {
			err = fmt.Errorf("the key %q of the Secret %s is empty", ref.Key, ref.Name)
		}
		if err != nil {
			return nil, fmt.Errorf("spec.integrations.%s: %w", field, err)
		}
		return v, nil
	}
	for i, w := range spec.Webhooks {
		field := fmt.Sprintf("webhooks[%d]", i)
		key, err := secret(field+".secretRef", w.SecretRef)
		if err == nil {
			err = checkURL(field+".url", w.URL)
		}
		timeout, terr := bounded(field+".timeout", w.Timeout, DefaultWebhookTimeout, maxCallTimeout)
		if err = errors.Join(err, terr); err != nil {
			errs = append(errs, err)
			continue
		}
		attempts := DefaultWebhookMaxAttempts
		if w.MaxAttempts != nil {
			attempts = int(*w.MaxAttempts)
		}
		events := make([]string, len(w.Events))
		for j, e := range w.Events {
			events[j] = string(e)
		}
		out.Webhooks = append(out.Webhooks, Webhook{Name: w.Name, URL: w.URL, Events: events, Secret: key,
			Timeout: timeout, MaxAttempts: max(1, attempts)})
	}
	if c := spec.Chatbot; c != nil {
		key, err := secret("chatbot.secretRef", c.SecretRef)
		if err == nil {
			err = checkURL("chatbot.url", c.URL)
		}
		timeout, terr := bounded("chatbot.timeout", c.Timeout, DefaultChatbotTimeout, maxCallTimeout)
		if err = errors.Join(err, terr); err != nil {
			errs = append(errs, err)
		} else {
			out.Chatbot = &Chatbot{URL: c.URL, Secret: key, Timeout: timeout}
		}
	}
	if c := spec.CRM; c != nil {
		crm, err := compileCRM(c, secret)
		if err != nil {
			errs = append(errs, err)
		} else {
			out.CRM = crm
		}
	}
	return out, errs
}

func compileCRM(c *sbv1.IntegrationCRM, secret func(string, sbv1.SecretKeyRef) ([]byte, error)) (*CRM, error) {
	crm := &CRM{URL: c.URL, CacheTTL: DefaultCRMCacheTTL}
	var errs []error
	errs = append(errs, checkURL("crm.url", c.URL))
	var err error
	crm.Timeout, err = bounded("crm.timeout", c.Timeout, DefaultCRMTimeout, maxCRMTimeout)
	errs = append(errs, err)
	if c.CacheTTL != nil {
		if crm.CacheTTL = c.CacheTTL.Duration; crm.CacheTTL < 0 || crm.CacheTTL > 24*time.Hour {
			errs = append(errs, fmt.Errorf("spec.integrations.crm.cacheTTL: must be between 0s and 24h, got %s", crm.CacheTTL))
		}
	}
	if c.SecretRef != nil {
		crm.Secret, err = secret("crm.secretRef", *c.SecretRef)
		errs = append(errs, err)
	}
	if c.BearerTokenRef != nil {
		var token []byte
		token, err = secret("crm.bearerTokenRef", *c.BearerTokenRef)
		crm.BearerToken = string(token)
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return crm, nil
}

// bounded is d, or def when unset; an error names field when it is not in (0, limit].
func bounded(field string, d *metav1.Duration, def, limit time.Duration) (time.Duration, error) {
	if d == nil {
		return def, nil
	}
	if d.Duration <= 0 || d.Duration > limit {
		return 0, fmt.Errorf("spec.integrations.%s: must be more than 0s and at most %s, got %s", field, limit, d.Duration)
	}
	return d.Duration, nil
}

// checkURL accepts an absolute http or https URL.
func checkURL(field, raw string) error {
	if _, err := ParseHTTPURL(raw); err != nil {
		return fmt.Errorf("spec.integrations.%s: %w", field, err)
	}
	return nil
}

// readIntegrations compiles the spec.integrations of the Inbox the informer holds (the
// one the access rules come from: no second read). Before the Inbox is known the
// previous integrations stay (prev).
func (s *Source) readIntegrations(ctx context.Context, prev *Integrations) *Integrations {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ib, ok := s.inboxObject()
	if !ok {
		return prev
	}
	out, errs := CompileIntegrations(ctx, ib.Spec.Integrations, s.readSecretKey)
	for _, err := range errs {
		s.log.Error("an integration is disabled", "error", err)
	}
	return out
}

// readSecretKey reads one key of a Secret of the Inbox's namespace.
func (s *Source) readSecretKey(ctx context.Context, name, key string) ([]byte, error) {
	sec, err := s.secrets.CoreV1().Secrets(s.inbox.Namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsForbidden(err) {
		return nil, fmt.Errorf("the Secret %s: %s (is it listed in spec.secretRefs?)", name, apierrors.ReasonForError(err))
	}
	if err != nil {
		return nil, fmt.Errorf("the Secret %s: %w", name, err)
	}
	v, ok := sec.Data[key]
	if !ok {
		return nil, fmt.Errorf("the Secret %s has no key %q", name, key)
	}
	return v, nil
}

// ParseHTTPURL parses an absolute http or https URL with a host and no user
// information ("{wa_id}" placeholders are allowed in the path).
func ParseHTTPURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.ReplaceAll(raw, "{wa_id}", "0"))
	switch {
	case err != nil:
		return nil, fmt.Errorf("%q is not a URL", raw)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("%q: the scheme must be http or https", raw)
	case u.Host == "":
		return nil, fmt.Errorf("%q has no host", raw)
	case u.User != nil:
		return nil, fmt.Errorf("the URL must not carry user information (use a Secret)")
	}
	return u, nil
}
