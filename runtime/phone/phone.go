// Package phone turns a WhatsApp user's number into the one form Switchboard stores,
// paces and budgets by: Meta's wa_id, the country calling code and the number as
// decimal digits, with no "+" and no separators (for example "16505551234").
//
// The rule (docs/sender.md, "Recipients"):
//
//   - "+" then the number, with the separators Meta accepts in a message's "to" (spaces,
//     hyphens and parentheses: Meta's "Phone number formats"), becomes its digits:
//     "+1 (650) 555-1234" → "16505551234".
//   - Digits without "+" are read as that same international form (how integrators
//     echo a webhook's wa_id): "34611111111" → "34611111111".
//   - Either way the number must be possible by libphonenumber's per-country length
//     rules (github.com/nyaruka/phonenumbers, IsPossibleNumberWithReason), not its
//     stricter validity check, which refuses new number ranges and the example numbers of
//     Meta's own docs (15550783881). One addition comes from Meta, not from the country
//     plans: Meta's wa_id of a Mexican mobile keeps the "1" after 52 that Mexico dropped
//     in 2019 ("5215512345678"), so a number of country code 52 whose national part is
//     "1" and a possible number is possible too.
//   - Refused, with an *Error naming the value and why: a national number without its
//     country code (which Meta would complete with the business number's own country
//     code, and may misdeliver), the international prefix "00", letters or any other
//     character, a "+" that is not first, a national trunk prefix after the country
//     code ("+44 (0)7700…"), an unknown country code, and too few or too many digits.
//
// A wa_id that Meta sends (a webhook's contacts[].wa_id or messages[].from, the
// contacts[].wa_id of a send answer) is never refused for its length: FromMeta only
// checks that it is digits.
package phone

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// maxDigits is the longest international number: 15 digits (ITU-T E.164, section 6).
const maxDigits = 15

// mexicoMobileToken is the "1" Meta's wa_ids of Mexican mobiles keep after 52.
const mexicoCode, mexicoMobileToken = 52, "1"

// Error is a refused number: Value is the input as given, Reason why it was refused.
type Error struct {
	Value  string
	Reason string
}

func (e *Error) Error() string {
	shown := e.Value
	if r := []rune(shown); len(r) > 40 {
		shown = string(r[:40]) + "…"
	}
	return fmt.Sprintf("%q is not a WhatsApp user's number (country code and number, such as +34 611 111 111): %s",
		shown, e.Reason)
}

func refuse(value, format string, args ...any) (string, error) {
	return "", &Error{Value: value, Reason: fmt.Sprintf(format, args...)}
}

// Canonical returns the wa_id form of a recipient given by a person or an integrator:
// country code and number as digits. It refuses what the package doc lists with an
// *Error. Canonical is idempotent: Canonical(w) == w for every w it returns.
func Canonical(input string) (string, error) {
	digits, plus, err := strip(input)
	if err != nil {
		return "", err
	}
	switch {
	case !plus && strings.HasPrefix(digits, "00"):
		return refuse(input, `starts with the international prefix 00: write "+" instead`)
	case !plus && strings.HasPrefix(digits, "0"):
		return refuse(input, "is a national number (it starts with the trunk prefix 0): give it with + and its country code")
	case len(digits) > maxDigits:
		return refuse(input, "has %d digits; an international number has at most %d (E.164)", len(digits), maxDigits)
	}
	if reason := impossible(digits); reason != "" {
		if !plus {
			reason += "; digits without + are read as country code and number, so a national number needs its country code"
		}
		return refuse(input, "%s", reason)
	}
	return digits, nil
}

// FromMeta returns the wa_id form of a wa_id Meta sent (a webhook's contacts[].wa_id or
// messages[].from, a send answer's contacts[].wa_id). It is never refused for its
// length or country: Meta resolved it. It refuses only what Meta never sends as a wa_id
// (nothing, or anything but digits after an optional "+"), with an *Error.
func FromMeta(waID string) (string, error) {
	digits := strings.TrimPrefix(waID, "+")
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return refuse(waID, "a wa_id is decimal digits")
	}
	return digits, nil
}

