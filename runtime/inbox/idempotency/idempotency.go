// Package idempotency makes the inbox API's requests with effects safe to retry: the
// Idempotency-Key HTTP header field of draft-ietf-httpapi-idempotency-key-header (IETF
// httpapi working group). A request that carries the header records its key, in the
// transaction of its effect, in the table idempotency_keys (migration 00017) with the
// answer it gave; a retry with the same key and the same request replays that answer
// (with Idempotent-Replayed: true) and does nothing again.
//
// The rules (docs/api.md#idempotency):
//   - A key is scoped to the Inbox's namespace and the caller (authz.Principal.Actor): one
//     caller's key never replays another's answer.
//   - The same key with another request (another method, path or content: the request's
//     fingerprint) is 422 naming the field Idempotency-Key (the draft's 422).
//   - A duplicate that arrives while the first request's transaction is still open waits
//     for it (the primary key's insert blocks) and then replays its answer; if the first
//     fails, its key is rolled back with its effect and the duplicate runs as new.
//   - Only successful answers are kept: a failed request changed nothing and may be retried
//     with the same key.
//   - A key is kept TTL (24 hours) after its first use; then it is forgotten and the same
//     key acts as new. Expired rows are deleted by writes (at most PruneBatch a write) in
//     the same namespace.
package idempotency

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox/problem"
)

const (
	// Header is the request header field (the draft's Idempotency-Key).
	Header = "Idempotency-Key"
	// ReplayedHeader is set to "true" on an answer replayed from an earlier request.
	ReplayedHeader = "Idempotent-Replayed"
	// MaxKeyLength bounds a key, in bytes (printable ASCII).
	MaxKeyLength = 255
	// TTL is how long a key is kept after its first use: the draft leaves it to the
	// server; a day covers any client's retries (and a page form resubmitted).
	TTL = 24 * time.Hour
	// PruneBatch is how many expired keys of a namespace one write deletes at most.
	PruneBatch = 100
)

// Request is one request that may carry a key. Key "" means the request has none: it is
// not deduplicated.
type Request struct {
	Namespace string // the Inbox's namespace
	Principal string // the caller, authz.Principal.Actor()
	Key       string
	Method    string
	Path      string
	// Fingerprint is the hex SHA-256 of the method, the path and the request's content.
	Fingerprint string
}

// Response is an answer kept for replay: its status and its JSON body, byte for byte.
type Response struct {
	Status int
	Body   []byte
}

// ParseKey reads the optional Idempotency-Key header of r: "" when absent; a 400 problem
// naming Idempotency-Key when it is not 1 to MaxKeyLength printable ASCII characters
// without spaces, or is given more than once.
func ParseKey(r *http.Request) (string, error) {
	vs := r.Header.Values(Header)
	if len(vs) > 1 {
		return "", problem.Field(http.StatusBadRequest, Header, "the Idempotency-Key header is given more than once")
	}
	if len(vs) == 0 {
		return "", nil
	}
	k := strings.TrimSpace(vs[0])
	ok := k != "" && len(k) <= MaxKeyLength
	for _, c := range k {
		ok = ok && c > ' ' && c < 0x7f
	}
	if !ok {
		return "", problem.Field(http.StatusBadRequest, Header,
			fmt.Sprintf("the Idempotency-Key header must be 1 to %d printable ASCII characters without spaces", MaxKeyLength))
	}
	return k, nil
}

// New reads r's key and fingerprints the request: its method, its URL path and content,
// the request's canonical form (the decoded body, so that a retry that encodes the same
// JSON differently is the same request). content must marshal to JSON.
func New(r *http.Request, namespace, principal string, content any) (Request, error) {
	key, err := ParseKey(r)
	if err != nil || key == "" {
		return Request{}, err
	}
	c, err := json.Marshal(content)
	if err != nil {
		return Request{}, fmt.Errorf("idempotency: fingerprint of %s %s: %w", r.Method, r.URL.Path, err)
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s %s\n", r.Method, r.URL.Path)
	h.Write(c)
	return Request{Namespace: namespace, Principal: principal, Key: key, Method: r.Method, Path: r.URL.Path,
		Fingerprint: hex.EncodeToString(h.Sum(nil))}, nil
}

// Lookup reads the answer kept for req: nil when req has no key or the key is unused or
// expired at now; a 422 problem when the key was used for another request.
func Lookup(ctx context.Context, tx pgx.Tx, req Request, now time.Time) (*Response, error) {
	if req.Key == "" {
		return nil, nil
	}
	var method, path, fp string
	var resp Response
	err := tx.QueryRow(ctx, `SELECT method, path, fingerprint, status, body FROM idempotency_keys
		WHERE namespace = $1 AND principal = $2 AND key = $3 AND created_at > $4`,
		req.Namespace, req.Principal, req.Key, now.Add(-TTL)).Scan(&method, &path, &fp, &resp.Status, &resp.Body)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("idempotency: lookup: %w", err)
	}
	if fp != req.Fingerprint {
		return nil, problem.Field(http.StatusUnprocessableEntity, Header, fmt.Sprintf(
			"this Idempotency-Key was used for another request (%s %s with other content) in the last %s: use a new key for a new request",
			method, path, TTL))
	}
	return &resp, nil
}

