package keywords_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/keywords"
)

var tagOnly = sbv1.KeywordActions{Tag: []string{"t"}}

// firstKeyword compiles one Inbound rule and returns the keyword that matched text, or "".
func firstKeyword(t *testing.T, mode sbv1.MatchMode, text string, any ...string) string {
	t.Helper()
	set, errs := keywords.Compile(sbv1.Inbound, []sbv1.KeywordRule{rule("r", sbv1.Inbound, mode, 0, tagOnly, any...)})
	if len(errs) > 0 {
		t.Fatalf("compile %q: %v", any, errs)
	}
	m, ok := set.First(text, true)
	if !ok {
		return ""
	}
	if m.Start < 0 || m.End > len(text) || m.Start > m.End {
		t.Fatalf("span [%d,%d) outside %q", m.Start, m.End, text)
	}
	return m.Keyword
}

func TestModes(t *testing.T) {
	for _, tc := range []struct {
		mode     sbv1.MatchMode
		keywords []string
		text     string
		want     string
	}{
		{sbv1.MatchWord, []string{"precio"}, "¿Cuál es el precio?", "precio"},
		{sbv1.MatchWord, []string{"precio"}, "los precios suben", ""},
		{sbv1.MatchWord, []string{"precio"}, "PRECIO", "precio"},
		{sbv1.MatchWord, []string{"precio"}, "precío", "precio"},
		{sbv1.MatchWord, []string{"precio"}, "ｐｒｅｃｉｏ", "precio"},
		{sbv1.MatchWord, []string{"précio"}, "precio", "précio"},
		{sbv1.MatchWord, []string{"xito"}, "un éxito", ""},
		{sbv1.MatchWord, []string{"xito"}, "un e\u0301xito", ""},
		{sbv1.MatchWord, []string{"exito"}, "¡ÉXITO!", "exito"},
		{sbv1.MatchWord, []string{"价格"}, "这个价格多少", "价格"},
		{sbv1.MatchWord, []string{"cuánto cuesta"}, "¿cuánto cuesta?", "cuánto cuesta"},
		{sbv1.MatchWord, []string{"cuánto cuesta"}, "¿Cuanto\n  cuesta?", "cuánto cuesta"},
		{sbv1.MatchWord, []string{"cuánto cuesta"}, "¿cuántos cuestan?", ""},
		{sbv1.MatchWord, []string{"wifi"}, "我的WiFi坏了", "wifi"},
		{sbv1.MatchWord, []string{"wifi"}, "wifis", ""},
		{sbv1.MatchWord, []string{"コーヒー"}, "コーヒーをください", "コーヒー"},
		{sbv1.MatchWord, []string{"가격"}, "가격이 얼마예요?", "가격"},
		{sbv1.MatchWord, []string{"が"}, "か", ""},
		{sbv1.MatchWord, []string{"سعر"}, "ما هو السِعر؟", ""},
		{sbv1.MatchWord, []string{"السعر"}, "ما هو السِّعر؟", "السعر"},
		{sbv1.MatchWord, []string{"straße"}, "STRASSE 5", "straße"},
		{sbv1.MatchWord, []string{"12"}, "pedido 123", ""},
		{sbv1.MatchWord, []string{"12"}, "pedido 12.", "12"},
		{sbv1.MatchWord, []string{"❤️"}, "te quiero❤", "❤️"},
		{sbv1.MatchContains, []string{"xito"}, "un éxito", "xito"},
		{sbv1.MatchContains, []string{"contraseña"}, "Su CONTRASENA:", "contraseña"},
		{sbv1.MatchContains, []string{"precio"}, "los precios", "precio"},
		{sbv1.MatchExact, []string{"hola"}, "  ¡Hola! ", ""},
		{sbv1.MatchExact, []string{"hola"}, " HOLA\n", "hola"},
		{sbv1.MatchExact, []string{"menu principal"}, "Menú   principal", "menu principal"},
		{sbv1.MatchExact, []string{"1", "2"}, "2", "2"},
		{sbv1.MatchExact, []string{"1"}, "12", ""},
		{sbv1.MatchRegex, []string{`refund(s|ed)?`}, "I want a REFUND now", `refund(s|ed)?`},
		{sbv1.MatchRegex, []string{`^\d{5}$`, `pedido #\d+`}, "Pedido #4411", `pedido #\d+`},
		{sbv1.MatchRegex, []string{`precio`}, "precío", ""},
		{sbv1.MatchRegex, []string{`prec[ií]o`}, "PRECÍO", `prec[ií]o`},
		{sbv1.MatchRegex, []string{`(?-i)Stop`}, "stop", ""},
	} {
		if got := firstKeyword(t, tc.mode, tc.text, tc.keywords...); got != tc.want {
			t.Errorf("%s %q in %q: matched %q, want %q", tc.mode, tc.keywords, tc.text, got, tc.want)
		}
	}
}

