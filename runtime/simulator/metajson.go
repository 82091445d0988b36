package simulator

import (
	"encoding/json"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// metaJSON encodes a webhook body the way Meta writes the bytes it signs.
// Meta's webhook documentation (Messenger Platform, "Validate payloads";
// the same X-Hub-Signature-256 scheme as WhatsApp's): "the calculation is
// made on the escaped unicode version of the payload, with lower case hex
// digits … äöå will be escaped to \u00e4\u00f6\u00e5. The calculation also
// escapes / to \/, < to \u003C, % to \u0025 and @ to \u0040". So the body is
// ASCII only: every other character is written \uXXXX with lower-case hex
// (UTF-16 surrogate pairs beyond the Basic Multilingual Plane), and those four
// characters as listed. A receiver that hashes the raw bytes verifies; one
// that hashes its own re-encoding of the decoded JSON does not.
func metaJSON(v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return metaEscape(raw), nil
}

// goHTMLEscapes are the escapes encoding/json writes for <, > and &, which
// metaEscape turns back into the characters before writing them Meta's way.
var goHTMLEscapes = map[string]rune{`\u003c`: '<', `\u003e`: '>', `\u0026`: '&'}

// metaEscape rewrites valid JSON from encoding/json into Meta's form.
func metaEscape(raw []byte) []byte {
	out := make([]byte, 0, len(raw)+len(raw)/8)
	for i := 0; i < len(raw); {
		if raw[i] == '\\' && i+1 < len(raw) { // an escape: keep it, unless it is Go's HTML escape
			n := 2
			if raw[i+1] == 'u' {
				n = min(6, len(raw)-i)
			}
			if r, ok := goHTMLEscapes[string(raw[i:i+n])]; ok {
				out = appendMeta(out, r)
			} else {
				out = append(out, raw[i:i+n]...)
			}
			i += n
			continue
		}
		r, size := utf8.DecodeRune(raw[i:])
		out = appendMeta(out, r)
		i += size
	}
	return out
}

// appendMeta writes one character as Meta does.
func appendMeta(out []byte, r rune) []byte {
	switch {
	case r == '/':
		return append(out, `\/`...)
	case r == '<':
		return append(out, `\u003C`...)
	case r == '%':
		return append(out, `\u0025`...)
	case r == '@':
		return append(out, `\u0040`...)
	case r < utf8.RuneSelf:
		return append(out, byte(r))
	}
	for _, u := range utf16.Encode([]rune{r}) {
		out = fmt.Appendf(out, `\u%04x`, u)
	}
	return out
}
