package simulator

import (
	"encoding/json"
	"testing"

	"github.com/switchboard-dev/switchboard/runtime/simulator/spectest"
)

// FuzzValidateMessage: whatever JSON object a client sends, the checks answer
// (accept or refuse) and never panic. Seeded with Meta's request examples.
func FuzzValidateMessage(f *testing.F) {
	examples, err := spectest.Meta(f).RequestExamples("/{Version}/{Phone-Number-ID}/messages", "post")
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range spectest.Names(examples) {
		f.Add([]byte(examples[name]))
	}
	f.Add([]byte(`{"messaging_product":"whatsapp","to":"+34 611","type":"interactive","interactive":{"type":"list","action":{"sections":[{"rows":[{}]},7]}}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var body map[string]any
		if json.Unmarshal(raw, &body) != nil || body == nil {
			return
		}
		msg, gerr := validateMessage(body)
		if gerr == nil && msg.Type == "" {
			t.Fatalf("accepted without a type: %s", raw)
		}
		if gerr != nil && (gerr.Code == 0 || gerr.Message == "") {
			t.Fatalf("an error without code or message: %+v", gerr)
		}
	})
}

// FuzzMetaEscape: any JSON value re-encoded Meta's way is ASCII and decodes
// to the same value.
func FuzzMetaEscape(f *testing.F) {
	f.Add(`{"a":"J'ai mangé 😀 </b> 50% @x \\ \"q\""}`)
	f.Fuzz(func(t *testing.T, s string) {
		var v any
		if json.Unmarshal([]byte(s), &v) != nil {
			return
		}
		out, err := metaJSON(v)
		if err != nil {
			t.Fatal(err)
		}
		var back any
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("%s is not JSON: %v", out, err)
		}
		for _, b := range out {
			if b >= 0x80 {
				t.Fatalf("not ASCII: %s", out)
			}
		}
		want, _ := json.Marshal(v)
		got, _ := json.Marshal(back)
		if string(want) != string(got) {
			t.Fatalf("changed: %s → %s", want, got)
		}
	})
}