// strip returns the digits of input and whether it began with "+", refusing any
// character but digits and the separators Meta accepts.
func strip(input string) (string, bool, error) {
	s := strings.TrimSpace(input)
	plus := strings.HasPrefix(s, "+")
	s = strings.TrimPrefix(s, "+")
	var b strings.Builder
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '(' || r == ')':
		case r == '+':
			_, err := refuse(input, `has a "+" that is not its first character`)
			return "", false, err
		default:
			_, err := refuse(input, "has %q at position %d: only digits, a leading +, spaces, hyphens and parentheses are accepted", r, i+1)
			return "", false, err
		}
	}
	if b.Len() == 0 {
		_, err := refuse(input, "has no digits")
		return "", false, err
	}
	return b.String(), plus, nil
}

// impossible says why digits (country code and number) is not a possible number, or ""
// when it is.
func impossible(digits string) string {
	n, err := phonenumbers.Parse("+"+digits, "ZZ")
	if err != nil {
		return "no country calling code starts it"
	}
	code := int(n.GetCountryCode())
	national := phonenumbers.GetNationalSignificantNumber(n)
	if strconv.Itoa(code)+national != digits {
		return fmt.Sprintf("has a national trunk prefix after the country code +%d: leave it out (+%d %s)", code, code, national)
	}
	reason := phonenumbers.IsPossibleNumberWithReason(n)
	if reason == phonenumbers.TOO_LONG && mexicanMobile(code, national) {
		return ""
	}
	return lengthReason(reason, code, len(national))
}

// mexicanMobile reports whether a number of country code 52 is Meta's wa_id form of a
// Mexican mobile: "1" then a possible number.
func mexicanMobile(code int, national string) bool {
	if code != mexicoCode || !strings.HasPrefix(national, mexicoMobileToken) {
		return false
	}
	n, err := phonenumbers.Parse("+52"+strings.TrimPrefix(national, mexicoMobileToken), "ZZ")
	return err == nil && phonenumbers.IsPossibleNumberWithReason(n) == phonenumbers.IS_POSSIBLE
}

// lengthReason words libphonenumber's verdict on the length of a country's number.
func lengthReason(r phonenumbers.ValidationResult, code, n int) string {
	switch r {
	case phonenumbers.IS_POSSIBLE:
		return ""
	case phonenumbers.TOO_SHORT:
		return fmt.Sprintf("too few digits: %d after the country code +%d", n, code)
	case phonenumbers.TOO_LONG:
		return fmt.Sprintf("too many digits: %d after the country code +%d", n, code)
	case phonenumbers.IS_POSSIBLE_LOCAL_ONLY:
		return fmt.Sprintf("too few digits: %d after the country code +%d is a local number without its area code", n, code)
	case phonenumbers.INVALID_COUNTRY_CODE:
		return "no country calling code starts it"
	}
	return fmt.Sprintf("no number of country code +%d has %d digits", code, n)
}

// Region is the ISO 3166-1 alpha-2 region of a wa_id (digits, country code first), as
// libphonenumber assigns it: the region whose numbering plan the number is valid in, or
// else the main region of its country calling code ("US" for +1). "" when the country
// code is unknown. Meta prices template messages by the recipient's country calling code
// (Meta, "Pricing").
func Region(waID string) string {
	num, err := phonenumbers.Parse("+"+waID, "")
	if err != nil {
		return ""
	}
	if r := phonenumbers.GetRegionCodeForNumber(num); r != "" && r != "ZZ" {
		return r
	}
	if r := phonenumbers.GetRegionCodeForCountryCode(int(num.GetCountryCode())); r != "ZZ" {
		return r
	}
	return ""
}
