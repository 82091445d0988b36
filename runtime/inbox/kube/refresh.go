package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// RefreshQualityAnnotation asks the manager to read a Number's quality, throughput,
// messaging limit and status from the Graph API at once, rather than at its next poll.
// The value is the time of the request (RFC 3339 with nanoseconds); the manager stays the
// one writer of status.quality and status.sending. (To move to runtime/contract with the
// Number controller's side.)
const RefreshQualityAnnotation = "switchboard.dev/refresh-quality"

// RefreshQuality annotates each Number with RefreshQualityAnnotation (a merge patch of
// that one annotation). The Role of the inbox must allow patching Numbers.
func (s *Source) RefreshQuality(ctx context.Context, numbers []Number) error {
	var errs []error
	for _, n := range numbers {
		patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{
			"annotations": map[string]string{RefreshQualityAnnotation: time.Now().UTC().Format(time.RFC3339Nano)}}})
		_, err := s.dyn.Resource(NumberResource).Namespace(n.Ref.Namespace).
			Patch(ctx, n.Ref.Name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "switchboard-inbox"})
		if err != nil {
			errs = append(errs, fmt.Errorf("annotating Number %s: %w", n.Ref, err))
		}
	}
	return errors.Join(errs...)
}
