package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// GetConditions returns the conditions of the Number.
func (n *Number) GetConditions() []metav1.Condition { return n.Status.Conditions }

// SetConditions replaces the conditions of the Number.
func (n *Number) SetConditions(c []metav1.Condition) { n.Status.Conditions = c }

// GetPolicyStatus returns the shared part of the RoutingPolicy's status.
func (p *RoutingPolicy) GetPolicyStatus() *PolicyStatus { return &p.Status.PolicyStatus }

// GetNumberSelector returns the selector of the Numbers the policy applies to.
func (p *RoutingPolicy) GetNumberSelector() metav1.LabelSelector { return p.Spec.NumberSelector }

// IsSuspended tells whether spec.suspend is set.
func (p *RoutingPolicy) IsSuspended() bool { return p.Spec.Suspend }

// GetPolicyStatus returns the shared part of the KeywordRule's status.
func (k *KeywordRule) GetPolicyStatus() *PolicyStatus { return &k.Status.PolicyStatus }

// GetNumberSelector returns the selector of the Numbers the rule applies to.
func (k *KeywordRule) GetNumberSelector() metav1.LabelSelector { return k.Spec.NumberSelector }

// IsSuspended tells whether spec.suspend is set.
func (k *KeywordRule) IsSuspended() bool { return k.Spec.Suspend }

// GetPolicyStatus returns the shared part of the RetentionPolicy's status.
func (r *RetentionPolicy) GetPolicyStatus() *PolicyStatus { return &r.Status.PolicyStatus }

// GetNumberSelector returns the selector of the Numbers the policy applies to.
func (r *RetentionPolicy) GetNumberSelector() metav1.LabelSelector { return r.Spec.NumberSelector }

// IsSuspended tells whether spec.suspend is set.
func (r *RetentionPolicy) IsSuspended() bool { return r.Spec.Suspend }

// GetConditions returns the conditions of the RoutingPolicy.
func (p *RoutingPolicy) GetConditions() []metav1.Condition { return p.Status.Conditions }

// GetConditions returns the conditions of the KeywordRule.
func (k *KeywordRule) GetConditions() []metav1.Condition { return k.Status.Conditions }

// GetConditions returns the conditions of the RetentionPolicy.
func (r *RetentionPolicy) GetConditions() []metav1.Condition { return r.Status.Conditions }

// GetPaused tells whether spec.sending.paused is set (false for a nil SendingSpec).
func (s *SendingSpec) GetPaused() bool { return s != nil && s.Paused }
