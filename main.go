// Command switchboard is the one binary of Switchboard. Its subcommands:
//
//	switchboard manager   the operator: controllers for Number, RoutingPolicy,
//	                      KeywordRule and RetentionPolicy
//	switchboard dev       the embedded default: a local control plane with the CRDs,
//	                      the manager and the samples, no cluster needed
//	switchboard sender    one Number's sender: paces its outbox to Meta's limits
//	switchboard send      enqueue a message (text or template) for a Number
//	switchboard inbox     one Inbox's webhook receiver and conversations store
//	switchboard contacts  import contacts (CSV, JSONL) into an Inbox's contacts
//	switchboard export    export conversations, contacts or the audit log of an Inbox
//	switchboard campaign  create, start, pause, resume, cancel a campaign; its progress
//	switchboard simulator a stand-in for Meta's WhatsApp Cloud API, for tests and dev
//
// Run `switchboard <subcommand> -h` (or --help) for its flags; asking for help prints the
// usage on stdout and exits 0.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // time zones of RoutingPolicies and RetentionPolicies, even in a bare image

	// The public CAs for TLS to Meta's Graph API when the system has none (the image
	// carries no CA bundle); system roots, when present, still take precedence.
	_ "golang.org/x/crypto/x509roots/fallback"

	"github.com/switchboard-dev/switchboard/runtime/dev"
	"github.com/switchboard-dev/switchboard/runtime/inbox"
	"github.com/switchboard-dev/switchboard/runtime/inbox/campaigns"
	"github.com/switchboard-dev/switchboard/runtime/inbox/contacts"
	"github.com/switchboard-dev/switchboard/runtime/inbox/export"
	"github.com/switchboard-dev/switchboard/runtime/sender"
	"github.com/switchboard-dev/switchboard/runtime/simulator"
)

type subcommand struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout io.Writer) error
}

var subcommands = []subcommand{
	{"manager", "run the operator (controllers for the switchboard.dev kinds)", runManager},
	{"dev", "run a local control plane, the CRDs, the manager and the samples", runDev},
	{"sender", "drain one Number's outbox under its limits (run by the sender Deployment)", sender.Main},
	{"send", "enqueue a message for a Number; --wait follows it to sent or failed", sender.SendMain},
	{"inbox", "receive Meta's webhooks for an Inbox's Numbers and store conversations (run by the inbox Deployment)", inbox.Main},
	{"contacts", "import contacts from CSV or JSONL: switchboard contacts import --inbox NS/NAME --file F", contacts.Main},
	{"export", "export an Inbox's conversations, contacts or audit log (JSONL, CSV), streamed", export.Main},
	{"campaign", "create, start, pause, resume, cancel a campaign, or show its progress", campaigns.Main},
	{"simulator", "stand in for Meta's WhatsApp Cloud API on loopback (tests, dev, load tests)", simulator.Main},
}

// runDev is `switchboard dev` (package runtime/dev) with this binary's manager.
func runDev(ctx context.Context, args []string, stdout io.Writer) error {
	return dev.Main(ctx, args, stdout, dev.Manager{Start: startDevManager, DatabaseSecret: devManagerFlags(0).databaseSecret})
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "switchboard:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return errors.New("a subcommand is required")
		}
		return nil
	}
	for _, sc := range subcommands {
		if sc.name != args[0] {
			continue
		}
		if err := sc.run(ctx, args[1:], stdout); !errors.Is(err, flag.ErrHelp) {
			return err
		}
		return nil // -h or --help printed the usage: asking for help is not an error
	}
	usage(os.Stderr)
	return fmt.Errorf("unknown subcommand %q", args[0])
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: switchboard <subcommand> [flags]\n\nSubcommands:")
	for _, sc := range subcommands {
		fmt.Fprintf(w, "  %-10s %s\n", sc.name, sc.summary)
	}
}
