// Package v1alpha1 contains the switchboard.dev/v1alpha1 API: Number, RoutingPolicy,
// KeywordRule, RetentionPolicy and Inbox.
//
// This package imports apimachinery only, so that clients can depend on it cheaply.
//
// +kubebuilder:object:generate=true
// +groupName=switchboard.dev
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of every kind in this package.
	GroupVersion = schema.GroupVersion{Group: "switchboard.dev", Version: "v1alpha1"}

	// SchemeBuilder registers the kinds of this package with a runtime.Scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the kinds of this package to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion,
		&Number{}, &NumberList{},
		&RoutingPolicy{}, &RoutingPolicyList{},
		&KeywordRule{}, &KeywordRuleList{},
		&RetentionPolicy{}, &RetentionPolicyList{},
		&Inbox{}, &InboxList{},
	)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
