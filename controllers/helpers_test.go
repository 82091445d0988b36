package controllers

import (
	"fmt"
	"testing"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// condition reads a condition of obj from the API server.
func condition(obj statusObject, typ string) (*metav1.Condition, error) {
	if err := k8sClient.Get(testCtx, client.ObjectKeyFromObject(obj), obj); err != nil {
		return nil, err
	}
	c := apimeta.FindStatusCondition(obj.GetConditions(), typ)
	if c == nil {
		return nil, fmt.Errorf("no %s condition yet; conditions: %v", typ, obj.GetConditions())
	}
	return c, nil
}

// expectCondition waits until obj has the condition typ with the status and reason.
func expectCondition(t *testing.T, obj statusObject, typ string, want metav1.ConditionStatus, reason string) *metav1.Condition {
	t.Helper()
	var got *metav1.Condition
	eventually(t, fmt.Sprintf("%s %s=%s/%s", obj.GetName(), typ, want, reason), func() error {
		c, err := condition(obj, typ)
		if err != nil {
			return err
		}
		if c.Status != want || c.Reason != reason {
			return fmt.Errorf("got %s=%s/%s: %s", typ, c.Status, c.Reason, c.Message)
		}
		got = c
		return nil
	})
	return got
}

// expectKstatus waits until kstatus computes the wanted status for obj: the same check
// Flux, Argo CD and `kubectl wait` rely on.
func expectKstatus(t *testing.T, obj client.Object, want status.Status) {
	t.Helper()
	eventually(t, fmt.Sprintf("kstatus of %s is %s", obj.GetName(), want), func() error {
		if err := k8sClient.Get(testCtx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		raw, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
		if err != nil {
			return err
		}
		res, err := status.Compute(&unstructured.Unstructured{Object: raw})
		if err != nil {
			return err
		}
		if res.Status != want {
			return fmt.Errorf("kstatus %s: %s", res.Status, res.Message)
		}
		return nil
	})
}

func mustCreate(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := k8sClient.Create(testCtx, o); err != nil {
			t.Fatalf("creating %T %s: %v", o, o.GetName(), err)
		}
	}
}
