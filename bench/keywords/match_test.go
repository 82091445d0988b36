package keywords_test

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coregx/ahocorasick"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/keywords"
)

var messagesPerSide = flag.Int("keywords.messages", 20000, "messages matched per side and iteration")

const (
	rulesInSet   = 10
	perRule      = 1000 // the most spec.match.any holds
	messageBytes = 1024
)

// syllables of each script, from which keywords are built.
var syllables = [][]string{
	{"pre", "cio", "cuán", "to", "cues", "ta", "fac", "tu", "ra", "en", "ví", "o", "ñan", "de", "pe", "di", "do"},
	{"pre", "ço", "a", "ção", "en", "tre", "ga", "vo", "cê", "não", "mão", "pa", "gar"},
	{"prix", "fac", "tu", "re", "li", "vrai", "son", "é", "tè", "ça", "gar", "çon"},
	{"价", "格", "多", "少", "钱", "退", "款", "发", "货", "快", "递", "订", "单", "这", "个"},
	{"ね", "だ", "ん", "い", "く", "ら", "で", "す", "か", "コ", "ー", "ヒ", "注", "文"},
	{"سع", "ر", "كم", "ال", "ثم", "ن", "طل", "ب", "شح", "ن", "فا", "تو", "رة"},
}

// fillerWords are the words of the messages around the keywords: real words of the
// same languages, which share letters and syllables with the keywords (so the
// automaton walks deep into its trie) without being keywords.
var fillerWords = strings.Fields(`hola buenos días quería saber si el pedido llegó ayer
	mañana gracias por favor está bien perfecto necesito ayuda con mi cuenta cuándo
	olá bom dia obrigado você pode me ajudar minha encomenda ainda não chegou
	bonjour merci beaucoup je voudrais savoir où est ma commande s'il vous plaît
	你好 我想问一下 我的 什么时候 到 谢谢 可以 帮我 查 一下 吗
	こんにちは ありがとう ございます よろしく お願い します 届き ません
	مرحبا شكرا جزيلا أريد أن أعرف متى يصل طلبي من فضلك
	ÉTÉ Ñandú CAFÉ Ｈｏｌａ`)
var emoji = []string{"🙂", "👍", "❤️", "😂", "🙏", "📦", "💳"}

func word(rng *rand.Rand, script int, n int) string {
	var b strings.Builder
	for range n {
		s := syllables[script]
		b.WriteString(s[rng.IntN(len(s))])
	}
	return b.String()
}

// ruleSet builds 10 rules of 1,000 distinct keywords, alternating Word and Contains.
func ruleSet(rng *rand.Rand) ([]sbv1.KeywordRule, []string) {
	seen := map[string]bool{}
	var rules []sbv1.KeywordRule
	var all []string
	for i := range rulesInSet {
		var any []string
		for len(any) < perRule {
			script := rng.IntN(len(syllables))
			kw := word(rng, script, 2+rng.IntN(3))
			if rng.IntN(50) == 0 {
				kw += emoji[rng.IntN(len(emoji))]
			}
			if f := keywords.Fold(kw); !seen[f] {
				seen[f] = true
				any = append(any, kw)
				all = append(all, f)
			}
		}
		mode := sbv1.MatchWord
		if i%2 == 1 {
			mode = sbv1.MatchContains
		}
		rules = append(rules, sbv1.KeywordRule{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("rule-%d", i)},
			Spec: sbv1.KeywordRuleSpec{Direction: sbv1.Inbound, Priority: int32(i), Match: sbv1.KeywordMatch{Any: any, Mode: mode},
				Actions: sbv1.KeywordActions{Tag: []string{fmt.Sprintf("t%d", i)}}},
		})
	}
	return rules, all
}

// message builds about 1 KB of mixed text: words of every script, capitalised and
// accented Latin, fullwidth letters, emoji, and a few keywords.
func message(rng *rand.Rand, rules []sbv1.KeywordRule) string {
	var b strings.Builder
	for b.Len() < messageBytes {
		switch rng.IntN(40) {
		case 0:
			r := rules[rng.IntN(len(rules))].Spec.Match.Any
			b.WriteString(strings.ToUpper(r[rng.IntN(len(r))]))
		case 1:
			b.WriteString(emoji[rng.IntN(len(emoji))])
		case 2:
			b.WriteString("ＰＲＥＣＩＯ")
		default:
			b.WriteString(fillerWords[rng.IntN(len(fillerWords))])
		}
		b.WriteString([]string{" ", " ", ", ", "? ", "\n"}[rng.IntN(5)])
	}
	return b.String()
}

