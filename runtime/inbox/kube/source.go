package kube

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/store"
)

// NumberResource is the Numbers the inbox watches.
var NumberResource = sbv1.GroupVersion.WithResource("numbers")

// Source follows the Inbox, the Numbers of its namespace and the credentials Secrets of
// the Numbers it serves, and keeps an immutable Snapshot of what the inbox serves,
// replaced atomically on every change.
//
// The Numbers an Inbox serves are those of its namespace whose status.inbox names it
// (contract.InboxFlag): the manager decides (the oldest Inbox selecting a Number wins)
// and grants the inbox's Role the credentials Secrets of exactly those Numbers. Secrets
// are read with GET (the Role names them with resourceNames): on every change of a
// Number, and every Resync for rotated credentials.
type Source struct {
	inbox   store.NumberRef // the Inbox's namespace and name
	dyn     dynamic.Interface
	secrets kubernetes.Interface
	log     *slog.Logger
	// Resync is how often Secrets are read again (default 30 s).
	Resync time.Duration
	// OnSnapshot, when set, is called with each new Snapshot (metrics, readiness).
	OnSnapshot func(*Snapshot)
	// CompileSeconds, when set, observes how long compiling the Numbers' policies
	// (keyword rules, business hours) took, per snapshot.
	CompileSeconds interface{ Observe(float64) }

	snap    atomic.Pointer[Snapshot]
	changed chan struct{}
	numbers cache.GenericLister
	rules   cache.GenericLister
	routing cache.GenericLister
	// retention is read by the retention runner (Retention), not part of the Snapshot.
	retention cache.GenericLister
	inboxes   cache.GenericLister // the one Inbox
}

// NewSource prepares a Source for the Inbox namespace/name; Run starts it.
func NewSource(cfg *rest.Config, inbox store.NumberRef, log *slog.Logger) (*Source, error) {
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &Source{inbox: inbox, dyn: dyn, secrets: cs, log: log, Resync: 30 * time.Second,
		changed: make(chan struct{}, 1)}, nil
}

// Snapshot returns the current Snapshot, or nil before the first one is built.
func (s *Source) Snapshot() *Snapshot { return s.snap.Load() }

// Run starts the informers and rebuilds the Snapshot on every change until ctx ends.
func (s *Source) Run(ctx context.Context) {
	all := dynamicinformer.NewFilteredDynamicSharedInformerFactory(s.dyn, 10*time.Minute, s.inbox.Namespace, nil)
	s.numbers = s.inform(all, NumberResource)
	s.rules = s.inform(all, KeywordRuleResource)
	s.routing = s.inform(all, RoutingPolicyResource)
	s.retention = all.ForResource(RetentionPolicyResource).Lister()
	// The Inbox itself, by name: its Role grants list and watch on that name only.
	one := dynamicinformer.NewFilteredDynamicSharedInformerFactory(s.dyn, 10*time.Minute, s.inbox.Namespace,
		func(o *metav1.ListOptions) { o.FieldSelector = "metadata.name=" + s.inbox.Name })
	s.inboxes = s.inform(one, InboxResource)
	all.Start(ctx.Done())
	one.Start(ctx.Done())
	all.WaitForCacheSync(ctx.Done())
	one.WaitForCacheSync(ctx.Done())
	tick := time.NewTicker(s.Resync)
	defer tick.Stop()
	for {
		s.rebuild(ctx)
		select {
		case <-ctx.Done():
			all.Shutdown()
			one.Shutdown()
			return
		case <-s.changed:
		case <-tick.C:
		}
	}
}

// inform registers an informer that rebuilds the snapshot on any change.
func (s *Source) inform(f dynamicinformer.DynamicSharedInformerFactory, gvr schema.GroupVersionResource) cache.GenericLister {
	gi := f.ForResource(gvr)
	_, _ = gi.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { s.poke() }, UpdateFunc: func(any, any) { s.poke() }, DeleteFunc: func(any) { s.poke() }})
	return gi.Lister()
}

