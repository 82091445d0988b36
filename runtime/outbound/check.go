package outbound

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/calendar"
	"github.com/switchboard-dev/switchboard/runtime/keywords"
)

// BlockedCode is the error_code of an outbox row that an Outbound KeywordRule blocked:
// the message never reached Meta. Meta's error codes are never negative, and the
// transport errors of the sender are 0.
const BlockedCode = -1

// Rules are the compiled Outbound KeywordRules of one Number and the business hours
// of its RoutingPolicy. A nil *Rules blocks nothing. Rules are immutable and safe for
// concurrent use.
type Rules struct {
	// Namespace is the Number's (and so the rules') namespace.
	Namespace string
	Set       *keywords.Set
	// Hours decide spec.when: nil is always open (no RoutingPolicy, or one without
	// businessHours), as docs/keywordrule.md says.
	Hours *calendar.Hours
}

// Compile compiles the Outbound rules among rules (the KeywordRules of the Number's
// namespace) that select num, and the business hours of policy, the RoutingPolicy
// named in num's status.routingPolicy (nil: none). Rules that do not compile (the
// operator reports them Stalled) and invalid business hours (then always open) are
// left out and returned as errors, so that one bad object never disables the others.
func Compile(num *sbv1.Number, rules []sbv1.KeywordRule, policy *sbv1.RoutingPolicy) (*Rules, []error) {
	mine, errs := keywords.ForNumber(rules, num.Labels)
	set, compileErrs := keywords.Compile(sbv1.Outbound, mine)
	r := &Rules{Namespace: num.Namespace, Set: set}
	errs = append(errs, compileErrs...)
	if policy != nil {
		hours, err := calendar.Compile(policy.Spec.BusinessHours)
		if err != nil {
			errs = append(errs, fmt.Errorf("RoutingPolicy %s: %w", policy.Name, err))
		}
		r.Hours = hours
	}
	return r, errs
}

// Block says why a message must not be sent: the rule, the keyword and where it
// matched. It is an error, which a producer can return as is.
type Block struct {
	// Namespace and Rule name the KeywordRule.
	Namespace, Rule string
	// Keyword is the keyword as written in spec.match.any.
	Keyword string
	// Field is the Text's field, for example "text.body".
	Field string
	// Reason is the rule's spec.actions.block.reason (may be empty).
	Reason string
}

// Error is `blocked by KeywordRule NAMESPACE/NAME: "KEYWORD" in FIELD`, then ": REASON"
// when the rule gives one. It never contains the rest of the message.
func (b *Block) Error() string {
	s := fmt.Sprintf("blocked by KeywordRule %s: %q in %s", b.RuleRef(), b.Keyword, b.Field)
	if b.Reason != "" {
		s += ": " + b.Reason
	}
	return s
}

// RuleRef is the rule as NAMESPACE/NAME (the label of switchboard_outbound_blocked_total).
func (b *Block) RuleRef() string { return b.Namespace + "/" + b.Rule }

// Check returns the Block of the first rule, in the order rules are tried
// (spec.priority, then name), that matches one of the payload's Texts at now, or nil.
// Each text is matched on its own (an Exact keyword must be a whole text).
func (r *Rules) Check(payload json.RawMessage, now time.Time) *Block {
	if r == nil || r.Set == nil || len(r.Set.Rules()) == 0 {
		return nil
	}
	open := r.Hours.Open(now)
	best, bestAt := -1, Text{}
	var bestMatch keywords.Match
	for _, t := range Texts(payload) {
		m, ok := r.Set.First(t.Value, open)
		if !ok {
			continue
		}
		if i := slices.Index(r.Set.Rules(), m.Rule); best < 0 || i < best {
			best, bestAt, bestMatch = i, t, m
		}
	}
	if best < 0 {
		return nil
	}
	return r.block(bestMatch, bestAt)
}

func (r *Rules) block(m keywords.Match, t Text) *Block {
	b := &Block{Namespace: r.Namespace, Rule: m.Rule.Name, Keyword: m.Keyword, Field: t.Field}
	if m.Rule.Actions.Block != nil {
		b.Reason = m.Rule.Actions.Block.Reason
	}
	return b
}
