package ingest

import (
	"strings"

	"github.com/switchboard-dev/switchboard/runtime/inbox/kube"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// verifySignature checks X-Hub-Signature-256 over the raw body against the app secret of
// every served Number (each comparison in constant time) and returns the secrets that
// verify, or the reason for refusing: missing, malformed (not "sha256=" and 64 hex
// digits, e.g. Meta's old "sha1="), or mismatch.
func verifySignature(snap *kube.Snapshot, body []byte, header string) (map[string]bool, string) {
	header = strings.TrimSpace(header)
	if header == "" {
		return nil, "missing"
	}
	hexSum, ok := strings.CutPrefix(header, "sha256=")
	if !ok || len(hexSum) != 64 || strings.Trim(strings.ToLower(hexSum), "0123456789abcdef") != "" {
		return nil, "malformed"
	}
	ok = false
	verified := map[string]bool{}
	for _, n := range snap.Numbers() {
		if !verified[n.AppSecret] && whatsapp.VerifySignature(n.AppSecret, body, header) {
			verified[n.AppSecret], ok = true, true
		}
	}
	if !ok {
		return nil, "mismatch"
	}
	return verified, ""
}
