package keywords

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
)

// ForNumber returns the rules among rules whose spec.numberSelector selects a Number
// with these labels (an empty selector selects every Number), in their order, for
// Compile. A rule whose selector is invalid is left out, with a *CompileError naming
// spec.numberSelector (the operator reports the same rule Stalled). spec.suspend is
// not read: it stops the operator from reconciling the rule, not the rule itself.
func ForNumber(rules []sbv1.KeywordRule, numberLabels map[string]string) ([]sbv1.KeywordRule, []error) {
	var out []sbv1.KeywordRule
	var errs []error
	for i := range rules {
		sel, err := metav1.LabelSelectorAsSelector(&rules[i].Spec.NumberSelector)
		if err != nil {
			errs = append(errs, &CompileError{Rule: rules[i].Name, Field: "spec.numberSelector",
				Value: rules[i].Spec.NumberSelector.String(), Reason: fmt.Sprintf("invalid label selector: %v", err)})
			continue
		}
		if sel.Matches(labels.Set(numberLabels)) {
			out = append(out, rules[i])
		}
	}
	return out, errs
}
