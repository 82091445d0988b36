package whatsapp_test

import (
	"errors"
	"testing"

	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

func errorsIs(err, target error) bool { return errors.Is(err, target) }

func TestSignature(t *testing.T) {
	body := []byte("The quick brown fox jumps over the lazy dog")
	const want = "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
	if got := whatsapp.Sign("key", body); got != want {
		t.Fatalf("Sign = %s", got)
	}
	if !whatsapp.VerifySignature("key", body, want) {
		t.Fatal("valid signature rejected")
	}
	for _, bad := range []struct{ secret, header string }{
		{"other", want}, {"key", "sha1=abc"}, {"key", "sha256=zz"}, {"", want},
		{"key", want[:len(want)-2] + "00"},
	} {
		if whatsapp.VerifySignature(bad.secret, body, bad.header) {
			t.Errorf("accepted secret %q header %q", bad.secret, bad.header)
		}
	}
}

func TestTiersAndThroughput(t *testing.T) {
	for tier, want := range map[string]int{"TIER_250": 250, "TIER_2K": 2000, "TIER_10K": 10000,
		"TIER_100K": 100000, "TIER_UNLIMITED": whatsapp.Unlimited, "TIER_50": 50, "TIER_1K": 1000} {
		if got, ok := whatsapp.TierRecipients(tier); !ok || got != want {
			t.Errorf("TierRecipients(%s) = %d %v", tier, got, ok)
		}
	}
	if _, ok := whatsapp.TierRecipients("TIER_NOT_SET"); ok {
		t.Error("TIER_NOT_SET has no number")
	}
	if whatsapp.ThroughputMPS("STANDARD", false) != 80 || whatsapp.ThroughputMPS("HIGH", false) != 1000 ||
		whatsapp.ThroughputMPS("HIGH", true) != 20 || whatsapp.ThroughputMPS("", false) != 80 {
		t.Error("ThroughputMPS wrong")
	}
}
