package simulator

import (
	"errors"
	"fmt"
	"time"

	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// Event is something that happens to a number, now or After a delay (from
// the server's start for Config.Events and scenario files, from the call for
// the control API and Schedule). Exactly one of Inbound, Traffic, Quality
// and Restrict is set.
type Event struct {
	After    Duration       `json:"after,omitempty"`
	Number   string         `json:"number"`
	Inbound  *Inbound       `json:"inbound,omitempty"`
	Traffic  *Traffic       `json:"traffic,omitempty"`
	Quality  *QualityChange `json:"quality,omitempty"`
	Restrict *Restriction   `json:"restrict,omitempty"`
}

// QualityChange sets a number's quality rating, messaging-limit tier or
// throughput level and sends a phone_number_quality_update webhook.
type QualityChange struct {
	Rating     string `json:"rating,omitempty"`     // GREEN, YELLOW, RED, NA
	Tier       string `json:"tier,omitempty"`       // TIER_250 … TIER_UNLIMITED
	Throughput string `json:"throughput,omitempty"` // STANDARD or HIGH
	// Event is the webhook's event; empty derives it (THROUGHPUT_UPGRADE,
	// UPGRADE/DOWNGRADE for tiers, FLAGGED/UNFLAGGED for ratings) and sends
	// nothing if nothing changed.
	Event string `json:"event,omitempty"`
}

// Restriction restricts business-initiated messaging (131048) or lifts it.
// Restricting sends an account_update ACCOUNT_RESTRICTION webhook.
type Restriction struct {
	Restricted bool     `json:"restricted"`
	Type       string   `json:"type,omitempty"`   // default RESTRICTED_BIZ_INITIATED_MESSAGING
	Status     string   `json:"status,omitempty"` // number status; default RESTRICTED (CONNECTED when lifting)
	For        Duration `json:"for,omitempty"`    // lift automatically after this long
}

func (ev Event) validate() error {
	n := 0
	for _, set := range []bool{ev.Inbound != nil, ev.Traffic != nil, ev.Quality != nil, ev.Restrict != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return errors.New("an event needs exactly one of inbound, traffic, quality, restrict")
	}
	if ev.Number == "" {
		return errors.New("an event needs a number")
	}
	return nil
}

// Schedule applies ev now (After ≤ 0, returning its error) or at now+After.
func (s *Server) Schedule(ev Event) error {
	if err := ev.validate(); err != nil {
		return err
	}
	if ev.After.D() <= 0 {
		return s.apply(ev)
	}
	s.sched.at(s.clock.Now().Add(ev.After.D()), func() {
		if err := s.apply(ev); err != nil {
			s.cfg.Logger.Warn("simulator: scheduled event failed", "number", ev.Number, "err", err)
		}
	})
	return nil
}

func (s *Server) apply(ev Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.numbers[ev.Number]
	if !ok {
		return fmt.Errorf("no number %s", ev.Number)
	}
	now := s.clock.Now()
	switch {
	case ev.Inbound != nil:
		_, err := s.injectLocked(st, *ev.Inbound, now)
		return err
	case ev.Traffic != nil:
		return s.startTraffic(ev.Number, *ev.Traffic, now)
	case ev.Quality != nil:
		return s.applyQuality(st, *ev.Quality)
	default:
		return s.applyRestriction(st, *ev.Restrict, now)
	}
}

func (s *Server) applyQuality(st *numberState, q QualityChange) error {
	old, n := st.Number, st.Number
	n.Quality = orStr(q.Rating, n.Quality)
	n.Tier = orStr(q.Tier, n.Tier)
	n.Throughput = orStr(q.Throughput, n.Throughput)
	if err := s.putLocked(n); err != nil {
		return err
	}
	event := orStr(q.Event, qualityEvent(old, n))
	if event == "" {
		return nil
	}
	v := whatsapp.QualityUpdateValue{DisplayPhoneNumber: digitsOnly(n.DisplayPhoneNumber), Event: event,
		CurrentLimit: n.Tier, MaxDailyConversationsPerBusiness: n.Tier}
	if old.Tier != n.Tier {
		v.OldLimit = old.Tier
	}
	s.enqueueChange(st, whatsapp.FieldPhoneNumberQualityUpdate, v)
	return nil
}

// qualityEvent derives the webhook event for a change from old to n.
func qualityEvent(old, n Number) string {
	switch {
	case n.Throughput == whatsapp.ThroughputHigh && old.Throughput != whatsapp.ThroughputHigh:
		return "THROUGHPUT_UPGRADE"
	case tierRank(n.Tier) > tierRank(old.Tier):
		return "UPGRADE"
	case tierRank(n.Tier) < tierRank(old.Tier):
		return "DOWNGRADE"
	case qualityRank(n.Quality) < qualityRank(old.Quality):
		return "FLAGGED"
	case qualityRank(n.Quality) > qualityRank(old.Quality):
		return "UNFLAGGED"
	}
	return ""
}

func tierRank(tier string) int {
	n, _ := whatsapp.TierRecipients(tier)
	if n == whatsapp.Unlimited {
		return 1 << 30
	}
	return n
}

func qualityRank(q string) int {
	switch q {
	case "RED":
		return 1
	case "YELLOW":
		return 2
	}
	return 3
}

func (s *Server) applyRestriction(st *numberState, r Restriction, now time.Time) error {
	n := st.Number
	n.Restricted = r.Restricted
	switch {
	case r.Status != "":
		n.Status = r.Status
	case r.Restricted:
		n.Status = "RESTRICTED"
	case n.Status == "RESTRICTED":
		n.Status = "CONNECTED"
	}
	if err := s.putLocked(n); err != nil {
		return err
	}
	st.restrictGen++
	if !r.Restricted {
		return nil
	}
	info := whatsapp.RestrictionInfo{RestrictionType: orStr(r.Type, "RESTRICTED_BIZ_INITIATED_MESSAGING")}
	if r.For.D() > 0 {
		info.Expiration = now.Add(r.For.D()).Unix()
		s.scheduleLift(st.ID, st.restrictGen, now.Add(r.For.D()))
	}
	s.enqueueChange(st, whatsapp.FieldAccountUpdate, whatsapp.AccountUpdateValue{
		PhoneNumber: digitsOnly(st.DisplayPhoneNumber), Event: "ACCOUNT_RESTRICTION",
		RestrictionInfo: []whatsapp.RestrictionInfo{info}})
	return nil
}

// scheduleLift lifts a restriction at t unless a newer one replaced it.
func (s *Server) scheduleLift(id string, gen uint64, t time.Time) {
	s.sched.at(t, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if st, ok := s.numbers[id]; ok && st.restrictGen == gen {
			_ = s.applyRestriction(st, Restriction{Restricted: false}, t)
		}
	})
}
