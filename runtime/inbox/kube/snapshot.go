// Package kube is the inbox's only client-go user: informers on the Inbox, the Numbers it
// serves and their credentials Secrets, turned into an immutable Snapshot that is swapped
// atomically on every change; and the Number annotation that asks the manager to re-read
// a Number from the Graph API at once.
package kube

import (
	"strings"

	"github.com/switchboard-dev/switchboard/runtime/store"
)

// Number is a Number the inbox serves, with what receiving its webhooks needs. The
// secrets are never logged (String hides them).
type Number struct {
	Ref           store.NumberRef
	PhoneNumberID string
	WABAID        string // spec.businessAccountID
	DisplayDigits string // spec.displayPhoneNumber, digits only ("" when not set)
	AppSecret     string // the credentials Secret's appSecret: verifies X-Hub-Signature-256
	VerifyToken   string // the credentials Secret's verifyToken: Meta's hub.challenge handshake
	AccessToken   string // the credentials Secret's accessToken: downloads the Number's media
	APIBaseURL    string // spec.apiBaseURL: the Graph API (or the simulator)
	APIVersion    string // spec.apiVersion, e.g. v23.0
	Policy        Policy // inbound keyword rules and business hours
	// DefaultSkill is spec.routing.defaultSkill: the skill a new conversation requires
	// when no Inbound KeywordRule's routeToSkill matched ("" for none).
	DefaultSkill string
}

// String names the Number without its secrets.
func (n Number) String() string { return n.Ref.String() }

// Snapshot is what the inbox serves at one moment. It is never modified after NewSnapshot:
// a change builds a new one.
type Snapshot struct {
	Namespace string
	// Access: roles, teams, declared agents, single sign-on (access.go).
	Access Access
	// Integrations is the Inbox's spec.integrations, compiled with its secrets (never
	// nil in a Snapshot from a Source; nil in tests means none).
	Integrations *Integrations
	numbers      []Number
	byID         map[string]*Number
	byDisplay    map[string]*Number
	byWABA       map[string][]*Number
	byName       map[string]*Number
}

// NewSnapshot indexes the served Numbers of the namespace (the Inbox's). Numbers without
// a phone number id cannot be matched to webhooks and are left out.
func NewSnapshot(namespace string, numbers []Number) *Snapshot {
	s := &Snapshot{Namespace: namespace, byID: map[string]*Number{}, byDisplay: map[string]*Number{},
		byWABA: map[string][]*Number{}, byName: map[string]*Number{}}
	for _, n := range numbers {
		if n.PhoneNumberID != "" {
			s.numbers = append(s.numbers, n)
		}
	}
	for i := range s.numbers {
		n := &s.numbers[i]
		s.byID[n.PhoneNumberID] = n
		if n.DisplayDigits != "" {
			s.byDisplay[n.DisplayDigits] = n
		}
		s.byWABA[n.WABAID] = append(s.byWABA[n.WABAID], n)
		s.byName[n.Ref.Name] = n
	}
	return s
}

// Numbers returns the served Numbers (do not modify them).
func (s *Snapshot) Numbers() []Number { return s.numbers }

// ByPhoneNumberID finds a served Number by Meta's phone number id (metadata.phone_number_id).
func (s *Snapshot) ByPhoneNumberID(id string) (Number, bool) { return lookup(s.byID, id) }

// ByName finds a served Number by its object name.
func (s *Snapshot) ByName(name string) (Number, bool) { return lookup(s.byName, name) }

// ByDisplayNumber finds a served Number by its phone number as webhooks write it
// (display_phone_number or phone_number: digits, perhaps with spaces or a "+").
func (s *Snapshot) ByDisplayNumber(phone string) (Number, bool) {
	return lookup(s.byDisplay, Digits(phone))
}

func lookup(m map[string]*Number, key string) (Number, bool) {
	n, ok := m[key]
	if !ok || key == "" {
		return Number{}, false
	}
	return *n, true
}

// ByWABA returns the served Numbers of a WhatsApp Business Account.
func (s *Snapshot) ByWABA(wabaID string) []Number {
	var out []Number
	for _, n := range s.byWABA[wabaID] {
		out = append(out, *n)
	}
	return out
}

// Digits keeps the digits of s.
func Digits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}
