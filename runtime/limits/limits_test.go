package limits_test

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/limits"
)

const day = 24 * time.Hour

// created is when every table-test Number was created; a case's age is added to it
// to get now.
var created = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

// healthy is a connected GREEN STANDARD number on a new portfolio's tier.
var healthy = limits.Observed{Rating: "GREEN", Throughput: "STANDARD", MessagingLimit: "TIER_250", Status: "CONNECTED"}

// warm is an age past the default warm-up.
const warm = 60 * day

func ptr[T any](v T) *T { return &v }

// with returns healthy with fn applied.
func with(fn func(*limits.Observed)) limits.Observed {
	o := healthy
	fn(&o)
	return o
}

func rating(r string) limits.Observed     { return with(func(o *limits.Observed) { o.Rating = r }) }
func status(s string) limits.Observed     { return with(func(o *limits.Observed) { o.Status = s }) }
func tier(t string) limits.Observed       { return with(func(o *limits.Observed) { o.MessagingLimit = t }) }
func throughput(t string) limits.Observed { return with(func(o *limits.Observed) { o.Throughput = t }) }

// sending returns a NumberSpec with spec.sending set.
func sending(s sbv1.SendingSpec) sbv1.NumberSpec {
	return sbv1.NumberSpec{PhoneNumberID: "106540352242922", Sending: &s}
}

func warmup(start, target int32, over time.Duration) *sbv1.WarmupSpec {
	return &sbv1.WarmupSpec{StartPerMinute: start, TargetPerMinute: target, Over: metav1.Duration{Duration: over}}
}

func ceiling(n int32) sbv1.NumberSpec { return sending(sbv1.SendingSpec{MaxMessagesPerSecond: ptr(n)}) }

var paused = sending(sbv1.SendingSpec{Paused: true})

