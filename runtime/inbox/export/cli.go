package export

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"

	"github.com/switchboard-dev/switchboard/runtime/inbox/contacts"
	"github.com/switchboard-dev/switchboard/runtime/store"
)

// DatabaseURLEnv is the variable holding the PostgreSQL DSN, as for `switchboard send`.
const DatabaseURLEnv = "SWITCHBOARD_DATABASE_URL"

type cliFlags struct {
	inbox, kind, format, number, from, to, tag, output string
}

func (f *cliFlags) parse(args []string, out io.Writer) (Request, error) {
	fs := flag.NewFlagSet("switchboard export", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&f.inbox, "inbox", "", "the Inbox whose data to export, as NAMESPACE/NAME (required; the namespace is the tenant)")
	fs.StringVar(&f.kind, "kind", "", "conversations, contacts or audit (required)")
	fs.StringVar(&f.format, "format", "", "jsonl or csv (conversations: either, default jsonl; contacts: csv; audit: jsonl)")
	fs.StringVar(&f.number, "number", "", "only this Number (its name; conversations and contacts)")
	fs.StringVar(&f.from, "from", "", "from this time on, RFC 3339 (inclusive)")
	fs.StringVar(&f.to, "to", "", "before this time, RFC 3339 (exclusive)")
	fs.StringVar(&f.tag, "tag", "", "only conversations or contacts with this tag")
	fs.StringVar(&f.output, "output", "-", `the file to write ("-": standard output)`)
	if err := fs.Parse(args); err != nil {
		return Request{}, err
	}
	if fs.NArg() > 0 {
		return Request{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	ns, err := contacts.ParseInbox(f.inbox)
	if err != nil {
		return Request{}, err
	}
	if f.kind == "" {
		return Request{}, errors.New("--kind is required: conversations, contacts or audit")
	}
	q := url.Values{"format": {f.format}, "number": {f.number}, "from": {f.from}, "to": {f.to}, "tag": {f.tag}}
	req, err := ParseRequest(ns, f.kind, q)
	var fe *FieldError
	if errors.As(err, &fe) {
		return Request{}, fmt.Errorf("--%s: %s", fe.Field, fe.Reason)
	}
	return req, err
}

// Main runs `switchboard export`: it reads the database directly (the DSN in
// SWITCHBOARD_DATABASE_URL, like `switchboard send`) and writes the export to --output;
// with a file, it then prints the count of rows written.
func Main(ctx context.Context, args []string, stdout io.Writer) error {
	var f cliFlags
	req, err := f.parse(args, stdout)
	if err != nil {
		return err
	}
	dsn := os.Getenv(DatabaseURLEnv)
	if dsn == "" {
		return fmt.Errorf("%s is not set: give the PostgreSQL DSN", DatabaseURLEnv)
	}
	out := stdout
	var file *os.File
	if f.output != "-" {
		if file, err = os.Create(f.output); err != nil {
			return fmt.Errorf("--output: %w", err)
		}
		defer func() { _ = file.Close() }()
		out = file
	}
	st, err := store.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer st.Close()
	bw := bufio.NewWriter(out)
	stats, err := Write(ctx, st, contacts.CLIActor(), req, bw, nil)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil && file != nil {
		err = file.Close()
	}
	if err != nil {
		return fmt.Errorf("export failed: %w", err)
	}
	if file != nil {
		fmt.Fprintf(stdout, "exported %d rows to %s\n", stats.Rows, f.output)
	}
	return nil
}
