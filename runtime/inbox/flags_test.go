package inbox_test

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/runtime/inbox"
)

func TestMainRefusesBadInput(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(inbox.DatabaseURLEnv, "")
	for _, c := range []struct {
		args []string
		env  string
		says string
	}{
		{[]string{}, "", "--inbox must be NAMESPACE/NAME"},
		{[]string{"--inbox=acme"}, "", "--inbox must be NAMESPACE/NAME"},
		{[]string{"--inbox=acme/a/b"}, "", "--inbox must be NAMESPACE/NAME"},
		{[]string{"--inbox=acme/support", "--request-timeout=0s"}, "", "--request-timeout"},
		{[]string{"--inbox=acme/support", "--log-level=loud"}, "", "--log-level"},
		{[]string{"--inbox=acme/support"}, "", inbox.DatabaseURLEnv},
		{[]string{"--inbox=acme/support", "--api-token-file=" + empty}, "postgres://x", "--api-token-file"},
		{[]string{"--inbox=acme/support", "--api-token-file=/nonexistent/token"}, "postgres://x", "--api-token-file"},
	} {
		t.Setenv(inbox.DatabaseURLEnv, c.env)
		err := inbox.Main(t.Context(), c.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%v: want an error naming %s, got %v", c.args, c.says, err)
		}
	}
}
