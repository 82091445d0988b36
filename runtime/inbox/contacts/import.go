package contacts

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox/conversation"
	"github.com/switchboard-dev/switchboard/runtime/store"
)

// Limits of one import.
const (
	// MaxRows is the most data rows one import reads; a longer input is refused whole.
	MaxRows = 1_000_000
	// MaxReportedErrors is the most row errors a Result lists (the first, by line);
	// Result.Rejected counts them all.
	MaxReportedErrors = 1000
	// batchRows is how many rows are copied to the server at once.
	batchRows = 5000
)

// ImportRequest is one import.
type ImportRequest struct {
	Namespace string    // the tenant
	Actor     string    // the audit log's actor, such as "agent:ana" or "cli:root"
	Source    string    // the audit entry's object_id: a file name, or "api"
	Format    Format    // FormatCSV or FormatJSONL
	Body      io.Reader // read once, as a stream
	// Progress, when set, is called after every batch read and every batch written.
	Progress func(Progress)
}

// Progress is how far an import is: Phase "read" (rows read and copied into the
// transaction) then "write" (rows upserted into contacts).
type Progress struct {
	Phase string `json:"phase"`
	Rows  int    `json:"rows"`
}

// Result is what an import did. Rows counts the data rows read; Inserted, Updated and
// Unchanged the good rows (a contact identical to the row is left alone, its updated_at
// too); Rejected the bad rows, of which Errors lists the first MaxReportedErrors by line.
type Result struct {
	Rows            int        `json:"rows"`
	Inserted        int        `json:"inserted"`
	Updated         int        `json:"updated"`
	Unchanged       int        `json:"unchanged"`
	Rejected        int        `json:"rejected"`
	Errors          []RowError `json:"errors"`
	ErrorsTruncated bool       `json:"errorsTruncated,omitempty"`
}

