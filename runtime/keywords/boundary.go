package keywords

import (
	"unicode"
	"unicode/utf8"
)

// wholeWord reports whether the folded occurrence folded[start:end] of a Word keyword
// stands as whole words. Each edge is checked on runes: the edge holds when the
// keyword's rune at that edge is not a word rune, or when the neighbouring rune in
// the message is absent (start or end of the message) or not a word rune, or when
// either of the two is written without spaces between words (Han, Hiragana,
// Katakana, Hangul). Word runes are letters, digits and other numbers, and marks, of
// any script. So "xito" is not a word of "éxito", "价格" is one of "这个价格多少", and
// "wifi" is one of "我的wifi坏了".
func wholeWord(folded []byte, start, end int) bool {
	first, _ := utf8.DecodeRune(folded[start:end])
	last, _ := utf8.DecodeLastRune(folded[start:end])
	before, _ := utf8.DecodeLastRune(folded[:start])
	after, _ := utf8.DecodeRune(folded[end:])
	return edgeHolds(first, before, start == 0) && edgeHolds(last, after, end == len(folded))
}

func edgeHolds(edge, neighbour rune, atEnd bool) bool {
	return atEnd || !wordRune(edge) || !wordRune(neighbour) || spaceless(edge) || spaceless(neighbour)
}

func wordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
	}
	return unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.IsMark(r)
}

// spaceless reports a rune of a script written without spaces between words, whose
// keywords need no word boundary: Han, Hiragana, Katakana (with the prolonged sound
// mark ー and the iteration mark 々), Hangul.
func spaceless(r rune) bool {
	if r < 0x1100 {
		return false
	}
	return r == 'ー' || r == '々' || unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul)
}
