package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/switchboard-dev/switchboard/runtime/contract"
)

// RefreshQuality annotates each Number with contract.QualityRefreshAnnotation set to now
// (RFC 3339 with nanoseconds; a merge patch of that one annotation), so that the manager
// reads the Number from the Graph API at once; the manager stays the one writer of
// status.quality and status.sending. The inbox's Role allows patching the Numbers it
// serves.
func (s *Source) RefreshQuality(ctx context.Context, numbers []Number) error {
	var errs []error
	for _, n := range numbers {
		patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{
			"annotations": map[string]string{contract.QualityRefreshAnnotation: time.Now().UTC().Format(time.RFC3339Nano)}}})
		_, err := s.dyn.Resource(NumberResource).Namespace(n.Ref.Namespace).
			Patch(ctx, n.Ref.Name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "switchboard-inbox"})
		if err != nil {
			errs = append(errs, fmt.Errorf("annotating Number %s: %w", n.Ref, err))
		}
	}
	return errors.Join(errs...)
}
