package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/calendar"
)

// RetentionPolicyResource is the RetentionPolicies the inbox executes.
var RetentionPolicyResource = sbv1.GroupVersion.WithResource("retentionpolicies")

// RunNowAnnotation on a RetentionPolicy asks the inbox to run it at once; any new value
// runs it once more (like Flux's reconcile.fluxcd.io/requestedAt).
const RunNowAnnotation = "switchboard.dev/run-now"

// InboxFieldManager is the field manager of what the inbox writes to objects' status.
const InboxFieldManager = "switchboard-inbox"

// Retention is one RetentionPolicy as the inbox executes it for the Numbers it serves.
type Retention struct {
	Name    string
	Created time.Time
	// Numbers are the served Numbers the policy selects and that no legal hold holds
	// (a Number selected by any RetentionPolicy with legalHold: true is never purged).
	Numbers []string
	// Held are the served Numbers the policy selects that a legal hold keeps whole.
	Held []string
	// Messages, Media, AuditLog are the periods (0: not set; Media then follows
	// Messages, and an unset AuditLog keeps the audit log).
	Messages, Media, AuditLog time.Duration
	LegalHold                 bool
	Schedule                  *calendar.Schedule
	RunNow                    string // the run-now annotation's value ("" when absent)
}

// Retention returns the namespace's RetentionPolicies that select Numbers this Inbox
// serves, by name, compiled. A policy the operator would report InvalidSpec for (a bad
// period, schedule or selector), or that is suspended, is left out and named in the
// returned error list, which never stops the others.
func (s *Source) Retention() ([]Retention, []error) {
	if s.snap.Load() == nil { // the informers are set before the first Snapshot is stored
		return nil, nil
	}
	objs, err := s.retention.List(labels.Everything())
	if err != nil {
		return nil, []error{err}
	}
	numbers, err := s.served()
	if err != nil {
		return nil, []error{err}
	}
	pols := convertAll[sbv1.RetentionPolicy](objs)
	sort.Slice(pols, func(i, j int) bool { return pols[i].Name < pols[j].Name })
	held := map[string]bool{}
	selected := make([][]string, len(pols))
	var errs []error
	for i, p := range pols {
		sel, err := metav1.LabelSelectorAsSelector(&p.Spec.NumberSelector)
		if err != nil {
			errs = append(errs, fmt.Errorf("RetentionPolicy %s: spec.numberSelector: %w", p.Name, err))
			continue
		}
		for _, n := range numbers {
			if sel.Matches(labels.Set(n.Labels)) {
				selected[i] = append(selected[i], n.Name)
				if p.Spec.LegalHold {
					held[n.Name] = true
				}
			}
		}
	}
	var out []Retention
	for i, p := range pols {
		if len(selected[i]) == 0 || p.Spec.Suspend {
			continue
		}
		r, err := compileRetention(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("RetentionPolicy %s: %w", p.Name, err))
			continue
		}
		for _, n := range selected[i] {
			if held[n] {
				r.Held = append(r.Held, n)
			} else {
				r.Numbers = append(r.Numbers, n)
			}
		}
		out = append(out, r)
	}
	return out, errs
}

func compileRetention(p sbv1.RetentionPolicy) (Retention, error) {
	r := Retention{Name: p.Name, Created: p.CreationTimestamp.Time, LegalHold: p.Spec.LegalHold,
		RunNow: p.Annotations[RunNowAnnotation]}
	var err error
	if r.Messages, err = sbv1.ParsePeriod(p.Spec.Messages); err != nil {
		return r, fmt.Errorf("spec.messages: %w", err)
	}
	for _, f := range []struct {
		name string
		p    sbv1.Period
		d    *time.Duration
	}{{"spec.media", p.Spec.Media, &r.Media}, {"spec.auditLog", p.Spec.AuditLog, &r.AuditLog}} {
		if f.p == "" {
			continue
		}
		if *f.d, err = sbv1.ParsePeriod(f.p); err != nil {
			return r, fmt.Errorf("%s: %w", f.name, err)
		}
	}
	schedule := p.Spec.Schedule
	if schedule == "" {
		schedule = "0 3 * * *"
	}
	if r.Schedule, err = calendar.ParseSchedule(schedule, p.Spec.TimeZone); err != nil {
		return r, err
	}
	return r, nil
}

// RetentionRun is what a run of a RetentionPolicy purged, for its status.
type RetentionRun struct {
	Finished                  time.Time
	Messages, Media, AuditLog int64
}

// PatchRetentionStatus writes status.lastRun and status.purged of a RetentionPolicy with
// server-side apply as the field manager switchboard-inbox (the manager owns the rest of
// the status, status.nextRun included). The inbox's Role grants patch on
// retentionpolicies/status.
func (s *Source) PatchRetentionStatus(ctx context.Context, policy string, run RetentionRun) error {
	body, err := json.Marshal(map[string]any{
		"apiVersion": sbv1.GroupVersion.String(), "kind": "RetentionPolicy",
		"metadata": map[string]any{"name": policy, "namespace": s.inbox.Namespace},
		"status": map[string]any{
			"lastRun": metav1.NewTime(run.Finished.UTC().Truncate(time.Second)),
			"purged":  sbv1.PurgedCounts{Messages: run.Messages, Media: run.Media, AuditLog: run.AuditLog},
		},
	})
	if err != nil {
		return err
	}
	force := true
	_, err = s.dyn.Resource(RetentionPolicyResource).Namespace(s.inbox.Namespace).Patch(ctx, policy, types.ApplyPatchType, body,
		metav1.PatchOptions{FieldManager: InboxFieldManager, Force: &force}, "status")
	return err
}
