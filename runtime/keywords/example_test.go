package keywords_test

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/keywords"
)

func rule(name string, dir sbv1.Direction, mode sbv1.MatchMode, prio int32, actions sbv1.KeywordActions, any ...string) sbv1.KeywordRule {
	return sbv1.KeywordRule{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: sbv1.KeywordRuleSpec{Direction: dir, Priority: prio, Actions: actions,
			Match: sbv1.KeywordMatch{Any: any, Mode: mode}},
	}
}

// An Inbound set: the price rule replies and tags, the billing rule only tags.
func ExampleSet_Match() {
	set, errs := keywords.Compile(sbv1.Inbound, []sbv1.KeywordRule{
		rule("precios-es", sbv1.Inbound, sbv1.MatchWord, 100, sbv1.KeywordActions{
			Reply: &sbv1.ReplyAction{Text: "Nuestra lista de precios: https://example.com/es/precios"},
			Tag:   []string{"pricing"}, RouteToSkill: "billing",
		}, "precio", "cuánto cuesta"),
		rule("factura", sbv1.Inbound, sbv1.MatchContains, 10, sbv1.KeywordActions{Tag: []string{"billing"}}, "factura"),
	})
	fmt.Println("errors:", errs)
	text := "¿CUÁNTO cuesta la facturación?"
	matches := set.Match(text, true)
	for _, m := range matches {
		fmt.Printf("%s: %q matched %q\n", m.Rule.Name, m.Keyword, text[m.Start:m.End])
	}
	d := keywords.Decide(matches)
	fmt.Println("reply:", d.Reply.Rule.Actions.Reply.Text)
	fmt.Println("skill:", d.Route.Rule.Actions.RouteToSkill, "tags:", d.Tags)
	// Output:
	// errors: []
	// precios-es: "cuánto cuesta" matched "CUÁNTO cuesta"
	// factura: "factura" matched "factura"
	// reply: Nuestra lista de precios: https://example.com/es/precios
	// skill: billing tags: [pricing billing]
}

// An Outbound set blocks on its first match; a rule that does not compile is
// reported and left out.
func ExampleSet_First() {
	set, errs := keywords.Compile(sbv1.Outbound, []sbv1.KeywordRule{
		rule("sensitive-words", sbv1.Outbound, sbv1.MatchContains, 1000,
			sbv1.KeywordActions{Block: &sbv1.BlockAction{Reason: "Never ask for passwords."}}, "contraseña", "número de tarjeta"),
		rule("broken", sbv1.Outbound, sbv1.MatchRegex, 0, sbv1.KeywordActions{Block: &sbv1.BlockAction{}}, "cvv(", "pin"),
	})
	for _, err := range errs {
		fmt.Println(err)
	}
	if m, ok := set.First("Envíenos su CONTRASENA, por favor", true); ok {
		fmt.Printf("blocked by %s on %q: %s\n", m.Rule.Name, m.Keyword, m.Rule.Actions.Block.Reason)
	}
	// Output:
	// KeywordRule broken: spec.match.any[0]: regular expression "cvv(" does not compile: error parsing regexp: missing closing ): `cvv(`
	// blocked by sensitive-words on "contraseña": Never ask for passwords.
}

func ExampleFold() {
	for _, s := range []string{"PRECIO", "precío", "ｐｒｅｃｉｏ", "Straße", "e\u0301xito  hoy"} {
		fmt.Printf("%q\n", keywords.Fold(s))
	}
	// Output:
	// "precio"
	// "precio"
	// "precio"
	// "strasse"
	// "exito hoy"
}
