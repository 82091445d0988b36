package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
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

// cronParser reads five-field cron expressions (minute hour day-of-month month day-of-week).
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// nextRetentionRun validates the policy's periods, schedule and time zone and returns
// when the next purge is due after now.
func nextRetentionRun(spec sbv1.RetentionPolicySpec, now time.Time) (time.Time, error) {
	periods := map[string]sbv1.Period{"spec.messages": spec.Messages, "spec.media": spec.Media, "spec.auditLog": spec.AuditLog}
	for _, field := range []string{"spec.messages", "spec.media", "spec.auditLog"} {
		if p := periods[field]; p != "" {
			if _, err := sbv1.ParsePeriod(p); err != nil {
				return time.Time{}, stalled(sbv1.ReasonInvalidSpec, fmt.Sprintf("%s: %v", field, err))
			}
		}
	}
	tzName := spec.TimeZone
	if tzName == "" {
		tzName = "UTC"
	}
	tz, err := loadZone(tzName)
	if err != nil {
		return time.Time{}, stalled(sbv1.ReasonInvalidSpec, fmt.Sprintf("spec.timeZone: unknown time zone %q", tzName))
	}
	if strings.Contains(spec.Schedule, "TZ=") || strings.HasPrefix(spec.Schedule, "@every") {
		return time.Time{}, stalled(sbv1.ReasonInvalidSpec, fmt.Sprintf(
			"spec.schedule: %q: use five cron fields or @yearly, @monthly, @weekly, @daily, @hourly, and spec.timeZone for the zone", spec.Schedule))
	}
	schedule, err := cronParser.Parse(spec.Schedule)
	if err != nil {
		return time.Time{}, stalled(sbv1.ReasonInvalidSpec, fmt.Sprintf("spec.schedule: %q is not a cron expression: %v", spec.Schedule, err))
	}
	return schedule.Next(now.In(tz)).UTC(), nil
}
