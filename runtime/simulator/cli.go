package simulator

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
)

// Main is the `switchboard simulator` subcommand: it parses args (without
// the subcommand name), loads the scenario if given, listens and serves
// until ctx ends. Usage:
//
//	switchboard simulator --listen 127.0.0.1:8090 --scenario dev.yaml [--seed N]
//	  [--access-token T] [--throttle-status 400|429] [--webhook-attempts N]
//	  [--webhook-base-delay 1s] [--duplicate-probability 0.01]
func Main(ctx context.Context, args []string, stdout io.Writer) error {
	cfg, listen, err := parseFlags(args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := cfg.withDefaults().validate(); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "switchboard simulator listening on http://%s (control API at /_sim/)\n", ln.Addr())
	return Serve(ctx, ln, cfg)
}

// parseFlags turns the command line into a Config and a listen address.
// Flags given explicitly override the scenario file.
func parseFlags(args []string, out io.Writer) (Config, string, error) {
	fs := flag.NewFlagSet("simulator", flag.ContinueOnError)
	fs.SetOutput(out)
	listen := fs.String("listen", "127.0.0.1:8090", "address to serve the simulated Cloud API on")
	scenario := fs.String("scenario", "", "scenario file (YAML or JSON) with numbers and events")
	seed := fs.Int64("seed", 0, "seed for IDs and random choices (overrides the scenario)")
	token := fs.String("access-token", "", "bearer token accepted for numbers without their own")
	throttle := fs.Int("throttle-status", 0, "HTTP status for throttling errors: 400 (Meta's) or 429")
	attempts := fs.Int("webhook-attempts", 0, "webhook delivery attempts (default 5)")
	baseDelay := fs.Duration("webhook-base-delay", 0, "first webhook retry delay, doubled per retry (default 1s)")
	dup := fs.Float64("duplicate-probability", 0, "chance a delivered webhook is sent again (0…1)")
	batch := fs.Duration("webhook-batch-window", 0, "gather a URL's webhook updates over this long into one POST (default 0: one update per POST)")
	verbose := fs.Bool("v", false, "log scheduled-event failures to stdout")
	if err := fs.Parse(args); err != nil {
		return Config{}, "", err
	}
	if fs.NArg() > 0 {
		return Config{}, "", fmt.Errorf("simulator: unexpected arguments %q", fs.Args())
	}
	cfg, err := scenarioConfig(*scenario)
	if err != nil {
		return Config{}, "", err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["seed"] {
		cfg.Seed = *seed
	}
	if set["duplicate-probability"] {
		cfg.Webhooks.DuplicateProbability = *dup
	}
	cfg.AccessToken = orStr(*token, cfg.AccessToken)
	cfg.ThrottleHTTPStatus = orInt(*throttle, cfg.ThrottleHTTPStatus)
	cfg.Webhooks.MaxAttempts = orInt(*attempts, cfg.Webhooks.MaxAttempts)
	cfg.Webhooks.BaseDelay = orDur(*baseDelay, cfg.Webhooks.BaseDelay)
	cfg.Webhooks.BatchWindow = orDur(*batch, cfg.Webhooks.BatchWindow)
	if *verbose {
		cfg.Logger = slog.New(slog.NewTextHandler(out, nil))
	}
	return cfg, *listen, nil
}

// scenarioConfig returns the Config a scenario file describes ("" = none).
func scenarioConfig(path string) (Config, error) {
	var cfg Config
	if path == "" {
		return cfg, nil
	}
	sc, err := LoadScenario(path)
	if err != nil {
		return Config{}, err
	}
	sc.Apply(&cfg)
	return cfg, nil
}
