package phone_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/runtime/phone"
)

func TestCanonicalAccepts(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		// Meta's own doc examples: not valid by libphonenumber (555 ranges), but possible.
		{"16505551234", "16505551234"},
		{"+16505551234", "16505551234"},
		{"+1 (650) 555-1234", "16505551234"},
		{"15550783881", "15550783881"},
		{"+1-631-555-1000", "16315551000"},
		{"  +1 (631) 555 1000 ", "16315551000"},
		// Spain, Portugal, the UK (Ofcom's drama range 7700 900xxx).
		{"+34 611 11 11 11", "34611111111"},
		{"34611111111", "34611111111"},
		{"+351 912 345 678", "351912345678"},
		{"+44 7700 900123", "447700900123"},
		{"447700900123", "447700900123"},
		// Brazil: a mobile with the ninth digit, and the wa_id Meta gives older ones without it.
		{"+55 11 98765-4321", "5511987654321"},
		{"551187654321", "551187654321"},
		// Mexico: the number as dialled today, and Meta's wa_id with the old mobile "1".
		{"+52 55 1234 5678", "525512345678"},
		{"5215512345678", "5215512345678"},
		{"+52 1 55 1234 5678", "5215512345678"},
		// India, China, Argentina (mobile token 9), Italy (a leading 0 that belongs to the number).
		{"+91 98765 43210", "919876543210"},
		{"8613812345678", "8613812345678"},
		{"+54 9 11 2345-6789", "5491123456789"},
		{"+39 06 1234 5678", "390612345678"},
		// The rule's limit: a national number that is also a possible international one is
		// read as the international one (Spain's 611111111 as Australia's +61 1111111).
		{"611111111", "611111111"},
	} {
		got, err := phone.Canonical(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("Canonical(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestCanonicalRefuses(t *testing.T) {
	for _, tc := range []struct{ in, why string }{
		{"", "has no digits"},
		{"  ", "has no digits"},
		{"+", "has no digits"},
		{"0034611111111", "international prefix 00"},
		{"+0034611111111", "no country calling code"},
		{"0611111111", "national number"},
		{"07700900123", "national number"},
		// National numbers without their country code, read as international and impossible so.
		{"212 555 1234", "national number needs its country code"}, // US; +212 is Morocco
		{"912345678", "national number needs its country code"},    // Portugal; +91 is India
		{"7700900123", "national number needs its country code"},   // UK without its 0; +7 is Russia
		{"9876543210", "national number needs its country code"},   // India; +98 is Iran
		{"+34 6111 1111", "too few digits"},
		{"+34 6111 111 111", "too many digits"},
		{"3423456", "too few digits"},
		{"+1234567890123456", "at most 15"},
		{"+999 123456", "no country calling code"},
		{"+44 (0)7700 900123", "trunk prefix"},
		{"+1 650 555 1234 ext 5", `'e'`},
		{"+1-800-FLOWERS", `'F'`},
		{"+1.650.555.1234", `'.'`},
		{"34+611111111", `"+" that is not its first`},
		{"++34611111111", `"+" that is not its first`},
		{"+52 11 55 1234 5678", "too many digits"}, // two "1"s are not Meta's Mexican form
	} {
		got, err := phone.Canonical(tc.in)
		var pe *phone.Error
		if !errors.As(err, &pe) || pe.Value != tc.in || !strings.Contains(err.Error(), tc.why) {
			t.Errorf("Canonical(%q) = %q, %v; want a *phone.Error naming the value and %q", tc.in, got, err, tc.why)
		}
		if got != "" {
			t.Errorf("Canonical(%q) returned %q with its error", tc.in, got)
		}
	}
}

func TestLongInputIsShortened(t *testing.T) {
	long := strings.Repeat("1", 100000)
	_, err := phone.Canonical(long)
	var pe *phone.Error
	if !errors.As(err, &pe) || pe.Value != long || len(err.Error()) > 300 || !strings.Contains(err.Error(), "100000 digits") {
		t.Errorf("Canonical(100,000 digits): %.300v", err)
	}
}

func TestFromMetaNeverRefusesAWAID(t *testing.T) {
	// Digits libphonenumber calls impossible are still Meta's to decide.
	for _, id := range []string{"16505551234", "5215512345678", "3423456", "99912345678", "1234567890123456", "+34611111111"} {
		got, err := phone.FromMeta(id)
		if err != nil || got != strings.TrimPrefix(id, "+") {
			t.Errorf("FromMeta(%q) = %q, %v", id, got, err)
		}
	}
	for _, bad := range []string{"", "+", "34 611", "abc", "+34-611"} {
		if got, err := phone.FromMeta(bad); err == nil {
			t.Errorf("FromMeta(%q) = %q, want an error", bad, got)
		}
	}
}

// FuzzCanonical: never a panic; an accepted number is digits, at most 15, and is its own
// canonical form with and without "+".
func FuzzCanonical(f *testing.F) {
	for _, s := range []string{"+1 (650) 555-1234", "34611111111", "0034611111111", "5215512345678", "+44 (0)7700 900123", "x", "+", "٣٤٦١١١١١١١١"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := phone.Canonical(in)
		if err != nil {
			var pe *phone.Error
			if !errors.As(err, &pe) || got != "" {
				t.Fatalf("Canonical(%q) = %q, %v: want only a *phone.Error", in, got, err)
			}
			return
		}
		if len(got) == 0 || len(got) > 15 || strings.Trim(got, "0123456789") != "" {
			t.Fatalf("Canonical(%q) = %q: not 1-15 digits", in, got)
		}
		for _, again := range []string{got, "+" + got} {
			if g, err := phone.Canonical(again); g != got || err != nil {
				t.Fatalf("Canonical(%q) = %q, %v; want %q (from %q)", again, g, err, got, in)
			}
		}
	})
}

func TestRegion(t *testing.T) {
	for waID, want := range map[string]string{
		"34611111111": "ES", "5511987654321": "BR", "14155550123": "US", "16135550123": "CA",
		"5215512345678": "MX", "447700900123": "GB", "999123": "", "": "",
	} {
		if got := phone.Region(waID); got != want {
			t.Errorf("Region(%q) = %q, want %q", waID, got, want)
		}
	}
}
