package simulator

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// Number is a simulated business phone number: its Graph-visible state and
// the credentials and webhook URL Meta would hold for it.
type Number struct {
	ID                 string `json:"id"`                          // phone number ID (digits)
	DisplayPhoneNumber string `json:"displayPhoneNumber"`          // e.g. "+34 600 000 000"
	VerifiedName       string `json:"verifiedName,omitempty"`      // default "Switchboard Test"
	BusinessAccountID  string `json:"businessAccountID,omitempty"` // WABA ID (webhook entry.id); derived if empty
	Tier               string `json:"tier,omitempty"`              // messaging limit, default TIER_250
	Quality            string `json:"quality,omitempty"`           // GREEN (default), YELLOW, RED, NA
	Throughput         string `json:"throughput,omitempty"`        // STANDARD (default) or HIGH
	Coexistence        bool   `json:"coexistence,omitempty"`       // shared with the Business app: 20 msg/s
	Status             string `json:"status,omitempty"`            // CONNECTED (default), FLAGGED, RESTRICTED, …
	Restricted         bool   `json:"restricted,omitempty"`        // business-initiated messaging restricted
	NameStatus         string `json:"nameStatus,omitempty"`        // default APPROVED
	AccessToken        string `json:"accessToken,omitempty"`       // bearer token for this number; default Config.AccessToken
	AppSecret          string `json:"appSecret,omitempty"`         // signs this number's webhooks
	WebhookURL         string `json:"webhookURL,omitempty"`        // where webhooks go; none if empty
	VerifyToken        string `json:"verifyToken,omitempty"`       // sent in the webhook verification request
	// GraphReadsPerHour caps GET requests on the number's node, as Meta's WABA rate limit
	// does (error 80007 past it); 0 means no cap.
	GraphReadsPerHour int `json:"graphReadsPerHour,omitempty"`
}

func (n Number) withDefaults(src source) Number {
	n.VerifiedName = orStr(n.VerifiedName, "Switchboard Test")
	n.Tier = orStr(n.Tier, whatsapp.Tier250)
	n.Quality = orStr(n.Quality, "GREEN")
	n.Throughput = orStr(n.Throughput, whatsapp.ThroughputStandard)
	n.Status = orStr(n.Status, "CONNECTED")
	n.NameStatus = orStr(n.NameStatus, "APPROVED")
	if n.BusinessAccountID == "" {
		n.BusinessAccountID = src.digits("waba:"+n.ID, 0, 15)
	}
	return n
}

func (n Number) validate() error {
	if n.ID == "" || strings.Trim(n.ID, "0123456789") != "" {
		return fmt.Errorf("number id %q must be digits", n.ID)
	}
	if digitsOnly(n.DisplayPhoneNumber) == "" {
		return fmt.Errorf("number %s: displayPhoneNumber is required", n.ID)
	}
	if _, ok := whatsapp.TierRecipients(n.Tier); !ok {
		return fmt.Errorf("number %s: unknown tier %q", n.ID, n.Tier)
	}
	if n.Throughput != whatsapp.ThroughputStandard && n.Throughput != whatsapp.ThroughputHigh {
		return fmt.Errorf("number %s: throughput must be STANDARD or HIGH", n.ID)
	}
	return nil
}

// blocksBusinessInitiated reports whether the number may not start
// conversations: RESTRICTED, or any status with a restriction in force.
func (n Number) blocksBusinessInitiated() bool {
	return n.Restricted || n.Status == "RESTRICTED"
}

// country returns the ISO 3166-1 alpha-2 code and the calling code of the
// number's displayPhoneNumber, as Meta's phone-number fields country_code and
// country_dial_code give them (e.g. "US" and "1"). A calling code shared by
// several countries gives the one libphonenumber reads the number as, or its
// main country when the number is not valid (such as Meta's 555 examples).
func (n Number) country() (region, dial string) {
	pn, err := phonenumbers.Parse("+"+digitsOnly(n.DisplayPhoneNumber), "")
	if err != nil {
		return "", ""
	}
	cc := int(pn.GetCountryCode())
	region = phonenumbers.GetRegionCodeForNumber(pn)
	if region == "" || region == phonenumbers.UNKNOWN_REGION {
		region = phonenumbers.GetRegionCodeForCountryCode(cc)
	}
	return region, strconv.Itoa(cc)
}

// mps is Meta's throughput cap for the number.
func (n Number) mps() float64 {
	return float64(whatsapp.ThroughputMPS(n.Throughput, n.Coexistence))
}

// redacted hides credentials for the control API's read side.
func (n Number) redacted() Number {
	if n.AccessToken != "" {
		n.AccessToken = "<set>"
	}
	if n.AppSecret != "" {
		n.AppSecret = "<set>"
	}
	if n.VerifyToken != "" {
		n.VerifyToken = "<set>"
	}
	return n
}

// numberState is a Number plus its live limits and counters.
type numberState struct {
	Number
	throughput  *bucket
	pairs       map[string]*bucket
	inbound     map[string]time.Time // wa_id → last inbound message
	recipients  *recipientLog        // business-initiated recipients
	lastSentTo  map[string]string    // wa_id → last wamid sent (for reply contexts)
	restrictGen uint64               // bumps on every restriction change
	graphReads  *bucket              // nil: GET requests are not limited
	sent        sentLog              // accepted messages as received
	counters    NumberCounters
}

func newNumberState(n Number, lim LimitConfig) *numberState {
	return &numberState{
		Number:     n,
		throughput: newBucket(n.mps(), n.mps()),
		pairs:      map[string]*bucket{},
		inbound:    map[string]time.Time{},
		recipients: newRecipientLog(lim.RecipientsOver),
		lastSentTo: map[string]string{},
		counters:   NumberCounters{Rejected: map[int]int64{}},
		graphReads: graphBucket(n),
	}
}

// graphBucket limits GET requests to GraphReadsPerHour, all of which may come at once.
func graphBucket(n Number) *bucket {
	if n.GraphReadsPerHour <= 0 {
		return nil
	}
	return newBucket(float64(n.GraphReadsPerHour)/3600, float64(n.GraphReadsPerHour))
}

// update swaps in a new Number, keeping live state and resizing the bucket.
func (st *numberState) update(n Number, now time.Time) {
	if n.GraphReadsPerHour != st.GraphReadsPerHour {
		st.graphReads = graphBucket(n)
	}
	st.Number = n
	st.throughput.setRate(now, n.mps(), n.mps())
}

func (st *numberState) windowOpen(waID string, now time.Time, window time.Duration) bool {
	last, ok := st.inbound[waID]
	return ok && now.Sub(last) < window
}

// pairTake spends one token of the (number, recipient) pair bucket.
func (st *numberState) pairTake(waID string, now time.Time, lim LimitConfig) bool {
	b, ok := st.pairs[waID]
	if !ok {
		st.prunePairs(now)
		b = newBucket(1/lim.PairInterval.Seconds(), float64(lim.PairBurst))
		st.pairs[waID] = b
	}
	return b.take(now)
}

// prunePairs forgets refilled pair buckets once there are many.
func (st *numberState) prunePairs(now time.Time) {
	if len(st.pairs) < 50_000 {
		return
	}
	for id, b := range st.pairs {
		if b.full(now) {
			delete(st.pairs, id)
		}
	}
}

func orStr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// digitsOnly keeps the decimal digits of s.
func digitsOnly(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}