func TestEffective(t *testing.T) {
	plain := sbv1.NumberSpec{PhoneNumberID: "106540352242922"}
	nominal := limits.Limits{MessagesPerSecond: 80, CampaignPerMinute: 4800, UniqueRecipientsPer24h: 250, Reason: limits.ReasonNominal}
	lim := func(mps, campaign, recipients int32, reason string) limits.Limits {
		return limits.Limits{MessagesPerSecond: mps, CampaignPerMinute: campaign, UniqueRecipientsPer24h: recipients, Reason: reason}
	}
	cases := []struct {
		name string
		spec sbv1.NumberSpec
		obs  limits.Observed
		age  time.Duration
		want limits.Limits
	}{
		// Default warm-up: 20 → 60/min over 1344h (56 days), rounded down.
		{"warmup/day 0", plain, healthy, 0, lim(80, 20, 250, limits.ReasonWarmup)},
		{"warmup/1h rounds down to start", plain, healthy, time.Hour, lim(80, 20, 250, limits.ReasonWarmup)},
		{"warmup/day 14", plain, healthy, 14 * day, lim(80, 30, 250, limits.ReasonWarmup)},
		{"warmup/day 28", plain, healthy, 28 * day, lim(80, 40, 250, limits.ReasonWarmup)},
		{"warmup/day 55", plain, healthy, 55 * day, lim(80, 59, 250, limits.ReasonWarmup)},
		{"warmup/1ns before the end", plain, healthy, 56*day - 1, lim(80, 59, 250, limits.ReasonWarmup)},
		{"warmup/day 56 is nominal", plain, healthy, 56 * day, nominal},
		{"warmup/day 400 is nominal", plain, healthy, 400 * day, nominal},
		{"warmup/createdAt after now counts as age 0", plain, healthy, -3 * day, lim(80, 20, 250, limits.ReasonWarmup)},
		{"warmup/empty spec.sending uses the defaults", sending(sbv1.SendingSpec{}), healthy, 28 * day, lim(80, 40, 250, limits.ReasonWarmup)},

		// Custom warm-up from spec.sending.warmup.
		{"custom warmup/start", sending(sbv1.SendingSpec{Warmup: warmup(10, 100, 10*day)}), healthy, 0, lim(80, 10, 250, limits.ReasonWarmup)},
		{"custom warmup/halfway", sending(sbv1.SendingSpec{Warmup: warmup(10, 100, 10*day)}), healthy, 5 * day, lim(80, 55, 250, limits.ReasonWarmup)},
		{"custom warmup/rounds down", sending(sbv1.SendingSpec{Warmup: warmup(10, 100, 10*day)}), healthy, 1*day + time.Hour, lim(80, 19, 250, limits.ReasonWarmup)},
		{"custom warmup/done", sending(sbv1.SendingSpec{Warmup: warmup(10, 100, 10*day)}), healthy, 10 * day, nominal},
		{"custom warmup/default-length ramp ends at nominal, not target", sending(sbv1.SendingSpec{Warmup: warmup(10, 100, 10*day)}), healthy, 11 * day, nominal},
		{"custom warmup/flat ramp start == target", sending(sbv1.SendingSpec{Warmup: warmup(30, 30, 7*day)}), healthy, 6 * day, lim(80, 30, 250, limits.ReasonWarmup)},
		{"custom warmup/zero over: no ramp", sending(sbv1.SendingSpec{Warmup: warmup(10, 100, 0)}), healthy, 0, nominal},
		{"custom warmup/negative over: no ramp", sending(sbv1.SendingSpec{Warmup: warmup(10, 100, -time.Hour)}), healthy, 0, nominal},
		{"custom warmup/target below start stays at start", sending(sbv1.SendingSpec{Warmup: warmup(100, 50, 10*day)}), healthy, 9 * day, lim(80, 100, 250, limits.ReasonWarmup)},
		{"custom warmup/zero start and target fall back to defaults", sending(sbv1.SendingSpec{Warmup: warmup(0, 0, 56*day)}), healthy, 28 * day, lim(80, 40, 250, limits.ReasonWarmup)},
		{"custom warmup/negative start falls back to default", sending(sbv1.SendingSpec{Warmup: warmup(-7, 120, 10*day)}), healthy, 5 * day, lim(80, 70, 250, limits.ReasonWarmup)},
		{"custom warmup/ramp above throughput does not bind", sending(sbv1.SendingSpec{Warmup: warmup(6000, 60000, 10*day)}), healthy, 0, nominal},
		{"custom warmup/ramp crosses throughput mid-way", sending(sbv1.SendingSpec{Warmup: warmup(1000, 10000, 10*day)}), healthy, 5 * day, nominal},
		{"custom warmup/ramp below throughput mid-way", sending(sbv1.SendingSpec{Warmup: warmup(1000, 10000, 10*day)}), healthy, 4 * day, lim(80, 4600, 250, limits.ReasonWarmup)},
		{"custom warmup/century-long ramp does not overflow", sending(sbv1.SendingSpec{Warmup: warmup(1, 60000, 2*876000*time.Hour)}), throughput("HIGH"), 876000 * time.Hour, lim(1000, 30000, 250, limits.ReasonWarmup)},

		// Quality rating and FLAGGED.
		{"quality/GREEN", plain, healthy, warm, nominal},
		{"quality/UNKNOWN counts as GREEN", plain, rating("UNKNOWN"), warm, nominal},
		{"quality/NA counts as GREEN", plain, rating("NA"), warm, nominal},
		{"quality/empty counts as GREEN", plain, rating(""), warm, nominal},
		{"quality/YELLOW halves", plain, rating("YELLOW"), warm, lim(80, 2400, 250, limits.ReasonLowQuality)},
		{"quality/yellow in lower case", plain, rating(" yellow "), warm, lim(80, 2400, 250, limits.ReasonLowQuality)},
		{"quality/YELLOW during warm-up halves the ramp", plain, rating("YELLOW"), 0, lim(80, 10, 250, limits.ReasonLowQuality)},
		{"quality/YELLOW never below risk control", sending(sbv1.SendingSpec{Warmup: warmup(8, 8, 10*day)}), rating("YELLOW"), 0, lim(80, 5, 250, limits.ReasonLowQuality)},
		{"quality/YELLOW never raises a lower rate", sending(sbv1.SendingSpec{Warmup: warmup(3, 3, 10*day)}), rating("YELLOW"), 0, lim(80, 3, 250, limits.ReasonLowQuality)},
		{"quality/RED drops to risk control", plain, rating("RED"), warm, lim(80, 5, 250, limits.ReasonLowQuality)},
		{"quality/RED during warm-up", plain, rating("RED"), 0, lim(80, 5, 250, limits.ReasonLowQuality)},
		{"quality/RED never raises a lower rate", sending(sbv1.SendingSpec{Warmup: warmup(3, 3, 10*day)}), rating("RED"), 0, lim(80, 3, 250, limits.ReasonLowQuality)},
		{"quality/FLAGGED drops to risk control", plain, status("FLAGGED"), warm, lim(80, 5, 250, limits.ReasonLowQuality)},
		{"quality/FLAGGED and YELLOW: the stronger wins", plain, with(func(o *limits.Observed) { o.Rating, o.Status = "YELLOW", "FLAGGED" }), warm, lim(80, 5, 250, limits.ReasonLowQuality)},
		{"quality/YELLOW on HIGH", plain, with(func(o *limits.Observed) { o.Rating, o.Throughput = "YELLOW", "HIGH" }), warm, lim(1000, 30000, 250, limits.ReasonLowQuality)},

		// Status: restrictions stop campaigns, replies keep the full rate.
		{"status/RESTRICTED stops campaigns, replies continue", plain, status("RESTRICTED"), warm, lim(80, 0, 250, limits.ReasonRestricted)},
		{"status/DISCONNECTED", plain, status("DISCONNECTED"), warm, lim(80, 0, 250, limits.ReasonRestricted)},
		{"status/BANNED", plain, status("BANNED"), warm, lim(80, 0, 250, limits.ReasonRestricted)},
		{"status/restricted lower case", plain, status("restricted"), warm, lim(80, 0, 250, limits.ReasonRestricted)},
		{"status/RESTRICTED keeps HIGH replies", plain, with(func(o *limits.Observed) { o.Status, o.Throughput = "RESTRICTED", "HIGH" }), warm, lim(1000, 0, 250, limits.ReasonRestricted)},
		{"status/CONNECTED", plain, status("CONNECTED"), warm, nominal},
		{"status/PENDING", plain, status("PENDING"), warm, nominal},
		{"status/RATE_LIMITED has no rule", plain, status("RATE_LIMITED"), warm, nominal},
		{"status/empty", plain, status(""), warm, nominal},

		// Throughput level and coexistence.
		{"throughput/STANDARD", plain, throughput("STANDARD"), warm, nominal},
		{"throughput/HIGH", plain, throughput("HIGH"), warm, lim(1000, 60000, 250, limits.ReasonNominal)},
		{"throughput/high lower case", plain, throughput("high"), warm, lim(1000, 60000, 250, limits.ReasonNominal)},
		{"throughput/NOT_APPLICABLE", plain, throughput("NOT_APPLICABLE"), warm, nominal},
		{"throughput/empty", plain, throughput(""), warm, nominal},
		{"throughput/unknown level", plain, throughput("TURBO"), warm, nominal},
		{"throughput/coexistence", plain, with(func(o *limits.Observed) { o.Coexistence = true }), warm, lim(20, 1200, 250, limits.ReasonNominal)},
		{"throughput/coexistence wins over HIGH", plain, with(func(o *limits.Observed) { o.Coexistence, o.Throughput = true, "HIGH" }), warm, lim(20, 1200, 250, limits.ReasonNominal)},

		// Messaging-limit tiers.
		{"tier/TIER_50", plain, tier("TIER_50"), warm, lim(80, 4800, 50, limits.ReasonNominal)},
		{"tier/TIER_250", plain, tier("TIER_250"), warm, lim(80, 4800, 250, limits.ReasonNominal)},
		{"tier/TIER_1K", plain, tier("TIER_1K"), warm, lim(80, 4800, 1000, limits.ReasonNominal)},
		{"tier/TIER_2K", plain, tier("TIER_2K"), warm, lim(80, 4800, 2000, limits.ReasonNominal)},
		{"tier/TIER_10K", plain, tier("TIER_10K"), warm, lim(80, 4800, 10000, limits.ReasonNominal)},
		{"tier/TIER_100K", plain, tier("TIER_100K"), warm, lim(80, 4800, 100000, limits.ReasonNominal)},
		{"tier/TIER_UNLIMITED", plain, tier("TIER_UNLIMITED"), warm, lim(80, 4800, -1, limits.ReasonNominal)},
		{"tier/lower case", plain, tier("tier_2k"), warm, lim(80, 4800, 2000, limits.ReasonNominal)},
		{"tier/empty is 250", plain, tier(""), warm, lim(80, 4800, 250, limits.ReasonNominal)},
		{"tier/TIER_NOT_SET is 250", plain, tier("TIER_NOT_SET"), warm, lim(80, 4800, 250, limits.ReasonNominal)},
		{"tier/unknown is 250", plain, tier("TIER_5M"), warm, lim(80, 4800, 250, limits.ReasonNominal)},

		// Spec ceiling.
		{"ceiling/below STANDARD cap", ceiling(50), healthy, warm, lim(50, 3000, 250, limits.ReasonSpecCeiling)},
		{"ceiling/equal to the cap is nominal", ceiling(80), healthy, warm, nominal},
		{"ceiling/above STANDARD cap", ceiling(500), healthy, warm, nominal},
		{"ceiling/below HIGH cap", ceiling(500), throughput("HIGH"), warm, lim(500, 30000, 250, limits.ReasonSpecCeiling)},
		{"ceiling/at HIGH cap", ceiling(1000), throughput("HIGH"), warm, lim(1000, 60000, 250, limits.ReasonNominal)},
		{"ceiling/below coexistence cap", ceiling(10), with(func(o *limits.Observed) { o.Coexistence = true }), warm, lim(10, 600, 250, limits.ReasonSpecCeiling)},
		{"ceiling/above coexistence cap", ceiling(80), with(func(o *limits.Observed) { o.Coexistence = true }), warm, lim(20, 1200, 250, limits.ReasonNominal)},
		{"ceiling/1 msg/s", ceiling(1), healthy, warm, lim(1, 60, 250, limits.ReasonSpecCeiling)},
		{"ceiling/zero is ignored", ceiling(0), healthy, warm, nominal},
		{"ceiling/negative is ignored", ceiling(-5), healthy, warm, nominal},
		{"ceiling/caps a warm-up ramp above it", sending(sbv1.SendingSpec{MaxMessagesPerSecond: ptr[int32](1), Warmup: warmup(100, 200, 10*day)}), healthy, 0, lim(1, 60, 250, limits.ReasonSpecCeiling)},

		// Paused.
		{"paused/nominal", paused, healthy, warm, lim(0, 0, 250, limits.ReasonPaused)},
		{"paused/during warm-up", paused, healthy, 0, lim(0, 0, 250, limits.ReasonPaused)},
		{"paused/still reports the tier", paused, tier("TIER_UNLIMITED"), warm, lim(0, 0, -1, limits.ReasonPaused)},
		{"paused/HIGH", paused, throughput("HIGH"), warm, lim(0, 0, 250, limits.ReasonPaused)},

		// Precedence: Paused > Restricted > LowQuality > Warmup > SpecCeiling > Nominal.
		{"precedence/Paused over everything",
			sending(sbv1.SendingSpec{Paused: true, MaxMessagesPerSecond: ptr[int32](10)}),
			with(func(o *limits.Observed) { o.Rating, o.Status, o.MessagingLimit = "RED", "RESTRICTED", "TIER_10K" }),
			0, lim(0, 0, 10000, limits.ReasonPaused)},
		{"precedence/Restricted over LowQuality", plain, with(func(o *limits.Observed) { o.Rating, o.Status = "RED", "RESTRICTED" }), warm, lim(80, 0, 250, limits.ReasonRestricted)},
		{"precedence/Restricted over Warmup", plain, status("RESTRICTED"), 0, lim(80, 0, 250, limits.ReasonRestricted)},
		{"precedence/Restricted over SpecCeiling", ceiling(10), status("BANNED"), warm, lim(10, 0, 250, limits.ReasonRestricted)},
		{"precedence/LowQuality over Warmup", plain, rating("YELLOW"), 28 * day, lim(80, 20, 250, limits.ReasonLowQuality)},
		{"precedence/LowQuality over SpecCeiling", ceiling(50), rating("RED"), warm, lim(50, 5, 250, limits.ReasonLowQuality)},
		{"precedence/LowQuality over SpecCeiling, YELLOW halves the ceiling", ceiling(50), rating("YELLOW"), warm, lim(50, 1500, 250, limits.ReasonLowQuality)},
		{"precedence/Warmup over SpecCeiling", ceiling(10), healthy, 28 * day, lim(10, 40, 250, limits.ReasonWarmup)},
		{"precedence/Warmup over SpecCeiling at 1 msg/s", ceiling(1), healthy, 28 * day, lim(1, 40, 250, limits.ReasonWarmup)},
		{"precedence/SpecCeiling over Nominal", ceiling(79), healthy, warm, lim(79, 4740, 250, limits.ReasonSpecCeiling)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := limits.Effective(tc.spec, tc.obs, created, created.Add(tc.age))
			if got != tc.want {
				t.Errorf("Effective() = %+v, want %+v", got, tc.want)
			}
			checkInvariants(t, tc.spec, got)
		})
	}
}

