// Command kstatus reads a Kubernetes List as JSON on stdin (`kubectl get ... -o json`),
// computes each object's kstatus (sigs.k8s.io/cli-utils/pkg/kstatus: the status that
// Flux, Argo CD and `kubectl wait`-like tools read from conditions and observedGeneration),
// prints one line per object, and exits 1 unless every object is Current and the list is
// not empty. The e2e test runs it on the Numbers, policies and rules it applied.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "kstatus:", err)
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer) error {
	var list unstructured.UnstructuredList
	data, err := io.ReadAll(in)
	if err != nil {
		return err
	}
	if err := list.UnmarshalJSON(data); err != nil {
		return fmt.Errorf("stdin is not a JSON List: %w", err)
	}
	if len(list.Items) == 0 {
		return errors.New("no objects on stdin")
	}
	var notCurrent int
	for i := range list.Items {
		if !report(&list.Items[i], out) {
			notCurrent++
		}
	}
	if notCurrent > 0 {
		return fmt.Errorf("%d of %d objects are not Current", notCurrent, len(list.Items))
	}
	return nil
}

// report prints the object's kstatus and says whether it is Current.
func report(u *unstructured.Unstructured, out io.Writer) bool {
	res, err := status.Compute(u)
	if err != nil {
		fmt.Fprintf(out, "%s %s/%s: %v\n", u.GetKind(), u.GetNamespace(), u.GetName(), err)
		return false
	}
	fmt.Fprintf(out, "%s %s/%s: %s %s\n", u.GetKind(), u.GetNamespace(), u.GetName(), res.Status, res.Message)
	return res.Status == status.CurrentStatus
}
