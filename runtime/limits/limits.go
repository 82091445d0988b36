// Package limits computes the effective sending limits of a Number: one pure
// function of the spec, what Meta reports about the number, the number's age and
// the current time. It reads no clock, starts nothing and does no I/O, so the
// operator (status.sending) and the sender (its token buckets) can agree on the
// same numbers and tests can pin every rule.
//
// The model, rule by rule (each rule is one small function below):
//
//   - Throughput cap (throughputCap): HIGH → 1000 msg/s; coexistence (shared with
//     the WhatsApp Business app) → 20 msg/s, whatever the level; anything else
//     (STANDARD, NOT_APPLICABLE, unknown) → 80 msg/s. Meta counts inbound and
//     outbound together against it.
//   - Spec ceiling (messagesPerSecond): spec.sending.maxMessagesPerSecond lowers the
//     total rate when it is below the cap.
//   - Messaging limit (uniqueRecipients): unique business-initiated recipients per
//     rolling 24 h from the tier; unknown tiers count as TIER_250.
//   - Warm-up (warmupRate): a new number's campaign rate rises linearly from start
//     to target over a period (defaults 20 → 60 per minute over eight weeks).
//   - Quality (qualityRate): YELLOW halves the campaign rate (not below 5/min); RED
//     or status FLAGGED drops it to 5/min; quality never raises it.
//   - Restriction (restricted): status RESTRICTED, DISCONNECTED or BANNED stops
//     the campaign lane; replies keep the full total rate.
//   - Pause: spec.sending.paused stops both lanes.
//
// The reason reported is the strongest rule in effect, in the order
// Paused > Restricted > LowQuality > Warmup > SpecCeiling > Nominal.
package limits

