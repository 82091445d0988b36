package export_test

import (
	"bytes"
	"os"
	osexec "os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox/export"
	"github.com/switchboard-dev/switchboard/runtime/store"
)

// docTables returns the names matched by re's first group in the section of the file at
// path (from the repository root) that starts with the heading, sorted and unique.
func docTables(t *testing.T, path, heading string, re *regexp.Regexp) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", path))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n"+heading+"\n")
	if !ok {
		t.Fatalf("%s has no heading %q", path, heading)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var out []string
	for _, m := range re.FindAllStringSubmatch(section, -1) {
		out = append(out, m[1])
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// The backup recipe of docs/export.md for a shared database: a data-only dump of the
// tables it lists, restored with --disable-triggers into a database Switchboard
// migrated, gives the same export and takes new rows. The lists of docs/export.md and
// of the README's uninstall section name exactly the tables the migrations create.
func TestBackupRestore(t *testing.T) {
	st, conn := open(t)
	seed(t, conn, "acme", "sales", 34600000000, 20, 5, "vip")
	exec(t, conn, `INSERT INTO segments (namespace, name, filter, created_by, updated_by) VALUES ('acme', 'vip', '{}', 'test', 'test')`)
	exec(t, conn, `INSERT INTO media (namespace, number, media_id, message_id) SELECT 'acme', 'sales', 'm1', min(id) FROM messages`)

	rows, _ := conn.Query(t.Context(), `SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`)
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	data := slices.DeleteFunc(slices.Clone(tables), func(s string) bool { return s == "goose_db_version" })
	if got := docTables(t, "docs/export.md", "## Backup and restore", regexp.MustCompile(`--table=([a-z_]+)`)); !slices.Equal(got, data) {
		t.Errorf("docs/export.md dumps %v; the migrations create %v", got, data)
	}
	if got := docTables(t, "docs/export.md", "## Backup and restore", regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\|")); !slices.Equal(got, tables) {
		t.Errorf("docs/export.md lists %v; the migrations create %v", got, tables)
	}
	readme := docTables(t, "README.md", "## Uninstall", regexp.MustCompile("`([a-z_]+)`"))
	for _, table := range tables {
		if !slices.Contains(readme, table) {
			t.Errorf("the README's uninstall section does not name the table %s", table)
		}
	}

	dump := filepath.Join(t.TempDir(), "switchboard-data.dump")
	args := []string{"--format=custom", "--no-owner", "--data-only", "--dbname=" + conn.Config().ConnString(), "--file=" + dump}
	for _, table := range data {
		args = append(args, "--table="+table)
	}
	run(t, filepath.Join(srv.BinDir, "pg_dump"), args...)

	restoredDSN := srv.NewDatabase(t)
	restored, err := store.Open(t.Context(), restoredDSN) // applies the migrations
	if err != nil {
		t.Fatal(err)
	}
	defer restored.Close()
	run(t, filepath.Join(srv.BinDir, "pg_restore"), "--no-owner", "--data-only", "--disable-triggers", "--exit-on-error",
		"--dbname="+restoredDSN, dump)

	req := export.Request{Namespace: "acme", Kind: export.Conversations, Format: export.JSONL}
	before, _ := write(t, st, req)
	after, stats := write(t, restored, req)
	if before != after || stats.Rows != 100 {
		t.Errorf("the restored database exports %d rows, differently:\n%.300s\n%.300s", stats.Rows, before, after)
	}
	rc, err := pgx.Connect(t.Context(), restoredDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rc.Close(t.Context()) }()
	var media int
	if err := rc.QueryRow(t.Context(), `SELECT count(*) FROM media`).Scan(&media); err != nil || media != 1 {
		t.Errorf("media rows after restore: %d %v (the trigger must not queue them again)", media, err)
	}
	// The sequences came along: a new contact gets a fresh id.
	if _, err := rc.Exec(t.Context(), `INSERT INTO contacts (namespace, wa_id) VALUES ('acme', '15550009999')`); err != nil {
		t.Errorf("a new contact after restore: %v", err)
	}
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	var out bytes.Buffer
	cmd := osexec.CommandContext(t.Context(), name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args[:2], " "), err, out.String())
	}
}
