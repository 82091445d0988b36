package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// Graph is what Fetch needs of the Cloud API; *whatsapp.Client implements it with the
// Number's access token.
type Graph interface {
	GetMedia(ctx context.Context, mediaID string) (whatsapp.MediaInfo, error)
	Download(ctx context.Context, url string) (io.ReadCloser, int64, error)
}

// Fetch archives key.MediaID: when the object is already stored with a sha256 it returns
// it (a repeated job downloads nothing); otherwise GET /{media-id}, download the URL and
// Put it, checked against Meta's sha256 and file_size. A download refused with 401 or 404
// (the URL expired, valid for 5 minutes) is tried once more with a fresh GET /{media-id}.
// A mismatch is a *ChecksumError; a Graph refusal a *whatsapp.Error.
func Fetch(ctx context.Context, g Graph, s *Store, key Key) (Object, error) {
	if obj, ok, err := s.Stat(ctx, key); err != nil || (ok && obj.SHA256 != "") {
		return obj, err
	}
	obj, err := fetchOnce(ctx, g, s, key)
	if urlRefused(err) {
		obj, err = fetchOnce(ctx, g, s, key)
	}
	return obj, err
}

func fetchOnce(ctx context.Context, g Graph, s *Store, key Key) (Object, error) {
	info, err := g.GetMedia(ctx, key.MediaID)
	if err != nil {
		return Object{}, fmt.Errorf("media: GET %s: %w", key.MediaID, err)
	}
	body, _, err := g.Download(ctx, info.URL)
	if err != nil {
		return Object{}, fmt.Errorf("media: download %s: %w", key.MediaID, err)
	}
	defer body.Close()
	return s.Put(ctx, key, body, Expect{SHA256: info.SHA256, Size: info.FileSize, MimeType: info.MimeType})
}

// urlRefused reports a download answered 401 or 404, as an expired URL is.
func urlRefused(err error) bool {
	var e *whatsapp.Error
	return errors.As(err, &e) && e.Code == 0 && (e.HTTPStatus == http.StatusNotFound || e.HTTPStatus == http.StatusUnauthorized)
}
