package sender

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/contract"
	"github.com/switchboard-dev/switchboard/runtime/limits"
	"github.com/switchboard-dev/switchboard/runtime/store"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// numberSource follows the sender's own Number (its Role allows nothing else) and
// turns its status into limits.
type numberSource struct {
	cfg    *rest.Config
	c      client.WithWatch
	ref    store.NumberRef
	log    *slog.Logger
	limits chan Limits

	// identity is this process's name (the pod name), reported as the active sender.
	identity string

	// onNumber is told every version of the Number read (the rules follow its labels).
	onNumber func(*sbv1.Number)

	mu   sync.Mutex
	last *sbv1.Number
	// published are the limits last sent on the limits channel.
	published *Limits
}

func newNumberSource(cfg *rest.Config, ref store.NumberRef, log *slog.Logger) (*numberSource, error) {
	scheme := runtime.NewScheme()
	if err := sbv1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := corev1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := eventsv1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, err
	}
	return &numberSource{cfg: cfg, c: c, ref: ref, log: log, limits: make(chan Limits, 1)}, nil
}

// current reads the Number now.
func (n *numberSource) current(ctx context.Context) (*sbv1.Number, error) {
	num := &sbv1.Number{}
	if err := n.c.Get(ctx, client.ObjectKey{Namespace: n.ref.Namespace, Name: n.ref.Name}, num); err != nil {
		return nil, fmt.Errorf("reading Number %s: %w", n.ref, err)
	}
	n.setLast(num)
	return num, nil
}

func (n *numberSource) setLast(num *sbv1.Number) {
	n.mu.Lock()
	n.last = num
	n.mu.Unlock()
	if n.onNumber != nil {
		n.onNumber(num)
	}
}

// watch follows the Number and publishes its limits whenever they change.
func (n *numberSource) watch(ctx context.Context) {
	for ctx.Err() == nil {
		if err := n.watchOnce(ctx); err != nil && ctx.Err() == nil {
			n.log.Info("watching the Number; retrying", "error", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func (n *numberSource) watchOnce(ctx context.Context) error {
	num, err := n.current(ctx)
	if err != nil {
		return err
	}
	n.publish(num)
	w, err := n.c.Watch(ctx, &sbv1.NumberList{}, client.InNamespace(n.ref.Namespace),
		client.MatchingFields{"metadata.name": n.ref.Name}, &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: num.ResourceVersion}})
	if err != nil {
		return err
	}
	defer w.Stop()
	for ev := range w.ResultChan() {
		if ev.Type == watch.Error {
			return fmt.Errorf("watch error: %v", ev.Object)
		}
		if num, ok := ev.Object.(*sbv1.Number); ok && ev.Type == watch.Modified {
			n.setLast(num)
			n.publish(num)
		}
	}
	return nil
}

// publish replaces any unread limits with the newest, when they changed.
func (n *numberSource) publish(num *sbv1.Number) {
	l := limitsOf(num, time.Now())
	if n.published != nil && *n.published == l {
		return
	}
	n.published = &l
	select {
	case <-n.limits:
	default:
	}
	n.limits <- l
}

// limitsOf is what the Number's status says the sender may do; before the manager
// computed it, the same function the manager uses gives the (cautious) answer.
func limitsOf(num *sbv1.Number, now time.Time) Limits {
	if s := num.Status.Sending; s != nil && !num.Spec.Sending.GetPaused() {
		return Limits{MessagesPerSecond: s.MessagesPerSecond, CampaignPerMinute: s.CampaignPerMinute,
			UniqueRecipientsPer24h: s.UniqueRecipientsPer24h}
	}
	l := limits.ForNumber(num, now)
	return Limits{MessagesPerSecond: l.MessagesPerSecond, CampaignPerMinute: l.CampaignPerMinute,
		UniqueRecipientsPer24h: l.UniqueRecipientsPer24h}
}

// client builds the Cloud API client from the Number and its credentials Secret.
func (n *numberSource) client(ctx context.Context, num *sbv1.Number) (*whatsapp.Client, error) {
	secret := &corev1.Secret{}
	key := client.ObjectKey{Namespace: num.Namespace, Name: num.Spec.CredentialsRef.Name}
	if err := n.c.Get(ctx, key, secret); err != nil {
		return nil, fmt.Errorf("reading the credentials Secret %q: %w", key.Name, err)
	}
	return whatsapp.New(whatsapp.Options{
		BaseURL: num.Spec.APIBaseURL, APIVersion: num.Spec.APIVersion,
		AccessToken: string(secret.Data[sbv1.CredentialsAccessTokenKey]), HTTPClient: whatsapp.SharedHTTPClient(),
	})
}

// FieldOwner is the server-side-apply field manager of what the sender writes.
const FieldOwner = "switchboard-sender"

// reportDelivery applies the sender's own status fields (status.delivery).
func (n *numberSource) reportDelivery(ctx context.Context, d sbv1.DeliveryStatus) error {
	patch, err := json.Marshal(map[string]any{
		"apiVersion": sbv1.GroupVersion.String(), "kind": "Number",
		"metadata": map[string]any{"name": n.ref.Name, "namespace": n.ref.Namespace},
		"status":   map[string]any{"delivery": d},
	})
	if err != nil {
		return err
	}
	num := &sbv1.Number{ObjectMeta: metav1.ObjectMeta{Name: n.ref.Name, Namespace: n.ref.Namespace}}
	return n.c.Status().Patch(ctx, num, client.RawPatch(types.ApplyPatchType, patch),
		client.FieldOwner(FieldOwner), client.ForceOwnership)
}

// reportPause says so on the Number: Meta told it to stop sending. An event, and
// status.delivery.pausedUntil.
func (n *numberSource) reportPause(reason string, until time.Time) {
	n.mu.Lock()
	num := n.last
	n.mu.Unlock()
	if num == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := n.reportDelivery(ctx, sbv1.DeliveryStatus{ActiveSender: n.identity,
		PausedUntil: &metav1.Time{Time: until}, PauseReason: reason})
	if err != nil {
		n.log.Error("reporting the pause in the Number's status", "error", err)
	}
	now := metav1.NowMicro()
	ev := &eventsv1.Event{
		ObjectMeta:          metav1.ObjectMeta{GenerateName: num.Name + "-", Namespace: num.Namespace},
		EventTime:           now,
		ReportingController: "switchboard.dev/sender",
		ReportingInstance:   contract.SenderObjectName(num.Name),
		Action:              "Send",
		Reason:              "SendingPaused",
		Type:                corev1.EventTypeWarning,
		Note:                fmt.Sprintf("sending paused until %s: %s", until.UTC().Format(time.RFC3339), reason),
		Regarding: corev1.ObjectReference{APIVersion: sbv1.GroupVersion.String(), Kind: "Number",
			Namespace: num.Namespace, Name: num.Name, UID: num.UID},
	}
	if err := n.c.Create(ctx, ev); err != nil {
		n.log.Error("recording the pause event", "error", err)
	}
}