// fixture is the compiled set, the bare automaton and the messages of a run.
type fixture struct {
	set        *keywords.Set
	bare       *ahocorasick.Automaton
	msgs       []string
	foldedMsgs [][]byte
	matched    int // rules matched, over every message of the match side
	hits       int // automaton matches, over every message of the bare side
	compile    time.Duration
}

func newFixture(b *testing.B) *fixture {
	rng := rand.New(rand.NewPCG(7, 11))
	rules, folded := ruleSet(rng)
	start := time.Now()
	set, errs := keywords.Compile(sbv1.Inbound, rules)
	compile := time.Since(start)
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	bare, err := ahocorasick.NewBuilder().AddStrings(folded).Build()
	if err != nil {
		b.Fatal(err)
	}
	f := &fixture{set: set, bare: bare, msgs: make([]string, 64), foldedMsgs: make([][]byte, 64), compile: compile}
	for i := range f.msgs {
		f.msgs[i] = message(rng, rules)
		f.foldedMsgs[i] = keywords.AppendFold(nil, f.msgs[i])
	}
	return f
}

// run times count messages on one side and returns the ns per message, by the wall
// clock and in the thread's CPU time (0 where not measured).
func (f *fixture) run(side string, count int) (wall, cpu float64) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu0, _ := threadCPU()
	start := time.Now()
	for i := range count {
		f.one(side, i%len(f.msgs))
	}
	wall = float64(time.Since(start).Nanoseconds()) / float64(count)
	cpu1, _ := threadCPU()
	return wall, float64((cpu1 - cpu0).Nanoseconds()) / float64(count)
}

// one handles message i on one side.
func (f *fixture) one(side string, i int) {
	switch side {
	case "bare":
		f.hits += len(f.bare.FindAllOverlapping(f.foldedMsgs[i]))
	case "match":
		f.matched += len(f.set.Match(f.msgs[i], true))
	case "fold":
		keywords.AppendFold(make([]byte, 0, 1100), f.msgs[i])
	}
}

// rounds is how many rounds each iteration splits its messages into.
const rounds = 10

func BenchmarkMatch10kKeywords1KB(b *testing.B) {
	f := newFixture(b)
	chunk := max(*messagesPerSide/(2*rounds), 1)
	for _, side := range []string{"bare", "match", "fold"} {
		f.run(side, chunk) // warm-up
	}
	f.matched, f.hits = 0, 0
	b.ResetTimer()
	wall, cpu := map[string][]float64{}, map[string][]float64{}
	var ratios []float64
	for range b.N * rounds {
		r := map[string]float64{}
		for _, side := range []string{"bare", "match", "fold", "fold", "match", "bare"} {
			w, c := f.run(side, chunk)
			wall[side], cpu[side] = append(wall[side], w), append(cpu[side], c)
			r[side] += w
		}
		ratios = append(ratios, r["match"]/r["bare"])
	}
	messages := float64(b.N * rounds * 2 * chunk)
	b.ReportMetric(median(wall["match"]), "ns/msg")
	b.ReportMetric(median(wall["fold"]), "fold-ns/msg")
	b.ReportMetric(median(wall["bare"]), "bare-ns/msg")
	b.ReportMetric(median(ratios), "ratio")
	if median(cpu["match"]) > 0 {
		b.ReportMetric(median(cpu["match"]), "cpu-ns/msg")
		b.ReportMetric(median(cpu["bare"]), "bare-cpu-ns/msg")
	}
	b.ReportMetric(float64(f.hits)/messages, "hits/msg")
	b.ReportMetric(float64(f.matched)/messages, "rules/msg")
	b.ReportMetric(float64(f.compile.Microseconds())/1000, "compile-ms")
	if f.matched == 0 {
		b.Fatal("no message matched a rule: the benchmark measures nothing")
	}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
