// Package archive is the media archive's durable download queue (the media table,
// migration 00005) and the worker that empties it: the inbox enqueues a job in the
// transaction that ingests a media message, and the worker downloads it from the Cloud
// API into the media store at once (Meta's URLs expire after 5 minutes), retrying with
// backoff and marking it failed after bounded attempts. Workers in several replicas
// share the queue through FOR UPDATE SKIP LOCKED.
package archive

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox/media"
)

// Job is one media object to archive: the tenant (the Inbox's namespace), the Number
// resource whose token downloads it, Meta's media ID, and the inbox message carrying it
// (0 for none).
type Job struct {
	Namespace, Number, MediaID string
	MessageID                  int64
	MimeType                   string
}

// Enqueue records j as pending in tx (the ingest's transaction). A media ID already
// recorded for the Number (a webhook Meta delivered twice) is left as it is. Bad fields
// are refused by name before anything is written.
func Enqueue(ctx context.Context, tx pgx.Tx, j Job) error {
	if err := (media.Key{Namespace: j.Namespace, Number: j.Number, MediaID: j.MediaID}).Validate(); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `INSERT INTO media (namespace, number, media_id, message_id, mime_type)
		VALUES ($1, $2, $3, NULLIF($4, 0), NULLIF($5, ''))
		ON CONFLICT (namespace, number, media_id) DO NOTHING`,
		j.Namespace, j.Number, j.MediaID, j.MessageID, j.MimeType)
	if err != nil {
		return fmt.Errorf("archive: enqueue %s: %w", j.MediaID, err)
	}
	return nil
}

// States of a media row.
const (
	Pending = "pending" // waiting for (another) download
	Stored  = "stored"  // in the bucket, sha256 checked
	Failed  = "failed"  // given up; LastError says why
)

// Record is a media row as the API shows it. SHA256 is hex; Size in bytes.
type Record struct {
	ID            int64     `json:"id"`
	Namespace     string    `json:"-"`
	Number        string    `json:"number"`
	MediaID       string    `json:"media_id"`
	MessageID     *int64    `json:"message_id,omitempty"`
	Direction     string    `json:"direction"`
	State         string    `json:"state"`
	Attempts      int       `json:"attempts"`
	LastError     *string   `json:"last_error,omitempty"`
	ObjectKey     *string   `json:"-"`
	SHA256        *string   `json:"sha256,omitempty"`
	Size          *int64    `json:"size,omitempty"`
	MimeType      *string   `json:"mime_type,omitempty"`
	NextAttemptAt time.Time `json:"next_attempt_at"`
}

// ErrNotFound is Get's error for an ID the namespace does not have.
var ErrNotFound = errors.New("archive: no such media")

const recordColumns = `id, namespace, number, media_id, message_id, direction, state, attempts, last_error,
	object_key, sha256, size_bytes, mime_type, next_attempt_at`

func scanRecord(row pgx.Row, more ...any) (Record, error) {
	var r Record
	err := row.Scan(append([]any{&r.ID, &r.Namespace, &r.Number, &r.MediaID, &r.MessageID, &r.Direction, &r.State, &r.Attempts,
		&r.LastError, &r.ObjectKey, &r.SHA256, &r.Size, &r.MimeType, &r.NextAttemptAt}, more...)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, ErrNotFound
	}
	return r, err
}

// Get reads media row id of namespace only (another tenant's ID is ErrNotFound).
func Get(ctx context.Context, tx pgx.Tx, namespace string, id int64) (Record, error) {
	return scanRecord(tx.QueryRow(ctx, `SELECT `+recordColumns+` FROM media WHERE namespace = $1 AND id = $2`,
		namespace, id))
}

// ByMediaID reads the row of Meta's media ID for a Number of namespace.
func ByMediaID(ctx context.Context, tx pgx.Tx, namespace, number, mediaID string) (Record, error) {
	return scanRecord(tx.QueryRow(ctx, `SELECT `+recordColumns+` FROM media
		WHERE namespace = $1 AND number = $2 AND media_id = $3`, namespace, number, mediaID))
}

// ByMessage reads the media row of an inbox message of namespace.
func ByMessage(ctx context.Context, tx pgx.Tx, namespace string, messageID int64) (Record, error) {
	return scanRecord(tx.QueryRow(ctx, `SELECT `+recordColumns+` FROM media
		WHERE namespace = $1 AND message_id = $2`, namespace, messageID))
}

// Outbound is an outbound file already stored (Object) and uploaded to Meta (MediaID),
// sent in inbox message MessageID. (A request's Idempotency-Key is kept by
// runtime/inbox/idempotency.)
type Outbound struct {
	Namespace, Number, MediaID string
	MessageID                  int64
	Object                     media.Object
}

// RecordOutbound writes o's media row, stored, in tx (the transaction that queues its
// message), and returns its id.
func RecordOutbound(ctx context.Context, tx pgx.Tx, o Outbound) (int64, error) {
	var id int64
	err := tx.QueryRow(ctx, `INSERT INTO media (namespace, number, media_id, message_id, direction, mime_type, state,
			object_key, sha256, size_bytes, stored_at)
		VALUES ($1, $2, $3, $4, 'out', NULLIF($5, ''), 'stored', $6, $7, $8, now())
		RETURNING id`,
		o.Namespace, o.Number, o.MediaID, o.MessageID, o.Object.MimeType, o.Object.Key, o.Object.SHA256,
		o.Object.Size).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("archive: record outbound %s: %w", o.MediaID, err)
	}
	return id, nil
}

// ObjectOf is the object key of a stored row: its object_key (an outbound file's is
// namespace/number/out-…), or namespace/number/media-id when the row has none.
func ObjectOf(r Record) (media.Key, error) {
	if r.ObjectKey != nil && *r.ObjectKey != "" {
		return media.ParseKey(*r.ObjectKey)
	}
	return media.Key{Namespace: r.Namespace, Number: r.Number, MediaID: r.MediaID}, nil
}
