package contacts_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/runtime/inbox/contacts"
	"github.com/switchboard-dev/switchboard/runtime/inbox/export"
)

// `switchboard contacts import` then `switchboard export --kind contacts`, against a real
// database: progress, the rejected rows with their lines, and the export importing back
// unchanged.
func TestCLIImportAndExport(t *testing.T) {
	dsn := srv.NewDatabase(t)
	t.Setenv(contacts.DatabaseURLEnv, dsn)
	dir := t.TempDir()
	file := filepath.Join(dir, "people.csv")
	if err := os.WriteFile(file, []byte(badCSV), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := contacts.Main(t.Context(), []string{"import", "--inbox", "acme/support", "--file", file}, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"read 8 rows", "write 2 rows", "rows 8: inserted 2, updated 0, unchanged 0, rejected 6",
		"line 4: phone: ", "line 5: phone: the same number as line 2"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	exported := filepath.Join(dir, "contacts.csv")
	out.Reset()
	if err := export.Main(t.Context(), []string{"--inbox", "acme/support", "--kind", "contacts", "--output", exported}, &out); err != nil {
		t.Fatal(err)
	}
	if out.String() != "exported 2 rows to "+exported+"\n" {
		t.Errorf("export output %q", out.String())
	}
	out.Reset()
	if err := contacts.Main(t.Context(), []string{"import", "--inbox", "acme/support", "--file", exported}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "rows 2: inserted 0, updated 0, unchanged 2, rejected 0") {
		t.Errorf("re-import of the export:\n%s", out.String())
	}
}
