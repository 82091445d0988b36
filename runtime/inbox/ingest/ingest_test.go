package ingest_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/switchboard-dev/switchboard/runtime/inbox/conversation"
	"github.com/switchboard-dev/switchboard/runtime/inbox/ingest"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp/inboundtest"
)

func TestTextMessageStoredOnce(t *testing.T) {
	r := newRig(t)
	body := textBody(numA, "34600000001", "¿cuánto cuesta?", "wamid.T1", "wamid.T2")
	r.postSigned(body, numA.AppSecret, http.StatusOK)
	r.postSigned(body, numA.AppSecret, http.StatusOK) // Meta's retry or duplicate
	if n := r.count(`SELECT count(*) FROM messages WHERE direction = 'in' AND type = 'text'`); n != 2 {
		t.Fatalf("%d messages stored, want 2", n)
	}
	var text, name, number string
	var windowOK bool
	err := r.db.QueryRow(ctxOf(t), `SELECT m.text, c.profile_name, v.number,
		v.window_expires_at = to_timestamp(1750000001) + interval '24 hours'
		FROM messages m JOIN conversations v ON v.id = m.conversation_id JOIN contacts c ON c.id = v.contact_id
		WHERE m.wamid = 'wamid.T1' AND v.namespace = 'acme' AND c.wa_id = '34600000001'`).Scan(&text, &name, &number, &windowOK)
	if err != nil || text != "¿cuánto cuesta?" || name != "Ana" || number != "sales-es" || !windowOK {
		t.Fatalf("stored %q %q %q window %t (%v)", text, name, number, windowOK, err)
	}
	if n := r.count(`SELECT count(*) FROM conversations`); n != 1 {
		t.Fatalf("%d conversations, want 1", n)
	}
	if got := counter(r.metrics.Messages.WithLabelValues("text", "in")); got != 2 {
		t.Fatalf("messages metric %v, want 2", got)
	}
}

func TestConcurrentDuplicatesStoredOnce(t *testing.T) {
	r := newRig(t)
	body := textBody(numA, "34600000001", "hola", "wamid.C1", "wamid.C2", "wamid.C3")
	other := textBody(numA, "34600000002", "hola", "wamid.C4")
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := body
			if i%2 == 1 {
				b = other
			}
			if code := r.post(b, whatsapp.Sign(numA.AppSecret, b)); code != http.StatusOK {
				t.Errorf("answered %d", code)
			}
		}()
	}
	wg.Wait()
	if n := r.count(`SELECT count(*) FROM messages`); n != 4 {
		t.Fatalf("%d messages, want 4", n)
	}
	if n := r.count(`SELECT count(*) FROM contacts`); n != 2 {
		t.Fatalf("%d contacts, want 2", n)
	}
}

// metaEscaped writes s as Meta writes JSON strings: non-ASCII as \uXXXX, lower-case hex.
func metaEscaped(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r < 0x80:
			b.WriteRune(r)
		case r < 0x10000:
			b.WriteString(`\u` + lowerHex(r))
		default:
			r -= 0x10000
			b.WriteString(`\u` + lowerHex(0xD800+(r>>10)) + `\u` + lowerHex(0xDC00+(r&0x3FF)))
		}
	}
	return b.String()
}

func lowerHex(r rune) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[r>>12&0xF], digits[r>>8&0xF], digits[r>>4&0xF], digits[r&0xF]})
}

func TestSignature(t *testing.T) {
	r := newRig(t)
	body := textBody(numA, "34600000001", "hola", "wamid.S1")
	escaped := []byte(metaEscaped(string(textBody(numA, "34600000001", "¿cuánto cuesta? 🙂", "wamid.S2"))))
	utf8Form := textBody(numA, "34600000001", "¿cuánto cuesta? 🙂", "wamid.S2")
	sig := whatsapp.Sign(numA.AppSecret, body)
	refused := []struct {
		name string
		body []byte
		sig  string
	}{
		{"missing", body, ""},
		{"sha1", body, "sha1=" + strings.TrimPrefix(sig, "sha256=")[:40]},
		{"malformed hex", body, "sha256=zz" + strings.TrimPrefix(sig, "sha256=")[2:]},
		{"wrong secret", body, whatsapp.Sign("not-the-secret", body)},
		{"another number's secret", body, whatsapp.Sign(numB.AppSecret, body)},
		{"body changed after signing", bytes.Replace(body, []byte("hola"), []byte("hole"), 1), sig},
		{"re-encoded body's signature", escaped, whatsapp.Sign(numA.AppSecret, utf8Form)},
	}
	for _, c := range refused {
		if got := r.post(c.body, c.sig); got != http.StatusUnauthorized {
			t.Errorf("%s: answered %d, want 401", c.name, got)
		}
	}
	if n := r.stored(); n != 0 {
		t.Fatalf("%d rows stored for refused requests", n)
	}
	if got := counter(r.metrics.SignatureFailures.WithLabelValues("mismatch")); got != 3 {
		t.Errorf("mismatch failures %v, want 3", got)
	}
	r.postSigned(body, numA.AppSecret, http.StatusOK)
	r.postSigned(escaped, numA.AppSecret, http.StatusOK)
	var text string
	if err := r.db.QueryRow(ctxOf(t), `SELECT text FROM messages WHERE wamid = 'wamid.S2'`).Scan(&text); err != nil || text != "¿cuánto cuesta? 🙂" {
		t.Fatalf("escaped text stored as %q (%v)", text, err)
	}
}

