package campaigns_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/runtime/contract"
	"github.com/switchboard-dev/switchboard/runtime/inbox/campaigns"
	"github.com/switchboard-dev/switchboard/runtime/store"
)

func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := campaigns.Main(t.Context(), args, &out)
	return out.String(), err
}

// TestCLI: create from a CSV list, start, pause, status (text and JSON), cancel; help
// exits 0; bad input names the flag and changes nothing.
func TestCLI(t *testing.T) {
	dsn := pg.NewDatabase(t)
	st, err := store.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	e := &env{t: t, st: st}
	t.Setenv(contract.DatabaseURLEnv, dsn)
	list := filepath.Join(t.TempDir(), "list.csv")
	if err := os.WriteFile(list, []byte("# phone,name,code\n+34 611 000 001,Ana,A1\n34611000001,Ana,A1\n34611000002,Bo,B2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"--help"}, {"create", "--help"}, {"status", "-h"}} {
		if out, err := runCLI(t, args...); err != nil || !strings.Contains(out, "Usage") && !strings.Contains(out, "-namespace") {
			t.Errorf("%v: %v %q", args, err, out)
		}
	}
	for args, want := range map[string]string{
		"create --namespace acme --name x --number sales-es --template promo --language es --param bad":               "flag -param",
		"create --namespace acme --name x --number sales-es --template promo --language es --recipients /nonexistent": "--recipients",
		"create --name x --number sales-es --template promo --language es --tags-all vip":                             "--namespace",
		"create --namespace acme --name X --number sales-es --template promo --language es --tags-all vip":            "name",
		"start --namespace acme nope": "no such campaign",
		"explode --namespace acme x":  "unknown command",
		"start --namespace acme a b":  "one argument",
	} {
		if _, err := runCLI(t, strings.Fields(args)...); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error naming %q", args, err, want)
		}
	}
	if n := e.count(`SELECT count(*) FROM campaigns`); n != 0 {
		t.Fatalf("refused commands left %d campaigns", n)
	}
	out, err := runCLI(t, "create", "--namespace", "acme", "--as", "ops", "--name", "csv", "--number", "sales-es",
		"--template", "promo", "--language", "es", "--recipients", list)
	if err != nil || !strings.Contains(out, "with 2 recipients") {
		t.Fatalf("create: %v %q", err, out)
	}
	for _, cmd := range []string{"start", "pause"} {
		if out, err := runCLI(t, cmd, "--namespace", "acme", "--as", "ops", "csv"); err != nil || !strings.Contains(out, "recipients 2") {
			t.Fatalf("%s: %v %q", cmd, err, out)
		}
	}
	out, err = runCLI(t, "status", "--namespace", "acme", "--json", "csv")
	var c campaigns.Campaign
	if err != nil || json.Unmarshal([]byte(out), &c) != nil || c.State != campaigns.Paused || c.Progress.Pending != 2 || c.StartedBy != "cli:ops" {
		t.Fatalf("status: %v %s", err, out)
	}
	if _, err := runCLI(t, "resume", "--namespace", "acme", "--as", "ops", "csv"); err != nil {
		t.Fatal(err)
	}
	if _, err := runCLI(t, "resume", "--namespace", "acme", "csv"); err == nil || !strings.Contains(err.Error(), "running") {
		t.Fatalf("resume twice: %v", err)
	}
	if out, err := runCLI(t, "cancel", "--namespace", "acme", "--as", "ops", "csv"); err != nil || !strings.Contains(out, "cancelled 2") {
		t.Fatalf("cancel: %v %q", err, out)
	}
	e.wantAudit(c.ID, []string{"cli:ops campaign.created", "cli:ops campaign.start", "cli:ops campaign.pause",
		"cli:ops campaign.resume", "cli:ops campaign.cancel"})
}
