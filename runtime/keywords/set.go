package keywords

import (
	"bytes"
	"cmp"
	"slices"
	"strings"
	"sync"

	"github.com/coregx/ahocorasick"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
)

// Set is the compiled, immutable matcher of one Number in one direction: its rules in
// priority order and one Aho-Corasick automaton over the folded keywords of all its
// Word and Contains rules. It is safe for concurrent use.
type Set struct {
	direction sbv1.Direction
	rules     []*Rule
	automaton *ahocorasick.Automaton // nil when no Word or Contains keyword
	patterns  [][]ref                // automaton pattern id → the keywords it stands for
	exact     map[string][]ref       // folded Exact keyword → the keywords it stands for
}

// ref names keyword kw of rules[rule].
type ref struct{ rule, kw int }

// Match is one rule that matched a message.
type Match struct {
	Rule *Rule
	// Keyword is the keyword that matched, as written in spec.match.any, and Index its
	// position there.
	Keyword string
	Index   int
	// Start and End are byte offsets in the text given to Set.Match: text[Start:End] is
	// what matched (for Exact, the whole message without surrounding white space).
	Start, End int
}

// Compile compiles the rules of direction dir among rules (rules of the other
// direction are ignored) into a Set: the KeywordRules that select one Number. A rule
// that does not compile is left out and its *CompileError returned, so one bad rule
// never disables the others. Rules are tried by spec.priority, higher first, then by
// metadata.name in byte order. Compile does not read spec.numberSelector or
// spec.suspend: the caller passes the rules that apply to the Number.
func Compile(dir sbv1.Direction, rules []sbv1.KeywordRule) (*Set, []error) {
	s := &Set{direction: dir, exact: map[string][]ref{}}
	var errs []error
	for i := range rules {
		if rules[i].Spec.Direction != dir {
			continue
		}
		r, err := CompileRule(&rules[i])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s.rules = append(s.rules, r)
	}
	slices.SortStableFunc(s.rules, byPriority)
	if err := s.buildAutomaton(); err != nil {
		return &Set{direction: dir}, append(errs, err)
	}
	return s, errs
}

func byPriority(a, b *Rule) int {
	if c := cmp.Compare(b.Priority, a.Priority); c != 0 {
		return c
	}
	return strings.Compare(a.Name, b.Name)
}

// buildAutomaton indexes the literal keywords: Word and Contains in one automaton (a
// keyword shared by several rules is one pattern), Exact in a map.
func (s *Set) buildAutomaton() error {
	ids := map[string]int{}
	var pats []string
	for ri, r := range s.rules {
		for ki, f := range r.folded {
			if r.Mode == sbv1.MatchExact {
				s.exact[f] = append(s.exact[f], ref{ri, ki})
				continue
			}
			id, ok := ids[f]
			if !ok {
				id = len(pats)
				ids[f], pats = id, append(pats, f)
				s.patterns = append(s.patterns, nil)
			}
			s.patterns[id] = append(s.patterns[id], ref{ri, ki})
		}
	}
	if len(pats) == 0 {
		return nil
	}
	a, err := ahocorasick.NewBuilder().AddStrings(pats).Build()
	s.automaton = a
	return err
}

// Direction is the direction the set was compiled for.
func (s *Set) Direction() sbv1.Direction { return s.direction }

// Rules are the compiled rules in the order they are tried.
func (s *Set) Rules() []*Rule { return s.rules }

// Match returns every rule that matches text, one Match per rule, in the order rules
// are tried. open says whether the Number's business hours are open now (see
// calendar.Hours.Open; with no business hours, pass true): a BusinessHours rule
// applies only when open, an AfterHours rule only when not. Within a rule, the
// keyword reported is the literal occurrence that ends first in the text, or the
// first Regex keyword in spec order that matches.
func (s *Set) Match(text string, open bool) []Match {
	return s.scan(text, open, false)
}

// First returns the first rule, in the order rules are tried, that matches text: what
// an Outbound set blocks on.
func (s *Set) First(text string, open bool) (Match, bool) {
	if ms := s.scan(text, open, true); len(ms) > 0 {
		return ms[0], true
	}
	return Match{}, false
}

// hit is a rule's first matching keyword in the folded text (folded true) or in the
// original text.
type hit struct {
	ok         bool
	folded     bool
	kw         int
	start, end int
}

// scan finds the matching rules. With firstOnly it stops at the first rule that matches.
func (s *Set) scan(text string, open, firstOnly bool) []Match {
	if s == nil || len(s.rules) == 0 {
		return nil
	}
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	sp := &spans{text: text, segs: sc.segs[:0]}
	folded := foldInto(sc.folded[:0], text, &sp.segs)
	sp.foldedLen = len(folded)
	sc.folded, sc.segs = folded, sp.segs
	hits := append(sc.hits[:0], make([]hit, len(s.rules))...)
	sc.hits = hits
	s.literalHits(folded, open, hits)
	s.exactHits(folded, open, hits)
	var out []Match
	for i, r := range s.rules {
		if !hits[i].ok && r.Mode == sbv1.MatchRegex && r.appliesWhen(open) {
			hits[i] = regexHit(r, text)
		}
		if hits[i].ok {
			out = append(out, s.match(sp, r, hits[i]))
			if firstOnly {
				break
			}
		}
	}
	return out
}

// scratch holds the buffers of one scan, reused across scans: the folded text, its
// segments and the hits per rule. Nothing in them outlives the scan.
type scratch struct {
	folded []byte
	segs   []segment
	hits   []hit
}

var scratchPool = sync.Pool{New: func() any { return &scratch{folded: make([]byte, 0, 2048)} }}

// literalHits runs the automaton once over the folded text and keeps, per rule, the
// first occurrence that the rule's mode accepts.
func (s *Set) literalHits(folded []byte, open bool, hits []hit) {
	if s.automaton == nil {
		return
	}
	for _, m := range s.automaton.FindAllOverlapping(folded) {
		for _, rf := range s.patterns[m.PatternID] {
			r := s.rules[rf.rule]
			if hits[rf.rule].ok || !r.appliesWhen(open) {
				continue
			}
			if r.Mode == sbv1.MatchWord && !wholeWord(folded, m.Start, m.End) {
				continue
			}
			hits[rf.rule] = hit{ok: true, folded: true, kw: rf.kw, start: m.Start, end: m.End}
		}
	}
}

// exactHits matches the whole folded message, without surrounding spaces.
func (s *Set) exactHits(folded []byte, open bool, hits []hit) {
	if len(s.exact) == 0 {
		return
	}
	trimmed := string(bytes.Trim(folded, " "))
	start := len(folded) - len(bytes.TrimLeft(folded, " "))
	for _, rf := range s.exact[trimmed] {
		if !hits[rf.rule].ok && s.rules[rf.rule].appliesWhen(open) {
			hits[rf.rule] = hit{ok: true, folded: true, kw: rf.kw, start: start, end: start + len(trimmed)}
		}
	}
}

// regexHit tries a Regex rule's keywords in spec order against the original text.
func regexHit(r *Rule, text string) hit {
	for i, re := range r.regexes {
		if loc := re.FindStringIndex(text); loc != nil {
			return hit{ok: true, kw: i, start: loc[0], end: loc[1]}
		}
	}
	return hit{}
}

// match builds the Match of a hit, mapping folded offsets back to text.
func (s *Set) match(sp *spans, r *Rule, h hit) Match {
	start, end := h.start, h.end
	if h.folded {
		start, end = sp.originalSpan(h.start, h.end)
	}
	return Match{Rule: r, Keyword: r.Keywords[h.kw], Index: h.kw, Start: start, End: end}
}
