// Package media is the inbox's media archive: every inbound image, document, audio,
// video and sticker downloaded from the Cloud API as soon as it arrives (Meta's download
// URLs expire after 5 minutes) and kept in a bucket, its SHA-256 checked against Meta's
// before the object is committed. Storage goes through gocloud.dev/blob: a local
// directory (fileblob) in dev mode, an S3-compatible bucket (s3blob) in production.
// Objects are streamed through a bounded buffer, never held whole in memory.
//
// Store keeps the objects; Fetch downloads one media ID into it; the jobs subpackage is
// the durable download queue and its worker.
package media

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"regexp"
	"strings"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
)

// MaxObjectBytes bounds one object: Meta's largest media (documents) is 100 MB.
const MaxObjectBytes = 100 << 20

// bufferSize bounds what a write holds in memory (the S3 part size).
const bufferSize = 5 << 20

// metaSHA256 is the object metadata key holding the hex SHA-256.
const metaSHA256 = "sha256"

// Store keeps media objects in a bucket. It is safe for concurrent use.
type Store struct {
	bucket *blob.Bucket
}

// NewStore wraps an open bucket; Close closes it.
func NewStore(b *blob.Bucket) *Store { return &Store{bucket: b} }

// Close closes the bucket.
func (s *Store) Close() error { return s.bucket.Close() }

// Key names one media object per tenant: namespace/number/media-id, where number is the
// Number resource's name and media-id Meta's media ID.
type Key struct {
	Namespace, Number, MediaID string
}

var segment = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$`)

// String is the object key, "namespace/number/media-id".
func (k Key) String() string { return k.Namespace + "/" + k.Number + "/" + k.MediaID }

// Validate names the first part that cannot be a key segment (letters, digits, ".", "_",
// "-"; starting with a letter or digit; at most 253 characters).
func (k Key) Validate() error {
	for _, p := range [][2]string{{"namespace", k.Namespace}, {"number", k.Number}, {"media ID", k.MediaID}} {
		if !segment.MatchString(p[1]) {
			return fmt.Errorf("media: invalid %s %q in object key", p[0], p[1])
		}
	}
	return nil
}

// Object describes a stored object. SHA256 is hex; Size in bytes.
type Object struct {
	Key      string
	SHA256   string
	Size     int64
	MimeType string
}

// Expect is what Meta says of the media: hex SHA-256, size in bytes (≤ 0 when
// unknown) and MIME type.
type Expect struct {
	SHA256   string
	Size     int64
	MimeType string
}

// ChecksumError is a download whose bytes do not match Meta's sha256 (or file_size): the
// object was not committed.
type ChecksumError struct {
	Want, Got         string
	WantSize, GotSize int64
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("media: sha256 mismatch: Meta says %s (%d bytes), downloaded %s (%d bytes)",
		e.Want, e.WantSize, e.Got, e.GotSize)
}

// Put streams r into key and commits the object only when its SHA-256 (and size, when
// known) equals want; otherwise the write is aborted, nothing is stored, and the error
// is a *ChecksumError. Writing the same key again replaces the object with the same
// bytes, so a repeated download is harmless.
func (s *Store) Put(ctx context.Context, key Key, r io.Reader, want Expect) (Object, error) {
	if err := key.Validate(); err != nil {
		return Object{}, err
	}
	if _, err := hex.DecodeString(want.SHA256); err != nil || len(want.SHA256) != 64 {
		return Object{}, fmt.Errorf("media: expected sha256 %q is not 64 hex digits", want.SHA256)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := s.bucket.NewWriter(ctx, key.String(), &blob.WriterOptions{BufferSize: bufferSize,
		ContentType: want.MimeType, Metadata: map[string]string{metaSHA256: strings.ToLower(want.SHA256)}})
	if err != nil {
		return Object{}, fmt.Errorf("media: open %s: %w", key, err)
	}
	return commit(w, cancel, r, key, want)
}

// commit copies r into w through a hash; on a mismatch or an error it cancels the write
// before closing it, which aborts it (gocloud.dev/blob: "To abort a write, cancel ctx").
func commit(w *blob.Writer, cancel context.CancelFunc, r io.Reader, key Key, want Expect) (Object, error) {
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), io.LimitReader(r, MaxObjectBytes+1))
	if err == nil {
		err = check(h, n, want)
	}
	if err != nil {
		cancel()
		_ = w.Close()
		return Object{}, err
	}
	if err := w.Close(); err != nil {
		return Object{}, fmt.Errorf("media: write %s: %w", key, err)
	}
	return Object{Key: key.String(), SHA256: strings.ToLower(want.SHA256), Size: n, MimeType: want.MimeType}, nil
}

func check(h hash.Hash, n int64, want Expect) error {
	if n > MaxObjectBytes {
		return fmt.Errorf("media: object larger than %d bytes", int64(MaxObjectBytes))
	}
	got := hex.EncodeToString(h.Sum(nil))
	if !strings.EqualFold(got, want.SHA256) || (want.Size > 0 && n != want.Size) {
		return &ChecksumError{Want: want.SHA256, Got: got, WantSize: want.Size, GotSize: n}
	}
	return nil
}

// Stat describes key's object; ok is false when there is none.
func (s *Store) Stat(ctx context.Context, key Key) (obj Object, ok bool, err error) {
	a, err := s.bucket.Attributes(ctx, key.String())
	if gcerrors.Code(err) == gcerrors.NotFound {
		return Object{}, false, nil
	}
	if err != nil {
		return Object{}, false, fmt.Errorf("media: stat %s: %w", key, err)
	}
	return Object{Key: key.String(), SHA256: a.Metadata[metaSHA256], Size: a.Size, MimeType: a.ContentType}, true, nil
}

// ErrNotFound is Open's and Delete's error for a key without an object.
var ErrNotFound = errors.New("media: no such object")

// Open streams key's object; the caller closes it.
func (s *Store) Open(ctx context.Context, key Key) (*blob.Reader, error) {
	r, err := s.bucket.NewReader(ctx, key.String(), nil)
	if gcerrors.Code(err) == gcerrors.NotFound {
		return nil, ErrNotFound
	}
	return r, err
}

// Delete removes key's object (retention); ErrNotFound when there is none.
func (s *Store) Delete(ctx context.Context, key Key) error {
	err := s.bucket.Delete(ctx, key.String())
	if gcerrors.Code(err) == gcerrors.NotFound {
		return ErrNotFound
	}
	return err
}
