package sender_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/outbound"
	"github.com/switchboard-dev/switchboard/runtime/sender"
	"github.com/switchboard-dev/switchboard/runtime/simulator"
	"github.com/switchboard-dev/switchboard/runtime/store"
)

const blockedRule = "acme/no-guarantees"

// TestOutboundBlockedOnEveryPath: `switchboard sender` (its own process, with only the
// Role the manager gives it, rules read from the API server) blocks a message with an Outbound keyword whatever wrote it —
// `switchboard send --wait` (store.Enqueue), the inbox's store.EnqueueTx, a campaign
// template with the word in a body parameter, a row INSERTed by hand — and nothing of
// it reaches the simulator; the Event is on the KeywordRule, the metric counts each, a
// word added to the rule applies without a restart, and other messages are sent.
func TestOutboundBlockedOnEveryPath(t *testing.T) {
	r := newRig(t, simulator.Number{Throughput: "STANDARD", Tier: "TIER_UNLIMITED"})
	c, _ := setupNumber(t, r)
	kubeconfig := r.asSenderRole(t, c)
	rule := noGuarantees()
	if err := c.Create(t.Context(), rule); err != nil {
		t.Fatal(err)
	}
	closedNow(t, c)
	metrics := freeAddr(t)
	r.runMain(kubeconfig, "sender-a", r.dsn, "--metrics-bind-address="+metrics)
	waitLeaseHolder(t, c, "")

	var blocked []int64
	blocked = append(blocked, r.sendWait(t, "34699000001", "Resultado GARANTIZADO al 100%"))
	blocked = append(blocked, r.enqueueTx(t, "34699000002",
		`{"type":"interactive","interactive":{"type":"button","body":{"text":"¿Confirmas?"},
		 "action":{"buttons":[{"type":"reply","reply":{"id":"si","title":"Sí, garantizado"}}]}}}`))
	blocked = append(blocked, r.enqueueRaw(t, store.LaneCampaign, "34699000003",
		`{"type":"template","template":{"name":"promo","language":{"code":"es"},"components":[
		 {"type":"body","parameters":[{"type":"text","text":"Ana"},{"type":"text","text":"éxito garantizado"}]}]}}`, r.st.Enqueue))
	blocked = append(blocked, r.insertSQL(t, "34699000004", `{"type":"image","image":{"link":"https://example.com/a.jpg","caption":"Garantizado."}}`))
	sentID := r.enqueueRaw(t, store.LaneConversation, "34600000009", templateWith("Hola, ¿en qué te ayudo?"), r.st.Enqueue)
	// The Number's RoutingPolicy is closed today: its AfterHours rule blocks, its
	// BusinessHours rule does not.
	afterHours := r.enqueueRaw(t, store.LaneConversation, "34699000005", templateWith("Es URGENTE"), r.st.Enqueue)
	officeOnly := r.enqueueRaw(t, store.LaneConversation, "34600000010", templateWith("Pasa por la oficina"), r.st.Enqueue)

	for _, id := range blocked {
		r.wantBlocked(t, id, `"garantizado"`)
	}
	for _, id := range []int64{sentID, officeOnly} {
		if m := r.final(t, id); m.State != store.StateSent {
			t.Fatalf("message %d is %s (%s), want sent", id, m.State, m.ErrorMessage)
		}
	}
	if m := r.final(t, afterHours); !strings.HasPrefix(m.ErrorMessage, `blocked by KeywordRule acme/after-hours: "urgente"`) {
		t.Errorf("an AfterHours rule while the RoutingPolicy is closed: %s %q, want blocked", m.State, m.ErrorMessage)
	}

	// A word added to the rule applies live: probe until a message with it is blocked.
	rule.Spec.Match.Any = append(rule.Spec.Match.Any, "milagro")
	if err := c.Update(t.Context(), rule); err != nil {
		t.Fatal(err)
	}
	blocked = append(blocked, r.probeUntilBlocked(t, "Un MILAGRO de precio", `"milagro"`))

	r.wantNothingReachedMeta(t)
	r.wantAudit(t, append(blocked, afterHours))
	wantMetric(t, metrics, fmt.Sprintf(`switchboard_outbound_blocked_total{rule=%q} %d`, blockedRule, len(blocked)))
	wantEvent(t, c)
}

