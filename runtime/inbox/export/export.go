// Package export writes an Inbox's data in standard formats, streamed: conversations
// with their messages (JSONL or CSV), contacts (CSV) and the audit log (JSONL),
// filtered by Number, time range and tag (docs/export.md). Rows are read through a
// server-side cursor, a batch at a time, and written through a buffer flushed after each
// batch, so memory stays the same whatever the size of the export. The HTTP handler is
// in api.go and `switchboard export` in cli.go.
package export

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox/conversation"
	"github.com/switchboard-dev/switchboard/runtime/store"
)

// Kind is what is exported.
type Kind string

// The kinds of export.
const (
	Conversations Kind = "conversations" // formats jsonl, csv
	Contacts      Kind = "contacts"      // format csv
	Audit         Kind = "audit"         // format jsonl
)

// Format is an export format.
type Format string

// The formats.
const (
	JSONL Format = "jsonl"
	CSV   Format = "csv"
)

// Request is one export. Kind and Format must be a supported pair (Validate).
type Request struct {
	Namespace string
	Kind      Kind
	Format    Format
	Filter    Filter
}

// Filter narrows an export; the zero Filter exports everything of the namespace.
//
//   - Number: conversations on that Number (the Number object's name); contacts with a
//     conversation on it. Not for the audit log.
//   - From, To: a half-open time range [From, To); zero means unbounded. Conversations:
//     the messages created in it (conversations without one are left out); contacts:
//     updated in it; audit: entries written in it.
//   - Tag: conversations whose own tags or whose contact's tags have it; contacts with
//     it. Not for the audit log.
type Filter struct {
	Number   string    `json:"number,omitempty"`
	From, To time.Time `json:"-"`
	Tag      string    `json:"tag,omitempty"`
}

// FieldError is a bad request parameter.
type FieldError struct{ Field, Reason string }

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Validate checks the kind, the format for that kind and the filter, naming the bad one.
func (r Request) Validate() error {
	formats := map[Kind][]Format{Conversations: {JSONL, CSV}, Contacts: {CSV}, Audit: {JSONL}}
	ok, known := formats[r.Kind]
	if !known {
		return &FieldError{"kind", fmt.Sprintf("%q is not one of conversations, contacts, audit", r.Kind)}
	}
	found := false
	for _, f := range ok {
		found = found || f == r.Format
	}
	if !found {
		return &FieldError{"format", fmt.Sprintf("%s are exported as %v, not %q", r.Kind, ok, r.Format)}
	}
	f := r.Filter
	switch {
	case !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To):
		return &FieldError{"to", "must be after from"}
	case r.Kind == Audit && f.Number != "":
		return &FieldError{"number", "the audit log is not filtered by Number"}
	case r.Kind == Audit && f.Tag != "":
		return &FieldError{"tag", "the audit log is not filtered by tag"}
	}
	return nil
}

// Stats is what an export wrote: Rows counts messages (conversations: one per message,
// plus one per conversation without message), contacts or audit entries.
type Stats struct {
	Rows          int64
	Conversations int64
}

// Batch is how many rows each FETCH reads from the cursor.
const Batch = 1000

