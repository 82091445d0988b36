package scale_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/switchboard-dev/switchboard/runtime/simulator"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

const (
	accessToken = "scale-token"
	// numbersPerWABA spreads the Numbers over WhatsApp Business Accounts, as Meta caps
	// the numbers of one account; the Graph read budget is per account (docs/number.md).
	numbersPerWABA = 20
	policies       = 10
	keywordRules   = 20
	applyWorkers   = 8
)

func phoneNumberID(i int) string { return fmt.Sprintf("1%014d", i) }
func wabaID(i int) string        { return fmt.Sprintf("2%014d", i/numbersPerWABA) }

// simNumbers registers the n Numbers with the simulator.
func simNumbers(n int) []simulator.Number {
	out := make([]simulator.Number, n)
	for i := range out {
		out[i] = simulator.Number{ID: phoneNumberID(i), DisplayPhoneNumber: fmt.Sprintf("+1 555 %07d", i),
			BusinessAccountID: wabaID(i), Tier: whatsapp.Tier250}
	}
	return out
}

// objectsFor returns, in creation order, the database Secret, then for each of the n
// Numbers its credentials Secret and the Number (labelled team t0..t9 and market
// m0..m19), then 10 RoutingPolicies (one per team) and 20 KeywordRules (one per
// market).
func objectsFor(ns string, n int, apiURL string) []client.Object {
	objs := []client.Object{secret(ns, "switchboard-database", map[string]string{"dsn": "postgres://scale@127.0.0.1:1/unused"})}
	for i := range n {
		name := fmt.Sprintf("n-%04d", i)
		objs = append(objs, secret(ns, name+"-whatsapp", map[string]string{
			"accessToken": accessToken, "appSecret": "app-secret-" + name, "verifyToken": "verify-" + name}),
			number(ns, name, i, apiURL))
	}
	for k := range policies {
		objs = append(objs, routingPolicy(ns, k))
	}
	for k := range keywordRules {
		objs = append(objs, keywordRule(ns, k))
	}
	return objs
}

func secret(ns, name string, data map[string]string) client.Object {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, StringData: data}
}

func custom(kind, ns, name string, labels map[string]any, spec map[string]any) client.Object {
	meta := map[string]any{"name": name, "namespace": ns}
	if labels != nil {
		meta["labels"] = labels
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "switchboard.dev/v1alpha1", "kind": kind, "metadata": meta, "spec": spec}}
}

func number(ns, name string, i int, apiURL string) client.Object {
	return custom("Number", ns, name,
		map[string]any{"team": fmt.Sprintf("t%d", i%policies), "market": fmt.Sprintf("m%d", i%keywordRules)},
		map[string]any{"phoneNumberID": phoneNumberID(i), "businessAccountID": wabaID(i),
			"credentialsRef": map[string]any{"name": name + "-whatsapp"}, "apiBaseURL": apiURL})
}

func routingPolicy(ns string, k int) client.Object {
	return custom("RoutingPolicy", ns, fmt.Sprintf("team-%d", k), nil, map[string]any{
		"numberSelector": map[string]any{"matchLabels": map[string]any{"team": fmt.Sprintf("t%d", k)}},
		"strategy":       "LeastLoaded",
		"capacity":       map[string]any{"target": int64(5), "max": int64(10)},
		"teams":          []any{map[string]any{"name": "agents", "skills": []any{"en"}, "members": []any{"ana", "bruno"}}},
		"businessHours": map[string]any{"timeZone": "Europe/Madrid",
			"weekly": []any{map[string]any{"days": []any{"Mon", "Tue", "Wed", "Thu", "Fri"}, "from": "09:00", "to": "18:00"}}},
		"afterHours": map[string]any{"reply": "We are closed; we answer from 09:00."},
	})
}

func keywordRule(ns string, k int) client.Object {
	return custom("KeywordRule", ns, fmt.Sprintf("price-%d", k), nil, map[string]any{
		"numberSelector": map[string]any{"matchLabels": map[string]any{"market": fmt.Sprintf("m%d", k)}},
		"direction":      "Inbound",
		"match":          map[string]any{"any": []any{"price", "prices", fmt.Sprintf("offer %d", k)}, "mode": "Word"},
		"priority":       int64(100),
		"actions":        map[string]any{"reply": map[string]any{"text": "Our prices: https://example.com/prices"}},
	})
}

// createAll creates the database Secret, then the rest of objs with applyWorkers
// clients at once, in no particular order (a Number may come before its Secret, as
// with `kubectl apply -f dir/`).
func createAll(ctx context.Context, b *testing.B, c client.Client, objs []client.Object) {
	b.Helper()
	if err := c.Create(ctx, objs[0]); err != nil {
		b.Fatalf("creating %s: %v", objs[0].GetName(), err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, applyWorkers)
	for w := range applyWorkers {
		wg.Go(func() {
			for i := 1 + w; i < len(objs); i += applyWorkers {
				if err := c.Create(ctx, objs[i]); err != nil {
					errs <- fmt.Errorf("creating %T %s: %w", objs[i], objs[i].GetName(), err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}
