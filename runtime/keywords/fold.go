package keywords

import (
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
	"golang.org/x/text/width"
)

// Fold returns s folded the way every literal keyword and every message is compared
// (modes Word, Contains and Exact). Rune by rune:
//
//  1. width folding (golang.org/x/text/width.Fold): fullwidth ASCII to ASCII
//     ("ｐｒｅｃｉｏ" → "precio"), halfwidth katakana to fullwidth;
//  2. Unicode full case folding (golang.org/x/text/cases.Fold): "PRECIO" → "precio",
//     "ß" → "ss";
//  3. accent folding: canonical decomposition (NFD), then the combining marks of the
//     Unicode script "Inherited" (U+0300–U+036F and the other combining diacritical
//     marks, Arabic harakat, variation selectors) are removed, except the kana voicing
//     marks U+3099 and U+309A, which change the word ("が" is not "か"); the rest is
//     recomposed (NFC), so Hangul syllables stay whole. Marks of a script's own
//     (Devanagari or Thai vowel signs, Hebrew points) are kept;
//  4. format characters (category Cf: soft hyphen, zero-width joiner and non-joiner,
//     direction marks) are removed;
//  5. every white-space rune becomes one ASCII space, and a space after a space is
//     dropped;
//  6. an invalid UTF-8 byte becomes U+FFFD.
//
// Steps 1–4 are applied until the rune no longer changes, so Fold(Fold(s)) == Fold(s).
// A kept combining mark that follows its base as a separate rune (decomposed input,
// "か\u3099") is composed with it as NFC would ("が").
//
// The result of each rune is precomputed once from golang.org/x/text into a table, so
// folding costs a table lookup per rune.
func Fold(s string) string {
	return string(AppendFold(make([]byte, 0, len(s)+8), s))
}

// AppendFold appends Fold(s) to dst and returns the extended buffer; it allocates only
// when dst is too small.
func AppendFold(dst []byte, s string) []byte {
	return foldInto(dst, s, nil)
}

// segment starts where the output of the rune at in begins in the folded text (out,
// relative to the start of the folded text). In an exact segment every following rune
// up to the next segment kept its byte length, so offsets map linearly; an inexact
// segment is one rune whose output has another length or several runes.
type segment struct {
	out, in int
	exact   bool
}

// folder is the state of one folding pass that the rare paths need; the output
// buffer itself stays in foldInto's hands.
type folder struct {
	t      *foldTable
	start  int        // where the folded text begins in the output
	segs   *[]segment // nil: do not record segments
	newSeg bool       // the offsets shifted: the next kept rune starts a segment
}

// foldInto appends the folded s to dst. With segs non-nil it also records the
// segments that map folded offsets back to s (see spans).
func foldInto(dst []byte, s string, segs *[]segment) []byte {
	t := loadTable()
	f := folder{t: t, start: len(dst), segs: segs, newSeg: true}
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, n := decodeRune(s, i)
			if e := t.entry(r); e != 0 || f.newSeg || r == utf8.RuneError {
				dst = f.rune(dst, r, s[i:i+n], i)
			} else if n == 2 { // the common cases: a rune that folds to itself
				dst = append(dst, c, s[i+1])
			} else if n == 3 {
				dst = append(dst, c, s[i+1], s[i+2])
			} else {
				dst = append(dst, s[i:i+n]...)
			}
			i += n
			continue
		}
		if c = asciiFold[c]; c == ' ' && len(dst) > f.start && dst[len(dst)-1] == ' ' {
			f.newSeg = true
		} else {
			if f.newSeg {
				f.segment(len(dst), i, true)
			}
			dst = append(dst, c)
		}
		i++
	}
	return dst
}

// decodeRune decodes the non-ASCII rune at s[i] like utf8.DecodeRuneInString, with
// the valid two- and three-byte forms (every script but emoji and rare ideographs)
// decoded inline; the rest, and anything invalid, goes to the utf8 package.
func decodeRune(s string, i int) (rune, int) {
	c0 := s[i]
	if c0 >= 0xC2 && c0 < 0xE0 && i+1 < len(s) {
		if c1 := s[i+1]; c1&0xC0 == 0x80 {
			return rune(c0&0x1F)<<6 | rune(c1&0x3F), 2
		}
	}
	if c0 >= 0xE1 && c0 < 0xF0 && c0 != 0xED && i+2 < len(s) {
		if c1, c2 := s[i+1], s[i+2]; c1&0xC0 == 0x80 && c2&0xC0 == 0x80 {
			return rune(c0&0x0F)<<12 | rune(c1&0x3F)<<6 | rune(c2&0x3F), 3
		}
	}
	return utf8.DecodeRuneInString(s[i:])
}