// Claim reserves req's key in tx, the transaction of the request's effect, before the
// effect: nil when the key is new (the caller acts, then calls Complete in tx); the answer
// to replay when an earlier request with the same key committed (tx then must change
// nothing); a 422 problem when that request was another one. A concurrent request holding
// the key in an open transaction makes Claim wait for it to end.
func Claim(ctx context.Context, tx pgx.Tx, req Request, now time.Time) (*Response, error) {
	if req.Key == "" {
		return nil, nil
	}
	if _, err := tx.Exec(ctx, `DELETE FROM idempotency_keys WHERE (namespace, principal, key) IN (
			SELECT namespace, principal, key FROM idempotency_keys
			WHERE namespace = $1 AND created_at <= $2 ORDER BY created_at LIMIT $3 FOR UPDATE SKIP LOCKED)
		OR (namespace = $1 AND principal = $4 AND key = $5 AND created_at <= $2)`,
		req.Namespace, now.Add(-TTL), PruneBatch, req.Principal, req.Key); err != nil {
		return nil, fmt.Errorf("idempotency: prune: %w", err)
	}
	tag, err := tx.Exec(ctx, `INSERT INTO idempotency_keys (namespace, principal, key, method, path, fingerprint, status, body, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, 0, '', $7) ON CONFLICT DO NOTHING`,
		req.Namespace, req.Principal, req.Key, req.Method, req.Path, req.Fingerprint, now)
	if err != nil {
		return nil, fmt.Errorf("idempotency: claim: %w", err)
	}
	if tag.RowsAffected() == 1 {
		return nil, nil
	}
	// The key was committed by another request (the insert waited for it if it was open).
	resp, err := Lookup(ctx, tx, req, now)
	if err == nil && resp == nil {
		return nil, errors.New("idempotency: the key is held but was not found")
	}
	return resp, err
}

// Complete records the answer of req's effect in tx, after Claim returned nil.
func Complete(ctx context.Context, tx pgx.Tx, req Request, resp Response) error {
	if req.Key == "" {
		return nil
	}
	_, err := tx.Exec(ctx, `UPDATE idempotency_keys SET status = $4, body = $5
		WHERE namespace = $1 AND principal = $2 AND key = $3`, req.Namespace, req.Principal, req.Key, resp.Status, resp.Body)
	if err != nil {
		return fmt.Errorf("idempotency: complete: %w", err)
	}
	return nil
}

// Encode is the JSON body of v as httpapi.WriteJSON writes it (with its final newline).
func Encode(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	return append(b, '\n'), err
}

// Write writes resp as a JSON answer; replayed adds Idempotent-Replayed: true.
func Write(w http.ResponseWriter, resp Response, replayed bool) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if replayed {
		w.Header().Set(ReplayedHeader, "true")
	}
	w.WriteHeader(resp.Status)
	_, _ = w.Write(resp.Body)
}

// errReplay ends Run's transaction when the answer is replayed.
var errReplay = errors.New("idempotency: replayed")

// Run runs fn, a request's effect, in a transaction of inTx with req's key claimed first,
// and records its answer (status, fn's result as JSON) in the same transaction. It
// returns the answer and whether it is replayed from an earlier request (then fn did not
// run); or fn's error (nothing is kept) or Claim's. Without a key, fn just runs.
func Run(ctx context.Context, inTx func(context.Context, func(pgx.Tx) error) error, req Request, now time.Time,
	status int, fn func(pgx.Tx) (any, error)) (Response, bool, error) {
	var resp Response
	replayed := false
	err := inTx(ctx, func(tx pgx.Tx) error {
		prev, err := Claim(ctx, tx, req, now)
		if err != nil {
			return err
		}
		if prev != nil {
			resp, replayed = *prev, true
			return errReplay
		}
		out, err := fn(tx)
		if err != nil {
			return err
		}
		body, err := Encode(out)
		if err != nil {
			return err
		}
		resp = Response{Status: status, Body: body}
		return Complete(ctx, tx, req, resp)
	})
	if errors.Is(err, errReplay) {
		err = nil
	}
	return resp, replayed, err
}
