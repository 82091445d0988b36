package whatsapp

// Messaging-limit tiers: unique business-initiated recipients per rolling 24 h.
const (
	Tier50        = "TIER_50"
	Tier250       = "TIER_250"
	Tier1K        = "TIER_1K"
	Tier2K        = "TIER_2K"
	Tier10K       = "TIER_10K"
	Tier100K      = "TIER_100K"
	TierUnlimited = "TIER_UNLIMITED"
	TierNotSet    = "TIER_NOT_SET"
)

// Unlimited is TierRecipients' answer for TIER_UNLIMITED.
const Unlimited = -1

var tierRecipients = map[string]int{
	Tier50: 50, Tier250: 250, Tier1K: 1000, Tier2K: 2000,
	Tier10K: 10000, Tier100K: 100000, TierUnlimited: Unlimited,
}

// TierRecipients returns how many unique business-initiated recipients a tier
// allows per rolling 24 h (Unlimited for TIER_UNLIMITED); ok is false for
// unknown tiers and TIER_NOT_SET. Meta returns no error when this is exceeded.
func TierRecipients(tier string) (n int, ok bool) {
	n, ok = tierRecipients[tier]
	return n, ok
}

// Throughput levels and Meta's per-number messages-per-second caps.
const (
	ThroughputStandard = "STANDARD"
	ThroughputHigh     = "HIGH"

	StandardMPS    = 80   // default cap per registered number
	HighMPS        = 1000 // after Meta's automatic upgrade
	CoexistenceMPS = 20   // numbers shared with the WhatsApp Business app
)

// ThroughputMPS returns Meta's cap (inbound and outbound together) for a
// number at level; coexistence numbers are fixed at 20 msg/s.
func ThroughputMPS(level string, coexistence bool) int {
	switch {
	case coexistence:
		return CoexistenceMPS
	case level == ThroughputHigh:
		return HighMPS
	default:
		return StandardMPS
	}
}

// Meta's per-recipient pair rate: one message every 6 s, bursts up to 45.
const (
	PairRateIntervalSeconds = 6
	PairRateBurst           = 45
)
