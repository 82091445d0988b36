package kube_test

import (
	"context"
	"log/slog"
	"sort"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/contract"
	"github.com/switchboard-dev/switchboard/runtime/inbox/kube"
	"github.com/switchboard-dev/switchboard/runtime/inbox/kube/kubetest"
	"github.com/switchboard-dev/switchboard/runtime/store"
)

func create(t *testing.T, c client.Client, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := c.Create(context.Background(), o); err != nil {
			t.Fatalf("creating %T %s: %v", o, o.GetName(), err)
		}
	}
}

func number(name, id, team, secret string) *sbv1.Number {
	return &sbv1.Number{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "acme", Labels: map[string]string{"team": team}},
		Spec: sbv1.NumberSpec{PhoneNumberID: id, BusinessAccountID: "102290129340398", DisplayPhoneNumber: "+1 555 078 " + id[len(id)-4:],
			CredentialsRef: sbv1.LocalObjectReference{Name: secret}}}
}

func secret(name, appSecret string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "acme"},
		StringData: map[string]string{"accessToken": "t", "appSecret": appSecret, "verifyToken": "v-" + name}}
}

// giveTo records, as the manager does, which Inbox receives the Number's webhooks.
func giveTo(t *testing.T, c client.Client, number, inbox string) {
	t.Helper()
	num := &sbv1.Number{}
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: "acme", Name: number}, num); err != nil {
		t.Fatal(err)
	}
	num.Status.Inbox = inbox
	if err := c.Status().Update(context.Background(), num); err != nil {
		t.Fatal(err)
	}
}

