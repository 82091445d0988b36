package inbox_test

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/contract"
	"github.com/switchboard-dev/switchboard/runtime/inbox"
	"github.com/switchboard-dev/switchboard/runtime/inbox/kube/kubetest"
	"github.com/switchboard-dev/switchboard/runtime/simulator"
)

// freeAddr returns a loopback address that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln := listen(t)
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// kubeObjects creates numA as the manager leaves it for the Inbox "support": its
// credentials Secret, status.inbox, and an Inbound KeywordRule selecting it.
func kubeObjects(t *testing.T, c client.Client) {
	t.Helper()
	ctx := context.Background()
	num := &sbv1.Number{ObjectMeta: metav1.ObjectMeta{Name: numA.Ref.Name, Namespace: "acme", Labels: map[string]string{"team": "sales"}},
		Spec: sbv1.NumberSpec{PhoneNumberID: numA.PhoneNumberID, BusinessAccountID: numA.WABAID,
			DisplayPhoneNumber: "+1 555 078 3881", CredentialsRef: sbv1.LocalObjectReference{Name: "creds"}}}
	rule := &sbv1.KeywordRule{ObjectMeta: metav1.ObjectMeta{Name: "precio", Namespace: "acme"},
		Spec: sbv1.KeywordRuleSpec{NumberSelector: metav1.LabelSelector{MatchLabels: map[string]string{"team": "sales"}},
			Direction: sbv1.Inbound, Match: sbv1.KeywordMatch{Any: []string{"precio"}},
			Actions: sbv1.KeywordActions{Reply: &sbv1.ReplyAction{Text: "Lista de precios"}}}}
	for _, o := range []client.Object{&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "acme"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds", Namespace: "acme"},
			StringData: map[string]string{"accessToken": "t", "appSecret": numA.AppSecret, "verifyToken": numA.VerifyToken}},
		num, rule} {
		if err := c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	num.Status.Inbox = "support"
	if err := c.Status().Update(ctx, num); err != nil {
		t.Fatal(err)
	}
}

// `switchboard inbox` as the Deployment runs it: the Numbers and rules from the API
// server, a customer's message stored and answered, and a quality webhook turned into
// the refresh annotation on the Number.
func TestMainEndToEnd(t *testing.T) {
	_, c, kubeconfig := kubetest.Start(t)
	kubeObjects(t, c)
	dsn := srv.NewDatabase(t)
	t.Setenv("KUBECONFIG", kubeconfig)
	t.Setenv(inbox.DatabaseURLEnv, dsn)
	t.Setenv(inbox.APITokenEnv, token)
	httpAddr, metricsAddr := freeAddr(t), freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- inbox.Main(ctx, []string{"--inbox=acme/support", "--" + contract.InboxHTTPAddressFlag + "=" + httpAddr,
			"--" + contract.InboxMetricsAddressFlag + "=" + metricsAddr, "--log-level=error"}, io.Discard)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Main: %v", err)
		}
	})
	waitStatus(t, "http://"+metricsAddr+contract.InboxReadyPath, 200)

	sim := newSimulator(t, &server{traffic: "http://" + httpAddr})
	say(t, sim, "34600000001", "¿precio?")
	if got := connect(t, dsn).replies("34600000001"); len(got) != 1 || got[0] != "Lista de precios" {
		t.Fatalf("replies %q", got)
	}
	if err := sim.Schedule(simulator.Event{Number: numA.PhoneNumberID, Quality: &simulator.QualityChange{Rating: "RED"}}); err != nil {
		t.Fatal(err)
	}
	waitAnnotation(t, c, 30*time.Second)
	_, body := get(t, "http://"+metricsAddr+contract.InboxMetricsPath, "")
	if m := missing(body, `switchboard_inbox_webhooks_total{field="phone_number_quality_update",result="stored"} 1`,
		`switchboard_inbox_keyword_matches_total{rule="precio"} 1`, "switchboard_inbox_rule_compile_seconds_count"); m != "" {
		t.Fatalf("metrics lack %s", m)
	}
}

func waitAnnotation(t *testing.T, c client.Client, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		num := &sbv1.Number{}
		_ = c.Get(context.Background(), client.ObjectKey{Namespace: "acme", Name: numA.Ref.Name}, num)
		if v := num.Annotations[contract.QualityRefreshAnnotation]; v != "" {
			if _, err := time.Parse(time.RFC3339Nano, v); err != nil {
				t.Fatalf("annotation %q: %v", v, err)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the quality webhook did not annotate the Number")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// missing returns the first of subs that s does not contain, or "".
func missing(s string, subs ...string) string {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return sub
		}
	}
	return ""
}
