package controllers

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
)

// NewKeywordRuleReconciler reconciles KeywordRules: it checks that Regex keywords
// compile and counts the selected Numbers.
func NewKeywordRuleReconciler(c client.Client) *policyReconciler[*sbv1.KeywordRule] {
	return &policyReconciler[*sbv1.KeywordRule]{Client: c, kind: policyKind[*sbv1.KeywordRule]{
		name:    "keywordrule",
		newObj:  func() *sbv1.KeywordRule { return &sbv1.KeywordRule{} },
		newList: func() client.ObjectList { return &sbv1.KeywordRuleList{} },
		status:  func(k *sbv1.KeywordRule) any { return k.Status },
		check: func(_ context.Context, _ client.Client, k *sbv1.KeywordRule, _ []sbv1.Number) (time.Duration, error) {
			return 0, validateKeywords(k.Spec.Match)
		},
	}}
}

// validateKeywords compiles every keyword of a Regex rule (RE2 syntax).
func validateKeywords(m sbv1.KeywordMatch) error {
	if m.Mode != sbv1.MatchRegex {
		return nil
	}
	for i, kw := range m.Any {
		if _, err := regexp.Compile(kw); err != nil {
			return stalled(sbv1.ReasonInvalidSpec,
				fmt.Sprintf("spec.match.any[%d]: regular expression %q does not compile: %v", i, kw, err))
		}
	}
	return nil
}
