package inbox_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/calendar"
	"github.com/switchboard-dev/switchboard/runtime/inbox/kube"
	"github.com/switchboard-dev/switchboard/runtime/keywords"
	"github.com/switchboard-dev/switchboard/runtime/simulator"
)

// rule is an Inbound KeywordRule as a user writes it.
func rule(name string, priority int32, mode sbv1.MatchMode, when sbv1.When, actions sbv1.KeywordActions, any ...string) sbv1.KeywordRule {
	return sbv1.KeywordRule{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "acme"},
		Spec: sbv1.KeywordRuleSpec{Direction: sbv1.Inbound, Match: sbv1.KeywordMatch{Any: any, Mode: mode},
			Priority: priority, When: when, Actions: actions}}
}

func reply(text string) *sbv1.ReplyAction { return &sbv1.ReplyAction{Text: text} }

// withPolicy is numA with rules and business hours compiled by the packages the
// operator validates with.
func withPolicy(t *testing.T, rules []sbv1.KeywordRule, hours *sbv1.BusinessHours, afterHours string) kube.Number {
	t.Helper()
	set, errs := keywords.Compile(sbv1.Inbound, rules)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	h, err := calendar.Compile(hours)
	if err != nil {
		t.Fatal(err)
	}
	n := numA
	n.Policy = kube.Policy{Inbound: set, Hours: h, AfterHoursReply: afterHours}
	return n
}

// say injects messages from a customer through the simulator and waits for them.
func say(t *testing.T, sim *simulator.Server, from string, texts ...string) {
	t.Helper()
	for _, text := range texts {
		if _, err := sim.Inject(numA.PhoneNumberID, simulator.Inbound{From: from, Text: text}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err := sim.WaitIdle(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
	}
}

type db struct {
	t    *testing.T
	conn *pgx.Conn
}

func connect(t *testing.T, dsn string) db {
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return db{t, conn}
}

// replies lists the texts of the automatic replies queued to a customer, oldest first.
func (d db) replies(waID string) []string {
	d.t.Helper()
	rows, _ := d.conn.Query(context.Background(), `
		SELECT o.payload->'text'->>'body' FROM outbox o JOIN messages m ON m.outbox_id = o.id
		 WHERE o.recipient = $1 AND o.lane = 'conversation' AND m.direction = 'out' ORDER BY o.id`, waID)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		d.t.Fatal(err)
	}
	return out
}

func (d db) conversation(waID string) (tags []string, skill string) {
	d.t.Helper()
	err := d.conn.QueryRow(context.Background(), `
		SELECT v.tags, COALESCE(v.required_skill, '') FROM conversations v JOIN contacts c ON c.id = v.contact_id
		 WHERE c.wa_id = $1`, waID).Scan(&tags, &skill)
	if err != nil {
		d.t.Fatal(err)
	}
	return tags, skill
}

func TestKeywordRules(t *testing.T) {
	dsn := srv.NewDatabase(t)
	rules := []sbv1.KeywordRule{
		rule("precio", 100, sbv1.MatchWord, sbv1.Always, sbv1.KeywordActions{Reply: reply("Nuestra lista de precios"),
			Tag: []string{"pricing"}, RouteToSkill: "billing"}, "precio", "cuánto cuesta"),
		rule("interes", 50, sbv1.MatchContains, sbv1.Always, sbv1.KeywordActions{Reply: reply("never: a higher rule replied"),
			Tag: []string{"interest"}, RouteToSkill: "sales"}, "cuesta"),
		rule("solo-horario", 10, sbv1.MatchWord, sbv1.DuringBusinessHours, sbv1.KeywordActions{Tag: []string{"never-closed"}}, "precio"),
	}
	for i := 1; i <= 6; i++ {
		rules = append(rules, rule(fmt.Sprint("r", i), 1, sbv1.MatchExact, sbv1.Always,
			sbv1.KeywordActions{Reply: reply(fmt.Sprint("respuesta ", i))}, fmt.Sprint("opcion ", i)))
	}
	s := startServer(t, dsn, served(withPolicy(t, rules, nil, "")))
	sim, d := newSimulator(t, s), connect(t, dsn)

	// Folded: case, accents and width; one reply (the highest rule's), every rule's tags,
	// the highest rule's skill.
	say(t, sim, "34600000001", "¿CUÁNTO cuesta? ｐｒｅｃｉｏ")
	if got := d.replies("34600000001"); len(got) != 1 || got[0] != "Nuestra lista de precios" {
		t.Fatalf("replies %q", got)
	}
	if tags, skill := d.conversation("34600000001"); strings.Join(tags, ",") != "interest,never-closed,pricing" || skill != "billing" {
		t.Fatalf("tags %v skill %q", tags, skill)
	}
	// The same reply is not sent again within 24 hours.
	say(t, sim, "34600000001", "precio?")
	if got := d.replies("34600000001"); len(got) != 1 {
		t.Fatalf("repeated reply: %q", got)
	}
	// At most 5 automatic replies per contact per hour.
	say(t, sim, "34600000002", "opcion 1", "opcion 2", "opcion 3", "opcion 4", "opcion 5", "opcion 6")
	if got := d.replies("34600000002"); len(got) != 5 || got[4] != "respuesta 5" {
		t.Fatalf("capped replies %q", got)
	}
	// A rule change applies at once, without a restart.
	rules = append(rules, rule("horario", 1, sbv1.MatchWord, sbv1.Always, sbv1.KeywordActions{Reply: reply("De 9 a 18")}, "horario"))
	s.snap.Store(served(withPolicy(t, rules, nil, "")))
	say(t, sim, "34600000003", "¿qué horario tenéis?")
	if got := d.replies("34600000003"); len(got) != 1 || got[0] != "De 9 a 18" {
		t.Fatalf("after the rule change: %q", got)
	}
}

// closedNow are business hours that are closed now: one hour on the weekday three days
// from now, in Madrid.
func closedNow() *sbv1.BusinessHours {
	day := time.Now().AddDate(0, 0, 3).Weekday().String()[:3]
	return &sbv1.BusinessHours{TimeZone: "Europe/Madrid",
		Weekly: []sbv1.WeeklyWindow{{Days: []sbv1.Weekday{sbv1.Weekday(day)}, From: "10:00", To: "11:00"}}}
}

func TestAfterHours(t *testing.T) {
	dsn := srv.NewDatabase(t)
	rules := []sbv1.KeywordRule{
		rule("abierto", 10, sbv1.MatchWord, sbv1.DuringBusinessHours, sbv1.KeywordActions{Reply: reply("never: closed")}, "hola"),
		rule("cerrado", 5, sbv1.MatchWord, sbv1.OutsideBusinessHours, sbv1.KeywordActions{Tag: []string{"after-hours"}}, "hola"),
	}
	s := startServer(t, dsn, served(withPolicy(t, rules, closedNow(), "Volvemos el lunes")))
	sim, d := newSimulator(t, s), connect(t, dsn)
	say(t, sim, "34600000001", "hola", "hola otra vez", "¿hay alguien?")
	if got := d.replies("34600000001"); len(got) != 1 || got[0] != "Volvemos el lunes" {
		t.Fatalf("after-hours replies %q, want one", got)
	}
	if tags, _ := d.conversation("34600000001"); strings.Join(tags, ",") != "after-hours" {
		t.Fatalf("tags %v", tags)
	}
}
