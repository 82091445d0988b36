package controllers

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	rbacv1ac "k8s.io/client-go/applyconfigurations/rbac/v1"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/contract"
)

// Labels on every object the operator declares for a Number's sender.
const (
	// NumberLabel names the Number a sender object belongs to. The manager's cache
	// selects sender objects by it.
	NumberLabel    = contract.NumberLabel
	componentLabel = "app.kubernetes.io/component"
	nameLabel      = "app.kubernetes.io/name"
	instanceLabel  = "app.kubernetes.io/instance"
	// ManagedByLabel is set to ManagerName on every object the manager declares (sender
	// and inbox objects alike); the manager's cache selects them by it.
	ManagedByLabel = "app.kubernetes.io/managed-by"
	// ManagerName is the value of ManagedByLabel.
	ManagerName = "switchboard-manager"
)

// senderUID is the user and group the sender runs as.
const senderUID = 65532

// SenderOptions are the manager-wide settings of sender Deployments.
type SenderOptions struct {
	// Image of the switchboard binary for senders.
	Image string
	// ImagePullPolicy of the sender container.
	ImagePullPolicy corev1.PullPolicy
	// DatabaseSecret names the Secret, in each Number's namespace, whose key
	// DatabaseSecretKey holds the PostgreSQL DSN of the outbox.
	DatabaseSecret    string
	DatabaseSecretKey string
}

// DatabaseURLEnv is the workloads' environment variable holding the PostgreSQL DSN.
const DatabaseURLEnv = contract.DatabaseURLEnv

// senderName is the name of the Deployment, ServiceAccount, Role and RoleBinding of a
// Number's sender.
func senderName(num *sbv1.Number) string { return contract.SenderObjectName(num.Name) }

func senderLabels(num *sbv1.Number) map[string]string {
	return map[string]string{
		nameLabel:      "switchboard",
		componentLabel: contract.SenderContainer,
		instanceLabel:  senderName(num),
		ManagedByLabel: ManagerName,
		NumberLabel:    num.Name,
	}
}

func ownerRef(num *sbv1.Number) *metav1ac.OwnerReferenceApplyConfiguration {
	return controllerRef("Number", num)
}

// controllerRef makes obj, of the given switchboard.dev kind, the controlling owner of a
// declared object, so that it is garbage-collected with obj.
func controllerRef(kind string, obj metav1.Object) *metav1ac.OwnerReferenceApplyConfiguration {
	return metav1ac.OwnerReference().
		WithAPIVersion(sbv1.GroupVersion.String()).WithKind(kind).
		WithName(obj.GetName()).WithUID(obj.GetUID()).
		WithController(true).WithBlockOwnerDeletion(true)
}

// senderReplicas is how many sender pods the Number asks for: none while its
// credentials are unusable.
func senderReplicas(num *sbv1.Number, credentialsOK bool) int32 {
	if !credentialsOK {
		return 0
	}
	if num.Spec.Sender != nil && num.Spec.Sender.Replicas != nil {
		return *num.Spec.Sender.Replicas
	}
	return 1
}

// senderServiceAccount declares the identity of the Number's sender pods.
func senderServiceAccount(num *sbv1.Number) *corev1ac.ServiceAccountApplyConfiguration {
	return corev1ac.ServiceAccount(senderName(num), num.Namespace).
		WithLabels(senderLabels(num)).WithOwnerReferences(ownerRef(num))
}

