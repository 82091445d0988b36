package campaigns

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/user"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/contract"
	"github.com/switchboard-dev/switchboard/runtime/store"
)

const cliUsage = `Usage: switchboard campaign <create|start|pause|resume|cancel|status> [flags]

Campaigns send one approved template to a list or a tag filter of contacts through the
sender's campaign lane (docs/campaigns.md). The commands write to the inbox's database
(` + contract.DatabaseURLEnv + `), as "switchboard send" does, and record the audit log
with the actor "cli:<--as, or the OS user>". The inbox's runner does the sending.

  create  --namespace NS --name NAME --number NUMBER --template T --language L
          [--param attribute:NAME[=DEFAULT] | --param value:TEXT]...
          (--tags-all a,b [--tags-any c,d] [--tags-none e] | --recipients FILE)
          [--start-at RFC3339] [--window N]
  start|pause|resume|cancel --namespace NS NAME
  status  --namespace NS NAME [--json]

--recipients reads CSV lines "phone[,parameter...]" ("-" for standard input); a line
with only a phone takes the --param sources.
`

// Main runs `switchboard campaign`.
func Main(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, cliUsage)
		if len(args) == 0 {
			return errors.New("campaign: a command is required (create, start, pause, resume, cancel, status)")
		}
		return nil
	}
	cmd, rest := args[0], args[1:]
	fs := flag.NewFlagSet("switchboard campaign "+cmd, flag.ContinueOnError)
	fs.SetOutput(stdout)
	namespace := fs.String("namespace", "", "the Inbox's namespace (required)")
	as := fs.String("as", "", "who runs the command, for the audit log (default: the OS user)")
	switch cmd {
	case "create":
		return create(ctx, fs, namespace, as, rest, stdout)
	case "start", "pause", "resume", "cancel", "status":
		asJSON := fs.Bool("json", false, "status: print the campaign and its progress as JSON")
		if err := fs.Parse(rest); err != nil {
			return helpOK(err)
		}
		if fs.NArg() != 1 {
			return fmt.Errorf("campaign %s: give the campaign's name, one argument, not %q", cmd, fs.Args())
		}
		return change(ctx, cmd, *namespace, cliActor(*as), fs.Arg(0), *asJSON, stdout)
	}
	return fmt.Errorf("campaign: unknown command %q (create, start, pause, resume, cancel, status)", cmd)
}

