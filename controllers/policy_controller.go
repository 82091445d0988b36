package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
)

// policyObject is a kind that applies to the Numbers its selector matches:
// RoutingPolicy, KeywordRule and RetentionPolicy.
type policyObject interface {
	statusObject
	GetPolicyStatus() *sbv1.PolicyStatus
	GetNumberSelector() metav1.LabelSelector
	IsSuspended() bool
}

// policyKind is what differs between the policy kinds.
type policyKind[T policyObject] struct {
	name    string
	newObj  func() T
	newList func() client.ObjectList
	// status returns the whole status, to detect no-op writes.
	status func(T) any
	// check validates what admission cannot (and looks for conflicts) once the selected
	// Numbers are known. It returns a stalledError for what a human must fix, and
	// optionally when to look again.
	check func(ctx context.Context, c client.Client, obj T, numbers []sbv1.Number) (time.Duration, error)
	// siblingsMatter: the outcome depends on the other objects of the kind (conflicts).
	siblingsMatter bool
}

// policyReconciler resolves a policy's Numbers and reports them, and the validity of the
// policy, in its status.
type policyReconciler[T policyObject] struct {
	client.Client
	Recorder recorder.EventRecorder
	kind     policyKind[T]
}

// +kubebuilder:rbac:groups=switchboard.dev,resources=routingpolicies;keywordrules;retentionpolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=switchboard.dev,resources=routingpolicies/status;keywordrules/status;retentionpolicies/status,verbs=get;patch;update

// Reconcile reconciles one policy object.
func (r *policyReconciler[T]) Reconcile(ctx context.Context, req ctrl.Request) (res ctrl.Result, retErr error) {
	obj := r.kind.newObj()
	if err := r.Get(ctx, req.NamespacedName, obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	status := newStatusWriter(r.Client, r.Recorder, obj, r.kind.status, sbv1.ReadyCondition)
	defer func() { res, retErr = status.finish(ctx, obj, res, retErr) }()

	ps, gen := obj.GetPolicyStatus(), obj.GetGeneration()
	ps.LastHandledReconcileAt = handledReconcileRequest(obj)
	if obj.IsSuspended() {
		markSuspended(&ps.Conditions, gen)
		ps.ObservedGeneration = gen
		return ctrl.Result{}, nil
	}
	requeue, err := r.reconcilePolicy(ctx, obj)
	if err := settle(&ps.Conditions, gen, err, func() {
		markReady(&ps.Conditions, gen, sbv1.ReasonReconciled, fmt.Sprintf("selects %d Number(s)", ps.MatchedNumbers))
	}); err != nil {
		return ctrl.Result{}, err
	}
	ps.ObservedGeneration = gen
	return ctrl.Result{RequeueAfter: requeue}, nil
}

func (r *policyReconciler[T]) reconcilePolicy(ctx context.Context, obj T) (time.Duration, error) {
	ps := obj.GetPolicyStatus()
	ps.MatchedNumbers, ps.Numbers = 0, nil
	selector := obj.GetNumberSelector()
	sel, err := metav1.LabelSelectorAsSelector(&selector)
	if err != nil {
		return 0, stalled(sbv1.ReasonInvalidSpec, fmt.Sprintf("spec.numberSelector is invalid: %v", err))
	}
	var list sbv1.NumberList
	// Read only (readOnlyList): a namespace's Numbers, not a copy of each per reconcile.
	if err := r.List(ctx, &list, client.InNamespace(obj.GetNamespace()), client.MatchingLabelsSelector{Selector: sel}, readOnlyList); err != nil {
		return 0, fmt.Errorf("listing Numbers: %w", err)
	}
	ps.MatchedNumbers = int32(len(list.Items))
	ps.Numbers = numberNames(list.Items, sbv1.MaxListedNumbers)
	return r.kind.check(ctx, r.Client, obj, list.Items)
}

// numberNames lists the names of Numbers, sorted, at most limit.
func numberNames(numbers []sbv1.Number, limit int) []string {
	names := make([]string, 0, len(numbers))
	for i := range numbers {
		names = append(names, numbers[i].Name)
	}
	slices.Sort(names)
	return names[:min(len(names), limit)]
}

// SetupWithManager registers the controller. A policy is reconciled again when a Number
// of its namespace comes, goes or changes labels, and when another object of its kind
// in the namespace changes (conflicts depend on the others).
func (r *policyReconciler[T]) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	b := ctrl.NewControllerManagedBy(mgr).
		For(r.kind.newObj()).
		Watches(&sbv1.Number{}, handler.EnqueueRequestsFromMapFunc(r.allInNamespace),
			builder.WithPredicates(predicate.LabelChangedPredicate{}))
	if r.kind.siblingsMatter {
		b = b.Watches(r.kind.newObj(), handler.EnqueueRequestsFromMapFunc(r.allInNamespace),
			builder.WithPredicates(predicate.GenerationChangedPredicate{}))
	}
	return b.WithOptions(opts).Named(r.kind.name).Complete(r)
}

