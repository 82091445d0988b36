// Package controllers holds the reconcilers of the switchboard.dev kinds: one file per
// kind, and per concern for the Number (sender objects, status).
package controllers

import (
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/controller"
)

// Options configure every controller of the manager.
type Options struct {
	// Controller holds the worker count and the retry rate limiter.
	Controller controller.Options
	// Sender configures the sender Deployments, and the inbox Deployments (which run
	// the same image and read the same database Secret).
	Sender SenderOptions
	// Quality configures the reads of the numbers' fields from the Graph API.
	Quality QualityOptions
}

// SetupWithManager registers the five controllers with the manager.
func SetupWithManager(mgr ctrl.Manager, opts Options) error {
	recorder := mgr.GetEventRecorder("switchboard-number")
	numbers := &NumberReconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Recorder:  recorder,
		Sender:    opts.Sender,
		Quality:   newQualityPoller(opts.Quality, recorder),
	}
	if err := numbers.SetupWithManager(mgr, opts.Controller); err != nil {
		return err
	}
	routing := NewRoutingPolicyReconciler(mgr.GetClient())
	routing.Recorder = mgr.GetEventRecorder("switchboard-routingpolicy")
	if err := routing.SetupWithManager(mgr, opts.Controller); err != nil {
		return err
	}
	keywords := NewKeywordRuleReconciler(mgr.GetClient())
	keywords.Recorder = mgr.GetEventRecorder("switchboard-keywordrule")
	if err := keywords.SetupWithManager(mgr, opts.Controller); err != nil {
		return err
	}
	retention := NewRetentionPolicyReconciler(mgr.GetClient(), time.Now)
	retention.Recorder = mgr.GetEventRecorder("switchboard-retentionpolicy")
	if err := retention.SetupWithManager(mgr, opts.Controller); err != nil {
		return err
	}
	inboxes := &InboxReconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("switchboard-inbox"), Workload: opts.Sender}
	return inboxes.SetupWithManager(mgr, opts.Controller)
}
