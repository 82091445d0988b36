package contacts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/switchboard-dev/switchboard/runtime/inbox/httpapi"
	"github.com/switchboard-dev/switchboard/runtime/inbox/problem"
)

// Filter selects contacts by tags and attributes; every part given must hold (an
// empty Filter selects every contact of the namespace). As JSON:
//
//	{"tags":{"allOf":["vip"],"anyOf":["es","mx"],"noneOf":["churned"]},
//	 "attributes":{"tier":"gold","visits":3}}
type Filter struct {
	Tags TagFilter `json:"tags"`
	// Attributes: each key's stored value equals the given one (a string, number or
	// boolean; "3" and 3 differ: a CSV import stores strings).
	Attributes map[string]any `json:"attributes,omitempty"`
}

// TagFilter: the contact has every tag of AllOf, at least one of AnyOf (when not
// empty) and none of NoneOf.
type TagFilter struct {
	AllOf  []string `json:"allOf,omitempty"`
	AnyOf  []string `json:"anyOf,omitempty"`
	NoneOf []string `json:"noneOf,omitempty"`
}

// FieldError is a bad part of a segment or a filter: Field is its JSON path
// ("filter.tags.allOf[2]").
type FieldError struct {
	Field, Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// DecodeFilter reads a Filter from JSON, refusing unknown members (names that differ
// from the declared ones only by case included) and duplicate names (httpapi.Strict),
// and validates it.
func DecodeFilter(raw []byte) (Filter, error) {
	var f Filter
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(&f); err != nil {
		return Filter{}, &FieldError{Field: "filter", Reason: err.Error()}
	}
	var bad problem.Problem
	if errors.As(httpapi.Strict(raw, &f), &bad) {
		return Filter{}, &FieldError{Field: "filter." + bad.Field, Reason: bad.Detail}
	}
	return f, f.Validate("filter")
}

// Validate checks the filter's tags (CheckTag, at most MaxTags in each list) and
// attributes (CheckAttributeKey; values strings, numbers or booleans), naming the first
// bad one under the path prefix.
func (f Filter) Validate(prefix string) error {
	for name, list := range map[string][]string{"allOf": f.Tags.AllOf, "anyOf": f.Tags.AnyOf, "noneOf": f.Tags.NoneOf} {
		if len(list) > MaxTags {
			return &FieldError{Field: prefix + ".tags." + name, Reason: fmt.Sprintf("%d tags; at most %d", len(list), MaxTags)}
		}
		for i, t := range list {
			if reason := CheckTag(t); reason != "" {
				return &FieldError{Field: fmt.Sprintf("%s.tags.%s[%d]", prefix, name, i), Reason: reason}
			}
		}
	}
	keys := make([]string, 0, len(f.Attributes))
	for k := range f.Attributes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if reason := CheckAttributeKey(k); reason != "" {
			return &FieldError{Field: prefix + ".attributes", Reason: reason}
		}
		switch f.Attributes[k].(type) {
		case string, bool, json.Number, float64, int, int64:
		default:
			return &FieldError{Field: prefix + ".attributes." + k, Reason: "must be a string, a number or a boolean"}
		}
	}
	return nil
}

// where is the SQL condition of a filter on contacts aliased c, with $1 the namespace;
// its arguments are $2 to $5.
const where = `c.namespace = $1 AND c.tags @> $2::text[]
	AND (cardinality($3::text[]) = 0 OR c.tags && $3::text[])
	AND NOT c.tags && $4::text[] AND c.attributes @> $5::jsonb`

func (f Filter) args(namespace string) ([]any, error) {
	attrs := f.Attributes
	if attrs == nil {
		attrs = map[string]any{}
	}
	b, err := json.Marshal(attrs)
	if err != nil {
		return nil, err
	}
	nonNil := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	return []any{namespace, nonNil(f.Tags.AllOf), nonNil(f.Tags.AnyOf), nonNil(f.Tags.NoneOf), string(b)}, nil
}

// Count returns how many contacts of the namespace the filter selects.
func Count(ctx context.Context, q Querier, namespace string, f Filter) (int64, error) {
	args, err := f.args(namespace)
	if err != nil {
		return 0, err
	}
	var n int64
	if err := q.QueryRow(ctx, `SELECT count(*) FROM contacts c WHERE `+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("contacts: count: %w", err)
	}
	return n, nil
}

// EachBatch is how many contacts Each reads per query.
const EachBatch = 1000

// Each calls fn with every contact of the namespace the filter selects, in increasing
// id order (keyset pagination, EachBatch per query, so memory does not grow with the
// segment). Opted-out contacts are included (Contact.MarketingOptOut): the caller
// decides. It stops at fn's first error and returns it; it returns ctx's error when ctx
// ends. Run it in one REPEATABLE READ transaction for a consistent snapshot.
func Each(ctx context.Context, q Querier, namespace string, f Filter, fn func(Contact) error) error {
	args, err := f.args(namespace)
	if err != nil {
		return err
	}
	after := int64(0)
	for {
		rows, _ := q.Query(ctx, `SELECT c.id, c.wa_id, coalesce(c.profile_name, ''), c.tags, c.attributes, c.marketing_opt_out
			FROM contacts c WHERE `+where+` AND c.id > $6 ORDER BY c.id LIMIT $7`, append(args, after, EachBatch)...)
		batch, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Contact])
		if err != nil {
			return fmt.Errorf("contacts: each: %w", err)
		}
		for _, c := range batch {
			if err := fn(c); err != nil {
				return err
			}
		}
		if len(batch) < EachBatch {
			return nil
		}
		after = batch[len(batch)-1].ID
	}
}