// TestEffectiveIgnoresTimeZones: only the age matters, not the locations of the times.
func TestEffectiveIgnoresTimeZones(t *testing.T) {
	madrid := time.FixedZone("CET", 3600)
	now := created.Add(28 * day).In(madrid)
	if got := limits.Effective(sbv1.NumberSpec{}, healthy, created, now); got.CampaignPerMinute != 40 {
		t.Errorf("CampaignPerMinute = %d, want 40", got.CampaignPerMinute)
	}
}

// TestEffectiveDoesNotMutateSpec: Effective reads its inputs only.
func TestEffectiveDoesNotMutateSpec(t *testing.T) {
	spec := sending(sbv1.SendingSpec{MaxMessagesPerSecond: ptr[int32](0), Warmup: warmup(0, 0, -1)})
	limits.Effective(spec, healthy, created, created)
	if *spec.Sending.MaxMessagesPerSecond != 0 || spec.Sending.Warmup.StartPerMinute != 0 ||
		spec.Sending.Warmup.TargetPerMinute != 0 || spec.Sending.Warmup.Over.Duration != -1 {
		t.Errorf("spec changed: %+v %+v", *spec.Sending, *spec.Sending.Warmup)
	}
}

func TestThrottled(t *testing.T) {
	cases := []struct {
		reason string
		want   bool
	}{
		{limits.ReasonPaused, true},
		{limits.ReasonRestricted, true},
		{limits.ReasonLowQuality, true},
		{limits.ReasonWarmup, true},
		{limits.ReasonSpecCeiling, false},
		{limits.ReasonNominal, false},
		{"", false},
		{"Bogus", false},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			if got := (limits.Limits{Reason: tc.reason}).Throttled(); got != tc.want {
				t.Errorf("Throttled() with reason %q = %v, want %v", tc.reason, got, tc.want)
			}
		})
	}
}