// rune appends the folding of one non-ASCII rune r, whose encoding in s is raw, at in.
func (f *folder) rune(dst []byte, r rune, raw string, in int) []byte {
	e := f.t.entry(r)
	out, exact := raw, true
	switch {
	case r == utf8.RuneError && len(raw) == 1:
		out, exact = string(utf8.RuneError), false
	case e&indexMask != 0:
		out, exact = f.t.outs[e&indexMask-1], e&sameSizeFlag != 0
	}
	if e&composeFlag != 0 {
		if composed, ok := f.compose(dst, out); ok {
			return composed
		}
	}
	if out == "" || out == " " && len(dst) > f.start && dst[len(dst)-1] == ' ' {
		f.newSeg = true
		return dst
	}
	if !exact || f.newSeg {
		f.segment(len(dst), in, exact)
		f.newSeg = !exact
	}
	return append(dst, out...)
}

// segment starts a segment at output offset out (in dst), for the rune at in.
func (f *folder) segment(out, in int, exact bool) {
	f.newSeg = false
	if f.segs != nil {
		*f.segs = append(*f.segs, segment{out: out - f.start, in: in, exact: exact})
	}
}

// compose composes out, whose first rune is a kept combining mark, with the last kept
// rune when NFC composes them (decomposed input, "か\u3099" → "が"); the composed text
// takes the last rune's place and becomes an inexact segment.
func (f *folder) compose(dst []byte, out string) ([]byte, bool) {
	_, size := utf8.DecodeLastRune(dst[f.start:])
	if size == 0 {
		return dst, false
	}
	lastOut := len(dst) - size
	composed := norm.NFC.String(string(dst[lastOut:]) + out)
	if utf8.RuneCountInString(composed) > utf8.RuneCountInString(out) {
		return dst, false
	}
	f.inexactFrom(lastOut - f.start)
	f.newSeg = true
	return append(dst[:lastOut], composed...), true
}

// inexactFrom makes the last kept rune, at folded offset out, an inexact segment of
// its own. Its input offset follows from the segment it belonged to: an exact one
// (linear), or its own.
func (f *folder) inexactFrom(out int) {
	if f.segs == nil || len(*f.segs) == 0 {
		return
	}
	segs := *f.segs
	p := &segs[len(segs)-1]
	switch {
	case p.out == out:
		p.exact = false
	case p.exact:
		*f.segs = append(segs, segment{out: out, in: p.in + out - p.out})
	}
}

// spans maps folded offsets of one text back to the text.
type spans struct {
	text      string
	segs      []segment
	foldedLen int
}

// originalSpan maps the folded byte span [fs, fe) of Fold(text) back to the bytes of
// text it came from. A span that starts or ends inside the folded output of one rune
// ("ss" of "ß") takes the whole rune. Removed runes between the span's last rune and
// the next kept one (a trailing combining accent, say) belong to the span.
func (sp *spans) originalSpan(fs, fe int) (int, int) {
	return sp.startOf(fs), sp.endOf(fe)
}

// startOf maps a folded offset at which a span starts.
func (sp *spans) startOf(fs int) int {
	i, _ := slices.BinarySearchFunc(sp.segs, fs+1, bySegmentOut)
	if i == 0 {
		return 0
	}
	p := sp.segs[i-1]
	if p.exact {
		return p.in + fs - p.out
	}
	return p.in
}

// endOf maps a folded offset at which a span ends.
func (sp *spans) endOf(fe int) int {
	j, _ := slices.BinarySearchFunc(sp.segs, fe, bySegmentOut)
	switch {
	case j < len(sp.segs) && sp.segs[j].out == fe:
		return sp.segs[j].in
	case fe >= sp.foldedLen || j == 0:
		return len(sp.text)
	case sp.segs[j-1].exact:
		return sp.segs[j-1].in + fe - sp.segs[j-1].out
	case j < len(sp.segs):
		return sp.segs[j].in
	}
	return len(sp.text)
}

func bySegmentOut(sg segment, out int) int { return sg.out - out }

// asciiFold maps each ASCII byte to its folded byte.
var asciiFold = func() (t [utf8.RuneSelf]byte) {
	for i := range t {
		t[i] = byte(i)
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = byte(c - 'A' + 'a')
	}
	for _, c := range "\t\n\v\f\r" {
		t[c] = ' '
	}
	return t
}()