// TestMatchedText: Start and End point into the original text, accents and width included.
func TestMatchedText(t *testing.T) {
	set, _ := keywords.Compile(sbv1.Inbound, []sbv1.KeywordRule{
		rule("a", sbv1.Inbound, sbv1.MatchWord, 2, tagOnly, "cuanto cuesta"),
		rule("b", sbv1.Inbound, sbv1.MatchContains, 1, tagOnly, "precio"),
		rule("c", sbv1.Inbound, sbv1.MatchRegex, 0, tagOnly, `\d+ ?€`),
	})
	text := "¡Hola! ¿CUÁNTO  cuesta? El ｐｒｅｃí\u0301o: 20 €"
	var got []string
	for _, m := range set.Match(text, true) {
		got = append(got, text[m.Start:m.End])
	}
	want := []string{"CUÁNTO  cuesta", "ｐｒｅｃí\u0301o", "20 €"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("matched %q, want %q", got, want)
	}
}

// TestPriority: higher priority first, then name; Match reports every matching rule once.
func TestPriority(t *testing.T) {
	set, _ := keywords.Compile(sbv1.Inbound, []sbv1.KeywordRule{
		rule("low", sbv1.Inbound, sbv1.MatchContains, 1, tagOnly, "precio"),
		rule("zeta", sbv1.Inbound, sbv1.MatchWord, 50, tagOnly, "precio", "precios"),
		rule("alfa", sbv1.Inbound, sbv1.MatchWord, 50, tagOnly, "precios"),
		rule("high", sbv1.Inbound, sbv1.MatchRegex, 100, tagOnly, "tarifa"),
		rule("out", sbv1.Outbound, sbv1.MatchContains, 9999, sbv1.KeywordActions{Block: &sbv1.BlockAction{}}, "precio"),
	})
	var names []string
	for _, m := range set.Match("precios y precio", true) {
		names = append(names, m.Rule.Name+"="+m.Keyword)
	}
	if got := strings.Join(names, " "); got != "alfa=precios zeta=precios low=precio" {
		t.Errorf("matches %s", got)
	}
	if m, ok := set.First("la tarifa y el precio", true); !ok || m.Rule.Name != "high" {
		t.Errorf("First = %+v, %v; want the priority-100 regex rule", m, ok)
	}
	if len(set.Rules()) != 4 || set.Direction() != sbv1.Inbound {
		t.Errorf("the Outbound rule must be left out of an Inbound set: %d rules", len(set.Rules()))
	}
}

// TestOverlapping: a keyword that fails its word boundary does not hide an
// overlapping keyword of another rule that passes.
func TestOverlapping(t *testing.T) {
	set, _ := keywords.Compile(sbv1.Inbound, []sbv1.KeywordRule{
		rule("a", sbv1.Inbound, sbv1.MatchWord, 1, tagOnly, "precio"),
		rule("b", sbv1.Inbound, sbv1.MatchWord, 0, tagOnly, "precios baratos"),
		rule("c", sbv1.Inbound, sbv1.MatchWord, 0, tagOnly, "baratos"),
	})
	var names []string
	for _, m := range set.Match("precios baratos", true) {
		names = append(names, m.Rule.Name)
	}
	if got := strings.Join(names, ","); got != "b,c" {
		t.Errorf("matched rules %s, want b,c", got)
	}
}