// TestThrottledFromEffective ties Throttled to what Effective reports.
func TestThrottledFromEffective(t *testing.T) {
	cases := []struct {
		name string
		spec sbv1.NumberSpec
		obs  limits.Observed
		age  time.Duration
		want bool
	}{
		{"nominal", sbv1.NumberSpec{}, healthy, warm, false},
		{"spec ceiling", ceiling(10), healthy, warm, false},
		{"warm-up", sbv1.NumberSpec{}, healthy, 0, true},
		{"low quality", sbv1.NumberSpec{}, rating("YELLOW"), warm, true},
		{"restricted", sbv1.NumberSpec{}, status("RESTRICTED"), warm, true},
		{"paused", paused, healthy, warm, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := limits.Effective(tc.spec, tc.obs, created, created.Add(tc.age))
			if got := l.Throttled(); got != tc.want {
				t.Errorf("Throttled() = %v for %+v, want %v", got, l, tc.want)
			}
		})
	}
}

func TestSendingStatus(t *testing.T) {
	l := limits.Limits{MessagesPerSecond: 80, CampaignPerMinute: 40, UniqueRecipientsPer24h: -1, Reason: limits.ReasonWarmup}
	want := sbv1.SendingStatus{MessagesPerSecond: 80, CampaignPerMinute: 40, UniqueRecipientsPer24h: -1, Reason: "Warmup"}
	if got := l.SendingStatus(); got != want {
		t.Errorf("SendingStatus() = %+v, want %+v", got, want)
	}
}

