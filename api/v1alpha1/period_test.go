package v1alpha1

import (
	"testing"
	"time"
)

func TestParsePeriod(t *testing.T) {
	day := 24 * time.Hour
	for _, tc := range []struct {
		in   Period
		want time.Duration
		ok   bool
	}{
		{"24h", day, true},
		{"1d", day, true},
		{"90d", 90 * day, true},
		{"730d", 730 * day, true},
		{"5y", 5 * 365 * day, true},
		{"10y", 3650 * day, true},
		{"3650d", 3650 * day, true},
		{"87600h", 3650 * day, true},
		{"23h", 0, false},
		{"0d", 0, false},
		{"3651d", 0, false},
		{"11y", 0, false},
		{"90", 0, false},
		{"d", 0, false},
		{"-1d", 0, false},
		{"+9d", 0, false},
		{"12w", 0, false},
		{"1234567d", 0, false},
	} {
		got, err := ParsePeriod(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParsePeriod(%q) = %v, %v; want %v, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}