func (s *Source) poke() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// rebuild computes and swaps in a new Snapshot; on error the previous one stays.
func (s *Source) rebuild(ctx context.Context) {
	numbers, err := s.served()
	if err == nil {
		var pols policies
		pols, err = listPolicies(s.rules, s.routing)
		if err == nil {
			s.swap(ctx, numbers, pols)
			return
		}
	}
	s.log.Info("the Inbox's Numbers are not known yet", "inbox", s.inbox.String(), "reason", err.Error())
}

// swap builds the Snapshot of the served Numbers, with their credentials and compiled
// policies, and makes it current.
func (s *Source) swap(ctx context.Context, numbers []*sbv1.Number, pols policies) {
	var out []Number
	var compiling time.Duration
	for _, num := range numbers {
		n, err := s.withCredentials(ctx, num)
		if err != nil {
			s.log.Error("a served Number's credentials cannot be read; its webhooks are refused", "number", num.Name, "error", err)
			continue
		}
		start := time.Now()
		n.Policy = pols.compile(num, s.log)
		compiling += time.Since(start)
		out = append(out, n)
	}
	if s.CompileSeconds != nil {
		s.CompileSeconds.Observe(compiling.Seconds())
	}
	snap := NewSnapshot(s.inbox.Namespace, out)
	snap.Access = s.access(ctx, pols)
	var prev *Integrations
	if old := s.snap.Load(); old != nil {
		prev = old.Integrations
	}
	snap.Integrations = s.readIntegrations(ctx, prev)
	s.snap.Store(snap)
	if s.OnSnapshot != nil {
		s.OnSnapshot(snap)
	}
}

// served lists the Numbers this Inbox serves: those whose status.inbox names it.
func (s *Source) served() ([]*sbv1.Number, error) {
	objs, err := s.numbers.List(labels.Everything())
	if err != nil {
		return nil, err
	}
	var out []*sbv1.Number
	for _, num := range convertAll[sbv1.Number](objs) {
		if num.Status.Inbox == s.inbox.Name {
			out = append(out, &num)
		}
	}
	return out, nil
}

// convertAll converts the informers' objects; one that does not convert is left out.
func convertAll[T any](objs []runtime.Object) []T {
	out := make([]T, 0, len(objs))
	for _, o := range objs {
		var v T
		if runtime.DefaultUnstructuredConverter.FromUnstructured(o.(*unstructured.Unstructured).Object, &v) == nil {
			out = append(out, v)
		}
	}
	return out
}

// withCredentials reads the Number's credentials Secret.
func (s *Source) withCredentials(ctx context.Context, num *sbv1.Number) (Number, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	name := num.Spec.CredentialsRef.Name
	sec, err := s.secrets.CoreV1().Secrets(num.Namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsForbidden(err) {
		return Number{}, fmt.Errorf("the Secret %s: %s", name, apierrors.ReasonForError(err))
	}
	if err != nil {
		return Number{}, fmt.Errorf("the Secret %s: %w", name, err)
	}
	return numberOf(num, sec), nil
}

func numberOf(num *sbv1.Number, sec *corev1.Secret) Number {
	skill := ""
	if num.Spec.Routing != nil {
		skill = num.Spec.Routing.DefaultSkill
	}
	return Number{
		DefaultSkill:  skill,
		Ref:           store.NumberRef{Namespace: num.Namespace, Name: num.Name},
		PhoneNumberID: num.Spec.PhoneNumberID, WABAID: num.Spec.BusinessAccountID,
		DisplayDigits: Digits(num.Spec.DisplayPhoneNumber),
		AppSecret:     string(sec.Data[sbv1.CredentialsAppSecretKey]),
		VerifyToken:   string(sec.Data[sbv1.CredentialsVerifyTokenKey]),
		AccessToken:   string(sec.Data[sbv1.CredentialsAccessTokenKey]),
		APIBaseURL:    num.Spec.APIBaseURL, APIVersion: num.Spec.APIVersion,
	}
}
