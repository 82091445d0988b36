package controllers

import (
	"errors"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
)

// The kstatus summary conditions. Each helper leaves exactly one consistent picture:
// Ready says the outcome; Reconciling and Stalled are present only while true.

// markReady records a healthy, finished reconcile.
func markReady(conds *[]metav1.Condition, gen int64, reason, msg string) {
	setCondition(conds, gen, sbv1.ReadyCondition, metav1.ConditionTrue, reason, msg)
	apimeta.RemoveStatusCondition(conds, sbv1.ReconcilingCondition)
	apimeta.RemoveStatusCondition(conds, sbv1.StalledCondition)
}

// markReconciling records work under way: the operator waits for a result or retries.
func markReconciling(conds *[]metav1.Condition, gen int64, reason, msg string) {
	setCondition(conds, gen, sbv1.ReadyCondition, metav1.ConditionFalse, reason, msg)
	setCondition(conds, gen, sbv1.ReconcilingCondition, metav1.ConditionTrue, reason, msg)
	apimeta.RemoveStatusCondition(conds, sbv1.StalledCondition)
}

// markStalled records that no progress is possible until a human changes something.
func markStalled(conds *[]metav1.Condition, gen int64, reason, msg string) {
	setCondition(conds, gen, sbv1.ReadyCondition, metav1.ConditionFalse, reason, msg)
	setCondition(conds, gen, sbv1.StalledCondition, metav1.ConditionTrue, reason, msg)
	apimeta.RemoveStatusCondition(conds, sbv1.ReconcilingCondition)
}

// markSuspended records that spec.suspend stops the operator.
func markSuspended(conds *[]metav1.Condition, gen int64) {
	setCondition(conds, gen, sbv1.ReadyCondition, metav1.ConditionFalse, sbv1.ReasonSuspended,
		"reconciliation is suspended (spec.suspend is true)")
	apimeta.RemoveStatusCondition(conds, sbv1.ReconcilingCondition)
	apimeta.RemoveStatusCondition(conds, sbv1.StalledCondition)
}

func setCondition(conds *[]metav1.Condition, gen int64, typ string, status metav1.ConditionStatus, reason, msg string) {
	apimeta.SetStatusCondition(conds, metav1.Condition{
		Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: gen,
	})
}

// stalledError is a problem only a change of the object (or of what it refers to) can
// fix: the reconcile records Stalled with its reason and does not retry.
type stalledError struct {
	reason string
	msg    string
}

func (e *stalledError) Error() string { return e.msg }

func stalled(reason, msg string) error { return &stalledError{reason: reason, msg: msg} }

// settle records in the kstatus conditions how a reconcile's work ended: a stalledError
// as Stalled (nil: not retried), another error as Reconciling (returned, to be retried
// with back-off), and success through ok.
func settle(conds *[]metav1.Condition, gen int64, err error, ok func()) error {
	var stall *stalledError
	switch {
	case errors.As(err, &stall):
		markStalled(conds, gen, stall.reason, stall.msg)
		return nil
	case err != nil:
		markReconciling(conds, gen, sbv1.ReasonReconcileError, err.Error())
		return err
	}
	ok()
	return nil
}
