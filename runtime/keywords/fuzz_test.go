package keywords_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/keywords"
)

var fuzzSeeds = [][2]string{
	{"¿CUÁNTO cuesta?", "cuánto cuesta"},
	{"这个价格多少", "价格"},
	{"un éxito", "xito"},
	{"ｐｒｅｃｉｏ", "precio"},
	{"か\u3099 ｶﾞ", "が"},
	{"STRASSE", "ß"},
	{"ما هو السِّعر؟ 👨‍👩‍👧", "السعر"},
	{"\xff\xfe a  \t b", "a b"},
	{"İI ıi ΣΊΣΥΦΟΣ", "σισυφοσ"},
}

// FuzzFold: folding never panics, gives valid UTF-8 with no double space, and is
// idempotent.
func FuzzFold(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s[0])
	}
	f.Fuzz(func(t *testing.T, s string) {
		folded := keywords.Fold(s)
		if !utf8.ValidString(folded) || strings.Contains(folded, "  ") {
			t.Fatalf("Fold(%q) = %q", s, folded)
		}
		if again := keywords.Fold(folded); again != folded {
			t.Fatalf("not idempotent: Fold(%q) = %q, Fold of that = %q", s, folded, again)
		}
	})
}

// FuzzMatch: matching never panics; Contains matches exactly when the folded keyword
// occurs in the folded text, and the span it reports is inside the text and folds to
// text containing the keyword; every mode survives any keyword and text.
func FuzzMatch(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, text, kw string) {
		for _, mode := range []sbv1.MatchMode{sbv1.MatchWord, sbv1.MatchExact, sbv1.MatchRegex} {
			set, _ := keywords.Compile(sbv1.Inbound, []sbv1.KeywordRule{rule("r", sbv1.Inbound, mode, 0, tagOnly, kw)})
			for _, m := range set.Match(text, true) {
				if m.Start < 0 || m.Start > m.End || m.End > len(text) {
					t.Fatalf("%s %q in %q: span [%d,%d)", mode, kw, text, m.Start, m.End)
				}
			}
		}
		set, errs := keywords.Compile(sbv1.Inbound, []sbv1.KeywordRule{rule("r", sbv1.Inbound, sbv1.MatchContains, 0, tagOnly, kw)})
		if len(errs) > 0 {
			return
		}
		folded := strings.Trim(keywords.Fold(kw), " ")
		m, ok := set.First(text, true)
		if want := strings.Contains(keywords.Fold(text), folded); ok != want {
			t.Fatalf("Contains %q in %q: matched %v, want %v", kw, text, ok, want)
		}
		if ok && !strings.Contains(keywords.Fold(text[m.Start:m.End]), folded) {
			t.Fatalf("Contains %q in %q: span %q does not fold to the keyword", kw, text, text[m.Start:m.End])
		}
	})
}
