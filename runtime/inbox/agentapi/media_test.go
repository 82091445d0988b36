package agentapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/runtime/inbox/conversation"
	"github.com/switchboard-dev/switchboard/runtime/inbox/media"
	"github.com/switchboard-dev/switchboard/runtime/inbox/media/mediatest"
	"github.com/switchboard-dev/switchboard/runtime/sender"
	"github.com/switchboard-dev/switchboard/runtime/simulator"
	"github.com/switchboard-dev/switchboard/runtime/store"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// upload is one media request: the form's fields, the file with the name and
// Content-Type the client declares, and an optional Idempotency-Key.
type upload struct {
	fields   map[string]string
	name     string
	declared string
	data     []byte
	key      string
}

// postMedia sends u to the conversation as token's principal and returns the status,
// the body and the headers; a 201's message is decoded into out.
func (r *rig) postMedia(token string, conv int64, u upload, out *conversation.Message) (int, string, http.Header) {
	r.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range u.fields {
		_ = mw.WriteField(k, v)
	}
	if u.data != nil {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, u.name))
		h.Set("Content-Type", u.declared)
		part, _ := mw.CreatePart(h)
		_, _ = part.Write(u.data)
	}
	_ = mw.Close()
	req, _ := http.NewRequest("POST", fmt.Sprintf("%s/api/v1/conversations/%d/media", r.url, conv), &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	if u.key != "" {
		req.Header.Set("Idempotency-Key", u.key)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode == http.StatusCreated {
		if err := json.Unmarshal(raw, out); err != nil {
			r.t.Fatalf("%v in %s", err, raw)
		}
	}
	return resp.StatusCode, string(raw), resp.Header
}

// pngOf is a real PNG image, different for each seed.
func pngOf(t *testing.T, seed uint8) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 32, 32))
	for i := range img.Pix {
		img.Pix[i] = uint8(i) ^ seed
	}
	img.Set(0, 0, color.RGBA{R: seed, A: 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

const pdf = "%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"

func hexSHA(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// count reads one number from the database.
func (r *rig) count(query string, args ...any) int {
	r.t.Helper()
	var n int
	if err := r.conn.QueryRow(r.t.Context(), query, args...).Scan(&n); err != nil {
		r.t.Fatal(err)
	}
	return n
}

// TestSendMedia sends an image and a document through the API into a real S3-protocol
// server and the simulator: each is archived with its sha256, uploaded to Meta, queued
// with Meta's media ID and audited; the real sender sends the queued payload, and the
// simulator holds the uploaded bytes under the media ID it received; the archived copy is served by GET /api/v1/media/{id}; a
// repeated request with the same Idempotency-Key sends nothing again.
func TestSendMedia(t *testing.T) {
	r := newRigWith(t, mediatest.S3(t))
	id := r.seed(conv{waID: "34600000011", windowOpen: true, team: "sales"})
	if _, err := r.sim.Inject(pnid, simulator.Inbound{From: "34600000011", Type: "text", Text: "hola"}); err != nil {
		t.Fatal(err) // the customer wrote: Meta's window is open too
	}
	img := pngOf(t, 7)
	audits := r.audits()

	// The client claims text/plain: the type comes from the content.
	var m conversation.Message
	code, raw, _ := r.postMedia("sales", id, upload{fields: map[string]string{"caption": "Tu factura"}, name: "x.txt",
		declared: "text/plain", data: img}, &m)
	if code != 201 || m.Type != "image" || m.Text == nil || *m.Text != "Tu factura" || m.MediaID == nil || *m.Author != "agent:sam" {
		t.Fatalf("image: %d %s", code, raw)
	}
	payload, to := r.outboxPayload(m)
	obj, _ := payload["image"].(map[string]any)
	mediaID, _ := obj["id"].(string)
	if mediaID == "" || obj["caption"] != "Tu factura" || to != "34600000011" {
		t.Fatalf("outbox payload %v to %s", payload, to)
	}
	r.runSender()
	sent, _ := r.sim.Sent(pnid, 1)
	var got struct {
		Image struct{ ID string } `json:"image"`
	}
	if err := json.Unmarshal(sent[0].Body, &got); err != nil || got.Image.ID != mediaID {
		t.Fatalf("the simulator received %s, want image %s (%v)", sent[0].Body, mediaID, err)
	}
	if sum, ok := r.sim.MediaSHA256(mediaID); !ok || sum != hexSHA(img) {
		t.Fatalf("Meta holds %s (%t) for %s, uploaded %s", sum, ok, mediaID, hexSHA(img))
	}
	var dir, state, mime, sha string
	if err := r.conn.QueryRow(t.Context(), `SELECT direction, state, mime_type, sha256 FROM media
		WHERE id = $1 AND message_id = $2 AND media_id = $3`, *m.MediaID, m.ID, mediaID).Scan(&dir, &state, &mime, &sha); err != nil ||
		dir != "out" || state != "stored" || mime != "image/png" || sha != hexSHA(img) {
		t.Fatalf("media row: %s %s %s %s %v", dir, state, mime, sha, err)
	}
	if n := r.count(`SELECT count(*) FROM messages WHERE id = $1 AND media_id = $2 AND media_sha256 = $3`, m.ID, mediaID, sha); n != 1 {
		t.Errorf("the message does not record its media")
	}
	if code, body := r.do(r.url, "sales", "GET", fmt.Sprintf("/api/v1/media/%d", *m.MediaID), nil, nil); code != 200 || hexSHA([]byte(body)) != sha {
		t.Errorf("GET the archived copy: %d, sha256 %s, want %s", code, hexSHA([]byte(body)), sha)
	}
	if code, _ := r.do(r.globex, "globex", "GET", fmt.Sprintf("/api/v1/media/%d", *m.MediaID), nil, nil); code != 404 {
		t.Errorf("another namespace reads the media: %d", code)
	}
	if n := r.count(`SELECT count(*) FROM audit_log WHERE action = 'conversation.image' AND (after->>'media')::bigint = $1
		AND after->>'mediaId' = $2 AND after->>'sha256' = $3`, *m.MediaID, mediaID, sha); n != 1 || r.audits() != audits+1 {
		t.Errorf("audit: %d entries for the media, %d in all", n, r.audits()-audits)
	}

	// A document keeps its file name; a retry with the same key sends nothing again.
	doc := upload{fields: map[string]string{"caption": "Contrato"}, name: "contrato.pdf", declared: "application/octet-stream",
		data: []byte(pdf), key: "retry-1"}
	var d1, d2 conversation.Message
	if code, raw, _ := r.postMedia("sales", id, doc, &d1); code != 201 || d1.Type != "document" {
		t.Fatalf("document: %d %s", code, raw)
	}
	r.runSender()
	sent, _ = r.sim.Sent(pnid, 1)
	var gotDoc struct {
		Document struct{ ID, Filename, Caption string } `json:"document"`
	}
	if err := json.Unmarshal(sent[0].Body, &gotDoc); err != nil || gotDoc.Document.Filename != "contrato.pdf" || gotDoc.Document.Caption != "Contrato" {
		t.Fatalf("the simulator received %s (%v)", sent[0].Body, err)
	}
	if sum, _ := r.sim.MediaSHA256(gotDoc.Document.ID); sum != hexSHA([]byte(pdf)) {
		t.Errorf("Meta holds %s for the document, uploaded %s", sum, hexSHA([]byte(pdf)))
	}
	outbox := r.count(`SELECT count(*) FROM outbox`)
	code, raw, hdr := r.postMedia("sales", id, doc, &d2)
	if code != 201 || d2.ID != d1.ID || hdr.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry: %d %s %v, want the first message %d replayed", code, raw, hdr, d1.ID)
	}
	if n := r.count(`SELECT count(*) FROM outbox`); n != outbox {
		t.Errorf("the retry queued %d more messages", n-outbox)
	}
	recaptioned := doc
	recaptioned.fields = map[string]string{"caption": "Otro"}
	if code, raw, _ := r.postMedia("sales", id, recaptioned, nil); code != 422 || problemOf(t, raw)["field"] != "Idempotency-Key" {
		t.Errorf("the key reused with another caption: %d %s", code, raw)
	}
	doc.data = append([]byte(pdf), '\n')
	if code, raw, _ := r.postMedia("sales", id, doc, nil); code != 422 || problemOf(t, raw)["field"] != "Idempotency-Key" {
		t.Errorf("the key reused for another file: %d %s", code, raw)
	}
	if n := r.count(`SELECT count(*) FROM media WHERE direction = 'out'`); n != 2 {
		t.Errorf("%d outbound media rows, want 2", n)
	}
}

// runSender runs the real sender of sales-es until the outbox holds nothing unsent
// (generously bounded), and fails the test if a message failed.
func (r *rig) runSender() {
	r.t.Helper()
	ctx, cancel := context.WithCancel(r.t.Context())
	ref := store.NumberRef{Namespace: ns, Name: "sales-es"}
	lock, err := r.st.LockNumber(ctx, ref)
	if err != nil {
		r.t.Fatal(err)
	}
	client, err := whatsapp.New(whatsapp.Options{BaseURL: r.graph, AccessToken: graphToken})
	if err != nil {
		r.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- sender.Run(ctx, sender.Config{PhoneNumberID: pnid, API: client, Outbox: lock, Poll: 10 * time.Millisecond,
			Initial: sender.Limits{MessagesPerSecond: 10, CampaignPerMinute: 60, UniqueRecipientsPer24h: 1000}})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			r.t.Errorf("sender: %v", err)
		}
		_ = lock.Release(context.Background())
	}()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		if r.count(`SELECT count(*) FROM outbox WHERE state <> 'sent'`) == 0 {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("the sender did not send the outbox (failed: %d)", r.count(`SELECT count(*) FROM outbox WHERE state = 'failed'`))
		}
	}
}

