package ingest

import (
	"encoding/json"
	"sort"

	"github.com/switchboard-dev/switchboard/runtime/inbox/conversation"
	"github.com/switchboard-dev/switchboard/runtime/inbox/kube"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// refreshFields are the webhook fields after which the manager must re-read the Number
// from the Graph API (the quality webhook carries an event, not the rating).
var refreshFields = map[string]bool{
	whatsapp.FieldPhoneNumberQualityUpdate: true,
	whatsapp.FieldAccountUpdate:            true,
	whatsapp.FieldBusinessCapabilityUpdate: true,
}

// inboundItem is one customer message to store.
type inboundItem struct {
	number  kube.Number
	waID    string
	profile string
	msg     whatsapp.Inbound
}

// statusItem is one status webhook to record.
type statusItem struct {
	number kube.Number
	status whatsapp.InboundStatus
}

// eventItem is one change (or part of one) stored as a webhook event.
type eventItem struct {
	numbers []kube.Number
	ev      conversation.Event
}

// plan is what one webhook request will write, worked out before the transaction.
type plan struct {
	inbound  []inboundItem
	statuses []statusItem
	events   []eventItem
	unserved map[string]int // changes for numbers this inbox does not serve, by field
	fields   map[string]int // changes by field
	// named are the served Numbers the body names (by phone number id or phone number):
	// the signature must verify with each one's app secret.
	named map[string]kube.Number
	// verified are the app secrets the signature verified with: a change addressed to a
	// whole WABA goes to those of its served Numbers only.
	verified map[string]bool
}

// newPlan sorts the notification's changes into items for the served Numbers of snap;
// verified are the app secrets the request's signature verified with.
func newPlan(n whatsapp.Notification, snap *kube.Snapshot, verified map[string]bool) *plan {
	p := &plan{unserved: map[string]int{}, fields: map[string]int{}, named: map[string]kube.Number{}, verified: verified}
	for _, e := range n.Entry {
		if e.DecodeError != "" {
			p.event(nil, conversation.Event{Field: "", Payload: e.Raw, Error: "entry: " + e.DecodeError})
			continue
		}
		for _, c := range e.Changes {
			p.change(snap, e.ID, c)
		}
	}
	p.sort()
	return p
}

func (p *plan) change(snap *kube.Snapshot, wabaID string, c whatsapp.NotificationChange) {
	p.fields[c.Field]++
	if c.DecodeError != "" {
		p.event(p.signedBy(snap.ByWABA(wabaID)), conversation.Event{WABAID: wabaID, Payload: c.Raw, Error: "change: " + c.DecodeError})
		return
	}
	if c.Field == whatsapp.FieldMessages {
		p.messages(snap, wabaID, c)
		return
	}
	numbers := p.targets(snap, wabaID, c.Value)
	if len(numbers) == 0 {
		p.unserved[c.Field]++
		return
	}
	p.event(numbers, conversation.Event{Field: c.Field, WABAID: wabaID, Payload: c.Value})
}

// signedBy keeps the Numbers whose app secret signed the request.
func (p *plan) signedBy(numbers []kube.Number) []kube.Number {
	var out []kube.Number
	for _, n := range numbers {
		if p.verified[n.AppSecret] {
			out = append(out, n)
		}
	}
	return out
}

// name records a Number the body names.
func (p *plan) name(n kube.Number) kube.Number {
	p.named[n.PhoneNumberID] = n
	return n
}

func (p *plan) messages(snap *kube.Snapshot, wabaID string, c whatsapp.NotificationChange) {
	v, err := c.DecodeMessages()
	if err != nil {
		if numbers := p.targets(snap, wabaID, c.Value); len(numbers) > 0 {
			p.event(numbers, conversation.Event{Field: c.Field, WABAID: wabaID, Payload: c.Value, Error: err.Error()})
		} else {
			p.unserved[c.Field]++
		}
		return
	}
	number, ok := snap.ByPhoneNumberID(v.Metadata.PhoneNumberID)
	if !ok {
		p.unserved[c.Field]++
		return
	}
	p.name(number)
	p.inboundOf(number, wabaID, v)
	p.statusesOf(number, wabaID, v)
	if len(v.Errors) > 0 {
		errs, _ := json.Marshal(v.Errors)
		p.event([]kube.Number{number}, conversation.Event{Field: "messages.errors", WABAID: wabaID, Payload: errs})
	}
}

func (p *plan) inboundOf(number kube.Number, wabaID string, v whatsapp.InboundValue) {
	profiles := map[string]string{}
	for _, c := range v.Contacts {
		profiles[c.WAID] = c.Profile.Name
	}
	for _, m := range v.Messages {
		waID, err := conversation.CanonicalWAID(m.From)
		if err != nil || m.ID == "" {
			p.event([]kube.Number{number}, conversation.Event{Field: "messages.message", WABAID: wabaID,
				Payload: m.Raw, Error: "a message needs an id and a from of 1 to 20 digits"})
			continue
		}
		p.inbound = append(p.inbound, inboundItem{number: number, waID: waID, profile: profiles[m.From], msg: m})
	}
}

func (p *plan) statusesOf(number kube.Number, wabaID string, v whatsapp.InboundValue) {
	for _, s := range v.Statuses {
		if !conversation.KnownStatus(s) {
			p.event([]kube.Number{number}, conversation.Event{Field: "messages.status", WABAID: wabaID,
				Payload: s.Raw, Error: "a status needs an id and one of sent, delivered, read, played, failed"})
			continue
		}
		p.statuses = append(p.statuses, statusItem{number: number, status: s})
	}
}

func (p *plan) event(numbers []kube.Number, ev conversation.Event) {
	if len(numbers) > 0 {
		ev.Number = numbers[0].Ref.Name
	}
	p.events = append(p.events, eventItem{numbers: numbers, ev: ev})
}

// sort orders the writes so that concurrent requests (two replicas, Meta's duplicates)
// lock contacts, conversations and statuses in the same order and do not deadlock (the
// rare rest, such as a 131050 opt-out locking a contact after the messages, is retried).
func (p *plan) sort() {
	sort.SliceStable(p.inbound, func(i, j int) bool {
		a, b := p.inbound[i], p.inbound[j]
		if a.waID != b.waID { // contacts are per namespace: lock them in wa_id order
			return a.waID < b.waID
		}
		if a.number.Ref.Name != b.number.Ref.Name {
			return a.number.Ref.Name < b.number.Ref.Name
		}
		return a.msg.ID < b.msg.ID
	})
	sort.SliceStable(p.statuses, func(i, j int) bool { return p.statuses[i].status.ID < p.statuses[j].status.ID })
}

// targets finds the served Numbers a non-message change is about: by
// metadata.phone_number_id, else by display_phone_number or phone_number, else (for
// account-level fields) the served Numbers of the WABA (entry.id). A phone number that
// names no served Number matches only served Numbers of the WABA whose display number is
// unknown. Numbers found through the WABA are kept only when their app secret signed
// the request.
func (p *plan) targets(snap *kube.Snapshot, wabaID string, value json.RawMessage) []kube.Number {
	var v struct {
		Metadata struct {
			PhoneNumberID any `json:"phone_number_id"`
		} `json:"metadata"`
		DisplayPhoneNumber any `json:"display_phone_number"`
		PhoneNumber        any `json:"phone_number"`
	}
	_ = json.Unmarshal(value, &v)
	if id, ok := v.Metadata.PhoneNumberID.(string); ok && id != "" {
		if n, found := snap.ByPhoneNumberID(id); found {
			return []kube.Number{p.name(n)}
		}
		return nil
	}
	phone := firstString(v.DisplayPhoneNumber, v.PhoneNumber)
	if phone == "" {
		return p.signedBy(snap.ByWABA(wabaID))
	}
	if n, ok := snap.ByDisplayNumber(phone); ok {
		return []kube.Number{p.name(n)}
	}
	var unknown []kube.Number
	for _, n := range snap.ByWABA(wabaID) {
		if n.DisplayDigits == "" {
			unknown = append(unknown, n)
		}
	}
	return p.signedBy(unknown)
}

func firstString(vs ...any) string {
	for _, v := range vs {
		if s, ok := v.(string); ok && s != "" {
			return s
		}
	}
	return ""
}
