package simulator

import (
	"io"
	"testing"
	"time"
)

// TestFlagsOverrideTheScenario: flags given explicitly win over the scenario file;
// flags not given leave it alone.
func TestFlagsOverrideTheScenario(t *testing.T) {
	cfg, listen, err := parseFlags([]string{"--scenario", "testdata/scenario.yaml", "--listen", "127.0.0.1:0",
		"--webhook-batch-window", "2s", "--webhook-attempts", "9", "--duplicate-probability", "0"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if listen != "127.0.0.1:0" || cfg.Webhooks.BatchWindow != 2*time.Second || cfg.Webhooks.MaxAttempts != 9 ||
		cfg.Webhooks.BaseDelay != 10*time.Millisecond || cfg.Seed != 7 {
		t.Errorf("listen %s, config %+v", listen, cfg.Webhooks)
	}
	if _, _, err := parseFlags([]string{"--webhook-batch-window", "soon"}, io.Discard); err == nil {
		t.Error("a bad duration was accepted")
	}
	cfg, _, err = parseFlags([]string{"--webhook-batch-window", "-1s"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(cfg); err == nil {
		t.Error("a negative batch window was accepted")
	}
}
