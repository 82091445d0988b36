package keywords

import (
	"fmt"
	"regexp"
	"strings"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
)

// Rule is one compiled KeywordRule. Its exported fields are copies of the spec with
// the defaults applied (Mode Word, When Always); it is immutable once compiled.
type Rule struct {
	// Name is the KeywordRule's metadata.name.
	Name      string
	Direction sbv1.Direction
	Mode      sbv1.MatchMode
	Priority  int32
	When      sbv1.When
	// Keywords are spec.match.any as written.
	Keywords []string
	Actions  sbv1.KeywordActions

	folded  []string         // Fold of each keyword, trimmed (Word, Contains, Exact)
	regexes []*regexp.Regexp // each keyword compiled case-insensitively (Regex)
}

// CompileError says why a rule does not compile: the rule, the field and the value.
type CompileError struct {
	Rule   string // the KeywordRule's metadata.name
	Field  string // for example spec.match.any[1]
	Value  string // the offending value
	Reason string // for example "regular expression does not compile: …"
}

// Error is "KeywordRule NAME: FIELD: REASON".
func (e *CompileError) Error() string {
	return fmt.Sprintf("KeywordRule %s: %s", e.Rule, e.FieldError())
}

// FieldError is "FIELD: REASON", the message the operator puts in the rule's Stalled
// condition, for example
// `spec.match.any[1]: regular expression "refund(s" does not compile: error parsing regexp: missing closing ): ` + "`refund(s`".
func (e *CompileError) FieldError() string {
	return fmt.Sprintf("%s: %s", e.Field, e.Reason)
}

// CompileRule checks and compiles one KeywordRule. Each keyword of a Regex rule must
// compile as a Go (RE2) regular expression; every other keyword must keep at least one
// character once folded (Fold) and trimmed of spaces. The error is a *CompileError
// naming the first bad field.
func CompileRule(kr *sbv1.KeywordRule) (*Rule, error) {
	r := &Rule{
		Name: kr.Name, Direction: kr.Spec.Direction, Mode: kr.Spec.Match.Mode,
		Priority: kr.Spec.Priority, When: kr.Spec.When,
		Keywords: append([]string(nil), kr.Spec.Match.Any...), Actions: *kr.Spec.Actions.DeepCopy(),
	}
	if err := r.applyDefaults(); err != nil {
		return nil, err
	}
	if r.Mode == sbv1.MatchRegex {
		return r, r.compileRegexes()
	}
	return r, r.foldKeywords()
}

// applyDefaults fills what the API server defaults (for objects that did not go
// through it) and refuses unknown values.
func (r *Rule) applyDefaults() error {
	if r.Mode == "" {
		r.Mode = sbv1.MatchWord
	}
	if r.When == "" {
		r.When = sbv1.Always
	}
	switch {
	case r.Direction != sbv1.Inbound && r.Direction != sbv1.Outbound:
		return r.errorf("spec.direction", string(r.Direction), "unknown direction %q", r.Direction)
	case !oneOf(r.Mode, sbv1.MatchWord, sbv1.MatchContains, sbv1.MatchExact, sbv1.MatchRegex):
		return r.errorf("spec.match.mode", string(r.Mode), "unknown mode %q", r.Mode)
	case !oneOf(r.When, sbv1.Always, sbv1.DuringBusinessHours, sbv1.OutsideBusinessHours):
		return r.errorf("spec.when", string(r.When), "unknown value %q", r.When)
	case len(r.Keywords) == 0:
		return r.errorf("spec.match.any", "", "no keyword")
	}
	return nil
}

// compileRegexes compiles each keyword as RE2, case-insensitive ((?i)), matched
// against the message as written.
func (r *Rule) compileRegexes() error {
	for i, kw := range r.Keywords {
		if _, err := regexp.Compile(kw); err != nil {
			return r.errorf(fmt.Sprintf("spec.match.any[%d]", i), kw, "regular expression %q does not compile: %v", kw, err)
		}
		re, err := regexp.Compile("(?i)" + kw)
		if err != nil {
			return r.errorf(fmt.Sprintf("spec.match.any[%d]", i), kw, "regular expression %q does not compile case-insensitively: %v", kw, err)
		}
		r.regexes = append(r.regexes, re)
	}
	return nil
}

// foldKeywords folds each literal keyword; one that folds to nothing is refused.
func (r *Rule) foldKeywords() error {
	for i, kw := range r.Keywords {
		f := strings.Trim(Fold(kw), " ")
		if f == "" {
			return r.errorf(fmt.Sprintf("spec.match.any[%d]", i), kw, "keyword %q is empty once case, accents, width and spaces are folded", kw)
		}
		r.folded = append(r.folded, f)
	}
	return nil
}

func (r *Rule) errorf(field, value, format string, args ...any) *CompileError {
	return &CompileError{Rule: r.Name, Field: field, Value: value, Reason: fmt.Sprintf(format, args...)}
}

// appliesWhen reports whether the rule applies with business hours open or closed.
func (r *Rule) appliesWhen(open bool) bool {
	switch r.When {
	case sbv1.DuringBusinessHours:
		return open
	case sbv1.OutsideBusinessHours:
		return !open
	}
	return true
}

func oneOf[T comparable](v T, allowed ...T) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}
