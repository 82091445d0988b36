// Package keywords benchmarks keyword matching (runtime/keywords) as the inbox and
// the sender use it: one compiled Set of 10,000 keywords (10 rules of 1,000, the most
// a KeywordRule holds: Word and Contains rules in Spanish, Portuguese, French,
// Chinese, Japanese, Arabic and with emoji) against 1 KB messages that mix Latin with
// accents, CJK, Arabic and emoji, and hit a few keywords each.
//
// Reported, from one run:
//
//   - ns/msg: Set.Match on the message as received, folding included (the figure
//     the inbox pays per message; goal ≤ 20,000 ns);
//   - fold-ns/msg: keywords.AppendFold alone;
//   - bare-ns/msg: the ceiling, the same Aho-Corasick library
//     (github.com/coregx/ahocorasick) built on the same 10,000 folded keywords,
//     searching the already-folded message for overlapping matches and doing
//     nothing with them;
//   - ratio: match ÷ bare within each round, the median over the rounds (1.0 =
//     matching costs no more than the bare automaton);
//   - cpu-ns/msg and bare-cpu-ns/msg: the same two sides in the CPU time of the
//     benchmark's thread (Linux), which other processes on a shared machine do not
//     inflate as they inflate the wall clock (garbage collection on other threads is
//     not in it);
//   - hits/msg: overlapping keyword occurrences per message (the bare side's work),
//     rules/msg: rules matched per message; compile-ms: keywords.Compile of the
//     10 rules (folding the keywords, building the automaton), what a rule change
//     costs the inbox.
//
// Each iteration times -keywords.messages messages per side (default 20,000) in 10
// rounds run in the order bare, match, fold, fold, match, bare, after an unmeasured
// warm-up, so drift on a shared machine falls on every side; the ns figures are the
// medians over the rounds, which a stall hitting one round (other load on the
// machine) cannot skew. `make bench` runs one iteration (-benchtime 1x).
//
// Run with `make bench`, or:
//
//	go test -run '^$' -bench . -benchtime 1x -count 1 ./bench/keywords
package keywords
