package controllers

import (
	"context"
	"errors"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/keywords"
)

// NewKeywordRuleReconciler reconciles KeywordRules: it compiles each rule as the inbox
// and the sender do and counts the selected Numbers.
func NewKeywordRuleReconciler(c client.Client) *policyReconciler[*sbv1.KeywordRule] {
	return &policyReconciler[*sbv1.KeywordRule]{Client: c, kind: policyKind[*sbv1.KeywordRule]{
		name:    "keywordrule",
		newObj:  func() *sbv1.KeywordRule { return &sbv1.KeywordRule{} },
		newList: func() client.ObjectList { return &sbv1.KeywordRuleList{} },
		status:  func(k *sbv1.KeywordRule) any { return k.Status },
		check: func(_ context.Context, _ client.Client, k *sbv1.KeywordRule, _ []sbv1.Number) (time.Duration, error) {
			return 0, validateKeywordRule(k)
		},
	}}
}

// validateKeywordRule compiles the rule with keywords.CompileRule, the function the
// inbox and the sender compile it with, so a rule the operator reports Ready is one
// they match with: Regex keywords must compile (RE2), other keywords must not fold to
// nothing. The error is Stalled, reason InvalidSpec, naming the field and the value.
func validateKeywordRule(k *sbv1.KeywordRule) error {
	_, err := keywords.CompileRule(k)
	return invalidSpec(err)
}

// fieldError is what the runtime packages' compile errors have in common: a message
// that starts with the field it names.
type fieldError interface{ FieldError() string }

// invalidSpec turns a compile error of runtime/keywords or runtime/calendar into a
// Stalled InvalidSpec error whose message names the field and the value.
func invalidSpec(err error) error {
	var fe fieldError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &fe):
		return stalled(sbv1.ReasonInvalidSpec, fe.FieldError())
	}
	return stalled(sbv1.ReasonInvalidSpec, err.Error())
}
