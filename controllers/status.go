package controllers

import (
	"context"
	"errors"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
)

// statusObject is a kind whose status this package writes.
type statusObject interface {
	client.Object
	GetConditions() []metav1.Condition
}

// statusWriter writes an object's status once per reconcile, from a deferred call: a
// merge patch of the status subresource against the object as it was read, skipped when
// nothing changed. It also emits an event for each watched condition that changed.
//
// The patch carries the resourceVersion that was read (optimistic lock): a reconcile that
// worked from a stale cached copy gets a conflict, writes nothing, announces nothing, and
// is requeued to work from a fresh copy. Without the lock, a stale copy would announce
// transitions that were already announced.
type statusWriter[T statusObject] struct {
	client   client.Client
	recorder recorder.EventRecorder
	before   T
	status   func(T) any
	// eventTypes are the condition types whose transitions are announced as events.
	eventTypes []string
}

func newStatusWriter[T statusObject](c client.Client, rec recorder.EventRecorder, obj T, status func(T) any, eventTypes ...string) *statusWriter[T] {
	return &statusWriter[T]{client: c, recorder: rec, before: obj.DeepCopyObject().(T), status: status, eventTypes: eventTypes}
}

// staleReadRetry is how soon a reconcile that read a stale copy runs again.
const staleReadRetry = 100 * time.Millisecond

// finish writes obj's status if it differs from what was read, and folds the outcome
// into the reconcile's result.
func (w *statusWriter[T]) finish(ctx context.Context, obj T, res ctrl.Result, err error) (ctrl.Result, error) {
	if equality.Semantic.DeepEqual(w.status(w.before), w.status(obj)) {
		return res, err
	}
	switch perr := w.write(ctx, obj); {
	case apierrors.IsNotFound(perr):
		return res, err
	case apierrors.IsConflict(perr):
		return ctrl.Result{RequeueAfter: staleReadRetry}, err
	case perr != nil:
		return res, errors.Join(err, perr)
	}
	w.announce(obj)
	return res, err
}

// write sends the status. The first write (no condition yet) replaces the whole status,
// so that zero values such as matchedNumbers: 0 are stored rather than left out of a
// diff that cannot tell them from absent fields; later writes are merge patches of
// what changed. Both carry the resourceVersion that was read.
func (w *statusWriter[T]) write(ctx context.Context, obj T) error {
	if len(w.before.GetConditions()) == 0 {
		return w.client.Status().Update(ctx, obj)
	}
	return w.client.Status().Patch(ctx, obj, client.MergeFromWithOptions(w.before, client.MergeFromWithOptimisticLock{}))
}

// announce emits one event per watched condition whose status or reason changed:
// events mark transitions, never repeated failures.
func (w *statusWriter[T]) announce(obj T) {
	if w.recorder == nil {
		return
	}
	for _, typ := range w.eventTypes {
		now := apimeta.FindStatusCondition(obj.GetConditions(), typ)
		if now == nil {
			continue
		}
		was := apimeta.FindStatusCondition(w.before.GetConditions(), typ)
		if was != nil && was.Status == now.Status && was.Reason == now.Reason {
			continue
		}
		eventType := "Normal"
		if (now.Status == metav1.ConditionTrue) == abnormalTrue[typ] {
			eventType = "Warning"
		}
		w.recorder.Eventf(obj, nil, eventType, now.Reason, typ, "%s=%s: %s", typ, now.Status, now.Message)
	}
}

// abnormalTrue lists the condition types whose True status is the abnormal one.
var abnormalTrue = map[string]bool{
	sbv1.ReconcilingCondition: true, sbv1.StalledCondition: true, sbv1.ThrottledCondition: true,
}

// handledReconcileRequest returns the value of the reconcile-request annotation, which
// the status mirrors once handled.
func handledReconcileRequest(obj client.Object) string {
	return obj.GetAnnotations()[sbv1.ReconcileRequestAnnotation]
}
