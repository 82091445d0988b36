package controllers

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/contract"
)

// FieldOwner is the server-side-apply field manager of everything the manager declares.
const FieldOwner = client.FieldOwner(ManagerName)

// NumberReconciler runs one sender Deployment per Number and keeps the Number's status
// truthful.
type NumberReconciler struct {
	client.Client
	// APIReader reads Secrets straight from the API server: the manager caches only
	// their metadata.
	APIReader client.Reader
	Recorder  recorder.EventRecorder
	Sender    SenderOptions
	// Quality reads the numbers' fields from the Graph API; nil disables it.
	Quality *qualityPoller
}

// +kubebuilder:rbac:groups=switchboard.dev,resources=numbers,verbs=get;list;watch
// +kubebuilder:rbac:groups=switchboard.dev,resources=numbers/status,verbs=get;patch;update
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=serviceaccounts,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=roles;rolebindings,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;create;update;patch
// +kubebuilder:rbac:groups="";events.k8s.io,resources=events,verbs=create;patch

// Reconcile brings one Number's sender and status in line with its spec.
func (r *NumberReconciler) Reconcile(ctx context.Context, req ctrl.Request) (res ctrl.Result, retErr error) {
	num := &sbv1.Number{}
	if err := r.Get(ctx, req.NamespacedName, num); err != nil {
		if apierrors.IsNotFound(err) {
			r.Quality.forget(req.NamespacedName)
			forgetNumberMetrics(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	status := newStatusWriter(r.Client, r.Recorder, num, func(n *sbv1.Number) any { return n.Status },
		sbv1.ReadyCondition, sbv1.CredentialsValidCondition, sbv1.SenderAvailableCondition, sbv1.ThrottledCondition,
		sbv1.InboxAvailableCondition)
	defer func() { res, retErr = status.finish(ctx, num, res, retErr) }()
	num.Status.LastHandledReconcileAt = handledReconcileRequest(num)

	if num.Spec.Suspend {
		markSuspended(&num.Status.Conditions, num.Generation)
		num.Status.ObservedGeneration = num.Generation
		return ctrl.Result{}, nil
	}
	next, err := r.reconcileNumber(ctx, num)
	if err != nil {
		markReconciling(&num.Status.Conditions, num.Generation, sbv1.ReasonReconcileError, err.Error())
		return ctrl.Result{}, err
	}
	num.Status.ObservedGeneration = num.Generation
	return ctrl.Result{RequeueAfter: next}, nil
}

// reconcileNumber checks the credentials, reads the number's quality, declares the
// sender and fills the status. It returns when the number should be looked at again.
func (r *NumberReconciler) reconcileNumber(ctx context.Context, num *sbv1.Number) (time.Duration, error) {
	secret, err := r.credentialsSecret(ctx, num)
	if err != nil {
		return 0, err
	}
	creds := checkCredentials(num, secret)
	var read readResult
	if creds.ok {
		read = r.Quality.poll(ctx, num, secret, qualityRefreshPending(num))
		if read.made {
			num.Status.LastHandledQualityRefresh = num.Annotations[contract.QualityRefreshAnnotation]
		}
		if read.err != nil {
			ctrl.LoggerFrom(ctx).Info("reading the number's quality from the Graph API failed; retrying later",
				"error", read.err.Error(), "retryIn", read.after.String())
		}
		if read.rejected != nil {
			creds = credentialsCheck{reason: sbv1.ReasonCredentialsRejected, msg: fmt.Sprintf(
				"the Graph API refused the access token of Secret %q: %s", num.Spec.CredentialsRef.Name, read.rejected.Error())}
		}
	}
	lim := applyLimits(num, time.Now())
	recordNumberMetrics(num, lim)
	replicas := senderReplicas(num, creds.ok)
	if err := r.applySender(ctx, num, replicas); err != nil {
		return 0, err
	}
	dep, err := cachedDeployment(ctx, r.Client, num.Namespace, senderName(num))
	if err != nil {
		return 0, err
	}
	num.Status.Sender = &sbv1.SenderStatus{Deployment: senderName(num), Replicas: replicas}
	if dep != nil {
		num.Status.Sender.ReadyReplicas = dep.Status.ReadyReplicas
	}
	if num.Status.RoutingPolicy, num.Status.Inbox, err = r.ownersOf(ctx, num); err != nil {
		return 0, err
	}
	summarizeNumber(num, creds, checkSender(num, creds, dep, replicas))
	reportInbox(num)
	return read.after, nil
}

// credentialsSecret reads the Number's Secret uncached; nil when it does not exist.
func (r *NumberReconciler) credentialsSecret(ctx context.Context, num *sbv1.Number) (*corev1.Secret, error) {
	secret := &corev1.Secret{}
	key := types.NamespacedName{Namespace: num.Namespace, Name: num.Spec.CredentialsRef.Name}
	if err := r.APIReader.Get(ctx, key, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading credentials Secret %q: %w", key.Name, err)
	}
	return secret, nil
}

// applySender declares the sender's ServiceAccount, Role, RoleBinding and Deployment.
func (r *NumberReconciler) applySender(ctx context.Context, num *sbv1.Number, replicas int32) error {
	return applyAll(ctx, r.Client, "sender", []runtime.ApplyConfiguration{
		senderServiceAccount(num),
		senderRole(num),
		senderRoleBinding(num),
		senderDeployment(num, r.Sender, replicas),
	})
}

// ownersOf names the RoutingPolicy that routes the Number and the Inbox that receives
// its webhooks: for each kind, the oldest that selects it (empty when none does).
func (r *NumberReconciler) ownersOf(ctx context.Context, num *sbv1.Number) (routing, inbox string, err error) {
	var policies sbv1.RoutingPolicyList
	var inboxes sbv1.InboxList
	for _, list := range []client.ObjectList{&policies, &inboxes} {
		if err := r.List(ctx, list, client.InNamespace(num.Namespace), readOnlyList); err != nil {
			return "", "", fmt.Errorf("listing %T: %w", list, err)
		}
	}
	return claimantName(policies.Items, num), claimantName(inboxes.Items, num), nil
}

// qualityRefreshPending tells whether the Number carries a quality-refresh request not
// handled yet.
func qualityRefreshPending(num *sbv1.Number) bool {
	v, ok := num.Annotations[contract.QualityRefreshAnnotation]
	return ok && v != num.Status.LastHandledQualityRefresh
}

// SetupWithManager registers the controller: Numbers, their sender objects, the Secrets
// they name (metadata only) and the RoutingPolicies and Inboxes that may select them.
func (r *NumberReconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &sbv1.Number{}, credentialsIndex,
		func(o client.Object) []string { return []string{o.(*sbv1.Number).Spec.CredentialsRef.Name} }); err != nil {
		return err
	}
	// Status writes (the manager's own, and later the sender's) do not start a reconcile:
	// spec, labels (routing) and annotations (reconcile and quality-refresh requests) do.
	return ctrl.NewControllerManagedBy(mgr).
		For(&sbv1.Number{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{},
			predicate.LabelChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Owns(&appsv1.Deployment{}).
		// Only a change matters, not the content (each reconcile applies them all again):
		// cached as metadata, they cost the manager little memory (bench/scale).
		Owns(&corev1.ServiceAccount{}, builder.OnlyMetadata).
		Owns(&rbacv1.Role{}, builder.OnlyMetadata).
		Owns(&rbacv1.RoleBinding{}, builder.OnlyMetadata).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.numbersForSecret), builder.OnlyMetadata).
		Watches(&sbv1.RoutingPolicy{}, handler.EnqueueRequestsFromMapFunc(numbersInNamespace(r.Client)),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&sbv1.Inbox{}, handler.EnqueueRequestsFromMapFunc(numbersInNamespace(r.Client)),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WithOptions(opts).
		Named("number").
		Complete(r)
}

// credentialsIndex indexes Numbers by the name of their credentials Secret.
const credentialsIndex = "spec.credentialsRef.name"

// numbersForSecret maps a Secret to the Numbers that name it.
func (r *NumberReconciler) numbersForSecret(ctx context.Context, secret client.Object) []reconcile.Request {
	var list sbv1.NumberList
	if err := r.List(ctx, &list, client.InNamespace(secret.GetNamespace()),
		client.MatchingFields{credentialsIndex: secret.GetName()}, readOnlyList); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing Numbers for a Secret", "secret", secret.GetName())
		return nil
	}
	return requestsFor(list.Items)
}

func requestsFor[T any, P interface {
	*T
	client.Object
}](items []T) []reconcile.Request {
	reqs := make([]reconcile.Request, 0, len(items))
	for i := range items {
		obj := P(&items[i])
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(obj)})
	}
	return reqs
}

// numbersInNamespace maps any object to every Number of its namespace.
func numbersInNamespace(c client.Client) handler.MapFunc {
	return func(ctx context.Context, obj client.Object) []reconcile.Request {
		var list sbv1.NumberList
		if err := c.List(ctx, &list, client.InNamespace(obj.GetNamespace()), readOnlyList); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "listing Numbers")
			return nil
		}
		return requestsFor(list.Items)
	}
}

// olderThan orders objects by age, then name: the older one wins conflicts.
func olderThan(a, b metav1.Object) bool {
	ta, tb := a.GetCreationTimestamp(), b.GetCreationTimestamp()
	if !ta.Equal(&tb) {
		return ta.Before(&tb)
	}
	return a.GetName() < b.GetName()
}
