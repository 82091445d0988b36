package whatsapp

import (
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// MediaInfo is Meta's answer to GET /{version}/{media-id} ("Retrieve Media URL" in the
// Media reference): URL downloads the bytes with the access token and is valid for 5
// minutes; SHA256 is the hex SHA-256 of the bytes; FileSize is in bytes.
type MediaInfo struct {
	ID       string
	URL      string
	MimeType string
	SHA256   string
	FileSize int64
}

// mediaInfoJSON is the wire form: Meta's description types file_size as a string while
// Meta's servers have been seen answering a number, so both are accepted.
type mediaInfoJSON struct {
	ID       string         `json:"id"`
	URL      string         `json:"url"`
	MimeType string         `json:"mime_type"`
	SHA256   string         `json:"sha256"`
	FileSize flexibleNumber `json:"file_size"`
}

type flexibleNumber int64

// UnmarshalJSON reads 123 or "123".
func (n *flexibleNumber) UnmarshalJSON(b []byte) error {
	v, err := strconv.ParseInt(strings.Trim(string(b), `"`), 10, 64)
	if err != nil || v < 0 {
		return fmt.Errorf("whatsapp: file_size %s is not a byte count", b)
	}
	*n = flexibleNumber(v)
	return nil
}

// GetMedia retrieves media mediaID's download URL, MIME type, SHA-256 and size. Errors
// are *Error (an unknown or deleted ID is Graph code 100).
func (c *Client) GetMedia(ctx context.Context, mediaID string) (MediaInfo, error) {
	if !validID(mediaID) {
		return MediaInfo{}, fmt.Errorf("whatsapp: invalid media ID %q", mediaID)
	}
	var out mediaInfoJSON
	if err := c.do(ctx, http.MethodGet, c.endpoint(nil, mediaID), nil, &out); err != nil {
		return MediaInfo{}, err
	}
	return MediaInfo{ID: out.ID, URL: out.URL, MimeType: out.MimeType, SHA256: out.SHA256,
		FileSize: int64(out.FileSize)}, nil
}

// DeleteMedia deletes media mediaID from Meta's servers ("Delete Media").
func (c *Client) DeleteMedia(ctx context.Context, mediaID string) error {
	if !validID(mediaID) {
		return fmt.Errorf("whatsapp: invalid media ID %q", mediaID)
	}
	return c.do(ctx, http.MethodDelete, c.endpoint(nil, mediaID), nil, nil)
}

// Download opens a URL from GetMedia with the access token and returns the body, which
// the caller streams and closes, and its Content-Length (-1 when unknown). The token is
// only sent over https or to the client's own BaseURL host (the simulator), never to
// another plain-http host. A URL that has expired (after 5 minutes) or is refused answers
// an *Error with HTTPStatus 404 or 401: call GetMedia again for a fresh URL.
func (c *Client) Download(ctx context.Context, rawURL string) (io.ReadCloser, int64, error) {
	req, err := c.downloadRequest(ctx, rawURL)
	if err != nil {
		return nil, 0, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, 0, c.networkError(ctx, err, true)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBytes))
		e := c.failure(fmt.Sprintf("media download: HTTP %d", resp.StatusCode), resp.StatusCode, nil, resp.Header)
		e.Ambiguous = false
		return nil, 0, e
	}
	return resp.Body, resp.ContentLength, nil
}

func (c *Client) downloadRequest(ctx context.Context, rawURL string) (*http.Request, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("whatsapp: invalid media URL")
	}
	if u.Scheme != "https" && (u.Scheme != c.base.Scheme || u.Host != c.base.Host) {
		return nil, fmt.Errorf("whatsapp: media URL host %s is neither https nor the client's BaseURL host", u.Host)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("whatsapp: build request: %s", c.scrub(err.Error()))
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return req, nil
}

// UploadMedia uploads a file for phoneNumberID ("Upload Media": multipart/form-data with
// messaging_product, type and file), streaming body, and returns the new media ID.
// mimeType must be one of Meta's supported media types (image/jpeg, application/pdf…).
func (c *Client) UploadMedia(ctx context.Context, phoneNumberID, mimeType, filename string, body io.Reader) (string, error) {
	if !validID(phoneNumberID) {
		return "", fmt.Errorf("whatsapp: invalid phone number ID %q", phoneNumberID)
	}
	if mimeType == "" {
		return "", fmt.Errorf("whatsapp: upload needs a MIME type")
	}
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() { pw.CloseWithError(writeUpload(mw, mimeType, filename, body)) }()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint(nil, phoneNumberID, "media"), pr)
	if err != nil {
		_ = pr.Close()
		return "", fmt.Errorf("whatsapp: build request: %s", c.scrub(err.Error()))
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+c.token)
	var out struct {
		ID string `json:"id"`
	}
	return out.ID, c.roundTrip(ctx, req, &out)
}

func writeUpload(mw *multipart.Writer, mimeType, filename string, body io.Reader) error {
	if err := mw.WriteField("messaging_product", "whatsapp"); err != nil {
		return err
	}
	if err := mw.WriteField("type", mimeType); err != nil {
		return err
	}
	part, err := mw.CreateFormFile("file", orDefault(filename, "file"))
	if err != nil {
		return err
	}
	if _, err := io.Copy(part, body); err != nil {
		return err
	}
	return mw.Close()
}

// roundTrip sends a prepared request and decodes its answer as do does.
func (c *Client) roundTrip(ctx context.Context, req *http.Request, out any) error {
	resp, err := c.hc.Do(req)
	if err != nil {
		return c.networkError(ctx, err, true)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return c.networkError(ctx, err, true)
	}
	return c.decode(resp, raw, out)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
