package simulator

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// TestMetaEscape: the body is ASCII, written as Meta writes it, and decodes
// to the same values, whatever the strings hold (backslashes, Go's own
// escapes spelled out, quotes, line separators, invalid UTF-8).
func TestMetaEscape(t *testing.T) {
	in := map[string]any{
		"text":   "J'ai mangé des pâtes äöå ¿cuánto? 价格 😀",
		"tricky": `a\u003cb \\ "q" </tag> & 50% @x / ` + "\u2028\n\t",
		"bad":    "\xff",
	}
	raw, err := metaJSON(in)
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range raw {
		if b >= 0x80 {
			t.Fatalf("byte %d of %s is not ASCII", i, raw)
		}
	}
	for _, want := range []string{`\u00e4\u00f6\u00e5`, `\ud83d\ude00`, `\u4ef7\u683c`, `\/`, `\u003C\/tag>`, `\u0025`, `\u0040`, `&`} {
		if !json.Valid(raw) || !strings.Contains(string(raw), want) {
			t.Errorf("%s lacks %s", raw, want)
		}
	}
	var back map[string]any
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	in["bad"] = "\ufffd"
	if !reflect.DeepEqual(back, in) {
		t.Fatalf("round trip changed the values:\n got %q\nwant %q", back, in)
	}
}
