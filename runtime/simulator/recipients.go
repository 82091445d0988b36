package simulator

import (
	"fmt"
	"slices"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// Recipients: how Meta reads a send's `to` and which WhatsApp user (wa_id)
// it resolves to. Meta's "Phone number formats" (messages reference) accepts
// "+", spaces, dashes and parentheses around the digits; a number written with
// the 00 international prefix, or with letters, is refused with code 100
// ("Parameter Invalid", as Meta answers a 00-prefixed number). Digits are read
// as an international number (country code first) and must be a possible
// number of that country by libphonenumber's length rules, not its stricter
// validity check, which refuses new ranges and the example numbers of Meta's
// own docs. Meta would instead prepend the business number's country code to
// a number written without "+"; the simulator does not.
//
// The project's canonical wa_id rule lives in runtime/phone; this file keeps
// the simulator's own small copy of Meta's reading so that the simulator stays
// an independent model of Meta.

// recipientSeparators are the characters Meta accepts around the digits of `to`.
const recipientSeparators = "+-() "

// recipientDigits reads `to` as Meta does and returns its digits, or the
// error Meta answers: 100 for an empty `to` (required), a 00 prefix or
// anything but digits and separators.
func recipientDigits(to string) (string, *graphError) {
	if strings.TrimSpace(to) == "" {
		return "", errRequired("to")
	}
	digits := normalizeRecipient(to)
	if digits == "" || digitsOnly(digits) != digits || strings.HasPrefix(digits, "00") {
		return "", errInvalidRecipient()
	}
	return digits, nil
}

// normalizeRecipient removes the separators Meta accepts around the digits
// of `to` ("+", spaces, dashes and parentheses).
func normalizeRecipient(to string) string {
	return strings.Map(func(r rune) rune {
		if strings.ContainsRune(recipientSeparators, r) {
			return -1
		}
		return r
	}, to)
}

// validRecipient reports whether waID has a wa_id's shape: 7 to 15 digits
// (E.164 numbers have at most 15).
func validRecipient(waID string) bool {
	return len(waID) >= 7 && len(waID) <= 15 && digitsOnly(waID) == waID
}

// possibleNumber reports whether digits, read as "+" and digits, is a
// possible number of its country: a known country calling code and a
// national number of one of that country's lengths.
func possibleNumber(digits string) bool {
	n, err := phonenumbers.Parse("+"+digits, "")
	return err == nil && phonenumbers.IsPossibleNumberWithReason(n) == phonenumbers.IS_POSSIBLE
}

// Country rules of wa_id resolution (RecipientConfig.Rules).
const (
	// RuleMexico521: Meta's wa_id of a Mexican mobile number keeps the old
	// mobile prefix 1: 52 + 10 digits resolves to 521 + the same 10 digits.
	RuleMexico521 = "MX521"
	// RuleBrazilAdd9: a Brazilian mobile number written without the ninth
	// digit (55 + 2-digit area + 8 digits) resolves to the wa_id with it.
	RuleBrazilAdd9 = "BR_ADD_9"
	// RuleBrazilDrop9: a Brazilian mobile number with the ninth digit (55 +
	// area + 9 + 8 digits) resolves to the wa_id without it, as for accounts
	// registered before the ninth digit.
	RuleBrazilDrop9 = "BR_DROP_9"
)

var waIDRules = map[string]func(digits string) (string, bool){
	RuleMexico521: func(d string) (string, bool) {
		return "521" + d[2:], len(d) == 12 && strings.HasPrefix(d, "52")
	},
	RuleBrazilAdd9: func(d string) (string, bool) {
		return d[:4] + "9" + d[4:], len(d) == 12 && strings.HasPrefix(d, "55") && d[4] >= '6'
	},
	RuleBrazilDrop9: func(d string) (string, bool) {
		return d[:4] + d[5:], len(d) == 13 && strings.HasPrefix(d, "55") && d[4] == '9'
	},
}

// RecipientConfig describes how Meta resolves recipients to WhatsApp users,
// so that a receiver can be tested against a wa_id that differs from the
// number it sent to. Without it, a recipient's wa_id is its digits.
type RecipientConfig struct {
	// WAIDs maps a recipient's digits (what `to` is once "+", spaces, dashes
	// and parentheses are removed) to the wa_id Meta answers for it. It wins
	// over Rules.
	WAIDs map[string]string `json:"waIds,omitempty"`
	// Rules are country rules applied to every other recipient: MX521,
	// BR_ADD_9 or BR_DROP_9 (not both Brazilian rules).
	Rules []string `json:"rules,omitempty"`
	// NotOnWhatsApp lists wa_ids that are no WhatsApp user: a send to one is
	// accepted and then fails with 131026, as Meta's does.
	NotOnWhatsApp []string `json:"notOnWhatsApp,omitempty"`
}

func (rc RecipientConfig) validate() error {
	for in, out := range rc.WAIDs {
		if !validRecipient(in) || !validRecipient(out) {
			return fmt.Errorf("simulator: recipients.waIds: %q → %q: both must be digits, 7 to 15 of them", in, out)
		}
	}
	for _, waID := range rc.NotOnWhatsApp {
		if !validRecipient(waID) {
			return fmt.Errorf("simulator: recipients.notOnWhatsApp: %q must be digits, 7 to 15 of them", waID)
		}
	}
	for _, r := range rc.Rules {
		if waIDRules[r] == nil {
			return fmt.Errorf("simulator: recipients.rules: unknown rule %q (want %s, %s or %s)",
				r, RuleMexico521, RuleBrazilAdd9, RuleBrazilDrop9)
		}
	}
	if slices.Contains(rc.Rules, RuleBrazilAdd9) && slices.Contains(rc.Rules, RuleBrazilDrop9) {
		return fmt.Errorf("simulator: recipients.rules: %s and %s exclude each other", RuleBrazilAdd9, RuleBrazilDrop9)
	}
	return nil
}

// resolve returns the wa_id Meta answers for a recipient's digits.
func (rc RecipientConfig) resolve(digits string) string {
	if waID, ok := rc.WAIDs[digits]; ok {
		return waID
	}
	for _, r := range rc.Rules {
		if waID, ok := waIDRules[r](digits); ok {
			return waID
		}
	}
	return digits
}

// knownWAID reports whether digits is a wa_id Meta itself hands out here: a
// configured resolution's result, or the Mexican 521 form, which
// libphonenumber counts as too long but which every Mexican webhook carries.
// Meta never refuses a wa_id it sent.
func (rc RecipientConfig) knownWAID(digits string) bool {
	if len(digits) == 13 && strings.HasPrefix(digits, "521") {
		return true
	}
	for _, waID := range rc.WAIDs {
		if waID == digits {
			return true
		}
	}
	return false
}

// applyTo merges rc into dst: its wa_ids over dst's, its rules and
// non-users added.
func (rc RecipientConfig) applyTo(dst *RecipientConfig) {
	for in, out := range rc.WAIDs {
		if dst.WAIDs == nil {
			dst.WAIDs = map[string]string{}
		}
		dst.WAIDs[in] = out
	}
	dst.Rules = append(dst.Rules, rc.Rules...)
	dst.NotOnWhatsApp = append(dst.NotOnWhatsApp, rc.NotOnWhatsApp...)
}
