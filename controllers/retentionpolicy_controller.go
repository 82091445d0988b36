package controllers

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/calendar"
)

// NewRetentionPolicyReconciler reconciles RetentionPolicies: it checks the periods, the
// schedule and its time zone, reports the next run and counts the selected Numbers.
func NewRetentionPolicyReconciler(c client.Client, now func() time.Time) *policyReconciler[*sbv1.RetentionPolicy] {
	return &policyReconciler[*sbv1.RetentionPolicy]{Client: c, kind: policyKind[*sbv1.RetentionPolicy]{
		name:    "retentionpolicy",
		newObj:  func() *sbv1.RetentionPolicy { return &sbv1.RetentionPolicy{} },
		newList: func() client.ObjectList { return &sbv1.RetentionPolicyList{} },
		status:  func(p *sbv1.RetentionPolicy) any { return p.Status },
		check: func(_ context.Context, _ client.Client, p *sbv1.RetentionPolicy, _ []sbv1.Number) (time.Duration, error) {
			t := now()
			next, err := nextRetentionRun(p.Spec, t)
			if err != nil {
				p.Status.NextRun = nil
				return 0, err
			}
			p.Status.NextRun = &metav1.Time{Time: next}
			// Look again once the run is due, so status.nextRun never lies in the past.
			return next.Sub(t) + time.Second, nil
		},
	}}
}

// nextRetentionRun validates the policy's periods, and its schedule and time zone with
// calendar.ParseSchedule, and returns when the next purge is due after now.
func nextRetentionRun(spec sbv1.RetentionPolicySpec, now time.Time) (time.Time, error) {
	periods := map[string]sbv1.Period{"spec.messages": spec.Messages, "spec.media": spec.Media, "spec.auditLog": spec.AuditLog}
	for _, field := range []string{"spec.messages", "spec.media", "spec.auditLog"} {
		if p := periods[field]; p != "" {
			if _, err := sbv1.ParsePeriod(p); err != nil {
				return time.Time{}, stalled(sbv1.ReasonInvalidSpec, fmt.Sprintf("%s: %v", field, err))
			}
		}
	}
	schedule, err := calendar.ParseSchedule(spec.Schedule, spec.TimeZone)
	if err != nil {
		return time.Time{}, invalidSpec(err)
	}
	return schedule.Next(now), nil
}
