package keywords

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
)

// TestTableMatchesXText: the precomputed table folds every code point exactly as
// golang.org/x/text does, including those the table builder skips as folding to
// themselves.
func TestTableMatchesXText(t *testing.T) {
	caser := cases.Fold()
	tb := loadTable()
	for r := rune(utf8.RuneSelf); r <= unicode.MaxRune; r++ {
		if r >= 0xD800 && r <= 0xDFFF {
			continue
		}
		want := foldRune(caser, string(r))
		got := string(r)
		if e := tb.entry(r); e&indexMask != 0 {
			got = tb.outs[e&indexMask-1]
		}
		if got != want {
			t.Fatalf("U+%04X: table folds to %q, x/text to %q", r, got, want)
		}
	}
}

func TestOriginalSpan(t *testing.T) {
	for _, tc := range []struct {
		s      string
		fs, fe int
		want   string
	}{
		{"  e\u0301xito  hoy", 1, 6, "e\u0301xito"},
		{"ＡＢＣ déf", 1, 3, "ＢＣ"},
		{"Straße", 4, 7, "ße"},
		{"\u200bprecio\u200b", 0, 6, "precio\u200b"},
		{"か\u3099き", 0, 3, "か\u3099"},
	} {
		sp := &spans{text: tc.s}
		sp.foldedLen = len(foldInto(nil, tc.s, &sp.segs))
		start, end := sp.originalSpan(tc.fs, tc.fe)
		if got := tc.s[start:end]; got != tc.want {
			t.Errorf("%q [%d,%d): %q, want %q", tc.s, tc.fs, tc.fe, got, tc.want)
		}
	}
}

func BenchmarkFold1KB(b *testing.B) {
	text := strings.Repeat("¿Cuánto CUESTA el envío? 这个价格多少 السعر 👍 ｐｒｅｃｉｏ hello world. ", 14)[:1024]
	buf := make([]byte, 0, 2048)
	var segs []segment
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		segs = segs[:0]
		foldInto(buf[:0], text, &segs)
	}
}

// TestDecodeRune: the inline decoder agrees with the utf8 package on every two- and
// three-byte input that starts with a non-ASCII byte, and on truncated ones.
func TestDecodeRune(t *testing.T) {
	b := make([]byte, 3)
	for c0 := 0x80; c0 <= 0xFF; c0++ {
		for c1 := 0; c1 <= 0xFF; c1++ {
			for c2 := 0; c2 <= 0xFF; c2++ {
				b[0], b[1], b[2] = byte(c0), byte(c1), byte(c2)
				for _, s := range []string{string(b), string(b[:2]), string(b[:1])} {
					r, n := decodeRune(s, 0)
					wr, wn := utf8.DecodeRuneInString(s)
					if r != wr || n != wn {
						t.Fatalf("% x: decodeRune = %U, %d; utf8 = %U, %d", s, r, n, wr, wn)
					}
				}
			}
		}
	}
}
