package simulator

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// Config configures a Server. Zero values take the documented defaults.
type Config struct {
	Seed               int64      // all IDs and random choices derive from it
	Clock              Clock      // default RealClock
	AccessToken        string     // accepted for numbers without their own token
	ThrottleHTTPStatus int        // HTTP status for 130429/131056/131048: 400 (default, as Meta) or 429
	Numbers            []Number   // registered at start
	Templates          []Template // message templates registered at start (templates.go)
	Events             []Event    // scheduled at start (After is relative to start)
	Webhooks           WebhookConfig
	Statuses           StatusConfig
	Limits             LimitConfig
	Recipients         RecipientConfig // how recipients resolve to wa_ids
	Media              MediaConfig     // media URLs' lifetime and the upload bound
	MaxInjected        int             // bound on messages one traffic event may inject; default 100,000
	TemplateCategory   string          // pricing category of templates; default "marketing"
	Logger             *slog.Logger    // default: discard
}

// WebhookConfig tunes webhook delivery.
type WebhookConfig struct {
	MaxAttempts          int           // attempts per webhook including the first; default 5
	BaseDelay            time.Duration // first retry delay, doubled each time; default 1 s
	MaxDelay             time.Duration // retry delay cap; default 1 h
	Timeout              time.Duration // per attempt; default 10 s
	Workers              int           // concurrent deliveries; default 4
	QueueLimit           int           // pending webhooks kept; default 100,000 (more are dropped and counted)
	DuplicateProbability float64       // chance a delivered webhook is delivered again (0…1)
	// BatchWindow, when positive, gathers the updates for one URL over that long into one
	// webhook (one entry each, at most 1,000), as Meta may; 0 sends each update alone.
	BatchWindow time.Duration
	HTTPClient  *http.Client // default: a client with Timeout
}

// StatusConfig sets when status webhooks follow an accepted message. A
// negative delay skips that status; zero takes the default.
type StatusConfig struct {
	SentAfter         time.Duration // default 100 ms
	DeliveredAfter    time.Duration // default 1 s
	ReadAfter         time.Duration // default 3 s
	UnreadProbability float64       // chance a delivered message is never read
}

// LimitConfig overrides Meta's limits (tests rarely need to).
type LimitConfig struct {
	PairInterval   time.Duration // one message per interval per recipient; default 6 s
	PairBurst      int           // default 45
	ServiceWindow  time.Duration // customer-service window; default 24 h
	RecipientsOver time.Duration // unique-recipient window; default 24 h
}

func (c Config) withDefaults() Config {
	if c.Clock == nil {
		c.Clock = RealClock{}
	}
	if c.ThrottleHTTPStatus == 0 {
		c.ThrottleHTTPStatus = http.StatusBadRequest
	}
	if c.MaxInjected <= 0 {
		c.MaxInjected = 100_000
	}
	if c.TemplateCategory == "" {
		c.TemplateCategory = "marketing"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.Webhooks = c.Webhooks.withDefaults()
	c.Statuses = c.Statuses.withDefaults()
	c.Limits = c.Limits.withDefaults()
	c.Media = c.Media.withDefaults()
	return c
}

func (w WebhookConfig) withDefaults() WebhookConfig {
	w.MaxAttempts = orInt(w.MaxAttempts, 5)
	w.BaseDelay = orDur(w.BaseDelay, time.Second)
	w.MaxDelay = orDur(w.MaxDelay, time.Hour)
	w.Timeout = orDur(w.Timeout, 10*time.Second)
	w.Workers = orInt(w.Workers, 4)
	w.QueueLimit = orInt(w.QueueLimit, 100_000)
	if w.HTTPClient == nil {
		w.HTTPClient = &http.Client{Timeout: w.Timeout}
	}
	return w
}

func (s StatusConfig) withDefaults() StatusConfig {
	s.SentAfter = orDur(s.SentAfter, 100*time.Millisecond)
	s.DeliveredAfter = orDur(s.DeliveredAfter, time.Second)
	s.ReadAfter = orDur(s.ReadAfter, 3*time.Second)
	return s
}

func (l LimitConfig) withDefaults() LimitConfig {
	l.PairInterval = orDur(l.PairInterval, 6*time.Second)
	l.PairBurst = orInt(l.PairBurst, 45)
	l.ServiceWindow = orDur(l.ServiceWindow, 24*time.Hour)
	l.RecipientsOver = orDur(l.RecipientsOver, 24*time.Hour)
	return l
}

func (c Config) validate() error {
	if c.ThrottleHTTPStatus != http.StatusBadRequest && c.ThrottleHTTPStatus != http.StatusTooManyRequests {
		return fmt.Errorf("simulator: ThrottleHTTPStatus must be 400 or 429, not %d", c.ThrottleHTTPStatus)
	}
	if c.Webhooks.BatchWindow < 0 {
		return fmt.Errorf("simulator: webhook BatchWindow %s is negative", c.Webhooks.BatchWindow)
	}
	if p := c.Webhooks.DuplicateProbability; p < 0 || p > 1 {
		return fmt.Errorf("simulator: DuplicateProbability %v outside 0…1", p)
	}
	if p := c.Statuses.UnreadProbability; p < 0 || p > 1 {
		return fmt.Errorf("simulator: UnreadProbability %v outside 0…1", p)
	}
	return c.Recipients.validate()
}

func orInt(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func orDur(v, def time.Duration) time.Duration {
	if v == 0 {
		return def
	}
	return v
}

// Duration is a time.Duration written as "1m30s" in JSON and YAML (a bare
// number means seconds).
type Duration time.Duration

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MarshalJSON writes the duration as a string such as "1m30s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "1m30s" or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("duration %q: %w", s, err)
		}
		*d = Duration(v)
		return nil
	}
	var secs float64
	if err := json.Unmarshal(b, &secs); err != nil {
		return fmt.Errorf("duration: want a string like \"30s\" or seconds, got %s", b)
	}
	*d = Duration(secs * float64(time.Second))
	return nil
}
