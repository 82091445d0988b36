package controllers

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
)

// TestGoldenInboxObjects compares the rendered inbox objects with the files in
// testdata/golden. After an intended change: make update-golden.
func TestGoldenInboxObjects(t *testing.T) {
	ib := newInbox("acme", "support", nil, func(i *sbv1.Inbox) {
		i.UID = "5d1c9a3e-8f2b-4c6d-a7e1-3b9f0c2d4e55"
		i.Spec.SecretRefs = []sbv1.LocalObjectReference{{Name: "crm-token"}}
	})
	w := inboxWorkload{inbox: ib, opts: SenderOptions{Image: "switchboard:0.1.0", ImagePullPolicy: corev1.PullIfNotPresent,
		DatabaseSecret: "switchboard-database", DatabaseSecretKey: "dsn"},
		served: []sbv1.Number{*newNumber("acme", "support-en", withCredentials("acme-support-whatsapp")),
			*newNumber("acme", "sales-es", withCredentials("acme-sales-whatsapp")),
			*newNumber("acme", "sales-pt", withCredentials("acme-sales-whatsapp"))}}
	for name, obj := range map[string]any{
		"inbox-deployment.yaml":          w.deployment(),
		"inbox-service.yaml":             w.service(),
		"inbox-poddisruptionbudget.yaml": w.podDisruptionBudget(),
		"inbox-serviceaccount.yaml":      w.serviceAccount(),
		"inbox-role.yaml":                w.role(),
		"inbox-rolebinding.yaml":         w.roleBinding(),
	} {
		t.Run(name, func(t *testing.T) { compareGolden(t, name, obj) })
	}
}

// TestInboxRoleWithoutNames: with no Number served and no Secret named, the Role has no
// rule on Secrets and no patch on Numbers (an empty resourceNames would grant them all).
func TestInboxRoleWithoutNames(t *testing.T) {
	role := inboxWorkload{inbox: newInbox("acme", "empty", nil)}.role()
	for _, r := range role.Rules {
		named := slices.Contains(r.Resources, "secrets") || (slices.Contains(r.Resources, "numbers") && slices.Contains(r.Verbs, "patch"))
		if named && len(r.ResourceNames) == 0 {
			t.Errorf("rule without resourceNames grants %v on every %v", r.Verbs, r.Resources)
		}
	}
}

func TestInboxResources(t *testing.T) {
	q := resource.MustParse
	for _, tc := range []struct {
		name          string
		spec          *sbv1.InboxResources
		wantReqMemory string
		wantLimMemory string
	}{
		{"defaults", nil, "128Mi", "512Mi"},
		{"request above the default limit raises it", &sbv1.InboxResources{Requests: map[string]resource.Quantity{"memory": q("1Gi")}}, "1Gi", "1Gi"},
		{"limit below the default request lowers it", &sbv1.InboxResources{Limits: map[string]resource.Quantity{"memory": q("64Mi")}}, "64Mi", "64Mi"},
		{"both set", &sbv1.InboxResources{Requests: map[string]resource.Quantity{"memory": q("200Mi")}, Limits: map[string]resource.Quantity{"memory": q("300Mi")}}, "200Mi", "300Mi"},
	} {
		r := inboxResources(tc.spec)
		req, lim := (*r.Requests)[corev1.ResourceMemory], (*r.Limits)[corev1.ResourceMemory]
		if req.Cmp(q(tc.wantReqMemory)) != 0 || lim.Cmp(q(tc.wantLimMemory)) != 0 {
			t.Errorf("%s: memory request %s limit %s, want %s and %s", tc.name, req.String(), lim.String(), tc.wantReqMemory, tc.wantLimMemory)
		}
	}
}

func TestInboxMediaBucket(t *testing.T) {
	in := newInbox("acme", "main", nil)
	if c := (inboxWorkload{inbox: in}).container(); len(c.Args) != 4 || len(c.Env) != 3 {
		t.Fatalf("without spec.media: args %v, %d env vars", c.Args, len(c.Env))
	}
	in.Spec.Media = &sbv1.InboxMedia{S3: sbv1.S3Bucket{Bucket: "acme-media", Endpoint: "https://minio.acme:9000", PathStyle: true,
		CredentialsSecretRef: &sbv1.LocalObjectReference{Name: "media-keys"}}}
	c := inboxWorkload{inbox: in}.container()
	if got := strings.Join(c.Args, " "); !strings.HasSuffix(got, "--media-s3-bucket=acme-media --media-s3-endpoint=https://minio.acme:9000 --media-s3-path-style") {
		t.Errorf("args %q", got)
	}
	keys := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && *e.ValueFrom.SecretKeyRef.Name == "media-keys" {
			keys[*e.Name] = *e.ValueFrom.SecretKeyRef.Key
		}
	}
	if keys["SWITCHBOARD_MEDIA_S3_ACCESS_KEY_ID"] != "accessKeyID" || keys["SWITCHBOARD_MEDIA_S3_SECRET_ACCESS_KEY"] != "secretAccessKey" {
		t.Errorf("credentials env %v", keys)
	}
}
