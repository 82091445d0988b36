package conversation

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5"
)

// Limits of what agents write (the schema's CHECKs of migrations 00003 and 00008).
const (
	MaxTags       = 50   // tags per contact or conversation
	MaxTagLength  = 64   // characters per tag
	MaxNoteLength = 4096 // characters per internal note
	MaxPriority   = 10   // priorities are 0 (normal) to MaxPriority
)

// InvalidError is a value an agent sent that cannot be applied; Field names it in the
// request ("add", "priority", "text").
type InvalidError struct {
	Field, Reason string
}

func (e *InvalidError) Error() string { return e.Field + ": " + e.Reason }

func invalid(field, format string, args ...any) error {
	return &InvalidError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Note is an internal note on a conversation: agents see it, the customer never does.
type Note struct {
	ID        int64     `json:"id"`
	Author    string    `json:"author"`
	Text      string    `json:"text"`
	CreatedAt time.Time `json:"createdAt"`
}

// AddNote adds an internal note by the viewer's actor to a conversation it may see
// (ErrNoConversation otherwise), and audits it ("conversation.note"), in tx.
func AddNote(ctx context.Context, tx pgx.Tx, vw Viewer, id int64, text string) (Note, error) {
	if strings.TrimSpace(text) == "" || len([]rune(text)) > MaxNoteLength {
		return Note{}, invalid("text", "must have 1 to %d characters, not only spaces", MaxNoteLength)
	}
	if _, err := Get(ctx, tx, vw, id, true); err != nil {
		return Note{}, err
	}
	n := Note{Author: vw.Actor, Text: text}
	if err := tx.QueryRow(ctx, `INSERT INTO conversation_notes (namespace, conversation_id, author, body)
		VALUES ($1, $2, $3, $4) RETURNING id, created_at`, vw.Namespace, id, vw.Actor, text).Scan(&n.ID, &n.CreatedAt); err != nil {
		return Note{}, fmt.Errorf("conversation: add note: %w", err)
	}
	return n, Audit(ctx, tx, vw.Namespace, vw.Actor, "conversation.note", "conversation", strconv.FormatInt(id, 10),
		nil, map[string]any{"note": n.ID})
}

// Notes returns a conversation's notes, oldest first (the caller checked visibility).
func Notes(ctx context.Context, tx pgx.Tx, namespace string, id int64) ([]Note, error) {
	rows, _ := tx.Query(ctx, `SELECT id, author, body, created_at FROM conversation_notes
		WHERE namespace = $1 AND conversation_id = $2 ORDER BY id`, namespace, id)
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Note])
	if err != nil {
		return nil, fmt.Errorf("conversation: notes: %w", err)
	}
	return out, nil
}

// SetPriority sets a conversation's priority (0 to MaxPriority) and audits the change
// ("conversation.priority", before and after), in tx.
func SetPriority(ctx context.Context, tx pgx.Tx, vw Viewer, id int64, priority int) (View, error) {
	if priority < 0 || priority > MaxPriority {
		return View{}, invalid("priority", "must be from 0 to %d, got %d", MaxPriority, priority)
	}
	v, err := Get(ctx, tx, vw, id, true)
	if err != nil {
		return View{}, err
	}
	if _, err := tx.Exec(ctx, `UPDATE conversations SET priority = $3, updated_at = now() WHERE namespace = $1 AND id = $2`,
		vw.Namespace, id, priority); err != nil {
		return View{}, fmt.Errorf("conversation: set priority: %w", err)
	}
	before := v.Priority
	v.Priority = priority
	return v, Audit(ctx, tx, vw.Namespace, vw.Actor, "conversation.priority", "conversation", strconv.FormatInt(id, 10),
		map[string]int{"priority": before}, map[string]int{"priority": priority})
}

// TagChange adds and then removes tags, or (Replace) sets them to Add.
type TagChange struct {
	Add    []string `json:"add"`
	Remove []string `json:"remove"`
	// Replace makes the result Add alone (PUT …/tags); Field then names Add in errors
	// ("tags"); it is "add" when empty.
	Replace bool   `json:"-"`
	Field   string `json:"-"`
}

// Apply returns tags with the change applied: removals first, then additions not
// already there, in order; an error names the field ("add[2]") of a tag that is empty,
// longer than MaxTagLength or has control characters, or "add" when the result would
// have more than MaxTags.
func (c TagChange) Apply(tags []string) ([]string, error) {
	field := c.Field
	if field == "" {
		field = "add"
	}
	for i, t := range c.Add {
		if strings.TrimSpace(t) == "" || len([]rune(t)) > MaxTagLength || strings.ContainsFunc(t, unicode.IsControl) {
			return nil, invalid(fmt.Sprintf("%s[%d]", field, i), "a tag has 1 to %d characters and no control characters, got %q", MaxTagLength, t)
		}
	}
	if c.Replace {
		tags = nil
	}
	out := slices.DeleteFunc(slices.Clone(tags), func(t string) bool { return slices.Contains(c.Remove, t) })
	for _, t := range c.Add {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	if len(out) > MaxTags {
		return nil, invalid(field, "at most %d tags, the change would make %d", MaxTags, len(out))
	}
	if out == nil {
		out = []string{}
	}
	return out, nil
}

// ChangeTags applies a tag change to a conversation and audits it
// ("conversation.tags", before and after), in tx.
func ChangeTags(ctx context.Context, tx pgx.Tx, vw Viewer, id int64, c TagChange) (View, error) {
	v, err := Get(ctx, tx, vw, id, true)
	if err != nil {
		return View{}, err
	}
	tags, err := c.Apply(v.Tags)
	if err != nil {
		return View{}, err
	}
	if _, err := tx.Exec(ctx, `UPDATE conversations SET tags = $3, updated_at = now() WHERE namespace = $1 AND id = $2`,
		vw.Namespace, id, tags); err != nil {
		return View{}, fmt.Errorf("conversation: change tags: %w", err)
	}
	before := v.Tags
	v.Tags = tags
	return v, Audit(ctx, tx, vw.Namespace, vw.Actor, "conversation.tags", "conversation", strconv.FormatInt(id, 10),
		map[string][]string{"tags": before}, map[string][]string{"tags": tags})
}

// IsInvalid reports whether err is an InvalidError, and returns it.
func IsInvalid(err error) (*InvalidError, bool) {
	var e *InvalidError
	ok := errors.As(err, &e)
	return e, ok
}
