package keywords

import (
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

// segment records that the folded bytes from out on came from the original bytes from in on.
type segment struct{ out, in int }

// foldInto appends the folded s to dst. With segs non-nil it records where each
// rune's output starts, so that folded offsets can be mapped back to s.
func foldInto(dst []byte, s string, segs *[]segment) []byte {
	t := loadTable()
	start := len(dst)
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			dst = appendASCII(dst, start, c, i, segs)
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		dst = appendRune(dst, start, t, r, s[i:i+n], i, segs)
		i += n
	}
	return dst
}

// appendASCII folds one ASCII byte: upper case to lower, white space to one space.
func appendASCII(dst []byte, start int, c byte, in int, segs *[]segment) []byte {
	c = asciiFold[c]
	if c == ' ' && len(dst) > start && dst[len(dst)-1] == ' ' {
		return dst
	}
	record(segs, len(dst), in)
	return append(dst, c)
}

// appendRune folds one non-ASCII rune (raw is its encoding in the original text).
func appendRune(dst []byte, start int, t *foldTable, r rune, raw string, in int, segs *[]segment) []byte {
	e := t.entry(r)
	out := raw
	switch {
	case r == utf8.RuneError && len(raw) == 1:
		out = string(utf8.RuneError)
	case e&indexMask != 0:
		out = t.outs[e&indexMask-1]
	}
	if e&composeFlag != 0 {
		if composed, ok := composeLast(dst, start, out, segs); ok {
			return composed
		}
	}
	if out == "" || out == " " && len(dst) > start && dst[len(dst)-1] == ' ' {
		return dst
	}
	record(segs, len(dst), in)
	return append(dst, out...)
}

// composeLast composes out, whose first rune is a kept combining mark, with the last
// folded rune when NFC composes them; the composed text takes the last rune's place.
func composeLast(dst []byte, start int, out string, segs *[]segment) ([]byte, bool) {
	last, size := utf8.DecodeLastRune(dst[start:])
	if size == 0 || last == utf8.RuneError {
		return dst, false
	}
	composed := norm.NFC.String(string(last) + out)
	if utf8.RuneCountInString(composed) > utf8.RuneCountInString(out) {
		return dst, false
	}
	dst = append(dst[:len(dst)-size], composed...)
	if segs != nil && len(*segs) > 0 {
		(*segs)[len(*segs)-1].out = len(dst) - len(composed)
	}
	return dst, true
}

func record(segs *[]segment, out, in int) {
	if segs != nil {
		*segs = append(*segs, segment{out: out, in: in})
	}
}

// originalSpan maps the folded byte span [fs, fe) of Fold(s) back to the bytes of s
// it came from. Removed runes between the span's last rune and the next kept one (a
// trailing combining accent, say) belong to the span.
func originalSpan(s string, fs, fe int) (int, int) {
	var segs []segment
	foldInto(nil, s, &segs)
	start, end := 0, len(s)
	for _, sg := range segs {
		if sg.out <= fs {
			start = sg.in
		}
		if sg.out >= fe {
			end = sg.in
			break
		}
	}
	return start, end
}

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
	composeFlag = 1 << 31 // the rune is a kept mark that may compose with the rune before it
	indexMask   = composeFlag - 1
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
	return t.outs[e-1]
}

// composesBackward reports folded text whose first rune NFC may combine with the rune
// before it (a kana voicing mark, a Hangul vowel or final jamo, a script's own vowel
// sign).
func composesBackward(s string) bool {
	return s != "" && !norm.NFC.PropertiesString(s).BoundaryBefore()
}
