package controllers

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	policyv1ac "k8s.io/client-go/applyconfigurations/policy/v1"
	rbacv1ac "k8s.io/client-go/applyconfigurations/rbac/v1"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/contract"
)

// inboxWorkload is what the inbox objects are rendered from: the Inbox and the Numbers
// it serves (the credentials Secrets its Role may read follow them).
type inboxWorkload struct {
	inbox  *sbv1.Inbox
	served []sbv1.Number
	opts   SenderOptions
}

// inboxName is the name of every object declared for the Inbox.
func inboxName(ib *sbv1.Inbox) string { return contract.InboxObjectName(ib.Name) }

// defaultInboxReplicas is the replica count when spec.replicas is unset (the API
// server defaults it too).
const defaultInboxReplicas = 2

func inboxReplicas(ib *sbv1.Inbox) int32 {
	if ib.Spec.Replicas != nil {
		return *ib.Spec.Replicas
	}
	return defaultInboxReplicas
}

func inboxLabels(ib *sbv1.Inbox) map[string]string {
	return map[string]string{
		nameLabel:           "switchboard",
		componentLabel:      "inbox",
		instanceLabel:       inboxName(ib),
		ManagedByLabel:      ManagerName,
		contract.InboxLabel: ib.Name,
	}
}

// inboxSelector selects the Inbox's pods.
func inboxSelector(ib *sbv1.Inbox) map[string]string {
	return map[string]string{contract.InboxLabel: ib.Name, componentLabel: "inbox"}
}

// objects lists the apply configurations of the Inbox, in the order they are applied:
// the identity and its permissions before the pods that use them.
func (w inboxWorkload) objects() []runtime.ApplyConfiguration {
	return []runtime.ApplyConfiguration{w.serviceAccount(), w.role(), w.roleBinding(), w.service(), w.podDisruptionBudget(), w.deployment()}
}

func (w inboxWorkload) meta() (string, string, map[string]string, *metav1ac.OwnerReferenceApplyConfiguration) {
	return inboxName(w.inbox), w.inbox.Namespace, inboxLabels(w.inbox), controllerRef("Inbox", w.inbox)
}

// serviceAccount is the identity of the inbox pods.
func (w inboxWorkload) serviceAccount() *corev1ac.ServiceAccountApplyConfiguration {
	name, ns, labels, owner := w.meta()
	return corev1ac.ServiceAccount(name, ns).WithLabels(labels).WithOwnerReferences(owner)
}

// role lets the inbox read the Numbers and policies of its namespace, patch the Numbers
// it serves (to ask for a quality refresh), the RetentionPolicies' status (lastRun and
// purged, which it executes) and its own Inbox's status, hold its Lease,
// emit events, and read only the Secrets it needs: the credentials of the Numbers it
// serves, those named in spec.secretRefs, the initial admin Secret and the single
// sign-on client secret (spec.auth.oidc.clientSecretRef). A rule with no resourceNames would grant
// every object of its resource, so a name-scoped rule with no names is left out.
func (w inboxWorkload) role() *rbacv1ac.RoleApplyConfiguration {
	name, ns, labels, owner := w.meta()
	group := sbv1.GroupVersion.Group
	rules := []*rbacv1ac.PolicyRuleApplyConfiguration{
		rbacv1ac.PolicyRule().WithAPIGroups(group).
			WithResources("numbers", "routingpolicies", "keywordrules", "retentionpolicies").WithVerbs("get", "list", "watch"),
		rbacv1ac.PolicyRule().WithAPIGroups(group).WithResources("retentionpolicies/status").WithVerbs("patch"),
		rbacv1ac.PolicyRule().WithAPIGroups(group).WithResources("inboxes").
			WithResourceNames(w.inbox.Name).WithVerbs("get", "list", "watch"),
		rbacv1ac.PolicyRule().WithAPIGroups(group).WithResources("inboxes/status").
			WithResourceNames(w.inbox.Name).WithVerbs("get", "patch"),
		rbacv1ac.PolicyRule().WithAPIGroups("coordination.k8s.io").WithResources("leases").WithVerbs("create"),
		rbacv1ac.PolicyRule().WithAPIGroups("coordination.k8s.io").WithResources("leases").
			WithResourceNames(name).WithVerbs("get", "update", "patch"),
		rbacv1ac.PolicyRule().WithAPIGroups("", "events.k8s.io").WithResources("events").WithVerbs("create", "patch"),
	}
	if served := numberNames(w.served, len(w.served)); len(served) > 0 {
		rules = append(rules, rbacv1ac.PolicyRule().WithAPIGroups(group).WithResources("numbers").
			WithResourceNames(served...).WithVerbs("patch"))
	}
	if secrets := w.secretNames(); len(secrets) > 0 {
		rules = append(rules, rbacv1ac.PolicyRule().WithAPIGroups("").WithResources("secrets").
			WithResourceNames(secrets...).WithVerbs("get", "watch"))
	}
	return rbacv1ac.Role(name, ns).WithLabels(labels).WithOwnerReferences(owner).WithRules(rules...)
}