var reasons = map[string]bool{
	limits.ReasonNominal: true, limits.ReasonWarmup: true, limits.ReasonLowQuality: true,
	limits.ReasonRestricted: true, limits.ReasonPaused: true, limits.ReasonSpecCeiling: true,
}

var budgets = map[int32]bool{-1: true, 50: true, 250: true, 1000: true, 2000: true, 10000: true, 100000: true}

// checkInvariants asserts what must hold for any input.
func checkInvariants(t *testing.T, spec sbv1.NumberSpec, l limits.Limits) {
	t.Helper()
	if l.MessagesPerSecond < 0 || l.CampaignPerMinute < 0 {
		t.Errorf("negative rate: %+v", l)
	}
	if l.MessagesPerSecond > limits.HighMessagesPerSecond {
		t.Errorf("MessagesPerSecond above Meta's highest cap: %+v", l)
	}
	if !budgets[l.UniqueRecipientsPer24h] {
		t.Errorf("UniqueRecipientsPer24h is no tier's budget: %+v", l)
	}
	if int64(l.CampaignPerMinute) > int64(l.MessagesPerSecond)*60 {
		t.Errorf("CampaignPerMinute > MessagesPerSecond*60: %+v", l)
	}
	if !reasons[l.Reason] {
		t.Errorf("unknown reason: %+v", l)
	}
	isPaused := spec.Sending != nil && spec.Sending.Paused
	if isPaused != (l.Reason == limits.ReasonPaused) {
		t.Errorf("paused=%v but reason %q", isPaused, l.Reason)
	}
	if isPaused && (l.MessagesPerSecond != 0 || l.CampaignPerMinute != 0) {
		t.Errorf("paused but rates not zero: %+v", l)
	}
	if !isPaused && l.MessagesPerSecond < 1 {
		t.Errorf("not paused but MessagesPerSecond < 1: %+v", l)
	}
	if l.Reason == limits.ReasonRestricted && l.CampaignPerMinute != 0 {
		t.Errorf("restricted but campaigns flow: %+v", l)
	}
}