const (
	composeFlag  = 1 << 31 // the rune's output starts with a kept mark that may compose with the rune before it
	sameSizeFlag = 1 << 30 // the rune's output is one rune of the same byte length
	indexMask    = sameSizeFlag - 1
)

// foldTable holds the folded form of every non-ASCII rune that folding changes, in
// pages of 256 runes; a nil page, or a zero entry, means the rune folds to itself.
// A non-zero index i means outs[i-1].
type foldTable struct {
	pages [unicode.MaxRune>>8 + 1]*[256]uint32
	outs  []string
}

func (t *foldTable) entry(r rune) uint32 {
	if p := t.pages[r>>8]; p != nil {
		return p[r&0xff]
	}
	return 0
}

var (
	tableOnce sync.Once
	table     *foldTable
)

// loadTable builds the fold table on first use (tens of milliseconds, once per process).
func loadTable() *foldTable {
	tableOnce.Do(func() { table = buildTable() })
	return table
}

func buildTable() *foldTable {
	t := &foldTable{}
	caser := cases.Fold()
	assigned(func(r rune) {
		if r < utf8.RuneSelf || foldsToSelf(r) {
			return
		}
		var e uint32
		if out := foldRune(caser, string(r)); out != string(r) {
			t.outs = append(t.outs, out)
			e = uint32(len(t.outs))
			if len(out) == len(string(r)) && utf8.RuneCountInString(out) == 1 {
				e |= sameSizeFlag
			}
		}
		if composesBackward(foldedOrSelf(t, e, r)) {
			e |= composeFlag
		}
		if e != 0 {
			t.set(r, e)
		}
	})
	return t
}

// assigned calls fn for every code point of the general categories that folding can
// change or keep (letters, marks, numbers, punctuation, symbols, separators, format
// and control characters): every assigned code point except surrogates and private
// use, which fold to themselves.
func assigned(fn func(r rune)) {
	for _, tab := range []*unicode.RangeTable{unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z, unicode.Cf, unicode.Cc} {
		for _, rg := range tab.R16 {
			for r := rune(rg.Lo); r <= rune(rg.Hi); r += rune(rg.Stride) {
				fn(r)
			}
		}
		for _, rg := range tab.R32 {
			for r := rune(rg.Lo); r <= rune(rg.Hi); r += rune(rg.Stride) {
				fn(r)
			}
		}
	}
}

func (t *foldTable) set(r rune, e uint32) {
	if t.pages[r>>8] == nil {
		t.pages[r>>8] = new([256]uint32)
	}
	t.pages[r>>8][r&0xff] = e
}

// foldsToSelf reports the unified Han ideographs and the Hangul syllables: neither has
// a case, a width variant or a decomposition that survives NFC, and skipping them keeps
// building the table short.
func foldsToSelf(r rune) bool {
	switch {
	case r >= 0xAC00 && r <= 0xD7A3:
		return true
	case r >= 0x4E00 && r <= 0x9FFF, r >= 0x20000 && r <= 0x2F7FF, r >= 0x30000 && r <= 0x3FFFF:
		return true
	}
	return false
}

// foldRune applies width folding, case folding and accent folding to s until it no
// longer changes.
func foldRune(caser cases.Caser, s string) string {
	for range 8 {
		next := foldStep(caser, s)
		if next == s {
			break
		}
		s = next
	}
	return s
}

func foldStep(caser cases.Caser, s string) string {
	s = width.Fold.String(s)
	s = caser.String(s)
	s = norm.NFD.String(s)
	s = strings.Map(dropRune, s)
	return norm.NFC.String(s)
}

// dropRune removes accents and format characters and turns white space into a space.
func dropRune(r rune) rune {
	switch {
	case r == 0x3099 || r == 0x309A:
		return r
	case unicode.Is(unicode.Mn, r) && unicode.Is(unicode.Inherited, r), unicode.Is(unicode.Cf, r):
		return -1
	case unicode.IsSpace(r):
		return ' '
	}
	return r
}

func foldedOrSelf(t *foldTable, e uint32, r rune) string {
	if e == 0 {
		return string(r)
	}
	return t.outs[e&indexMask-1]
}

// composesBackward reports folded text whose first rune NFC may combine with the rune
// before it (a kana voicing mark, a Hangul vowel or final jamo, a script's own vowel
// sign).
func composesBackward(s string) bool {
	return s != "" && !norm.NFC.PropertiesString(s).BoundaryBefore()
}
