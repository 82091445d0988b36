// Package measure holds what several benchmarks share: a signed webhook POST to the inbox
// (percentiles are bench/internal/latency's).
package measure

import (
	"bytes"
	"fmt"
	"io"
	"net/http"

	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// PostWebhook POSTs body to url signed with appSecret (X-Hub-Signature-256, as Meta
// signs) and fails unless the answer is 200.
func PostWebhook(client *http.Client, url, appSecret string, body []byte) error {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(whatsapp.SignatureHeader, whatsapp.Sign(appSecret, body))
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("webhook answered %d", resp.StatusCode)
	}
	return nil
}