// senderRole lets a sender see and report on its own Number, read only its own
// credentials Secret, read the KeywordRules and RoutingPolicies of its namespace (its
// Outbound rules and their business hours), hold its leader-election Lease and emit
// events: nothing else.
func senderRole(num *sbv1.Number) *rbacv1ac.RoleApplyConfiguration {
	name := senderName(num)
	return rbacv1ac.Role(name, num.Namespace).
		WithLabels(senderLabels(num)).WithOwnerReferences(ownerRef(num)).
		WithRules(
			rbacv1ac.PolicyRule().WithAPIGroups(sbv1.GroupVersion.Group).WithResources("numbers").
				WithResourceNames(num.Name).WithVerbs("get", "list", "watch"),
			rbacv1ac.PolicyRule().WithAPIGroups(sbv1.GroupVersion.Group).WithResources("numbers/status").
				WithResourceNames(num.Name).WithVerbs("get", "patch"),
			rbacv1ac.PolicyRule().WithAPIGroups(sbv1.GroupVersion.Group).WithResources("keywordrules", "routingpolicies").
				WithVerbs("get", "list", "watch"),
			rbacv1ac.PolicyRule().WithAPIGroups("").WithResources("secrets").
				WithResourceNames(num.Spec.CredentialsRef.Name).WithVerbs("get", "watch"),
			rbacv1ac.PolicyRule().WithAPIGroups("coordination.k8s.io").WithResources("leases").
				WithVerbs("create"),
			rbacv1ac.PolicyRule().WithAPIGroups("coordination.k8s.io").WithResources("leases").
				WithResourceNames(name).WithVerbs("get", "update", "patch"),
			rbacv1ac.PolicyRule().WithAPIGroups("", "events.k8s.io").WithResources("events").
				WithVerbs("create", "patch"),
		)
}

// senderRoleBinding binds senderRole to the sender's ServiceAccount.
func senderRoleBinding(num *sbv1.Number) *rbacv1ac.RoleBindingApplyConfiguration {
	name := senderName(num)
	return rbacv1ac.RoleBinding(name, num.Namespace).
		WithLabels(senderLabels(num)).WithOwnerReferences(ownerRef(num)).
		WithRoleRef(rbacv1ac.RoleRef().WithAPIGroup("rbac.authorization.k8s.io").WithKind("Role").WithName(name)).
		WithSubjects(rbacv1ac.Subject().WithKind("ServiceAccount").WithName(name).WithNamespace(num.Namespace))
}

// senderDeployment declares the Number's sender: `switchboard sender --number NS/NAME`,
// non-root with a read-only root filesystem, probed on its health port.
func senderDeployment(num *sbv1.Number, opts SenderOptions, replicas int32) *appsv1ac.DeploymentApplyConfiguration {
	name := senderName(num)
	labels := senderLabels(num)
	selector := map[string]string{NumberLabel: num.Name, componentLabel: contract.SenderContainer}
	return appsv1ac.Deployment(name, num.Namespace).
		WithLabels(labels).WithOwnerReferences(ownerRef(num)).
		WithSpec(appsv1ac.DeploymentSpec().
			WithReplicas(replicas).
			WithSelector(metav1ac.LabelSelector().WithMatchLabels(selector)).
			WithTemplate(corev1ac.PodTemplateSpec().
				WithLabels(labels).
				WithAnnotations(map[string]string{"kubectl.kubernetes.io/default-container": contract.SenderContainer}).
				WithSpec(senderPodSpec(num, opts))))
}

func senderPodSpec(num *sbv1.Number, opts SenderOptions) *corev1ac.PodSpecApplyConfiguration {
	return corev1ac.PodSpec().
		WithServiceAccountName(senderName(num)).
		WithAutomountServiceAccountToken(true).
		WithEnableServiceLinks(false).
		WithTerminationGracePeriodSeconds(30).
		WithSecurityContext(restrictedPodSecurity()).
		WithContainers(senderContainer(num, opts))
}

// restrictedPodSecurity runs a workload's pods as the non-root switchboard user with the
// runtime's default seccomp profile (the "restricted" Pod Security Standard).
func restrictedPodSecurity() *corev1ac.PodSecurityContextApplyConfiguration {
	return corev1ac.PodSecurityContext().
		WithRunAsNonRoot(true).WithRunAsUser(senderUID).WithRunAsGroup(senderUID).
		WithSeccompProfile(corev1ac.SeccompProfile().WithType(corev1.SeccompProfileTypeRuntimeDefault))
}

