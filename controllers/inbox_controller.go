package controllers

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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

// InboxReconciler declares each Inbox's Deployment, Service, PodDisruptionBudget,
// ServiceAccount, Role and RoleBinding, and keeps the Inbox's status truthful.
type InboxReconciler struct {
	client.Client
	Recorder recorder.EventRecorder
	// Workload holds the image and the database Secret, shared with the senders.
	Workload SenderOptions
}

// The manager holds every permission it grants in an inbox Role (Kubernetes refuses to
// let it grant more than it has): hence patch on numbers.
// +kubebuilder:rbac:groups=switchboard.dev,resources=inboxes,verbs=get;list;watch
// +kubebuilder:rbac:groups=switchboard.dev,resources=inboxes/status,verbs=get;patch;update
// +kubebuilder:rbac:groups=switchboard.dev,resources=numbers,verbs=patch
// +kubebuilder:rbac:groups="",resources=services,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=policy,resources=poddisruptionbudgets,verbs=get;list;watch;create;update;patch;delete

// Reconcile brings one Inbox's objects and status in line with its spec.
func (r *InboxReconciler) Reconcile(ctx context.Context, req ctrl.Request) (res ctrl.Result, retErr error) {
	ib := &sbv1.Inbox{}
	if err := r.Get(ctx, req.NamespacedName, ib); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	status := newStatusWriter(r.Client, r.Recorder, ib, func(i *sbv1.Inbox) any { return i.Status }, sbv1.ReadyCondition)
	defer func() { res, retErr = status.finish(ctx, ib, res, retErr) }()
	ib.Status.LastHandledReconcileAt = handledReconcileRequest(ib)
	if ib.Spec.Suspend {
		markSuspended(&ib.Status.Conditions, ib.Generation)
		ib.Status.ObservedGeneration = ib.Generation
		return ctrl.Result{}, nil
	}
	check, err := r.reconcileInbox(ctx, ib)
	if err := settle(&ib.Status.Conditions, ib.Generation, err, func() { summarizeInbox(ib, check) }); err != nil {
		return ctrl.Result{}, err
	}
	ib.Status.ObservedGeneration = ib.Generation
	return ctrl.Result{}, nil
}

// reconcileInbox finds the Numbers the Inbox serves, declares its objects and fills the
// status. It returns the state of the Deployment, and a Conflict stall when an older
// Inbox owns some of the selected Numbers (the objects are declared all the same, for
// the Numbers it does serve).
func (r *InboxReconciler) reconcileInbox(ctx context.Context, ib *sbv1.Inbox) (senderCheck, error) {
	selected, err := r.selectedNumbers(ctx, ib)
	if err != nil {
		return senderCheck{}, err
	}
	var inboxes sbv1.InboxList
	if err := r.List(ctx, &inboxes, client.InNamespace(ib.Namespace)); err != nil {
		return senderCheck{}, fmt.Errorf("listing Inboxes: %w", err)
	}
	served, lost := splitClaims(ib, inboxes.Items, selected)
	if err := r.ensureInitialAdmin(ctx, ib); err != nil {
		return senderCheck{}, err
	}
	w := inboxWorkload{inbox: ib, served: served, opts: r.Workload}
	if err := applyAll(ctx, r.Client, "inbox", w.objects()); err != nil {
		return senderCheck{}, err
	}
	dep, err := cachedDeployment(ctx, r.Client, ib.Namespace, inboxName(ib))
	if err != nil {
		return senderCheck{}, err
	}
	fillInboxStatus(ib, served, dep)
	return checkDeployment("inbox", dep, inboxName(ib), inboxReplicas(ib)), conflictError(lost, "is served by the older Inbox")
}

// selectedNumbers lists the Numbers of the namespace that spec.numberSelector matches.
func (r *InboxReconciler) selectedNumbers(ctx context.Context, ib *sbv1.Inbox) ([]sbv1.Number, error) {
	sel, err := metav1.LabelSelectorAsSelector(&ib.Spec.NumberSelector)
	if err != nil {
		return nil, stalled(sbv1.ReasonInvalidSpec, fmt.Sprintf("spec.numberSelector is invalid: %v", err))
	}
	var list sbv1.NumberList
	if err := r.List(ctx, &list, client.InNamespace(ib.Namespace), client.MatchingLabelsSelector{Selector: sel}); err != nil {
		return nil, fmt.Errorf("listing Numbers: %w", err)
	}
	return list.Items, nil
}

// SetupWithManager registers the controller: Inboxes and their objects; the Numbers of
// their namespace (labels decide the selection, the spec names the credentials Secret);
// and the other Inboxes of the namespace (the older one owns a Number).
func (r *InboxReconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&sbv1.Inbox{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{},
			predicate.AnnotationChangedPredicate{}))).
		Owns(&appsv1.Deployment{}).
		// Only a change matters, not the content (each reconcile applies them all again):
		// cached as metadata, they cost the manager little memory (bench/scale).
		Owns(&corev1.Service{}, builder.OnlyMetadata).
		Owns(&policyv1.PodDisruptionBudget{}, builder.OnlyMetadata).
		Owns(&corev1.ServiceAccount{}, builder.OnlyMetadata).
		Owns(&rbacv1.Role{}, builder.OnlyMetadata).
		Owns(&rbacv1.RoleBinding{}, builder.OnlyMetadata).
		Watches(&sbv1.Number{}, handler.EnqueueRequestsFromMapFunc(r.inboxesInNamespace),
			builder.WithPredicates(predicate.Or(predicate.LabelChangedPredicate{}, predicate.GenerationChangedPredicate{}))).
		Watches(&sbv1.Inbox{}, handler.EnqueueRequestsFromMapFunc(r.inboxesInNamespace),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WithOptions(opts).
		Named("inbox").
		Complete(r)
}

// inboxesInNamespace maps an object to every Inbox of its namespace.
func (r *InboxReconciler) inboxesInNamespace(ctx context.Context, obj client.Object) []reconcile.Request {
	var list sbv1.InboxList
	if err := r.List(ctx, &list, client.InNamespace(obj.GetNamespace())); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing Inboxes")
		return nil
	}
	return requestsFor(list.Items)
}