// Write validates req, records the export in the audit log (action "export.<kind>",
// object_kind "export", object_id the kind, after: the format and filter; in its own
// transaction, before anything is written, so an interrupted export is recorded too) and
// writes it to w in one read-only REPEATABLE READ transaction (one consistent snapshot).
// flush, when set, is called after each batch, once the buffer is written to w (an HTTP
// handler passes its Flusher). Errors: a *FieldError for a bad request, otherwise the
// database's or w's.
func Write(ctx context.Context, st *store.Store, actor string, req Request, w io.Writer, flush func()) (Stats, error) {
	if err := req.Validate(); err != nil {
		return Stats{}, err
	}
	if err := auditExport(ctx, st, actor, req); err != nil {
		return Stats{}, err
	}
	if flush == nil {
		flush = func() {}
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	var wr writer
	switch {
	case req.Kind == Conversations && req.Format == JSONL:
		wr = &conversationsJSONL{w: bw}
	case req.Kind == Conversations:
		wr = newCSV(bw, conversationsHeader)
	case req.Kind == Contacts:
		wr = newCSV(bw, contactsHeader)
	default:
		wr = &auditJSONL{w: bw}
	}
	var stats Stats
	query, args := req.query()
	err := st.ReadTx(ctx, func(tx pgx.Tx) error {
		// One snapshot for the whole export (the first statement may still set it).
		if _, err := tx.Exec(ctx, `SET TRANSACTION ISOLATION LEVEL REPEATABLE READ`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DECLARE export_cursor NO SCROLL CURSOR FOR `+query, args...); err != nil {
			return err
		}
		for {
			// Described on every call: the same FETCH returns other columns for another
			// kind, so a cached statement description would not fit.
			rows, err := tx.Query(ctx, fmt.Sprintf(`FETCH FORWARD %d FROM export_cursor`, Batch), pgx.QueryExecModeDescribeExec)
			if err != nil {
				return err
			}
			n := 0
			for rows.Next() {
				n++
				if err := wr.row(rows, &stats); err != nil {
					rows.Close()
					return err
				}
			}
			if err := rows.Err(); err != nil {
				return err
			}
			if n < Batch {
				if err := wr.end(); err != nil {
					return err
				}
				return bw.Flush()
			}
			if err := bw.Flush(); err != nil {
				return err
			}
			flush()
		}
	})
	if err == nil {
		flush()
	}
	return stats, err
}

func auditExport(ctx context.Context, st *store.Store, actor string, req Request) error {
	after := map[string]any{"format": req.Format, "number": req.Filter.Number, "tag": req.Filter.Tag}
	if !req.Filter.From.IsZero() {
		after["from"] = req.Filter.From
	}
	if !req.Filter.To.IsZero() {
		after["to"] = req.Filter.To
	}
	return st.InTx(ctx, func(tx pgx.Tx) error {
		return conversation.Audit(ctx, tx, req.Namespace, actor, "export."+string(req.Kind), "export", string(req.Kind), nil, after)
	})
}

// timeArg is a bound of the range: NULL when zero.
func timeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// query returns the cursor's query: $1 namespace, $2 number ("" any), $3 from, $4 to,
// $5 tag ("" any).
func (r Request) query() (string, []any) {
	f := r.Filter
	args := []any{r.Namespace, f.Number, timeArg(f.From), timeArg(f.To), f.Tag}
	switch r.Kind {
	case Conversations:
		join := "LEFT JOIN"
		if !f.From.IsZero() || !f.To.IsZero() {
			join = "JOIN"
		}
		return `SELECT v.id, v.number, k.wa_id, k.profile_name, v.status, v.tags, v.assignee, v.team, v.priority,
		               v.created_at, v.resolved_at,
		               m.id, m.direction, m.wamid, m.type, m.text, m.content, m.status, m.author,
		               m.error_code, coalesce(m.error_reason, m.error_title), m.created_at,
		               md.id, md.direction, md.state, md.sha256, md.mime_type, md.size_bytes
		          FROM conversations v JOIN contacts k ON k.id = v.contact_id
		          ` + join + ` messages m ON m.conversation_id = v.id AND m.namespace = v.namespace
		               AND ($3::timestamptz IS NULL OR m.created_at >= $3) AND ($4::timestamptz IS NULL OR m.created_at < $4)
		          LEFT JOIN LATERAL (SELECT id, direction, state, sha256, mime_type, size_bytes FROM media
		                              WHERE message_id = m.id ORDER BY id LIMIT 1) md ON true
		         WHERE v.namespace = $1 AND ($2 = '' OR v.number = $2)
		           AND ($5 = '' OR $5 = ANY (v.tags) OR $5 = ANY (k.tags))
		         ORDER BY v.id, m.created_at, m.id`, args
	case Contacts:
		return `SELECT k.wa_id, k.profile_name, k.tags, k.attributes, k.marketing_opt_out, k.created_at, k.updated_at
		          FROM contacts k
		         WHERE k.namespace = $1
		           AND ($2 = '' OR EXISTS (SELECT 1 FROM conversations v WHERE v.namespace = $1 AND v.contact_id = k.id AND v.number = $2))
		           AND ($3::timestamptz IS NULL OR k.updated_at >= $3) AND ($4::timestamptz IS NULL OR k.updated_at < $4)
		           AND ($5 = '' OR $5 = ANY (k.tags))
		         ORDER BY k.id`, args
	}
	return `SELECT id, at, actor, action, object_kind, object_id, before, after FROM audit_log
	         WHERE namespace = $1 AND $2 = '' AND $5 = ''
	           AND ($3::timestamptz IS NULL OR at >= $3) AND ($4::timestamptz IS NULL OR at < $4)
	         ORDER BY id`, args
}

// writer writes one kind of export, row by row.
type writer interface {
	row(rows pgx.Rows, stats *Stats) error
	end() error
}

// ConversationLine is one line of the conversations JSONL export: a conversation with
// its messages in order.
type ConversationLine struct {
	ID          int64       `json:"id"`
	Number      string      `json:"number"`
	WAID        string      `json:"waId"`
	ProfileName *string     `json:"profileName,omitempty"`
	Status      string      `json:"status"`
	Tags        []string    `json:"tags"`
	Assignee    *string     `json:"assignee,omitempty"`
	Team        *string     `json:"team,omitempty"`
	Priority    int16       `json:"priority"`
	CreatedAt   time.Time   `json:"createdAt"`
	ResolvedAt  *time.Time  `json:"resolvedAt,omitempty"`
	Messages    []MessageV1 `json:"messages"`
}

// MessageV1 is a message as the exports write it.
type MessageV1 struct {
	ID          int64           `json:"id"`
	Direction   string          `json:"direction"`
	WAMID       *string         `json:"wamid,omitempty"`
	Type        string          `json:"type"`
	Text        *string         `json:"text,omitempty"`
	Content     json.RawMessage `json:"content"`
	Status      string          `json:"status"`
	Author      *string         `json:"author,omitempty"`
	ErrorCode   *int32          `json:"errorCode,omitempty"`
	ErrorReason *string         `json:"errorReason,omitempty"`
	CreatedAt   time.Time       `json:"createdAt"`
	// Media is the archived file the message carries, inbound or outbound (omitted
	// when none).
	Media *MediaV1 `json:"media,omitempty"`
}

// MediaV1 is the archive row of a message's file: its id (GET /api/v1/media/{id} serves
// the bytes), direction (in, out), state (pending, stored, failed), hex SHA-256, MIME
// type and size in bytes.
type MediaV1 struct {
	ID        int64   `json:"id"`
	Direction string  `json:"direction"`
	State     string  `json:"state"`
	SHA256    *string `json:"sha256,omitempty"`
	MimeType  *string `json:"mimeType,omitempty"`
	Size      *int64  `json:"size,omitempty"`
}

// conversationRow is one row of the conversations query.
type conversationRow struct {
	conv ConversationLine
	msg  struct {
		ID                               *int64
		Direction, Type, Status          *string
		WAMID, Text, Author, ErrorReason *string
		Content                          []byte
		ErrorCode                        *int32
		CreatedAt                        *time.Time
	}
	media struct {
		ID               *int64
		Direction, State *string
		SHA256, MimeType *string
		Size             *int64
	}
}

func scanConversation(rows pgx.Rows) (conversationRow, error) {
	var r conversationRow
	c, m := &r.conv, &r.msg
	err := rows.Scan(&c.ID, &c.Number, &c.WAID, &c.ProfileName, &c.Status, &c.Tags, &c.Assignee, &c.Team, &c.Priority,
		&c.CreatedAt, &c.ResolvedAt, &m.ID, &m.Direction, &m.WAMID, &m.Type, &m.Text, &m.Content, &m.Status, &m.Author,
		&m.ErrorCode, &m.ErrorReason, &m.CreatedAt,
		&r.media.ID, &r.media.Direction, &r.media.State, &r.media.SHA256, &r.media.MimeType, &r.media.Size)
	return r, err
}

func (r conversationRow) message() (MessageV1, bool) {
	m := r.msg
	if m.ID == nil {
		return MessageV1{}, false
	}
	out := MessageV1{ID: *m.ID, Direction: *m.Direction, WAMID: m.WAMID, Type: *m.Type, Text: m.Text, Content: m.Content,
		Status: *m.Status, Author: m.Author, ErrorCode: m.ErrorCode, ErrorReason: m.ErrorReason, CreatedAt: *m.CreatedAt}
	if md := r.media; md.ID != nil {
		out.Media = &MediaV1{ID: *md.ID, Direction: *md.Direction, State: *md.State, SHA256: md.SHA256, MimeType: md.MimeType, Size: md.Size}
	}
	return out, true
}

// conversationsJSONL writes one line per conversation, its messages streamed into it.
type conversationsJSONL struct {
	w       *bufio.Writer
	current int64
	open    bool
	first   bool
}

func (c *conversationsJSONL) row(rows pgx.Rows, stats *Stats) error {
	r, err := scanConversation(rows)
	if err != nil {
		return err
	}
	if !c.open || r.conv.ID != c.current {
		if err := c.end(); err != nil {
			return err
		}
		r.conv.Messages = []MessageV1{}
		head, err := json.Marshal(r.conv)
		if err != nil {
			return err
		}
		// head ends in `"messages":[]}`: keep it open for the messages.
		_, _ = c.w.Write(head[:len(head)-2])
		c.current, c.open, c.first = r.conv.ID, true, true
		stats.Conversations++
	}
	m, ok := r.message()
	if !ok {
		stats.Rows++
		return nil
	}
	if !c.first {
		_ = c.w.WriteByte(',')
	}
	c.first = false
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_, err = c.w.Write(b)
	stats.Rows++
	return err
}

func (c *conversationsJSONL) end() error {
	if !c.open {
		return nil
	}
	c.open = false
	_, err := c.w.WriteString("]}\n")
	return err
}

// The CSV headers (docs/export.md).
var (
	conversationsHeader = []string{"conversation_id", "number", "wa_id", "profile_name", "conversation_status",
		"conversation_tags", "assignee", "team", "priority", "conversation_created_at", "resolved_at",
		"message_id", "direction", "wamid", "type", "text", "content", "message_status", "author", "error_code",
		"error_reason", "message_created_at", "media_archive_id", "media_direction", "media_state", "media_sha256",
		"media_mime_type", "media_size"}
	contactsHeader = []string{"phone", "name", "tags", "attributes", "marketing_opt_out", "created_at", "updated_at"}
)

type csvWriter struct {
	w       *csv.Writer
	header  []string
	started bool
	rec     []string
	// lastConversation is the conversation of the previous row (conversations CSV).
	lastConversation int64
}

func newCSV(w io.Writer, header []string) *csvWriter {
	return &csvWriter{w: csv.NewWriter(w), header: header, rec: make([]string, len(header))}
}

func (c *csvWriter) row(rows pgx.Rows, stats *Stats) error {
	if !c.started {
		c.started = true
		if err := c.w.Write(c.header); err != nil {
			return err
		}
	}
	var err error
	if len(c.header) == len(contactsHeader) {
		err = c.contact(rows)
	} else {
		err = c.conversation(rows, stats)
	}
	if err != nil {
		return err
	}
	stats.Rows++
	if err := c.w.Write(c.rec); err != nil {
		return err
	}
	c.w.Flush() // into the bufio.Writer below
	return c.w.Error()
}

func (c *csvWriter) end() error {
	if !c.started {
		c.started = true
		if err := c.w.Write(c.header); err != nil {
			return err
		}
	}
	c.w.Flush()
	return c.w.Error()
}

func (c *csvWriter) contact(rows pgx.Rows) error {
	var waID string
	var name *string
	var tags []string
	var attrs []byte
	var optOut bool
	var created, updated time.Time
	if err := rows.Scan(&waID, &name, &tags, &attrs, &optOut, &created, &updated); err != nil {
		return err
	}
	c.rec[0], c.rec[1], c.rec[2], c.rec[3] = "+"+waID, str(name), strings.Join(tags, ";"), string(attrs)
	c.rec[4], c.rec[5], c.rec[6] = strconv.FormatBool(optOut), stamp(&created), stamp(&updated)
	return nil
}

func (c *csvWriter) conversation(rows pgx.Rows, stats *Stats) error {
	r, err := scanConversation(rows)
	if err != nil {
		return err
	}
	v := r.conv
	if v.ID != c.lastConversation {
		c.lastConversation = v.ID
		stats.Conversations++
	}
	rec := c.rec
	rec[0], rec[1], rec[2], rec[3], rec[4] = strconv.FormatInt(v.ID, 10), v.Number, "+"+v.WAID, str(v.ProfileName), v.Status
	rec[5], rec[6], rec[7], rec[8] = strings.Join(v.Tags, ";"), str(v.Assignee), str(v.Team), strconv.Itoa(int(v.Priority))
	rec[9], rec[10] = stamp(&v.CreatedAt), stamp(v.ResolvedAt)
	for i := 11; i < len(rec); i++ {
		rec[i] = ""
	}
	if m, ok := r.message(); ok {
		rec[11], rec[12], rec[13], rec[14], rec[15] = strconv.FormatInt(m.ID, 10), m.Direction, str(m.WAMID), m.Type, str(m.Text)
		rec[16], rec[17], rec[18], rec[20], rec[21] = string(m.Content), m.Status, str(m.Author), str(m.ErrorReason), stamp(&m.CreatedAt)
		if m.ErrorCode != nil {
			rec[19] = strconv.Itoa(int(*m.ErrorCode))
		}
		if md := m.Media; md != nil {
			rec[22], rec[23], rec[24], rec[25], rec[26] = strconv.FormatInt(md.ID, 10), md.Direction, md.State, str(md.SHA256), str(md.MimeType)
			if md.Size != nil {
				rec[27] = strconv.FormatInt(*md.Size, 10)
			}
		}
	}
	return nil
}

// AuditLine is one line of the audit export.
type AuditLine struct {
	ID         int64           `json:"id"`
	At         time.Time       `json:"at"`
	Actor      string          `json:"actor"`
	Action     string          `json:"action"`
	ObjectKind string          `json:"objectKind"`
	ObjectID   string          `json:"objectId"`
	Before     json.RawMessage `json:"before,omitempty"`
	After      json.RawMessage `json:"after,omitempty"`
}

type auditJSONL struct{ w *bufio.Writer }

func (a *auditJSONL) row(rows pgx.Rows, stats *Stats) error {
	var l AuditLine
	if err := rows.Scan(&l.ID, &l.At, &l.Actor, &l.Action, &l.ObjectKind, &l.ObjectID, &l.Before, &l.After); err != nil {
		return err
	}
	b, err := json.Marshal(l)
	if err != nil {
		return err
	}
	_, _ = a.w.Write(b)
	stats.Rows++
	return a.w.WriteByte('\n')
}

func (a *auditJSONL) end() error { return nil }

func str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func stamp(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}