// objects counts the files a directory store holds (fileblob's .attrs sidecars aside).
func objects(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() && !strings.HasSuffix(p, ".attrs") {
			n++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSendMediaRefused: each bad request is refused naming the field (type, size, caption,
// file name, form), a blocked caption names the rule and the word, a closed window gives a
// text reply's 422, Meta refusing the upload is 502; none writes a message, a media row,
// an audit entry or an object. Permissions and team visibility apply.
func TestSendMediaRefused(t *testing.T) {
	dir := t.TempDir()
	ms, err := media.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	r := newRigWith(t, ms)
	open := r.seed(conv{waID: "34600000021", windowOpen: true, team: "sales"})
	closed := r.seed(conv{waID: "34600000022", team: "sales"})
	other := r.seed(conv{waID: "34600000023", windowOpen: true, team: "billing"})
	revoked := r.seed(conv{waID: "34600000024", windowOpen: true, team: "sales"})
	if _, err := r.conn.Exec(t.Context(), `UPDATE conversations SET number = 'revoked' WHERE id = $1`, revoked); err != nil {
		t.Fatal(err)
	}
	img := pngOf(t, 1)
	webp := append([]byte("RIFF\x24\x00\x00\x00WEBPVP8 \x18\x00\x00\x00"), make([]byte, 64)...)
	big := append(append([]byte{}, img[:16]...), make([]byte, media.MaxImageBytes)...)
	messages, audits := r.count(`SELECT count(*) FROM messages`), r.audits()
	for _, c := range []struct {
		name   string
		token  string
		conv   int64
		u      upload
		status int
		field  string
		detail string
	}{
		{"gif", "sales", open, upload{name: "a.gif", declared: "image/png", data: []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;")}, 400, "file", "image/gif"},
		{"too large", "sales", open, upload{name: "a.png", declared: "image/png", data: big}, 413, "file", strconv.Itoa(media.MaxImageBytes)},
		{"empty", "sales", open, upload{name: "a.txt", declared: "text/plain", data: []byte{}}, 400, "file", ""},
		{"no file", "sales", open, upload{fields: map[string]string{"caption": "x"}}, 400, "file", ""},
		{"unknown field", "sales", open, upload{fields: map[string]string{"type": "image"}, name: "a.png", data: img}, 400, "type", ""},
		{"sticker caption", "sales", open, upload{fields: map[string]string{"caption": "hi"}, name: "s.webp", data: webp}, 400, "caption", "sticker"},
		{"long caption", "sales", open, upload{fields: map[string]string{"caption": strings.Repeat("a", 1025)}, name: "a.png", data: img}, 400, "caption", "1024"},
		{"image file name", "sales", open, upload{fields: map[string]string{"filename": "a.png"}, name: "a.png", data: img}, 400, "filename", ""},
		{"bad file name", "sales", open, upload{fields: map[string]string{"filename": "../x.pdf"}, name: "x.pdf", data: []byte(pdf)}, 400, "filename", ""},
		{"bad key", "sales", open, upload{name: "a.png", data: img, key: "has space"}, 400, "Idempotency-Key", ""},
		{"blocked caption", "sales", open, upload{fields: map[string]string{"caption": "Éxito garantizado"}, name: "a.png", data: img}, 422, "caption", "garantizado"},
		{"window closed", "sales", closed, upload{name: "a.png", data: img}, 422, "text", "template is required"},
		{"upload refused", "sales", revoked, upload{name: "a.png", data: img}, 502, "", "refused the upload"},
		{"other team", "sales", other, upload{name: "a.png", data: img}, 404, "id", ""},
		{"no permission", "lacks:conversations.reply", open, upload{name: "a.png", data: img}, 403, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, raw, _ := r.postMedia(c.token, c.conv, c.u, nil)
			p := problemOf(t, raw)
			if code != c.status || (c.field != "" && p["field"] != c.field) || !strings.Contains(fmt.Sprint(p["detail"]), c.detail) {
				t.Fatalf("%d %s, want %d naming %q and %q", code, raw, c.status, c.field, c.detail)
			}
			if c.name == "blocked caption" && p["rule"] != "no-guarantees" {
				t.Errorf("blocked without its rule: %s", raw)
			}
			if c.name == "window closed" && p["templates"] == nil {
				t.Errorf("a closed window lists no templates: %s", raw)
			}
		})
	}
	if n := r.count(`SELECT count(*) FROM messages`); n != messages {
		t.Errorf("refused requests wrote %d messages", n-messages)
	}
	if n := r.count(`SELECT count(*) FROM media`) + r.audits() - audits + objects(t, dir); n != 0 {
		t.Errorf("refused requests left media rows, audit entries or objects (%d)", n)
	}
	if code, raw, _ := r.postMedia("sales", open, upload{name: "a.png", data: img}, nil); code != 201 || objects(t, dir) != 1 {
		t.Fatalf("a good image after the refusals: %d %s, %d objects", code, raw, objects(t, dir))
	}
}

// TestSendMediaWithoutArchive: an Inbox without a media archive refuses media with 503
// naming spec.media, but a conversation the caller may not see (another team's, or none)
// is 404 first, as with an archive.
func TestSendMediaWithoutArchive(t *testing.T) {
	r := newRig(t)
	id := r.seed(conv{waID: "34600000031", windowOpen: true, team: "sales"})
	if code, raw, _ := r.postMedia("sales", id, upload{name: "a.png", data: pngOf(t, 2)}, nil); code != 503 ||
		!strings.Contains(raw, "media archive") || !strings.Contains(raw, "spec.media") {
		t.Fatalf("%d %s", code, raw)
	}
	other := r.seed(conv{waID: "34600000032", windowOpen: true, team: "support"})
	for _, c := range []struct {
		token string
		id    int64
	}{{"sales", other}, {"admin", 999999}} {
		if code, raw, _ := r.postMedia(c.token, c.id, upload{name: "a.png", data: pngOf(t, 2)}, nil); code != 404 {
			t.Errorf("%s posting media to conversation %d: %d %s, want 404", c.token, c.id, code, raw)
		}
	}
}