// allInNamespace maps an object to every policy of this kind in its namespace.
func (r *policyReconciler[T]) allInNamespace(ctx context.Context, obj client.Object) []reconcile.Request {
	list := r.kind.newList()
	if err := r.List(ctx, list, client.InNamespace(obj.GetNamespace()), readOnlyList); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing policies", "kind", r.kind.name)
		return nil
	}
	var reqs []reconcile.Request
	_ = apimeta.EachListItem(list, func(o runtime.Object) error {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(o.(client.Object))})
		return nil
	})
	return reqs
}

// selects tells whether a label selector matches a Number.
func selects(selector metav1.LabelSelector, num *sbv1.Number) bool {
	sel, err := metav1.LabelSelectorAsSelector(&selector)
	return err == nil && sel.Matches(labels.Set(num.Labels))
}

// claimant is a kind that claims Numbers with a label selector, where a Number claimed
// by two objects of the kind belongs to the older one: RoutingPolicy and Inbox.
type claimant[T any] interface {
	*T
	metav1.Object
	GetNumberSelector() metav1.LabelSelector
}

// oldestClaimant returns the oldest of items whose selector matches num (creation
// time, then name), or nil when none does.
func oldestClaimant[T any, P claimant[T]](items []T, num *sbv1.Number) P {
	var winner P
	for i := range items {
		o := P(&items[i])
		if selects(o.GetNumberSelector(), num) && (winner == nil || olderThan(o, winner)) {
			winner = o
		}
	}
	return winner
}

// claimantName names the oldest of items that selects num; empty when none does.
func claimantName[T any, P claimant[T]](items []T, num *sbv1.Number) string {
	if o := oldestClaimant[T, P](items, num); o != nil {
		return o.GetName()
	}
	return ""
}

// lostClaim is a Number that obj selects but an older object of its kind owns.
type lostClaim struct{ number, owner string }

// splitClaims divides the Numbers obj selects into those it owns and those an older
// object among others owns.
func splitClaims[T any, P claimant[T]](obj P, others []T, numbers []sbv1.Number) ([]sbv1.Number, []lostClaim) {
	var owned []sbv1.Number
	var lost []lostClaim
	for i := range numbers {
		if o := oldestClaimant[T, P](others, &numbers[i]); o != nil && o.GetUID() != obj.GetUID() && olderThan(o, obj) {
			lost = append(lost, lostClaim{number: numbers[i].Name, owner: o.GetName()})
			continue
		}
		owned = append(owned, numbers[i])
	}
	return owned, lost
}

// conflictError is the Stalled outcome of lost claims: reason Conflict, naming each
// Number and its owner ("Number a <ownedBy> b"), the first five and then a count; nil
// when nothing was lost.
func conflictError(lost []lostClaim, ownedBy string) error {
	if len(lost) == 0 {
		return nil
	}
	clashes := make([]string, 0, 6)
	for _, l := range lost[:min(len(lost), 5)] {
		clashes = append(clashes, fmt.Sprintf("Number %s %s %s", l.number, ownedBy, l.owner))
	}
	if len(lost) > 5 {
		clashes = append(clashes, fmt.Sprintf("and %d more", len(lost)-5))
	}
	return stalled(sbv1.ReasonConflict, strings.Join(clashes, "; "))
}