func FuzzEffective(f *testing.F) {
	type seed struct {
		paused                 bool
		ceiling                int32
		start, target          int32
		overNs                 int64
		rating, thr, tier, sts string
		coex                   bool
		createdNs, ageNs       int64
	}
	for _, s := range []seed{
		{false, 0, 0, 0, 0, "GREEN", "STANDARD", "TIER_250", "CONNECTED", false, created.UnixNano(), 0},
		{false, 50, 20, 60, int64(1344 * time.Hour), "YELLOW", "HIGH", "TIER_2K", "CONNECTED", false, created.UnixNano(), int64(28 * day)},
		{true, 1000, 1, 60000, int64(time.Hour), "RED", "HIGH", "TIER_UNLIMITED", "RESTRICTED", true, 0, -1},
		{false, -1, -5, -5, -1, "", "", "", "FLAGGED", false, -1 << 62, 1 << 62},
		{false, 1 << 30, 60000, 1, 1 << 62, "yellow", "NOT_APPLICABLE", "TIER_NOT_SET", "BANNED", false, 1 << 62, -(1 << 62)},
	} {
		f.Add(s.paused, s.ceiling, s.start, s.target, s.overNs, s.rating, s.thr, s.tier, s.sts, s.coex, s.createdNs, s.ageNs)
	}
	f.Fuzz(func(t *testing.T, paused bool, ceiling, start, target int32, overNs int64,
		rating, thr, tier, sts string, coex bool, createdNs, ageNs int64) {
		s := sbv1.SendingSpec{Paused: paused}
		if ceiling != 0 {
			s.MaxMessagesPerSecond = &ceiling
		}
		if start != 0 || target != 0 || overNs != 0 {
			s.Warmup = warmup(start, target, time.Duration(overNs))
		}
		spec := sending(s)
		obs := limits.Observed{Rating: rating, Throughput: thr, MessagingLimit: tier, Status: sts, Coexistence: coex}
		createdAt := time.Unix(0, createdNs)
		now := createdAt.Add(time.Duration(ageNs))

		l := limits.Effective(spec, obs, createdAt, now)
		checkInvariants(t, spec, l)
		if again := limits.Effective(spec, obs, createdAt, now); again != l {
			t.Fatalf("not deterministic: %+v then %+v", l, again)
		}
		// Time only loosens the warm-up: a later now never lowers the campaign rate.
		later := limits.Effective(spec, obs, createdAt, now.Add(time.Duration(uint32(ageNs))*time.Millisecond))
		if later.CampaignPerMinute < l.CampaignPerMinute || later.MessagesPerSecond != l.MessagesPerSecond {
			t.Fatalf("later limits %+v lower than %+v", later, l)
		}
	})
}

