package contacts

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strings"

	"github.com/switchboard-dev/switchboard/runtime/store"
)

// DatabaseURLEnv is the variable holding the PostgreSQL DSN, as for `switchboard send`
// and the inbox.
const DatabaseURLEnv = "SWITCHBOARD_DATABASE_URL"

// Main runs `switchboard contacts <command>`; the one command is import.
func Main(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stdout, "Usage: switchboard contacts import --inbox NAMESPACE/NAME --file FILE [--format csv|jsonl]\n\n"+
			"Commands:\n  import   import contacts from a CSV or JSONL file (docs/contacts.md)")
		if len(args) == 0 {
			return errors.New("a command is required: import")
		}
		return flag.ErrHelp
	}
	if args[0] != "import" {
		return fmt.Errorf("unknown command %q: switchboard contacts has import", args[0])
	}
	return importMain(ctx, args[1:], stdout)
}

type importFlags struct {
	inbox, file, format string
	namespace           string
}

func (f *importFlags) parse(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("switchboard contacts import", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&f.inbox, "inbox", "", "the Inbox whose contacts to import into, as NAMESPACE/NAME (required; the namespace is the tenant)")
	fs.StringVar(&f.file, "file", "", `the CSV or JSONL file ("-" for standard input) (required)`)
	fs.StringVar(&f.format, "format", "", "csv or jsonl (default: from the file's extension, .csv or .jsonl/.ndjson)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: give the file with --file", fs.Arg(0))
	}
	ns, err := ParseInbox(f.inbox)
	if err != nil {
		return err
	}
	f.namespace = ns
	if f.file == "" {
		return errors.New("--file is required")
	}
	if f.format == "" {
		switch strings.ToLower(filepath.Ext(f.file)) {
		case ".csv":
			f.format = "csv"
		case ".jsonl", ".ndjson":
			f.format = "jsonl"
		default:
			return fmt.Errorf("--format is required: the extension of --file %q is neither .csv nor .jsonl", f.file)
		}
	}
	if _, err := ParseFormat(f.format); err != nil {
		return fmt.Errorf("--format: %w", err)
	}
	return nil
}

// ParseInbox reads an --inbox value, NAMESPACE/NAME, and returns the namespace.
func ParseInbox(s string) (string, error) {
	ref, err := store.ParseRef("inbox", s)
	return ref.Namespace, err
}

// CLIActor is the audit log's actor of a command run by hand: "cli:<user>".
func CLIActor() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "cli:" + u.Username
	}
	return "cli:unknown"
}

// importMain runs `switchboard contacts import`: it talks to the database directly (the
// DSN in SWITCHBOARD_DATABASE_URL, like `switchboard send`), prints progress lines and
// then the result: counts, and each rejected row as "line N: field: reason". A file
// with rejected rows still imports its good rows; the exit status is then 0 as well.
func importMain(ctx context.Context, args []string, stdout io.Writer) error {
	var f importFlags
	if err := f.parse(args, stdout); err != nil {
		return err
	}
	dsn := os.Getenv(DatabaseURLEnv)
	if dsn == "" {
		return fmt.Errorf("%s is not set: give the PostgreSQL DSN", DatabaseURLEnv)
	}
	in, source := io.Reader(os.Stdin), "stdin"
	if f.file != "-" {
		file, err := os.Open(f.file)
		if err != nil {
			return fmt.Errorf("--file: %w", err)
		}
		defer func() { _ = file.Close() }()
		in, source = file, filepath.Base(f.file)
	}
	st, err := store.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer st.Close()
	format, _ := ParseFormat(f.format)
	res, err := Import(ctx, st, ImportRequest{Namespace: f.namespace, Actor: CLIActor(), Source: source, Format: format, Body: in,
		Progress: func(p Progress) { fmt.Fprintf(stdout, "%s %d rows\n", p.Phase, p.Rows) }})
	if err != nil {
		return fmt.Errorf("import of %s failed, nothing changed: %w", f.file, err)
	}
	PrintResult(stdout, res)
	return nil
}

// PrintResult writes an import's result as the CLI shows it.
func PrintResult(w io.Writer, res Result) {
	fmt.Fprintf(w, "rows %d: inserted %d, updated %d, unchanged %d, rejected %d\n",
		res.Rows, res.Inserted, res.Updated, res.Unchanged, res.Rejected)
	for _, e := range res.Errors {
		fmt.Fprintln(w, e.Error())
	}
	if res.ErrorsTruncated {
		fmt.Fprintf(w, "(only the first %d rejected rows are listed)\n", len(res.Errors))
	}
}
