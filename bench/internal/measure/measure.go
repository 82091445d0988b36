// Package measure holds what several benchmarks share: percentiles of latencies, and a
// signed webhook POST to the inbox.
package measure

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// Pct returns the p-quantile (0 to 1) of d, nearest rank; d is not modified.
func Pct(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

// Ms is d in milliseconds.
func Ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

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
