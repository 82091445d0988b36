package contacts

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/switchboard-dev/switchboard/runtime/inbox/httpapi"
	"github.com/switchboard-dev/switchboard/runtime/inbox/problem"
	"github.com/switchboard-dev/switchboard/runtime/phone"
	"github.com/switchboard-dev/switchboard/runtime/store"
)

// Format is an import format.
type Format string

// The import formats (docs/contacts.md).
const (
	FormatCSV   Format = "csv"
	FormatJSONL Format = "jsonl"
)

// ParseFormat returns the format named s ("csv" or "jsonl"), or an error naming s.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(s)); f {
	case FormatCSV, FormatJSONL:
		return f, nil
	}
	return "", fmt.Errorf("format must be csv or jsonl, got %q", s)
}

// MaxLineBytes is the longest line of a JSONL import (and the longest CSV record).
const MaxLineBytes = 1 << 20

// row is one good input row, ready for the database.
type row struct {
	line  int
	waID  string
	name  *string  // nil: not given, the stored name is kept
	tags  []string // added to the contact's tags
	attrs []byte   // a JSON object merged into the contact's attributes
}

// RowError is one refused input row: its line number (1 is the CSV header or the JSONL
// file's first line), the field at fault and why.
type RowError struct {
	Line   int    `json:"line"`
	Field  string `json:"field,omitempty"`
	Reason string `json:"reason"`
}

func (e *RowError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
	}
	return fmt.Sprintf("line %d: %s: %s", e.Line, e.Field, e.Reason)
}

// HeaderError is a CSV header that cannot be imported (no phone column, an unknown or
// repeated column): nothing is imported.
type HeaderError struct {
	Column string
	Reason string
}

func (e *HeaderError) Error() string {
	if e.Column == "" {
		return "CSV header: " + e.Reason
	}
	return fmt.Sprintf("CSV header: column %q: %s", e.Column, e.Reason)
}

// reader yields rows and row errors from an input, one at a time.
type reader interface {
	// next returns the next row, or a *RowError for a bad row, or io.EOF, or another
	// error that ends the import.
	next() (row, error)
}

// CSV columns (docs/contacts.md). Export-only columns are accepted and ignored, so a
// contacts export imports back.
const (
	colPhone      = "phone"
	colName       = "name"
	colTags       = "tags"
	colAttributes = "attributes"
	attrPrefix    = "attr."
)

var exportOnlyColumns = []string{"marketing_opt_out", "created_at", "updated_at"}

type csvReader struct {
	r                           *csv.Reader
	phone, name, tags, attrsCol int
	attrCols                    map[int]string // column index → attribute key
	columns                     []string       // the header's names
}

func newCSVReader(in io.Reader) (*csvReader, error) {
	r := csv.NewReader(in)
	r.ReuseRecord = true
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, &HeaderError{Reason: "the file is empty: the first line must name the columns (phone, name, tags, attributes, attr.<key>)"}
	}
	if err != nil {
		return nil, &HeaderError{Reason: err.Error()}
	}
	c := &csvReader{r: r, phone: -1, name: -1, tags: -1, attrsCol: -1, attrCols: map[int]string{}}
	seen := map[string]bool{}
	for i, h := range header {
		if i == 0 {
			h = strings.TrimPrefix(h, "\uFEFF") // a spreadsheet's byte order mark
		}
		col := strings.TrimSpace(h)
		c.columns = append(c.columns, col)
		if !httpapi.ValidText(col) {
			return nil, &HeaderError{Column: strings.ToValidUTF8(strings.ReplaceAll(col, "\x00", "\uFFFD"), "\uFFFD"), Reason: textReason}
		}
		if seen[col] {
			return nil, &HeaderError{Column: col, Reason: "appears twice"}
		}
		seen[col] = true
		switch key, isAttr := strings.CutPrefix(col, attrPrefix); {
		case col == colPhone:
			c.phone = i
		case col == colName:
			c.name = i
		case col == colTags:
			c.tags = i
		case col == colAttributes:
			c.attrsCol = i
		case isAttr:
			if reason := CheckAttributeKey(key); reason != "" {
				return nil, &HeaderError{Column: col, Reason: reason}
			}
			c.attrCols[i] = key
		case slices.Contains(exportOnlyColumns, col):
		default:
			return nil, &HeaderError{Column: col, Reason: "unknown column (known: phone, name, tags, attributes, attr.<key>)"}
		}
	}
	if c.phone < 0 {
		return nil, &HeaderError{Column: colPhone, Reason: "the phone column is required"}
	}
	r.FieldsPerRecord = len(header)
	return c, nil
}

func (c *csvReader) next() (row, error) {
	rec, err := c.r.Read()
	line, _ := c.r.FieldPos(0)
	var pe *csv.ParseError
	switch {
	case errors.Is(err, io.EOF):
		return row{}, io.EOF
	case errors.As(err, &pe):
		return row{}, &RowError{Line: pe.StartLine, Reason: "CSV: " + pe.Err.Error()}
	case err != nil:
		return row{}, err
	}
	for i, v := range rec {
		if !httpapi.ValidText(v) {
			return row{}, &RowError{Line: line, Field: c.columns[i], Reason: textReason}
		}
	}
	return c.build(line, rec)
}

// textReason refuses a value PostgreSQL cannot store (httpapi.ValidText).
const textReason = "must be UTF-8 text without the NUL character (U+0000)"

