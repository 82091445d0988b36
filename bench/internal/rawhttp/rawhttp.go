// Package rawhttp is the ceiling the benchmarks measure against: one Cloud API POST
// with nothing but net/http, the same bytes and headers the client sends.
package rawhttp

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
)

// Post sends body to url with the bearer authorization and checks for HTTP 200.
func Post(ctx context.Context, hc *http.Client, url, auth string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", auth)
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}
