package controllers

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
)

// InitialAdminPasswordKey is the key of the initial admin Secret's password.
const InitialAdminPasswordKey = "password"

// initialAdminSecretName is the Secret holding the Inbox's initial admin password (the
// convention of Argo CD's argocd-initial-admin-secret): <inbox>-initial-admin.
func initialAdminSecretName(ib *sbv1.Inbox) string { return ib.Name + "-initial-admin" }

// +kubebuilder:rbac:groups="",resources=secrets,verbs=create

// ensureInitialAdmin creates the Secret <inbox>-initial-admin with a random password
// (24 characters of base64url, 144 bits from crypto/rand) when it does not exist; an
// existing Secret is never changed. The inbox creates the account "admin" from it when
// the Inbox has no enabled admin (docs/auth.md). The password is never logged, evented
// or written to the status. The Secret is owned by the Inbox (deleted with it).
func (r *InboxReconciler) ensureInitialAdmin(ctx context.Context, ib *sbv1.Inbox) error {
	key := client.ObjectKey{Namespace: ib.Namespace, Name: initialAdminSecretName(ib)}
	err := r.Get(ctx, key, &corev1.Secret{})
	if err == nil || !apierrors.IsNotFound(err) {
		return err
	}
	b := make([]byte, 18)
	_, _ = rand.Read(b) // never fails (Go 1.24+)
	sec := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace, Labels: inboxLabels(ib),
			OwnerReferences: []metav1.OwnerReference{{APIVersion: sbv1.GroupVersion.String(), Kind: "Inbox", Name: ib.Name,
				UID: ib.UID, Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}}},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{InitialAdminPasswordKey: []byte(base64.RawURLEncoding.EncodeToString(b))},
	}
	if err := r.Create(ctx, sec); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating the Secret %s: %s", key.Name, apierrors.ReasonForError(err))
	}
	r.Recorder.Eventf(ib, nil, corev1.EventTypeNormal, "InitialAdminSecretCreated", "Create",
		"created the Secret %s holding the initial admin password", key.Name)
	return nil
}