// runSource runs a Source for the Inbox acme/main, resyncing every 200 ms, until the
// test ends.
func runSource(t *testing.T, cfg *rest.Config) *kube.Source {
	t.Helper()
	src, err := kube.NewSource(cfg, store.NumberRef{Namespace: "acme", Name: "main"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	src.Resync = 200 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go src.Run(ctx)
	return src
}

// served waits until the snapshot serves exactly want (Number names) and returns it.
func served(t *testing.T, src *kube.Source, want ...string) *kube.Snapshot {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		snap := src.Snapshot()
		if snap != nil && names(snap) == fmtNames(want) {
			return snap
		}
		if time.Now().After(deadline) {
			got := "<none>"
			if snap != nil {
				got = names(snap)
			}
			t.Fatalf("served %s, want %s", got, fmtNames(want))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func names(s *kube.Snapshot) string {
	var out []string
	for _, n := range s.Numbers() {
		out = append(out, n.Ref.Name)
	}
	sort.Strings(out) // the informer lists in no particular order
	return fmtNames(out)
}

func fmtNames(n []string) string {
	s := ""
	for _, x := range n {
		s += x + ","
	}
	return s
}

// TestSourceFollowsNumbersAndSecrets: the Numbers whose status.inbox names the Inbox,
// as it changes, rotated secrets, the Numbers' policies, and the refresh annotation.
func TestSourceFollowsNumbersAndSecrets(t *testing.T) {
	cfg, c, _ := kubetest.Start(t)
	create(t, c, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "acme"}},
		secret("creds-a", "app-a"), secret("creds-b", "app-b"),
		number("a", "106540352242922", "sales", "creds-a"), number("b", "106540352242933", "support", "creds-b"),
		number("c", "106540352242944", "sales", "creds-missing"))
	giveTo(t, c, "a", "main")
	giveTo(t, c, "b", "older")

	src := runSource(t, cfg)
	ctx := context.Background()

	snap := served(t, src, "a")
	a, ok := snap.ByPhoneNumberID("106540352242922")
	if !ok || a.AppSecret != "app-a" || a.VerifyToken != "v-creds-a" || a.DisplayDigits != "15550782922" {
		t.Fatalf("a: ok %t, display %q, secrets read %t", ok, a.DisplayDigits, a.AppSecret == "app-a")
	}
	// b comes to this Inbox; c too, but its Secret cannot be read: left out until it can.
	giveTo(t, c, "b", "main")
	giveTo(t, c, "c", "main")
	served(t, src, "a", "b")
	create(t, c, secret("creds-missing", "app-c"))
	served(t, src, "a", "b", "c")
	giveTo(t, c, "c", "")
	served(t, src, "a", "b")
	// A rotated app secret is picked up.
	sec := &corev1.Secret{}
	_ = c.Get(ctx, client.ObjectKey{Namespace: "acme", Name: "creds-a"}, sec)
	sec.Data["appSecret"] = []byte("app-a-2")
	if err := c.Update(ctx, sec); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for n, _ := src.Snapshot().ByPhoneNumberID("106540352242922"); n.AppSecret != "app-a-2"; n, _ = src.Snapshot().ByPhoneNumberID("106540352242922") {
		if time.Now().After(deadline) {
			t.Fatal("rotated app secret not picked up")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// spec.routing.defaultSkill is read, and a change applies.
	if a.DefaultSkill != "" {
		t.Fatalf("a's default skill %q before it is set", a.DefaultSkill)
	}
	numA := &sbv1.Number{}
	_ = c.Get(ctx, client.ObjectKey{Namespace: "acme", Name: "a"}, numA)
	numA.Spec.Routing = &sbv1.NumberRouting{DefaultSkill: "es"}
	if err := c.Update(ctx, numA); err != nil {
		t.Fatal(err)
	}
	for n, _ := src.Snapshot().ByPhoneNumberID("106540352242922"); n.DefaultSkill != "es"; n, _ = src.Snapshot().ByPhoneNumberID("106540352242922") {
		if time.Now().After(deadline) {
			t.Fatal("spec.routing.defaultSkill not picked up")
		}
		time.Sleep(50 * time.Millisecond)
	}
	checkPolicies(t, ctx, c, src)
	// A Number given to another Inbox leaves.
	giveTo(t, c, "b", "older")
	served(t, src, "a")

	if err := src.RefreshQuality(ctx, []kube.Number{a}); err != nil {
		t.Fatal(err)
	}
	num := &sbv1.Number{}
	_ = c.Get(ctx, client.ObjectKey{Namespace: "acme", Name: "a"}, num)
	if ts, err := time.Parse(time.RFC3339Nano, num.Annotations[contract.QualityRefreshAnnotation]); err != nil || time.Since(ts) > time.Minute {
		t.Fatalf("annotation %q (%v)", num.Annotations[contract.QualityRefreshAnnotation], err)
	}
}

// checkPolicies: the served Number's Inbound KeywordRules and RoutingPolicy are compiled
// into the snapshot, and a change applies without a restart.
func checkPolicies(t *testing.T, ctx context.Context, c client.Client, src *kube.Source) {
	t.Helper()
	sales := metav1.LabelSelector{MatchLabels: map[string]string{"team": "sales"}}
	kr := &sbv1.KeywordRule{ObjectMeta: metav1.ObjectMeta{Name: "precio", Namespace: "acme"},
		Spec: sbv1.KeywordRuleSpec{NumberSelector: sales, Direction: sbv1.Inbound, Match: sbv1.KeywordMatch{Any: []string{"precio"}},
			Actions: sbv1.KeywordActions{Reply: &sbv1.ReplyAction{Text: "lista"}}}}
	rp := &sbv1.RoutingPolicy{ObjectMeta: metav1.ObjectMeta{Name: "support", Namespace: "acme"},
		Spec: sbv1.RoutingPolicySpec{NumberSelector: sales, AfterHours: &sbv1.AfterHours{Reply: "cerrado"},
			BusinessHours: &sbv1.BusinessHours{TimeZone: "Europe/Madrid", Weekly: []sbv1.WeeklyWindow{
				{Days: []sbv1.Weekday{"Mon"}, From: "09:00", To: "18:00"}}}}}
	block := &sbv1.KeywordRule{ObjectMeta: metav1.ObjectMeta{Name: "no-guarantees", Namespace: "acme"},
		Spec: sbv1.KeywordRuleSpec{NumberSelector: sales, Direction: sbv1.Outbound, Match: sbv1.KeywordMatch{Any: []string{"garantizado"}},
			Actions: sbv1.KeywordActions{Block: &sbv1.BlockAction{}}}}
	create(t, c, kr, rp, block)
	matches := func(text string) func(kube.Policy) bool {
		return func(p kube.Policy) bool { return p.Inbound != nil && len(p.Inbound.Match(text, true)) == 1 }
	}
	waitPolicy(t, src, "the rule and the business hours", func(p kube.Policy) bool {
		monday := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
		return matches("¿PRECIO?")(p) && p.AfterHoursReply == "cerrado" && p.Hours.Open(monday) && !p.Hours.Open(monday.Add(24*time.Hour)) &&
			p.OutboundRules != nil && len(p.OutboundRules.Set.Match("GARANTIZADO", true)) == 1 && len(p.OutboundRules.Set.Match("precio", true)) == 0 &&
			!matches("garantizado")(p)
	})
	kr.Spec.Match.Any = []string{"tarifa"}
	if err := c.Update(ctx, kr); err != nil {
		t.Fatal(err)
	}
	waitPolicy(t, src, "the changed rule", func(p kube.Policy) bool { return matches("tarifa")(p) && !matches("precio")(p) })
}

func waitPolicy(t *testing.T, src *kube.Source, what string, ok func(kube.Policy) bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		if n, found := src.Snapshot().ByName("a"); found && ok(n.Policy) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the snapshot never had %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSourceReadsIntegrations: the Inbox's spec.integrations is compiled into the
// snapshot with its Secrets, and a rotated secret is picked up.
func TestSourceReadsIntegrations(t *testing.T) {
	cfg, c, _ := kubetest.Start(t)
	hooks := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "hooks", Namespace: "acme"}, StringData: map[string]string{"secret": "s-1"}}
	ib := &sbv1.Inbox{ObjectMeta: metav1.ObjectMeta{Name: "main", Namespace: "acme"}, Spec: sbv1.InboxSpec{
		SecretRefs: []sbv1.LocalObjectReference{{Name: "hooks"}},
		Integrations: &sbv1.InboxIntegrations{Webhooks: []sbv1.IntegrationWebhook{{Name: "orders", URL: "https://orders.example/h",
			Events: []sbv1.IntegrationEvent{sbv1.EventConversationResolved}, SecretRef: sbv1.SecretKeyRef{Name: "hooks", Key: "secret"}}}}}}
	create(t, c, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "acme"}}, secret("creds-a", "app-a"),
		number("a", "106540352242922", "sales", "creds-a"), hooks, ib)
	giveTo(t, c, "a", "main")
	src, ctx := startSource(t, cfg)
	waitSecret := func(want string) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for {
			if s := src.Snapshot(); s != nil && s.Integrations != nil && len(s.Integrations.Webhooks) == 1 &&
				string(s.Integrations.Webhooks[0].Secret) == want && s.Integrations.Webhooks[0].Subscribes("conversation.resolved") {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the snapshot never had the webhook with the secret %q", want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitSecret("s-1")
	_ = c.Get(ctx, client.ObjectKey{Namespace: "acme", Name: "hooks"}, hooks)
	hooks.Data["secret"] = []byte("s-2")
	if err := c.Update(ctx, hooks); err != nil {
		t.Fatal(err)
	}
	waitSecret("s-2")
}

// startSource is runSource with the context the tests use.
func startSource(t *testing.T, cfg *rest.Config) (*kube.Source, context.Context) {
	t.Helper()
	return runSource(t, cfg), context.Background()
}