func (c *csvReader) build(line int, rec []string) (row, error) {
	r := row{line: line}
	var err error
	if r.waID, err = canonical(line, rec[c.phone]); err != nil {
		return row{}, err
	}
	if c.name >= 0 {
		if r.name, err = name(line, rec[c.name]); err != nil {
			return row{}, err
		}
	}
	if c.tags >= 0 {
		fields := strings.FieldsFunc(rec[c.tags], func(r rune) bool { return r == ';' || r == '|' })
		for i := range fields {
			fields[i] = strings.TrimSpace(fields[i])
		}
		if r.tags, err = tags(line, fields); err != nil {
			return row{}, err
		}
	}
	attrs := map[string]any{}
	if c.attrsCol >= 0 && strings.TrimSpace(rec[c.attrsCol]) != "" {
		if err := json.Unmarshal([]byte(rec[c.attrsCol]), &attrs); err != nil || attrs == nil {
			return row{}, &RowError{Line: line, Field: colAttributes, Reason: "must be a JSON object, such as {\"tier\":\"gold\"}"}
		}
	}
	for i, key := range c.attrCols {
		if v := rec[i]; v != "" {
			if _, dup := attrs[key]; dup {
				return row{}, &RowError{Line: line, Field: attrPrefix + key, Reason: "the attribute is also in the attributes column"}
			}
			attrs[key] = v
		}
	}
	if r.attrs, err = attributes(line, attrs); err != nil {
		return row{}, err
	}
	return r, nil
}

type jsonlReader struct {
	s    *bufio.Scanner
	line int
}

func newJSONLReader(in io.Reader) *jsonlReader {
	s := bufio.NewScanner(in)
	s.Buffer(make([]byte, 0, 64<<10), MaxLineBytes)
	return &jsonlReader{s: s}
}

// jsonlRow is one JSONL line.
type jsonlRow struct {
	Phone      *string        `json:"phone"`
	Name       *string        `json:"name"`
	Tags       []string       `json:"tags"`
	Attributes map[string]any `json:"attributes"`
}

func (j *jsonlReader) next() (row, error) {
	for j.s.Scan() {
		j.line++
		b := bytes.TrimSpace(j.s.Bytes())
		if len(b) == 0 {
			continue
		}
		var bad problem.Problem
		if errors.As(httpapi.CheckJSON(b), &bad) {
			return row{}, &RowError{Line: j.line, Field: bad.Field, Reason: textReason}
		}
		var in jsonlRow
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil {
			return row{}, &RowError{Line: j.line, Reason: "not a JSON object of phone, name, tags, attributes: " + err.Error()}
		}
		if dec.More() {
			return row{}, &RowError{Line: j.line, Reason: "more than one JSON value on the line"}
		}
		if errors.As(httpapi.Strict(b, &in), &bad) {
			return row{}, &RowError{Line: j.line, Field: bad.Field, Reason: bad.Detail}
		}
		return j.build(in)
	}
	if errors.Is(j.s.Err(), bufio.ErrTooLong) {
		return row{}, &store.ValidationError{Field: "body", Reason: fmt.Sprintf("line %d is longer than %d bytes", j.line+1, MaxLineBytes)}
	}
	if err := j.s.Err(); err != nil {
		return row{}, err
	}
	return row{}, io.EOF
}

func (j *jsonlReader) build(in jsonlRow) (row, error) {
	r := row{line: j.line}
	var err error
	if in.Phone == nil {
		return row{}, &RowError{Line: j.line, Field: colPhone, Reason: "phone is required"}
	}
	if r.waID, err = canonical(j.line, *in.Phone); err != nil {
		return row{}, err
	}
	if in.Name != nil {
		if r.name, err = name(j.line, *in.Name); err != nil {
			return row{}, err
		}
	}
	if r.tags, err = tags(j.line, in.Tags); err != nil {
		return row{}, err
	}
	if r.attrs, err = attributes(j.line, in.Attributes); err != nil {
		return row{}, err
	}
	return r, nil
}

func canonical(line int, s string) (string, error) {
	w, err := phone.Canonical(s)
	if err != nil {
		return "", &RowError{Line: line, Field: colPhone, Reason: err.Error()}
	}
	return w, nil
}

func name(line int, s string) (*string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return nil, nil
	case !utf8.ValidString(s):
		return nil, &RowError{Line: line, Field: colName, Reason: "is not valid UTF-8"}
	case utf8.RuneCountInString(s) > MaxNameLength:
		return nil, &RowError{Line: line, Field: colName, Reason: fmt.Sprintf("has more than %d characters", MaxNameLength)}
	}
	return &s, nil
}

// tags validates and deduplicates tags, keeping their order.
func tags(line int, in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	for _, t := range in {
		if reason := CheckTag(t); reason != "" {
			return nil, &RowError{Line: line, Field: colTags, Reason: reason}
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	if len(out) > MaxTags {
		return nil, &RowError{Line: line, Field: colTags, Reason: fmt.Sprintf("%d tags; a contact has at most %d", len(out), MaxTags)}
	}
	return out, nil
}

func attributes(line int, in map[string]any) ([]byte, error) {
	keys := make([]string, 0, len(in))
	for k := range in {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if reason := CheckAttributeKey(k); reason != "" {
			return nil, &RowError{Line: line, Field: colAttributes, Reason: reason}
		}
	}
	if len(in) == 0 {
		return []byte("{}"), nil
	}
	return json.Marshal(in)
}