// Segment is a stored filter (table segments, migration 00011).
type Segment struct {
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Filter      Filter    `json:"filter"`
	CreatedBy   string    `json:"createdBy"`
	UpdatedBy   string    `json:"updatedBy"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

// Errors of the segment functions.
var (
	ErrNoSegment     = errors.New("no such segment")
	ErrSegmentExists = errors.New("a segment of that name exists")
)

var segmentName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// ValidateSegment checks a segment's name (a DNS label: lower-case letters, digits and
// hyphens, at most 63), description (at most 1,000 bytes) and filter.
func ValidateSegment(s Segment) error {
	switch {
	case !segmentName.MatchString(s.Name):
		return &FieldError{Field: "name", Reason: fmt.Sprintf("%q is not a segment name: lower-case letters, digits and hyphens, at most 63, starting and ending with a letter or digit", s.Name)}
	case len(s.Description) > 1000:
		return &FieldError{Field: "description", Reason: "at most 1000 bytes"}
	}
	return s.Filter.Validate("filter")
}

const segmentColumns = `name, description, filter, created_by, updated_by, created_at, updated_at`

func scanSegment(row pgx.Row) (Segment, error) {
	var s Segment
	var filter []byte
	err := row.Scan(&s.Name, &s.Description, &filter, &s.CreatedBy, &s.UpdatedBy, &s.CreatedAt, &s.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return s, ErrNoSegment
	}
	if err != nil {
		return s, err
	}
	dec := json.NewDecoder(bytes.NewReader(filter))
	dec.UseNumber()
	return s, dec.Decode(&s.Filter)
}

// GetSegment returns the namespace's segment called name, or ErrNoSegment.
func GetSegment(ctx context.Context, q Querier, namespace, name string) (Segment, error) {
	return scanSegment(q.QueryRow(ctx, `SELECT `+segmentColumns+` FROM segments WHERE namespace = $1 AND name = $2`, namespace, name))
}

// ListSegments returns the namespace's segments by name.
func ListSegments(ctx context.Context, q Querier, namespace string) ([]Segment, error) {
	rows, err := q.Query(ctx, `SELECT `+segmentColumns+` FROM segments WHERE namespace = $1 ORDER BY name`, namespace)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Segment{}
	for rows.Next() {
		s, err := scanSegment(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// CreateSegment validates s and stores it with an audit entry (action "segment.create",
// object_kind "segment", object_id the name) in tx; ErrSegmentExists when the name is
// taken. It returns the stored segment.
func CreateSegment(ctx context.Context, tx Execer, namespace, actor string, s Segment) (Segment, error) {
	if err := ValidateSegment(s); err != nil {
		return Segment{}, err
	}
	filter, _ := json.Marshal(s.Filter)
	out, err := scanSegment(tx.QueryRow(ctx, `INSERT INTO segments (namespace, name, description, filter, created_by, updated_by)
		VALUES ($1, $2, $3, $4::jsonb, $5, $5) RETURNING `+segmentColumns, namespace, s.Name, s.Description, string(filter), actor))
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return Segment{}, ErrSegmentExists
	}
	if err != nil {
		return Segment{}, err
	}
	return out, audit(ctx, tx, namespace, actor, "segment.create", s.Name, nil, &out)
}

// UpdateSegment replaces the description and filter of the segment s.Name, with an audit
// entry (before and after) in tx; ErrNoSegment when there is none.
func UpdateSegment(ctx context.Context, tx Execer, namespace, actor string, s Segment) (Segment, error) {
	if err := ValidateSegment(s); err != nil {
		return Segment{}, err
	}
	before, err := scanSegment(tx.QueryRow(ctx, `SELECT `+segmentColumns+` FROM segments WHERE namespace = $1 AND name = $2 FOR UPDATE`, namespace, s.Name))
	if err != nil {
		return Segment{}, err
	}
	filter, _ := json.Marshal(s.Filter)
	out, err := scanSegment(tx.QueryRow(ctx, `UPDATE segments SET description = $3, filter = $4::jsonb, updated_by = $5, updated_at = now()
		WHERE namespace = $1 AND name = $2 RETURNING `+segmentColumns, namespace, s.Name, s.Description, string(filter), actor))
	if err != nil {
		return Segment{}, err
	}
	return out, audit(ctx, tx, namespace, actor, "segment.update", s.Name, &before, &out)
}

// DeleteSegment deletes the segment called name, with an audit entry in tx; ErrNoSegment
// when there is none.
func DeleteSegment(ctx context.Context, tx Execer, namespace, actor, name string) error {
	before, err := scanSegment(tx.QueryRow(ctx, `DELETE FROM segments WHERE namespace = $1 AND name = $2 RETURNING `+segmentColumns, namespace, name))
	if err != nil {
		return err
	}
	return audit(ctx, tx, namespace, actor, "segment.delete", name, &before, nil)
}

func audit(ctx context.Context, tx Execer, namespace, actor, action, id string, before, after *Segment) error {
	js := func(s *Segment) any {
		if s == nil {
			return nil
		}
		b, _ := json.Marshal(s)
		return string(b)
	}
	_, err := tx.Exec(ctx, `INSERT INTO audit_log (namespace, actor, action, object_kind, object_id, before, after)
		VALUES ($1, $2, $3, 'segment', $4, $5::jsonb, $6::jsonb)`, namespace, actor, action, id, js(before), js(after))
	return err
}