func TestWhen(t *testing.T) {
	biz := rule("biz", sbv1.Inbound, sbv1.MatchWord, 0, tagOnly, "hola")
	biz.Spec.When = sbv1.DuringBusinessHours
	after := rule("after", sbv1.Inbound, sbv1.MatchWord, 0, tagOnly, "hola")
	after.Spec.When = sbv1.OutsideBusinessHours
	always := rule("always", sbv1.Inbound, sbv1.MatchExact, 0, tagOnly, "hola")
	set, _ := keywords.Compile(sbv1.Inbound, []sbv1.KeywordRule{biz, after, always})
	for open, want := range map[bool]string{true: "always,biz", false: "after,always"} {
		var names []string
		for _, m := range set.Match("Hola", open) {
			names = append(names, m.Rule.Name)
		}
		if got := strings.Join(names, ","); got != want {
			t.Errorf("open=%v: matched %s, want %s", open, got, want)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	bad := rule("bad", sbv1.Outbound, sbv1.MatchRegex, 0, sbv1.KeywordActions{Block: &sbv1.BlockAction{}}, "ok", "[z-a]")
	empty := rule("empty", sbv1.Outbound, sbv1.MatchContains, 0, sbv1.KeywordActions{Block: &sbv1.BlockAction{}}, "pin", " \u0301\u200b ")
	fuzzy := rule("fuzzy", sbv1.Outbound, "Fuzzy", 0, sbv1.KeywordActions{Block: &sbv1.BlockAction{}}, "pin")
	good := rule("good", sbv1.Outbound, sbv1.MatchContains, 0, sbv1.KeywordActions{Block: &sbv1.BlockAction{}}, "pin")
	set, errs := keywords.Compile(sbv1.Outbound, []sbv1.KeywordRule{bad, empty, fuzzy, good})
	want := []string{
		"KeywordRule bad: spec.match.any[1]: regular expression \"[z-a]\" does not compile: error parsing regexp: invalid character class range: `z-a`",
		fmt.Sprintf("KeywordRule empty: spec.match.any[1]: keyword %q is empty once case, accents, width and spaces are folded", " \u0301\u200b "),
		"KeywordRule fuzzy: spec.match.mode: unknown mode \"Fuzzy\"",
	}
	if len(errs) != len(want) {
		t.Fatalf("errors %v, want %d", errs, len(want))
	}
	for i, err := range errs {
		if err.Error() != want[i] {
			t.Errorf("error %d:\n got %s\nwant %s", i, err, want[i])
		}
	}
	if m, ok := set.First("PIN", true); !ok || m.Rule.Name != "good" {
		t.Errorf("the good rule must still match: %+v %v", m, ok)
	}
	if _, err := keywords.CompileRule(&bad); err == nil {
		t.Error("CompileRule must refuse the bad regex")
	}
}

func TestDecide(t *testing.T) {
	set, _ := keywords.Compile(sbv1.Inbound, []sbv1.KeywordRule{
		rule("tags", sbv1.Inbound, sbv1.MatchWord, 100, sbv1.KeywordActions{Tag: []string{"pricing", "es"}}, "precio"),
		rule("reply", sbv1.Inbound, sbv1.MatchWord, 50, sbv1.KeywordActions{Reply: &sbv1.ReplyAction{Text: "A"}, Tag: []string{"pricing"}}, "precio"),
		rule("reply2", sbv1.Inbound, sbv1.MatchWord, 10, sbv1.KeywordActions{Reply: &sbv1.ReplyAction{Text: "B"}, RouteToSkill: "billing"}, "precio"),
	})
	d := keywords.Decide(set.Match("precio", true))
	if d.Reply == nil || d.Reply.Rule.Name != "reply" || d.Route == nil || d.Route.Rule.Name != "reply2" ||
		strings.Join(d.Tags, ",") != "pricing,es" {
		t.Errorf("decision %+v", d)
	}
	if d := keywords.Decide(nil); d.Reply != nil || d.Route != nil || d.Tags != nil {
		t.Errorf("no match must decide nothing: %+v", d)
	}
}

func TestEmptySet(t *testing.T) {
	var set *keywords.Set
	if ms := set.Match("x", true); ms != nil {
		t.Errorf("nil set matched %v", ms)
	}
	empty, errs := keywords.Compile(sbv1.Outbound, nil)
	if _, ok := empty.First("anything", false); ok || errs != nil {
		t.Error("an empty set matches nothing")
	}
}

// TestConcurrentMatch: a Set is shared by every request of the inbox; run with -race.
func TestConcurrentMatch(t *testing.T) {
	set, _ := keywords.Compile(sbv1.Outbound, []sbv1.KeywordRule{
		rule("w", sbv1.Outbound, sbv1.MatchWord, 0, sbv1.KeywordActions{Block: &sbv1.BlockAction{}}, "contraseña", "价格"),
		rule("r", sbv1.Outbound, sbv1.MatchRegex, 0, sbv1.KeywordActions{Block: &sbv1.BlockAction{}}, `\d{16}`),
	})
	done := make(chan string)
	for i := range 4 {
		go func() {
			got := ""
			for j := range 200 {
				text := fmt.Sprintf("mensaje %d-%d con CONTRASEÑA y 这个价格 y 4111111111111111", i, j)
				if ms := set.Match(text, true); len(ms) != 2 {
					got = fmt.Sprintf("%q: %d matches", text, len(ms))
				}
			}
			done <- got
		}()
	}
	for range 4 {
		if msg := <-done; msg != "" {
			t.Error(msg)
		}
	}
}

func TestForNumber(t *testing.T) {
	es := rule("es", sbv1.Inbound, sbv1.MatchWord, 0, tagOnly, "hola")
	es.Spec.NumberSelector = metav1.LabelSelector{MatchLabels: map[string]string{"market": "es"}}
	all := rule("all", sbv1.Outbound, sbv1.MatchWord, 0, sbv1.KeywordActions{Block: &sbv1.BlockAction{}}, "pin")
	bad := rule("bad", sbv1.Inbound, sbv1.MatchWord, 0, tagOnly, "x")
	bad.Spec.NumberSelector = metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "market", Operator: "Foo"}}}
	rules := []sbv1.KeywordRule{es, all, bad}

	got, errs := keywords.ForNumber(rules, map[string]string{"market": "es", "team": "a"})
	if len(got) != 2 || got[0].Name != "es" || got[1].Name != "all" {
		t.Errorf("selected %d rules: %+v", len(got), got)
	}
	var ce *keywords.CompileError
	if len(errs) != 1 || !errors.As(errs[0], &ce) || ce.Rule != "bad" || ce.Field != "spec.numberSelector" {
		t.Errorf("errors %v, want one naming bad's spec.numberSelector", errs)
	}
	if got, _ := keywords.ForNumber(rules, map[string]string{"market": "br"}); len(got) != 1 || got[0].Name != "all" {
		t.Errorf("a Number of another market gets only the rule for every Number: %+v", got)
	}
}
