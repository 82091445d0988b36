package sender

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/outbound"
	"github.com/switchboard-dev/switchboard/runtime/store"
)

// ruleSource is the sender's Guard: it follows the KeywordRules and RoutingPolicies of
// the Number's namespace (informers; the Role allows get, list and watch on both) and
// the Number itself (numberSource calls setNumber), and recompiles the Number's
// Outbound rules on every change, without a restart.
type ruleSource struct {
	cache   cache.Cache
	ref     store.NumberRef
	log     *slog.Logger
	metrics *Metrics
	events  events.EventBroadcaster
	record  events.EventRecorder

	number  atomic.Pointer[sbv1.Number]
	rules   atomic.Pointer[outbound.Rules]
	changed chan struct{} // a recompile is due (capacity 1)
	// compiled is closed after the first compile with a Number and synced informers.
	compiled chan struct{}
	done     atomic.Bool
}

func newRuleSource(cfg *rest.Config, scheme *runtime.Scheme, ref store.NumberRef, m *Metrics, log *slog.Logger) (*ruleSource, error) {
	c, err := cache.New(cfg, cache.Options{Scheme: scheme, ReaderFailOnMissingInformer: true,
		DefaultNamespaces: map[string]cache.Config{ref.Namespace: {}}})
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	b := events.NewBroadcaster(&events.EventSinkImpl{Interface: cs.EventsV1()})
	return &ruleSource{cache: c, ref: ref, log: log, metrics: m, events: b,
		record:  b.NewRecorder(scheme, "switchboard.dev/sender"),
		changed: make(chan struct{}, 1), compiled: make(chan struct{})}, nil
}

// run starts the informers and recompiles on every change until ctx ends.
func (r *ruleSource) run(ctx context.Context) error {
	for _, obj := range []client.Object{&sbv1.KeywordRule{}, &sbv1.RoutingPolicy{}} {
		inf, err := r.cache.GetInformer(ctx, obj)
		if err != nil {
			return err
		}
		poke := func(any) { r.poke() }
		if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{AddFunc: poke,
			UpdateFunc: func(_, o any) { poke(o) }, DeleteFunc: poke}); err != nil {
			return err
		}
	}
	if err := r.events.StartRecordingToSinkWithContext(ctx); err != nil {
		return err
	}
	defer r.events.Shutdown()
	go func() { _ = r.cache.Start(ctx) }()
	if !r.cache.WaitForCacheSync(ctx) {
		return ctx.Err()
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-r.changed:
			r.compile(ctx)
		}
	}
}

// setNumber records the Number as last read, and recompiles when what the rules depend
// on changed: its labels (which select the rules) or its status.routingPolicy (which
// names the business hours).
func (r *ruleSource) setNumber(num *sbv1.Number) {
	old := r.number.Swap(num)
	if old == nil || !maps.Equal(old.Labels, num.Labels) || old.Status.RoutingPolicy != num.Status.RoutingPolicy {
		r.poke()
	}
}

func (r *ruleSource) poke() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

// compile rebuilds the Number's rules from the informers. Rules that do not compile
// are left out and logged (the operator reports them Stalled).
func (r *ruleSource) compile(ctx context.Context) {
	num := r.number.Load()
	if num == nil {
		return
	}
	var list sbv1.KeywordRuleList
	if err := r.cache.List(ctx, &list, client.InNamespace(r.ref.Namespace)); err != nil {
		r.log.Error("listing KeywordRules", "error", err)
		return
	}
	rules, errs := outbound.Compile(num, list.Items, r.policy(ctx, num))
	for _, err := range errs {
		r.log.Info("left out of the outbound rules", "error", err)
	}
	r.rules.Store(rules)
	r.metrics.OutboundRules.Set(float64(len(rules.Set.Rules())))
	if r.done.CompareAndSwap(false, true) {
		close(r.compiled)
	}
}

// policy is the RoutingPolicy named in the Number's status.routingPolicy, or nil.
func (r *ruleSource) policy(ctx context.Context, num *sbv1.Number) *sbv1.RoutingPolicy {
	if num.Status.RoutingPolicy == "" {
		return nil
	}
	rp := &sbv1.RoutingPolicy{}
	err := r.cache.Get(ctx, client.ObjectKey{Namespace: num.Namespace, Name: num.Status.RoutingPolicy}, rp)
	if err != nil {
		if !apierrors.IsNotFound(err) {
			r.log.Error("reading the Number's RoutingPolicy; business hours always open", "error", err)
		}
		return nil
	}
	return rp
}

// ready waits for the first compile: the sender sends nothing before it knows the
// rules. It gives up after limit (the Role does not allow reading KeywordRules, or the
// API server is unreachable).
func (r *ruleSource) ready(ctx context.Context, limit time.Duration) error {
	select {
	case <-r.compiled:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(limit):
		return fmt.Errorf("the KeywordRules and RoutingPolicies of namespace %s could not be read within %s; "+
			"sending nothing unchecked (does the sender's Role allow get, list and watch on them?)", r.ref.Namespace, limit)
	}
}

// Check implements Guard with the rules last compiled.
func (r *ruleSource) Check(payload json.RawMessage, now time.Time) *outbound.Block {
	return r.rules.Load().Check(payload, now)
}

// Blocked implements Guard: a Warning Event OutboundBlocked on the KeywordRule, naming
// the Number, the keyword and the field, never the recipient or the rest of the text
// (identical events are counted in one series).
func (r *ruleSource) Blocked(ctx context.Context, b *outbound.Block) {
	rule := &sbv1.KeywordRule{}
	if err := r.cache.Get(ctx, client.ObjectKey{Namespace: b.Namespace, Name: b.Rule}, rule); err != nil {
		r.log.Error("reading the KeywordRule for its event", "rule", b.RuleRef(), "error", err)
	} else if num := r.number.Load(); num != nil {
		r.record.Eventf(rule, num, corev1.EventTypeWarning, "OutboundBlocked", "Send",
			"blocked an outbound message of Number %s: keyword %q in %s", r.ref.Name, b.Keyword, b.Field)
	}
}