func TestForNumber(t *testing.T) {
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	num := &sbv1.Number{}
	num.CreationTimestamp.Time = created
	now := created.Add(100 * 24 * time.Hour) // warm-up over
	if got := limits.ForNumber(num, now); got.UniqueRecipientsPer24h != limits.DefaultUniqueRecipientsPer24h || got.Reason != limits.ReasonNominal {
		t.Errorf("no quality read yet: %+v", got)
	}
	num.Status.Quality = &sbv1.QualityStatus{Rating: "RED", Throughput: "HIGH", MessagingLimit: "TIER_10K", Status: "CONNECTED"}
	want := limits.Effective(num.Spec, limits.Observed{Rating: "RED", Throughput: "HIGH", MessagingLimit: "TIER_10K", Status: "CONNECTED"}, created, now)
	if got := limits.ForNumber(num, now); got != want {
		t.Errorf("ForNumber %+v, want Effective's %+v", got, want)
	}
	// The spec says the number is shared with the Business app: Meta's 20 msg/s applies,
	// even to a HIGH number, and it is the number's nominal rate.
	num.Status.Quality.Rating = "GREEN"
	num.Spec.Sending = &sbv1.SendingSpec{Coexistence: true}
	if got := limits.ForNumber(num, now); got.MessagesPerSecond != 20 || got.Reason != limits.ReasonNominal {
		t.Errorf("coexistence: %+v, want 20 msg/s, Nominal", got)
	}
}
