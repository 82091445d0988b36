package simulator

import (
	"fmt"
	"os"

	"sigs.k8s.io/yaml"
)

// Scenario is a file (YAML or JSON) that configures the simulator at start:
// numbers to register and events to schedule, plus a few settings.
//
//	seed: 42
//	accessToken: dev-token
//	throttleHTTPStatus: 400
//	webhooks: {maxAttempts: 5, baseDelay: 1s, duplicateProbability: 0.01, batchWindow: 200ms}
//	statuses: {sentAfter: 100ms, deliveredAfter: 1s, readAfter: 3s}
//	numbers:
//	- {id: "106540352242922", displayPhoneNumber: "+1 555-078-3881", tier: TIER_2K,
//	   appSecret: dev-secret, webhookURL: "http://127.0.0.1:18080/webhooks/whatsapp"}
//	events:
//	- {after: 10s, number: "106540352242922", traffic: {rate: 5, users: 50, duration: 1m}}
//	- {after: 2m, number: "106540352242922", quality: {rating: RED}}
//	- {after: 3m, number: "106540352242922", restrict: {restricted: true, for: 10m}}
type Scenario struct {
	Seed               *int64           `json:"seed,omitempty"`
	AccessToken        string           `json:"accessToken,omitempty"`
	ThrottleHTTPStatus int              `json:"throttleHTTPStatus,omitempty"`
	Webhooks           ScenarioWebhooks `json:"webhooks,omitzero"`
	Statuses           ScenarioStatuses `json:"statuses,omitzero"`
	MaxInjected        int              `json:"maxInjected,omitempty"`
	Recipients         RecipientConfig  `json:"recipients,omitzero"`
	Numbers            []Number         `json:"numbers,omitempty"`
	Templates          []Template       `json:"templates,omitempty"`
	Events             []Event          `json:"events,omitempty"`
}

// ScenarioWebhooks mirrors WebhookConfig for files.
type ScenarioWebhooks struct {
	MaxAttempts          int      `json:"maxAttempts,omitempty"`
	BaseDelay            Duration `json:"baseDelay,omitempty"`
	MaxDelay             Duration `json:"maxDelay,omitempty"`
	Timeout              Duration `json:"timeout,omitempty"`
	Workers              int      `json:"workers,omitempty"`
	DuplicateProbability float64  `json:"duplicateProbability,omitempty"`
	BatchWindow          Duration `json:"batchWindow,omitempty"`
}

// ScenarioStatuses mirrors StatusConfig for files.
type ScenarioStatuses struct {
	SentAfter         Duration `json:"sentAfter,omitempty"`
	DeliveredAfter    Duration `json:"deliveredAfter,omitempty"`
	ReadAfter         Duration `json:"readAfter,omitempty"`
	UnreadProbability float64  `json:"unreadProbability,omitempty"`
}

// ParseScenario reads a scenario from YAML or JSON; unknown fields are errors.
func ParseScenario(data []byte) (Scenario, error) {
	var sc Scenario
	if err := yaml.UnmarshalStrict(data, &sc); err != nil {
		return Scenario{}, fmt.Errorf("simulator: scenario: %w", err)
	}
	return sc, nil
}

// LoadScenario reads a scenario file.
func LoadScenario(path string) (Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Scenario{}, fmt.Errorf("simulator: %w", err)
	}
	return ParseScenario(data)
}

// Apply copies the scenario's settings, numbers and events into cfg; unset
// settings leave cfg as it is.
func (sc Scenario) Apply(cfg *Config) {
	if sc.Seed != nil {
		cfg.Seed = *sc.Seed
	}
	cfg.AccessToken = orStr(sc.AccessToken, cfg.AccessToken)
	cfg.ThrottleHTTPStatus = orInt(sc.ThrottleHTTPStatus, cfg.ThrottleHTTPStatus)
	cfg.MaxInjected = orInt(sc.MaxInjected, cfg.MaxInjected)
	sc.Recipients.applyTo(&cfg.Recipients)
	w := &cfg.Webhooks
	w.MaxAttempts = orInt(sc.Webhooks.MaxAttempts, w.MaxAttempts)
	w.BaseDelay = orDur(sc.Webhooks.BaseDelay.D(), w.BaseDelay)
	w.MaxDelay = orDur(sc.Webhooks.MaxDelay.D(), w.MaxDelay)
	w.Timeout = orDur(sc.Webhooks.Timeout.D(), w.Timeout)
	w.Workers = orInt(sc.Webhooks.Workers, w.Workers)
	w.BatchWindow = orDur(sc.Webhooks.BatchWindow.D(), w.BatchWindow)
	if sc.Webhooks.DuplicateProbability != 0 {
		w.DuplicateProbability = sc.Webhooks.DuplicateProbability
	}
	st := &cfg.Statuses
	st.SentAfter = orDur(sc.Statuses.SentAfter.D(), st.SentAfter)
	st.DeliveredAfter = orDur(sc.Statuses.DeliveredAfter.D(), st.DeliveredAfter)
	st.ReadAfter = orDur(sc.Statuses.ReadAfter.D(), st.ReadAfter)
	if sc.Statuses.UnreadProbability != 0 {
		st.UnreadProbability = sc.Statuses.UnreadProbability
	}
	cfg.Numbers = append(cfg.Numbers, sc.Numbers...)
	cfg.Templates = append(cfg.Templates, sc.Templates...)
	cfg.Events = append(cfg.Events, sc.Events...)
}
