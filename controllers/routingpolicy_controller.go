package controllers

import (
	"context"
	"fmt"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/calendar"
)

// NewRoutingPolicyReconciler reconciles RoutingPolicies: it checks the time zone and
// holidays, counts the selected Numbers and reports conflicts (a Number selected by an
// older RoutingPolicy).
func NewRoutingPolicyReconciler(c client.Client) *policyReconciler[*sbv1.RoutingPolicy] {
	return &policyReconciler[*sbv1.RoutingPolicy]{Client: c, kind: policyKind[*sbv1.RoutingPolicy]{
		name:           "routingpolicy",
		newObj:         func() *sbv1.RoutingPolicy { return &sbv1.RoutingPolicy{} },
		newList:        func() client.ObjectList { return &sbv1.RoutingPolicyList{} },
		status:         func(p *sbv1.RoutingPolicy) any { return p.Status },
		check:          checkRoutingPolicy,
		siblingsMatter: true,
	}}
}

func checkRoutingPolicy(ctx context.Context, c client.Client, p *sbv1.RoutingPolicy, numbers []sbv1.Number) (time.Duration, error) {
	if err := validateBusinessHours(p.Spec.BusinessHours); err != nil {
		return 0, err
	}
	var others sbv1.RoutingPolicyList
	if err := c.List(ctx, &others, client.InNamespace(p.Namespace)); err != nil {
		return 0, fmt.Errorf("listing RoutingPolicies: %w", err)
	}
	return 0, routingConflict(p, others.Items, numbers)
}

// validateBusinessHours compiles spec.businessHours with calendar.Compile, the function
// the inbox uses: the time zone exists (and is not Local), the windows are HH:MM with
// from before to, the holidays are real dates.
func validateBusinessHours(bh *sbv1.BusinessHours) error {
	_, err := calendar.Compile(bh)
	return invalidSpec(err)
}

// routingConflict reports the Numbers of p that an older RoutingPolicy already selects.
func routingConflict(p *sbv1.RoutingPolicy, others []sbv1.RoutingPolicy, numbers []sbv1.Number) error {
	_, lost := splitClaims(p, others, numbers)
	return conflictError(lost, "is routed by the older RoutingPolicy")
}