// secretNames are the Secrets the inbox may read, sorted and without repeats.
func (w inboxWorkload) secretNames() []string {
	var names []string
	for i := range w.served {
		names = append(names, w.served[i].Spec.CredentialsRef.Name)
	}
	for _, ref := range w.inbox.Spec.SecretRefs {
		names = append(names, ref.Name)
	}
	names = append(names, initialAdminSecretName(w.inbox))
	if a := w.inbox.Spec.Auth; a != nil && a.OIDC != nil {
		names = append(names, a.OIDC.ClientSecretRef.Name)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// roleBinding binds role to the inbox's ServiceAccount.
func (w inboxWorkload) roleBinding() *rbacv1ac.RoleBindingApplyConfiguration {
	name, ns, labels, owner := w.meta()
	return rbacv1ac.RoleBinding(name, ns).WithLabels(labels).WithOwnerReferences(owner).
		WithRoleRef(rbacv1ac.RoleRef().WithAPIGroup("rbac.authorization.k8s.io").WithKind("Role").WithName(name)).
		WithSubjects(rbacv1ac.Subject().WithKind("ServiceAccount").WithName(name).WithNamespace(ns))
}

// service puts the inbox pods' traffic port behind one ClusterIP Service, the target
// of the Ingress that Meta's webhooks and the agents reach.
func (w inboxWorkload) service() *corev1ac.ServiceApplyConfiguration {
	name, ns, labels, owner := w.meta()
	return corev1ac.Service(name, ns).WithLabels(labels).WithOwnerReferences(owner).
		WithSpec(corev1ac.ServiceSpec().
			WithType(corev1.ServiceTypeClusterIP).
			WithSelector(inboxSelector(w.inbox)).
			WithPorts(corev1ac.ServicePort().WithName(contract.InboxHTTPPortName).WithProtocol(corev1.ProtocolTCP).
				WithPort(contract.InboxServicePort).WithTargetPort(intstr.FromString(contract.InboxHTTPPortName))))
}

// podDisruptionBudget lets voluntary disruptions (node drains) take one inbox pod at a
// time: with two or more replicas one keeps receiving webhooks, and a single replica
// never blocks a drain.
func (w inboxWorkload) podDisruptionBudget() *policyv1ac.PodDisruptionBudgetApplyConfiguration {
	name, ns, labels, owner := w.meta()
	return policyv1ac.PodDisruptionBudget(name, ns).WithLabels(labels).WithOwnerReferences(owner).
		WithSpec(policyv1ac.PodDisruptionBudgetSpec().
			WithMaxUnavailable(intstr.FromInt32(1)).
			WithSelector(metav1ac.LabelSelector().WithMatchLabels(inboxSelector(w.inbox))))
}

// deployment declares `switchboard inbox --inbox NS/NAME`: every replica serves, new pods
// come up before old ones go, spread across nodes and zones.
func (w inboxWorkload) deployment() *appsv1ac.DeploymentApplyConfiguration {
	name, ns, labels, owner := w.meta()
	return appsv1ac.Deployment(name, ns).WithLabels(labels).WithOwnerReferences(owner).
		WithSpec(appsv1ac.DeploymentSpec().
			WithReplicas(inboxReplicas(w.inbox)).
			WithSelector(metav1ac.LabelSelector().WithMatchLabels(inboxSelector(w.inbox))).
			WithStrategy(appsv1ac.DeploymentStrategy().WithType("RollingUpdate").
				WithRollingUpdate(appsv1ac.RollingUpdateDeployment().
					WithMaxUnavailable(intstr.FromInt32(0)).WithMaxSurge(intstr.FromInt32(1)))).
			WithTemplate(corev1ac.PodTemplateSpec().
				WithLabels(labels).
				WithAnnotations(map[string]string{"kubectl.kubernetes.io/default-container": contract.InboxContainer}).
				WithSpec(w.podSpec())))
}

func (w inboxWorkload) podSpec() *corev1ac.PodSpecApplyConfiguration {
	return corev1ac.PodSpec().
		WithServiceAccountName(inboxName(w.inbox)).
		WithAutomountServiceAccountToken(true).
		WithEnableServiceLinks(false).
		WithTerminationGracePeriodSeconds(30).
		WithSecurityContext(restrictedPodSecurity()).
		WithTopologySpreadConstraints(w.spread("kubernetes.io/hostname"), w.spread("topology.kubernetes.io/zone")).
		WithContainers(w.container())
}

// spread asks the scheduler to spread the pods of one rollout over the topology key,
// without refusing to schedule when it cannot.
func (w inboxWorkload) spread(key string) *corev1ac.TopologySpreadConstraintApplyConfiguration {
	return corev1ac.TopologySpreadConstraint().
		WithMaxSkew(1).WithTopologyKey(key).WithWhenUnsatisfiable(corev1.ScheduleAnyway).
		WithLabelSelector(metav1ac.LabelSelector().WithMatchLabels(inboxSelector(w.inbox))).
		WithMatchLabelKeys("pod-template-hash")
}

func (w inboxWorkload) container() *corev1ac.ContainerApplyConfiguration {
	return corev1ac.Container().
		WithName(contract.InboxContainer).
		WithImage(w.opts.Image).
		WithImagePullPolicy(w.opts.ImagePullPolicy).
		WithCommand("switchboard").
		WithArgs(append(contract.InboxArgs(w.inbox.Namespace, w.inbox.Name), w.mediaArgs()...)...).
		WithEnv(append(append(podIdentityEnv(contract.InboxPodNameEnv, contract.InboxPodNamespaceEnv), databaseURLEnv(w.opts)), w.mediaEnv()...)...).
		WithPorts(
			corev1ac.ContainerPort().WithName(contract.InboxHTTPPortName).WithContainerPort(contract.InboxHTTPPort).WithProtocol(corev1.ProtocolTCP),
			corev1ac.ContainerPort().WithName(contract.InboxMetricsPortName).WithContainerPort(contract.InboxMetricsPort).WithProtocol(corev1.ProtocolTCP)).
		WithLivenessProbe(httpProbe(contract.InboxHealthPath, contract.InboxMetricsPortName, 15)).
		WithReadinessProbe(httpProbe(contract.InboxReadyPath, contract.InboxMetricsPortName, 5)).
		WithResources(inboxResources(w.inbox.Spec.Resources)).
		WithSecurityContext(restrictedContainerSecurity())
}

// mediaArgs are the flags of spec.media's bucket.
func (w inboxWorkload) mediaArgs() []string {
	m := w.inbox.Spec.Media
	if m == nil {
		return nil
	}
	return contract.InboxMediaS3Args(m.S3.Bucket, m.S3.Endpoint, m.S3.Region, m.S3.PathStyle)
}

// mediaEnv gives the bucket's credentials from their Secret (read by the kubelet).
func (w inboxWorkload) mediaEnv() []*corev1ac.EnvVarApplyConfiguration {
	m := w.inbox.Spec.Media
	if m == nil || m.S3.CredentialsSecretRef == nil {
		return nil
	}
	ref := func(env, key string) *corev1ac.EnvVarApplyConfiguration {
		return corev1ac.EnvVar().WithName(env).WithValueFrom(corev1ac.EnvVarSource().WithSecretKeyRef(
			corev1ac.SecretKeySelector().WithName(m.S3.CredentialsSecretRef.Name).WithKey(key)))
	}
	return []*corev1ac.EnvVarApplyConfiguration{
		ref(contract.InboxMediaS3AccessKeyEnv, contract.MediaS3AccessKeyIDKey),
		ref(contract.InboxMediaS3SecretKeyEnv, contract.MediaS3SecretAccessKeyKey),
	}
}

// The inbox container's resources when spec.resources leaves them unset.
var (
	inboxDefaultRequests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")}
	inboxDefaultLimits   = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("512Mi")}
)

// inboxResources overlays spec.resources on the defaults. Where a value set in the spec
// meets a default on the other side (a request above the default limit, a limit below
// the default request), the default yields, so that the pod stays valid: admission
// already refuses a limit below its request when both are set.
func inboxResources(spec *sbv1.InboxResources) *corev1ac.ResourceRequirementsApplyConfiguration {
	req, lim := inboxDefaultRequests.DeepCopy(), inboxDefaultLimits.DeepCopy()
	if spec == nil {
		spec = &sbv1.InboxResources{}
	}
	overlay(req, spec.Requests)
	overlay(lim, spec.Limits)
	for k, r := range req {
		l, ok := lim[k]
		switch _, limitSet := spec.Limits[string(k)]; {
		case !ok || r.Cmp(l) <= 0:
		case limitSet:
			req[k] = l
		default:
			lim[k] = r
		}
	}
	return corev1ac.ResourceRequirements().WithRequests(req).WithLimits(lim)
}

func overlay(dst corev1.ResourceList, src map[string]resource.Quantity) {
	for k, v := range src {
		dst[corev1.ResourceName(k)] = v
	}
}