import (
	"math/bits"
	"strings"
	"time"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// Observed is what Meta reports about the number (status.quality) plus facts the
// spec gives. Values are compared case-insensitively; unknown values are treated
// as the conservative or neutral case documented on each rule.
type Observed struct {
	Rating         string // GREEN | YELLOW | RED | UNKNOWN | NA | ""
	Throughput     string // STANDARD | HIGH | NOT_APPLICABLE | ""
	MessagingLimit string // TIER_50 | TIER_250 | TIER_1K | TIER_2K | TIER_10K | TIER_100K | TIER_UNLIMITED | TIER_NOT_SET | ""
	Status         string // CONNECTED | FLAGGED | RESTRICTED | PENDING | DISCONNECTED | BANNED | ... ("" unknown)
	Coexistence    bool   // number shared with the WhatsApp Business app (fixed 20 msg/s)
}

// Limits are the effective limits written to status.sending.
type Limits struct {
	MessagesPerSecond      int32  // total outbound rate (both lanes)
	CampaignPerMinute      int32  // business-initiated (campaign lane) rate
	UniqueRecipientsPer24h int32  // Unlimited (-1) for TIER_UNLIMITED
	Reason                 string // one of the Reason* constants: what limits the number most
}

// Reasons, strongest first.
const (
	// ReasonPaused: spec.sending.paused stops all sending.
	ReasonPaused = "Paused"
	// ReasonRestricted: Meta restricted the number; campaigns stop, replies flow.
	ReasonRestricted = "Restricted"
	// ReasonLowQuality: a YELLOW or RED rating, or status FLAGGED, lowers the campaign rate.
	ReasonLowQuality = "LowQuality"
	// ReasonWarmup: the warm-up ramp holds the campaign rate below the throughput.
	ReasonWarmup = "Warmup"
	// ReasonSpecCeiling: spec.sending.maxMessagesPerSecond is below Meta's cap.
	ReasonSpecCeiling = "SpecCeiling"
	// ReasonNominal: only Meta's throughput cap limits the number.
	ReasonNominal = "Nominal"
)

// Warm-up defaults, overridable in spec.sending.warmup, and the risk-control rate.
const (
	DefaultWarmupStartPerMinute  int32         = 20
	DefaultWarmupTargetPerMinute int32         = 60
	DefaultWarmupOver            time.Duration = 1344 * time.Hour // eight weeks
	// RiskControlPerMinute is the campaign rate when quality is RED or the number
	// is FLAGGED, and the floor of the YELLOW halving.
	RiskControlPerMinute int32 = 5
)

// Meta's throughput caps, in messages per second (inbound and outbound together), as
// the Cloud API package records them.
const (
	StandardMessagesPerSecond    int32 = whatsapp.StandardMPS
	HighMessagesPerSecond        int32 = whatsapp.HighMPS
	CoexistenceMessagesPerSecond int32 = whatsapp.CoexistenceMPS
)

// Unlimited is UniqueRecipientsPer24h for TIER_UNLIMITED.
const Unlimited int32 = whatsapp.Unlimited

// DefaultUniqueRecipientsPer24h is the budget when the tier is unknown: a new
// number's TIER_250.
const DefaultUniqueRecipientsPer24h int32 = 250

// ForNumber is Effective for a Number: its spec, what status.quality last observed
// (nothing yet counts as unknown) and its age. The manager writes it to
// status.sending; a sender uses it until the manager has.
func ForNumber(num *sbv1.Number, now time.Time) Limits {
	var obs Observed
	if q := num.Status.Quality; q != nil {
		obs = Observed{Rating: q.Rating, Throughput: q.Throughput, MessagingLimit: q.MessagingLimit, Status: q.Status}
	}
	obs.Coexistence = num.Spec.Sending != nil && num.Spec.Sending.Coexistence
	return Effective(num.Spec, obs, num.CreationTimestamp.Time, now)
}

// Effective returns the limits the sender applies now. createdAt is when the
// Number was created (the start of its warm-up); now is the current time.
func Effective(spec sbv1.NumberSpec, obs Observed, createdAt, now time.Time) Limits {
	sending := sbv1.SendingSpec{}
	if spec.Sending != nil {
		sending = *spec.Sending
	}
	capMPS := throughputCap(obs)
	mps := messagesPerSecond(capMPS, sending.MaxMessagesPerSecond)
	l := Limits{
		MessagesPerSecond:      mps,
		CampaignPerMinute:      mps * 60,
		UniqueRecipientsPer24h: uniqueRecipients(obs.MessagingLimit),
		Reason:                 ReasonNominal,
	}
	if mps < capMPS {
		l.Reason = ReasonSpecCeiling
	}
	if ramp, warming := warmupRate(sending.Warmup, now.Sub(createdAt)); warming && ramp < l.CampaignPerMinute {
		l.CampaignPerMinute, l.Reason = ramp, ReasonWarmup
	}
	if rate, low := qualityRate(obs, l.CampaignPerMinute); low {
		l.CampaignPerMinute, l.Reason = rate, ReasonLowQuality
	}
	if restricted(obs.Status) {
		l.CampaignPerMinute, l.Reason = 0, ReasonRestricted
	}
	if sending.Paused {
		l.MessagesPerSecond, l.CampaignPerMinute, l.Reason = 0, 0, ReasonPaused
	}
	return l
}

// Throttled tells whether the limits are below nominal for a reason Meta or the
// warm-up imposes (Warmup, LowQuality, Restricted, Paused); a spec ceiling the
// user chose, or nominal limits, are not throttling.
func (l Limits) Throttled() bool {
	switch l.Reason {
	case ReasonWarmup, ReasonLowQuality, ReasonRestricted, ReasonPaused:
		return true
	}
	return false
}

// SendingStatus returns the limits as status.sending.
func (l Limits) SendingStatus() sbv1.SendingStatus {
	return sbv1.SendingStatus{
		MessagesPerSecond:      l.MessagesPerSecond,
		CampaignPerMinute:      l.CampaignPerMinute,
		UniqueRecipientsPer24h: l.UniqueRecipientsPer24h,
		Reason:                 l.Reason,
	}
}

// throughputCap is Meta's cap in msg/s: coexistence numbers are fixed at 20
// (whatever the level), HIGH numbers get 1000, everything else (STANDARD,
// NOT_APPLICABLE, unknown) the default 80.
func throughputCap(obs Observed) int32 {
	return int32(whatsapp.ThroughputMPS(norm(obs.Throughput), obs.Coexistence))
}

// messagesPerSecond applies the spec ceiling to the cap: the lower wins. A
// ceiling below 1 (which the CRD rejects) is ignored rather than pausing the
// number silently: pausing is spec.sending.paused.
func messagesPerSecond(capMPS int32, ceiling *int32) int32 {
	if ceiling != nil && *ceiling >= 1 && *ceiling < capMPS {
		return *ceiling
	}
	return capMPS
}

// uniqueRecipients is the tier's budget of unique business-initiated recipients
// per rolling 24 h; an unknown, empty or TIER_NOT_SET tier gets the conservative
// budget of a new number (250). Meta returns no error when it is exceeded, so the
// sender must count.
func uniqueRecipients(tier string) int32 {
	if n, ok := whatsapp.TierRecipients(norm(tier)); ok {
		return int32(n)
	}
	return DefaultUniqueRecipientsPer24h
}

// warmupRate is the campaign rate of the warm-up ramp at age, and whether the
// number is still warming up. The ramp is linear from start to target over
// `over`, rounded down and never below start; once age reaches `over` the
// warm-up is finished and only throughput limits the campaign lane. A nil spec
// uses the defaults (20 → 60/min over 1344h). Over ≤ 0 means no ramp: the target
// is reached at once, so the warm-up is finished from the start. A negative age
// (createdAt after now) counts as age 0. Start or target below 1
// (which the CRD rejects) fall back to the defaults, and a target below the
// start is raised to the start.
func warmupRate(spec *sbv1.WarmupSpec, age time.Duration) (perMinute int32, warming bool) {
	start, target, over := warmupParams(spec)
	if age < 0 {
		age = 0
	}
	if over <= 0 || age >= over {
		return target, false
	}
	// (target-start)*age/over in 128 bits: the product overflows int64 for long
	// ramps. The quotient is below target-start, so Div64 cannot overflow.
	hi, lo := bits.Mul64(uint64(target-start), uint64(age))
	step, _ := bits.Div64(hi, lo, uint64(over))
	return start + int32(step), true
}

// warmupParams returns the ramp's start, target and duration, defaulted and
// sanitised as warmupRate documents.
func warmupParams(spec *sbv1.WarmupSpec) (start, target int32, over time.Duration) {
	if spec == nil {
		return DefaultWarmupStartPerMinute, DefaultWarmupTargetPerMinute, DefaultWarmupOver
	}
	start, target, over = spec.StartPerMinute, spec.TargetPerMinute, spec.Over.Duration
	if start < 1 {
		start = DefaultWarmupStartPerMinute
	}
	if target < 1 {
		target = DefaultWarmupTargetPerMinute
	}
	return start, max(target, start), over
}

// qualityRate lowers the campaign rate for low quality, and tells whether the
// quality rule applies: RED, or status FLAGGED, → RiskControlPerMinute; YELLOW →
// half the rate, at least RiskControlPerMinute. Quality never raises the rate.
// GREEN, UNKNOWN, NA and an empty rating count as GREEN.
func qualityRate(obs Observed, perMinute int32) (int32, bool) {
	switch {
	case norm(obs.Rating) == "RED" || norm(obs.Status) == "FLAGGED":
		return min(perMinute, RiskControlPerMinute), true
	case norm(obs.Rating) == "YELLOW":
		return min(perMinute, max(perMinute/2, RiskControlPerMinute)), true
	default:
		return perMinute, false
	}
}

// restricted tells whether Meta's status stops business-initiated messages:
// RESTRICTED, DISCONNECTED or BANNED. Replies inside the customer service window
// keep flowing, so only the campaign lane stops.
func restricted(status string) bool {
	switch norm(status) {
	case "RESTRICTED", "DISCONNECTED", "BANNED":
		return true
	}
	return false
}

// norm makes Meta's enumeration values comparable: trimmed and upper case.
func norm(s string) string {
	return strings.ToUpper(strings.TrimSpace(s))
}