// asSenderRole applies the sender Role and RoleBinding exactly as the manager renders
// them (the controllers' golden files, for Number acme/sales-es and its Secret
// acme-whatsapp) and returns a kubeconfig of the sender's ServiceAccount user, so that
// the sender runs with what its Role allows and nothing more.
func (r *rig) asSenderRole(t *testing.T, c client.Client) string {
	t.Helper()
	ctx := t.Context()
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: number.Namespace, Name: "acme-whatsapp"},
		StringData: map[string]string{"accessToken": token}}
	num := &sbv1.Number{}
	if err := c.Create(ctx, secret); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, client.ObjectKey{Namespace: number.Namespace, Name: number.Name}, num); err != nil {
		t.Fatal(err)
	}
	num.Spec.CredentialsRef.Name = secret.Name
	if err := c.Update(ctx, num); err != nil {
		t.Fatal(err)
	}
	golden := map[string]client.Object{"sender-role.yaml": &rbacv1.Role{}, "sender-rolebinding.yaml": &rbacv1.RoleBinding{}}
	for name, obj := range golden {
		raw, err := os.ReadFile(filepath.Join("..", "..", "controllers", "testdata", "golden", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(raw, obj); err != nil {
			t.Fatal(err)
		}
		obj.SetOwnerReferences(nil) // the golden Number's uid is not this one's
		if err := c.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	return kubeconfigFor(t, r.env, envtest.User{Name: "system:serviceaccount:acme:sender-sales-es",
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:acme"}})
}

// closedNow creates the RoutingPolicy es-hours, closed from yesterday to tomorrow (three
// holidays, in UTC), names it in the Number's status as the manager would, and two rules
// limited by it: after-hours ("urgente") and office-only ("oficina").
func closedNow(t *testing.T, c client.Client) {
	t.Helper()
	ctx, now := t.Context(), time.Now().UTC()
	var holidays []string
	for d := -1; d <= 1; d++ {
		holidays = append(holidays, now.AddDate(0, 0, d).Format(time.DateOnly))
	}
	rp := &sbv1.RoutingPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: number.Namespace, Name: "es-hours"},
		Spec: sbv1.RoutingPolicySpec{BusinessHours: &sbv1.BusinessHours{TimeZone: "UTC", Holidays: holidays,
			Weekly: []sbv1.WeeklyWindow{{Days: []sbv1.Weekday{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}, From: "00:00", To: "23:59"}}}}}
	afterHours, office := noGuarantees(), noGuarantees()
	afterHours.Name, afterHours.Spec.When, afterHours.Spec.Match.Any = "after-hours", sbv1.OutsideBusinessHours, []string{"urgente"}
	office.Name, office.Spec.When, office.Spec.Match.Any = "office-only", sbv1.DuringBusinessHours, []string{"oficina"}
	for _, obj := range []client.Object{rp, afterHours, office} {
		if err := c.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	num := &sbv1.Number{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: number.Namespace, Name: number.Name}, num); err != nil {
		t.Fatal(err)
	}
	num.Status.RoutingPolicy = rp.Name
	if err := c.Status().Update(ctx, num); err != nil {
		t.Fatal(err)
	}
}

func noGuarantees() *sbv1.KeywordRule {
	return &sbv1.KeywordRule{ObjectMeta: metav1.ObjectMeta{Namespace: number.Namespace, Name: "no-guarantees"},
		Spec: sbv1.KeywordRuleSpec{Direction: sbv1.Outbound, Priority: 100,
			Match:   sbv1.KeywordMatch{Any: []string{"garantizado", "garantía total"}, Mode: sbv1.MatchWord},
			Actions: sbv1.KeywordActions{Block: &sbv1.BlockAction{Reason: "Never promise results."}}}}
}

// sendWait runs `switchboard send --wait` for a text: it must fail naming the rule.
func (r *rig) sendWait(t *testing.T, to, text string) int64 {
	t.Helper()
	t.Setenv(sender.DatabaseURLEnv, r.dsn)
	var out strings.Builder
	err := sender.SendMain(t.Context(), []string{"--number=" + number.String(), "--to=" + to, "--text=" + text, "--force-window", "--wait=60s"}, &out)
	want := `not sent: blocked by KeywordRule ` + blockedRule + `: "garantizado" in text.body: Never promise results.`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("switchboard send --wait: err = %v, want it to contain %s", err, want)
	}
	var id int64
	if _, err := fmt.Sscan(out.String(), &id); err != nil {
		t.Fatalf("switchboard send printed %q, not an id", out.String())
	}
	return id
}

// conn is a connection of the test's own, closed at its end.
func (r *rig) conn(t *testing.T) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), r.dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// enqueueTx enqueues as the inbox does: store.EnqueueTx in the caller's transaction.
func (r *rig) enqueueTx(t *testing.T, to, payload string) int64 {
	t.Helper()
	conn := r.conn(t)
	var id int64
	err := pgx.BeginFunc(t.Context(), conn, func(tx pgx.Tx) (err error) {
		id, err = store.EnqueueTx(t.Context(), tx, store.NewMessage{Number: number, Recipient: to,
			Lane: store.LaneConversation, Payload: json.RawMessage(payload)})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func (r *rig) enqueueRaw(t *testing.T, lane store.Lane, to, payload string,
	enqueue func(context.Context, store.NewMessage) (int64, error)) int64 {
	t.Helper()
	id, err := enqueue(t.Context(), store.NewMessage{Number: number, Recipient: to, Lane: lane, Payload: json.RawMessage(payload)})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// insertSQL writes a row by hand, with no notification: the sender finds it by polling.
func (r *rig) insertSQL(t *testing.T, to, payload string) int64 {
	t.Helper()
	conn := r.conn(t)
	var id int64
	err := conn.QueryRow(t.Context(), `INSERT INTO outbox (namespace, number, recipient, lane, payload)
		VALUES ($1, $2, $3, 'conversation', $4) RETURNING id`, number.Namespace, number.Name, to, payload).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// final waits until the message is sent or failed.
func (r *rig) final(t *testing.T, id int64) store.Message {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		m, err := r.st.Get(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if m.State == store.StateSent || m.State == store.StateFailed {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("message %d is still %s after 60s", id, m.State)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (r *rig) wantBlocked(t *testing.T, id int64, keyword string) {
	t.Helper()
	m := r.final(t, id)
	want := "blocked by KeywordRule " + blockedRule + ": " + keyword
	if m.State != store.StateFailed || m.ErrorCode != outbound.BlockedCode || !strings.HasPrefix(m.ErrorMessage, want) {
		t.Errorf("message %d: %s, code %d, %q; want failed, code %d, %q…", id, m.State, m.ErrorCode, m.ErrorMessage,
			outbound.BlockedCode, want)
	}
}

// templateWith is a template message with text as its body parameter (a template, so
// that the simulator's customer-service window does not refuse it).
func templateWith(text string) string {
	p, _ := json.Marshal(map[string]any{"type": "template", "template": map[string]any{
		"name": "aviso", "language": map[string]string{"code": "es"}, "components": []any{map[string]any{
			"type": "body", "parameters": []any{map[string]string{"type": "text", "text": text}}}}}})
	return string(p)
}

// probeUntilBlocked enqueues a template with text to a new recipient each time until one is blocked
// (the rule change reaches the sender through its watch, within seconds).
func (r *rig) probeUntilBlocked(t *testing.T, text, keyword string) int64 {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		id := r.enqueueRaw(t, store.LaneConversation, fmt.Sprintf("34698%06d", i), templateWith(text), r.st.Enqueue)
		if m := r.final(t, id); m.State == store.StateFailed {
			r.wantBlocked(t, id, keyword)
			return id
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("after 60s a message with %s is still sent: the rule change did not apply", keyword)
	return 0
}

// wantNothingReachedMeta: every call the simulator saw is a sent row, and no blocked
// recipient (34699…) was ever called.
func (r *rig) wantNothingReachedMeta(t *testing.T) {
	t.Helper()
	counts, _, err := r.st.Counts(t.Context(), number)
	if err != nil {
		t.Fatal(err)
	}
	r.tap.mu.Lock()
	defer r.tap.mu.Unlock()
	if len(r.tap.log) != counts[store.StateSent] {
		t.Errorf("the simulator saw %d calls for %d sent messages", len(r.tap.log), counts[store.StateSent])
	}
	for _, a := range r.tap.log {
		if strings.HasPrefix(a.to, "34699") {
			t.Errorf("a blocked message reached the simulator (to %s)", a.to)
		}
	}
}

// wantAudit: each blocked row has its audit entry, naming the rule, the keyword and the
// field, and nothing of the recipient or the text.
func (r *rig) wantAudit(t *testing.T, ids []int64) {
	t.Helper()
	rows, _ := r.conn(t).Query(t.Context(), `SELECT object_id, actor, after::text FROM audit_log
		WHERE namespace = $1 AND object_kind = 'outbox' AND action = 'outbound.blocked' ORDER BY object_id::bigint`, number.Namespace)
	var got []string
	var id, actor, after string
	_, err := pgx.ForEachRow(rows, []any{&id, &actor, &after}, func() error {
		got = append(got, id)
		if actor != sender.AuditActor || !strings.Contains(after, `"rule": "acme/`) || strings.Contains(after, "34699") {
			t.Errorf("audit entry of message %s: actor %q, after %s", id, actor, after)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(ids)
	if want := fmt.Sprint(ids); fmt.Sprint(got) != want {
		t.Errorf("audit entries for messages %v, want %v", got, want)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// wantMetric waits for a line of the sender's /metrics.
func wantMetric(t *testing.T, addr, line string) {
	t.Helper()
	var body string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if body = string(b); strings.Contains(body, line+"\n") {
			return
		}
	}
	t.Errorf("the sender's metrics lack %s; they have:\n%s", line, grepLines(body, "outbound"))
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// wantEvent waits for the OutboundBlocked Event on the KeywordRule, which names the
// keyword but neither a recipient nor the rest of a message.
func wantEvent(t *testing.T, c client.Client) {
	t.Helper()
	var seen []string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		var list eventsv1.EventList
		if err := c.List(t.Context(), &list, client.InNamespace(number.Namespace)); err != nil {
			t.Fatal(err)
		}
		seen = seen[:0]
		for _, e := range list.Items {
			seen = append(seen, e.Reason+" "+e.Regarding.Kind+"/"+e.Regarding.Name+": "+e.Note)
			if e.Reason != "OutboundBlocked" || e.Regarding.Kind != "KeywordRule" || e.Regarding.Name != "no-guarantees" {
				continue
			}
			if strings.Contains(e.Note, "34699") || strings.Contains(e.Note, "Resultado") || !strings.Contains(e.Note, `"garantizado"`) {
				t.Errorf("the event's note %q must name the keyword and nothing of the message or recipient", e.Note)
			}
			return
		}
	}
	t.Errorf("no OutboundBlocked event on KeywordRule no-guarantees; events: %q", seen)
}
