// Package keywords compiles KeywordRules and matches messages against them. It is
// pure (no I/O, no clock) and shared by the operator, which reports a rule that does
// not compile (CompileRule), and by the inbox and the sender, which match messages
// (Compile, Set.Match, Set.First), so that the two can never disagree on a rule.
//
// A Set is built per Number and direction from the KeywordRules that select the
// Number, and rebuilt when they change:
//
//	rules, errs := keywords.ForNumber(namespaceRules, number.Labels)
//	inbound, errs := keywords.Compile(sbv1.Inbound, rules)   // the inbox
//	outbound, errs := keywords.Compile(sbv1.Outbound, rules) // the sender
//	open := hours.Open(now) // calendar.Hours of the Number's RoutingPolicy
//	d := keywords.Decide(inbound.Match(text, open))          // reply, route, tags
//	m, blocked := outbound.First(text, open)
//
// Matching follows docs/keywordrule.md:
//
//   - Word, Contains and Exact compare the folded message (Fold: width, case and
//     accent folding, spaces collapsed) with the folded keywords. Word needs word
//     boundaries decided on runes, except at an edge written in Han, Kana or Hangul
//     (docs/keywordrule.md has the exact rule and examples); Contains matches anywhere; Exact matches a whole message
//     (surrounding spaces ignored).
//   - Regex matches each keyword, an RE2 expression compiled case-insensitively
//     ((?i)), against the message as written: not accent- or width-folded, so that a
//     character class means what it says (write [eé] to accept both).
//
// All Word and Contains keywords of a Set go into one Aho-Corasick automaton
// (github.com/coregx/ahocorasick), chosen because it is maintained (four releases
// from January to September 2026, fuzz tests of its own), has no dependencies,
// compiles to a DFA with a prefilter, and reports overlapping matches with their
// positions, which Word mode needs: the leftmost occurrence of one keyword may fail
// its word boundary while an overlapping one of another rule passes.
// cloudflare/ahocorasick was set aside because it reports which keywords occur but
// not where, and its matcher is not safe for concurrent use; petar-dambovaliev's
// port of the Rust crate has no tagged release. One pass over the folded message
// finds every keyword of every rule; Exact keywords are a map lookup; Regex rules
// run after, only when needed.
//
// Rules are tried by spec.priority (higher first), then by name. Set.First gives the
// first matching rule (an Outbound block); Set.Match gives all of them and Decide
// combines an Inbound message's matches: one reply, one route, every tag.
package keywords