// restrictedContainerSecurity gives a container a read-only root filesystem, no
// privilege escalation and no capabilities.
func restrictedContainerSecurity() *corev1ac.SecurityContextApplyConfiguration {
	return corev1ac.SecurityContext().
		WithReadOnlyRootFilesystem(true).
		WithAllowPrivilegeEscalation(false).
		WithRunAsNonRoot(true).
		WithCapabilities(corev1ac.Capabilities().WithDrop("ALL"))
}

// podIdentityEnv passes the pod's name and namespace through the downward API.
func podIdentityEnv(nameEnv, namespaceEnv string) []*corev1ac.EnvVarApplyConfiguration {
	field := func(env, path string) *corev1ac.EnvVarApplyConfiguration {
		return corev1ac.EnvVar().WithName(env).WithValueFrom(corev1ac.EnvVarSource().
			WithFieldRef(corev1ac.ObjectFieldSelector().WithFieldPath(path)))
	}
	return []*corev1ac.EnvVarApplyConfiguration{field(nameEnv, "metadata.name"), field(namespaceEnv, "metadata.namespace")}
}

// databaseURLEnv passes the PostgreSQL DSN from the namespace's database Secret, as
// every workload the manager declares gets it.
func databaseURLEnv(opts SenderOptions) *corev1ac.EnvVarApplyConfiguration {
	return corev1ac.EnvVar().WithName(DatabaseURLEnv).WithValueFrom(corev1ac.EnvVarSource().
		WithSecretKeyRef(corev1ac.SecretKeySelector().WithName(opts.DatabaseSecret).WithKey(opts.DatabaseSecretKey)))
}

func senderContainer(num *sbv1.Number, opts SenderOptions) *corev1ac.ContainerApplyConfiguration {
	return corev1ac.Container().
		WithName(contract.SenderContainer).
		WithImage(opts.Image).
		WithImagePullPolicy(opts.ImagePullPolicy).
		WithCommand("switchboard").
		WithArgs(contract.SenderArgs(num.Namespace, num.Name)...).
		WithEnv(append(podIdentityEnv(contract.PodNameEnv, contract.PodNamespaceEnv), databaseURLEnv(opts))...).
		WithPorts(
			corev1ac.ContainerPort().WithName(contract.SenderMetricsPortName).WithContainerPort(contract.SenderMetricsPort).WithProtocol(corev1.ProtocolTCP),
			corev1ac.ContainerPort().WithName(contract.SenderHealthPortName).WithContainerPort(contract.SenderHealthPort).WithProtocol(corev1.ProtocolTCP)).
		WithLivenessProbe(httpProbe(contract.HealthzPath, contract.SenderHealthPortName, 15)).
		WithReadinessProbe(httpProbe(contract.ReadyzPath, contract.SenderHealthPortName, 5)).
		WithResources(corev1ac.ResourceRequirements().
			WithRequests(corev1.ResourceList{
				corev1.ResourceCPU:    resource.MustParse("50m"),
				corev1.ResourceMemory: resource.MustParse("64Mi"),
			}).
			WithLimits(corev1.ResourceList{
				corev1.ResourceCPU:    resource.MustParse("1"),
				corev1.ResourceMemory: resource.MustParse("256Mi"),
			})).
		WithSecurityContext(restrictedContainerSecurity())
}

// httpProbe probes path on the container port named port.
func httpProbe(path, port string, periodSeconds int32) *corev1ac.ProbeApplyConfiguration {
	return corev1ac.Probe().
		WithHTTPGet(corev1ac.HTTPGetAction().WithPath(path).WithPort(intstr.FromString(port))).
		WithPeriodSeconds(periodSeconds).
		WithTimeoutSeconds(2).
		WithFailureThreshold(3)
}