func helpOK(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

func cliActor(as string) Actor {
	if as == "" {
		if u, err := user.Current(); err == nil {
			as = u.Username
		}
	}
	if as == "" {
		as = "unknown"
	}
	return Actor("cli:" + as)
}

// paramFlags collects --param values.
type paramFlags []Param

func (p *paramFlags) String() string { return fmt.Sprint(*p) }

// Set reads attribute:NAME[=DEFAULT] or value:TEXT.
func (p *paramFlags) Set(s string) error {
	kind, rest, ok := strings.Cut(s, ":")
	switch {
	case ok && kind == "value":
		*p = append(*p, Param{Value: &rest})
	case ok && kind == "attribute" && rest != "":
		name, def, hasDef := strings.Cut(rest, "=")
		q := Param{Attribute: name}
		if hasDef {
			q.Default = &def
		}
		*p = append(*p, q)
	default:
		return fmt.Errorf("want attribute:NAME[=DEFAULT] or value:TEXT, got %q", s)
	}
	return nil
}

func create(ctx context.Context, fs *flag.FlagSet, namespace, as *string, args []string, stdout io.Writer) error {
	var s Spec
	var params paramFlags
	var all, anyOf, none, recipients, startAt string
	fs.StringVar(&s.Name, "name", "", "the campaign's name, unique in the namespace (required)")
	fs.StringVar(&s.Number, "number", "", "the Number (metadata.name) that sends (required)")
	fs.StringVar(&s.Template, "template", "", "an approved template's name (required)")
	fs.StringVar(&s.Language, "language", "", "the template's language code, e.g. es or en_US (required)")
	fs.Var(&params, "param", "a body parameter's source, in order: attribute:NAME[=DEFAULT] or value:TEXT (repeatable)")
	fs.StringVar(&all, "tags-all", "", "target: contacts with all these tags (comma-separated)")
	fs.StringVar(&anyOf, "tags-any", "", "target: contacts with at least one of these tags")
	fs.StringVar(&none, "tags-none", "", "target: leave out contacts with any of these tags")
	fs.StringVar(&recipients, "recipients", "", `target: a CSV file of "phone[,parameter...]" lines ("-": standard input)`)
	fs.StringVar(&startAt, "start-at", "", "when start makes it run (RFC 3339); default: at once")
	fs.IntVar(&s.Window, "window", 0, fmt.Sprintf("most outbox rows of the campaign queued at once (default %d)", DefaultWindow))
	if err := fs.Parse(args); err != nil {
		return helpOK(err)
	}
	s.Parameters = params
	if all != "" || anyOf != "" || none != "" {
		s.Target.Tags = &TagFilter{AllOf: splitList(all), AnyOf: splitList(anyOf), NoneOf: splitList(none)}
	}
	if recipients != "" {
		list, err := readRecipients(recipients)
		if err != nil {
			return err
		}
		s.Target.Recipients = list
	}
	if startAt != "" {
		t, err := time.Parse(time.RFC3339, startAt)
		if err != nil {
			return fmt.Errorf("--start-at: %w", err)
		}
		s.StartAt = &t
	}
	if err := s.Validate(); err != nil {
		return err
	}
	return withStore(ctx, *namespace, func(st *store.Store) error {
		return st.InTx(ctx, func(tx pgx.Tx) error {
			c, err := Create(ctx, tx, *namespace, cliActor(*as), s, nil)
			if err != nil {
				return err
			}
			p, err := progress(ctx, tx, c.ID)
			fmt.Fprintf(stdout, "campaign %s created (id %d, draft) with %d recipients\n", c.Name, c.ID, p.Total)
			return err
		})
	})
}

func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

func readRecipients(path string) ([]Recipient, error) {
	var r io.Reader = os.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("--recipients: %w", err)
		}
		defer f.Close()
		r = f
	}
	cr := csv.NewReader(bufio.NewReader(r))
	cr.FieldsPerRecord = -1
	cr.Comment = '#'
	var out []Recipient
	for line := 1; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("--recipients: %w", err)
		}
		if len(rec) == 0 || strings.TrimSpace(rec[0]) == "" {
			return nil, fmt.Errorf("--recipients: line %d: no phone number", line)
		}
		rc := Recipient{Phone: strings.TrimSpace(rec[0])}
		if len(rec) > 1 {
			rc.Parameters = rec[1:]
		}
		out = append(out, rc)
	}
}

func change(ctx context.Context, cmd, namespace string, actor Actor, name string, asJSON bool, stdout io.Writer) error {
	return withStore(ctx, namespace, func(st *store.Store) error {
		return st.InTx(ctx, func(tx pgx.Tx) error {
			id, err := Lookup(ctx, tx, namespace, name)
			if err != nil {
				return fmt.Errorf("campaign %q in namespace %s: %w", name, namespace, err)
			}
			if cmd != "status" {
				if _, err := Transition(ctx, tx, namespace, id, cmd, actor, time.Now()); err != nil {
					return err
				}
			}
			c, err := Get(ctx, tx, namespace, id)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(c)
			}
			printStatus(stdout, c)
			return nil
		})
	})
}

func printStatus(w io.Writer, c Campaign) {
	p := c.Progress
	fmt.Fprintf(w, "campaign %s (id %d): %s, %s/%s from %s\n", c.Name, c.ID, c.State, c.Template, c.Language, c.Number)
	fmt.Fprintf(w, "recipients %d: pending %d, queued %d, sent %d, delivered %d, read %d, failed %d, skipped %d, cancelled %d\n",
		p.Total, p.Pending, p.Queued, p.Sent, p.Delivered, p.Read, p.Failed, p.Skipped, p.Cancelled)
	for _, m := range []struct {
		what string
		by   map[string]int
	}{{"failed", p.FailedByReason}, {"skipped", p.SkippedByReason}} {
		for _, reason := range slices.Sorted(maps.Keys(m.by)) {
			fmt.Fprintf(w, "  %s %s: %d\n", m.what, reason, m.by[reason])
		}
	}
}

func withStore(ctx context.Context, namespace string, fn func(*store.Store) error) error {
	if namespace == "" {
		return errors.New("--namespace is required: the Inbox's namespace")
	}
	dsn := os.Getenv(contract.DatabaseURLEnv)
	if dsn == "" {
		return fmt.Errorf("%s is not set: give the PostgreSQL DSN", contract.DatabaseURLEnv)
	}
	st, err := store.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer st.Close()
	return fn(st)
}
