package controllers

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// applyAll declares a workload's objects (the sender's or the inbox's) with server-side
// apply under FieldOwner. Forcing ownership restores any field someone edited by hand.
func applyAll(ctx context.Context, c client.Client, what string, objects []runtime.ApplyConfiguration) error {
	for _, obj := range objects {
		if err := c.Apply(ctx, obj, FieldOwner, client.ForceOwnership); err != nil {
			return fmt.Errorf("applying %s object: %w", what, err)
		}
	}
	return nil
}

// readOnlyList is the List option of the cached lists that are only read: their items
// point into the informer cache instead of being deep copies, so that a reconcile or a
// watch mapping that lists a namespace's 1,000 Numbers allocates no copy of them
// (bench/scale). Code that lists with it must not change the items.
var readOnlyList = client.UnsafeDisableDeepCopy

// cachedDeployment reads a workload's Deployment from the cache; nil when not there yet.
func cachedDeployment(ctx context.Context, c client.Client, namespace, name string) (*appsv1.Deployment, error) {
	dep := &appsv1.Deployment{}
	err := c.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, dep)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return dep, err
}