// Import reads req.Body and upserts its good rows into the namespace's contacts, in one
// transaction with one audit entry (action "contacts.import", object_kind "contacts",
// object_id req.Source, after: the Result's counts): all or nothing.
//
// The input is streamed: rows are copied in batches of 5,000 into a temporary table
// (COPY), so memory does not grow with the input; duplicates of a number within the
// file and rows whose tags would exceed MaxTags are rejected there, then contacts are
// upserted by (namespace, wa_id) in batches. An existing contact keeps its tags and
// attributes and gains the row's (tags added, attributes merged key by key, the row's
// value winning); a row's name replaces the stored one; empty cells change nothing.
//
// Errors: a *HeaderError (bad CSV header), a *store.ValidationError (more than MaxRows
// rows, a JSONL line over MaxLineBytes), or the database's or the reader's error.
func Import(ctx context.Context, st *store.Store, req ImportRequest) (Result, error) {
	var res Result
	if req.Actor == "" || req.Namespace == "" {
		return res, errors.New("contacts: import: namespace and actor are required")
	}
	var rd reader
	switch req.Format {
	case FormatCSV:
		c, err := newCSVReader(req.Body)
		if err != nil {
			return res, err
		}
		rd = c
	case FormatJSONL:
		rd = newJSONLReader(req.Body)
	default:
		return res, fmt.Errorf("format must be csv or jsonl, got %q", req.Format)
	}
	progress := req.Progress
	if progress == nil {
		progress = func(Progress) {}
	}
	err := st.InTx(ctx, func(tx pgx.Tx) error {
		res = Result{}
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE contacts_import (
			line integer PRIMARY KEY, wa_id text NOT NULL, profile_name text, tags text[] NOT NULL,
			attributes jsonb NOT NULL, error_field text, error text) ON COMMIT DROP`); err != nil {
			return err
		}
		if err := copyRows(ctx, tx, rd, &res, progress); err != nil {
			return err
		}
		if err := upsert(ctx, tx, req.Namespace, &res, progress); err != nil {
			return err
		}
		return conversation.Audit(ctx, tx, req.Namespace, req.Actor, "contacts.import", "contacts", req.Source, nil,
			map[string]any{"format": req.Format, "rows": res.Rows, "inserted": res.Inserted,
				"updated": res.Updated, "unchanged": res.Unchanged, "rejected": res.Rejected})
	})
	if err != nil {
		return Result{}, err
	}
	return res, nil
}

// copyRows reads every row, keeps the row errors (the first MaxReportedErrors) and copies
// the good rows into contacts_import in batches.
func copyRows(ctx context.Context, tx pgx.Tx, rd reader, res *Result, progress func(Progress)) error {
	batch := make([][]any, 0, batchRows)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"contacts_import"},
			[]string{"line", "wa_id", "profile_name", "tags", "attributes"}, pgx.CopyFromRows(batch))
		batch = batch[:0]
		progress(Progress{Phase: "read", Rows: res.Rows})
		return err
	}
	for {
		r, err := rd.next()
		var re *RowError
		switch {
		case errors.Is(err, io.EOF):
			return flush()
		case errors.As(err, &re):
			res.Rows++
			res.Rejected++
			if len(res.Errors) < MaxReportedErrors {
				res.Errors = append(res.Errors, *re)
			}
		case err != nil:
			return err
		default:
			res.Rows++
			if r.tags == nil {
				r.tags = []string{} // a file without a tags column
			}
			batch = append(batch, []any{int32(r.line), r.waID, r.name, r.tags, string(r.attrs)})
		}
		if res.Rows > MaxRows {
			return &store.ValidationError{Field: "rows", Reason: fmt.Sprintf("more than %d rows: split the file", MaxRows)}
		}
		if len(batch) == batchRows {
			if err := flush(); err != nil {
				return err
			}
		}
	}
}

// upsert rejects duplicates and rows with too many tags, then upserts the rest in
// batches of lines, and merges the database's row errors into res.
func upsert(ctx context.Context, tx pgx.Tx, namespace string, res *Result, progress func(Progress)) error {
	if _, err := tx.Exec(ctx, `
		UPDATE contacts_import r SET error_field = 'phone', error = 'the same number as line ' || d.first
		  FROM (SELECT line, min(line) OVER (PARTITION BY wa_id) AS first FROM contacts_import) d
		 WHERE r.line = d.line AND d.first <> d.line`); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `
		UPDATE contacts_import r SET error_field = 'tags',
		       error = format('%s tags with the contact''s existing ones; a contact has at most %s', n.total, $2::int)
		  FROM (SELECT r.line, cardinality(c.tags || ARRAY(SELECT t FROM unnest(r.tags) t WHERE NOT t = ANY (c.tags))) AS total
		          FROM contacts_import r JOIN contacts c ON c.namespace = $1 AND c.wa_id = r.wa_id
		         WHERE r.error IS NULL) n
		 WHERE r.line = n.line AND n.total > $2`, namespace, MaxTags); err != nil {
		return err
	}
	var last int
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(line), 0) FROM contacts_import`).Scan(&last); err != nil {
		return err
	}
	written := 0
	for from := 0; from <= last; from += batchRows {
		var ins, upd, n int
		err := tx.QueryRow(ctx, `
			WITH up AS (
				INSERT INTO contacts AS c (namespace, wa_id, profile_name, tags, attributes)
				SELECT $1, wa_id, profile_name, tags, attributes FROM contacts_import
				 WHERE error IS NULL AND line >= $2 AND line < $3
				 ORDER BY wa_id
				ON CONFLICT (namespace, wa_id) DO UPDATE SET
				       profile_name = coalesce(EXCLUDED.profile_name, c.profile_name),
				       tags = c.tags || ARRAY(SELECT t FROM unnest(EXCLUDED.tags) WITH ORDINALITY u (t, o)
				                               WHERE NOT t = ANY (c.tags) ORDER BY o),
				       attributes = c.attributes || EXCLUDED.attributes,
				       updated_at = now()
				 WHERE coalesce(EXCLUDED.profile_name, c.profile_name) IS DISTINCT FROM c.profile_name
				    OR NOT EXCLUDED.tags <@ c.tags
				    OR c.attributes || EXCLUDED.attributes <> c.attributes
				RETURNING (xmax = 0) AS inserted)
			SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted),
			       (SELECT count(*) FROM contacts_import WHERE error IS NULL AND line >= $2 AND line < $3)
			  FROM up`, namespace, from, from+batchRows).Scan(&ins, &upd, &n)
		if err != nil {
			return err
		}
		res.Inserted += ins
		res.Updated += upd
		res.Unchanged += n - ins - upd
		written += n
		progress(Progress{Phase: "write", Rows: written})
	}
	return collectErrors(ctx, tx, res)
}

// collectErrors adds the rows the database refused to res, keeping the first
// MaxReportedErrors by line.
func collectErrors(ctx context.Context, tx pgx.Tx, res *Result) error {
	var n int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM contacts_import WHERE error IS NOT NULL`).Scan(&n); err != nil {
		return err
	}
	res.Rejected += n
	rows, _ := tx.Query(ctx, `SELECT line, error_field, error FROM contacts_import WHERE error IS NOT NULL
		ORDER BY line LIMIT $1`, MaxReportedErrors)
	more, err := pgx.CollectRows(rows, pgx.RowToStructByPos[RowError])
	if err != nil {
		return err
	}
	res.Errors = append(res.Errors, more...)
	slices.SortFunc(res.Errors, func(a, b RowError) int { return a.Line - b.Line })
	if len(res.Errors) > MaxReportedErrors {
		res.Errors = res.Errors[:MaxReportedErrors]
	}
	res.ErrorsTruncated = res.Rejected > len(res.Errors)
	if res.Errors == nil {
		res.Errors = []RowError{}
	}
	return nil
}