func TestBodyOverMetaLimit(t *testing.T) {
	r := newRig(t)
	body := append(textBody(numA, "34600000001", strings.Repeat("x", ingest.MaxBody), "wamid.BIG"), ' ')
	if got := r.post(body, whatsapp.Sign(numA.AppSecret, body)); got != http.StatusRequestEntityTooLarge {
		t.Fatalf("answered %d, want 413", got)
	}
	if n := r.stored(); n != 0 {
		t.Fatalf("%d rows stored", n)
	}
}

func TestVerificationHandshake(t *testing.T) {
	r := newRig(t)
	for token, want := range map[string]int{"verify-a": 200, "verify-b": 200, "nope": 403, "": 403} {
		q := whatsapp.VerificationQuery(token, "1158201444")
		resp, err := http.Get(r.url + "?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != want || (want == 200 && b.String() != "1158201444") {
			t.Errorf("token %q: %d %q", token, resp.StatusCode, b.String())
		}
	}
	q := url.Values{whatsapp.HubMode: {"unsubscribe"}, whatsapp.HubVerifyToken: {"verify-a"}, whatsapp.HubChallenge: {"1"}}
	if resp, err := http.Get(r.url + "?" + q.Encode()); err != nil || resp.StatusCode != 403 {
		t.Errorf("hub.mode unsubscribe accepted")
	}
}

func TestUnservedNumberCountedNotStored(t *testing.T) {
	r := newRig(t)
	other := numA
	other.PhoneNumberID, other.DisplayDigits = "999999999", "19999999999"
	r.postSigned(textBody(other, "34600000001", "hola", "wamid.U1"), numA.AppSecret, http.StatusOK)
	if n := r.stored(); n != 0 {
		t.Fatalf("%d rows stored", n)
	}
	if got := counter(r.metrics.Unserved.WithLabelValues("messages")); got != 1 {
		t.Fatalf("unserved %v, want 1", got)
	}
}

// Every example body (Meta's, and those built from Meta's field lists) is accepted and
// stored where it belongs, with its raw JSON.
func TestExamplesStored(t *testing.T) {
	r := newRig(t)
	for name, body := range inboundtest.Examples(t) {
		// Meta's examples share wamids: each starts from empty tables.
		if _, err := r.db.Exec(ctxOf(t), `TRUNCATE contacts, conversations, messages, message_statuses, webhook_events, auto_replies, media CASCADE`); err != nil {
			t.Fatal(err)
		}
		r.postSigned(body, numA.AppSecret, http.StatusOK)
		n, err := whatsapp.DecodeNotification(body)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range n.Entry[0].Changes {
			checkStored(t, r, name, c)
		}
	}
}

func checkStored(t *testing.T, r *rig, name string, c whatsapp.NotificationChange) {
	t.Helper()
	if c.Field != whatsapp.FieldMessages {
		if r.count(`SELECT count(*) FROM webhook_events WHERE field = $1 AND payload = $2::jsonb`, c.Field, string(c.Value)) != 1 {
			t.Errorf("%s: %s change not stored as an event", name, c.Field)
		}
		return
	}
	v, _ := c.DecodeMessages()
	for _, m := range v.Messages {
		want := conversation.StoredType(m)
		if name == "unknown-type" && want != "unsupported" {
			t.Errorf("unknown type stored as %q", want)
		}
		var typ string
		var content json.RawMessage
		err := r.db.QueryRow(ctxOf(t), `SELECT type, content FROM messages WHERE wamid = $1 AND content = $2::jsonb`,
			m.ID, string(m.Raw)).Scan(&typ, &content)
		if err != nil || typ != want {
			t.Errorf("%s: message %s stored as type %q, want %q (%v)", name, m.ID, typ, want, err)
		}
	}
	for _, s := range v.Statuses {
		if r.count(`SELECT count(*) FROM message_statuses WHERE wamid = $1 AND status = $2 AND payload = $3::jsonb`,
			s.ID, s.Status, string(s.Raw)) != 1 {
			t.Errorf("%s: status %s %s not stored", name, s.ID, s.Status)
		}
	}
}
