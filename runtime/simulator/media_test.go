package simulator_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/runtime/simulator"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// injectMedia injects one inbound media message and returns its media object as the
// webhook carried it.
func (e *env) injectMedia(in simulator.Inbound) map[string]any {
	e.t.Helper()
	e.sink.reset()
	in.From = user
	if _, err := e.sim.Inject(pnid, in); err != nil {
		e.t.Fatal(err)
	}
	e.idle()
	bodies, _ := e.sink.received()
	if len(bodies) != 1 {
		e.t.Fatalf("want 1 webhook, got %d", len(bodies))
	}
	var p struct {
		Entry []struct {
			Changes []struct {
				Value struct {
					Messages []map[string]any `json:"messages"`
				} `json:"value"`
			} `json:"changes"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(bodies[0], &p); err != nil {
		e.t.Fatal(err)
	}
	obj, _ := p.Entry[0].Changes[0].Value.Messages[0][in.Type].(map[string]any)
	if obj == nil {
		e.t.Fatalf("no %s object in %s", in.Type, bodies[0])
	}
	return obj
}

// download fetches url with c and returns the bytes.
func download(t *testing.T, c *whatsapp.Client, url string) ([]byte, error) {
	t.Helper()
	body, _, err := c.Download(context.Background(), url)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	return io.ReadAll(body)
}

func httpStatus(err error) int {
	var e *whatsapp.Error
	if errors.As(err, &e) {
		return e.HTTPStatus
	}
	return 0
}

// TestInboundMediaDownloads injects each media kind, retrieves its URL and downloads the
// bytes, whose SHA-256 matches both the webhook's (base64) and GET /{media-id}'s (hex).
func TestInboundMediaDownloads(t *testing.T) {
	e := newEnv(t, simulator.Config{}, simulator.Number{})
	examples, err := loadSpec(t).ResponseExamples("/{Version}/{Media-ID}", "get", "200")
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"image", "document", "audio", "video", "sticker"} {
		obj := e.injectMedia(simulator.Inbound{Type: kind, Text: "caption"})
		id, _ := obj["id"].(string)
		status, raw := e.get("/v23.0/"+id, token)
		if status != 200 || !reflect.DeepEqual(shape(decodeAny(t, raw)), shape(decodeAny(t, examples["Retrieve Media URL"]))) {
			t.Fatalf("%s: GET media answered %d %s", kind, status, raw)
		}
		info, err := e.client.GetMedia(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		data, err := download(t, e.client, info.URL)
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		sum := sha256.Sum256(data)
		if hex.EncodeToString(sum[:]) != info.SHA256 || base64.StdEncoding.EncodeToString(sum[:]) != obj["sha256"] ||
			int64(len(data)) != info.FileSize || info.MimeType != obj["mime_type"] {
			t.Fatalf("%s: %d bytes do not match %+v / %v", kind, len(data), info, obj)
		}
	}
}

// TestMediaURLRefused checks the download's refusals: no token or another's token (401),
// an expired or tampered URL (404); a fresh GET /{media-id} downloads again.
func TestMediaURLRefused(t *testing.T) {
	e := newEnv(t, simulator.Config{Media: simulator.MediaConfig{URLTTL: 2 * time.Minute}}, simulator.Number{})
	id := e.injectMedia(simulator.Inbound{Type: "image"})["id"].(string)
	info, err := e.client.GetMedia(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := download(t, e.newClient(""), info.URL); httpStatus(err) != 401 {
		t.Fatalf("without a token: %v", err)
	}
	if _, err := download(t, e.newClient("other"), info.URL); httpStatus(err) != 401 {
		t.Fatalf("with another token: %v", err)
	}
	if _, err := download(t, e.client, info.URL+"0"); httpStatus(err) != 404 {
		t.Fatalf("tampered URL: %v", err)
	}
	e.advance(2 * time.Minute)
	if _, err := download(t, e.client, info.URL); httpStatus(err) != 404 {
		t.Fatalf("expired URL: %v", err)
	}
	fresh, err := e.client.GetMedia(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := download(t, e.client, fresh.URL); err != nil {
		t.Fatalf("fresh URL: %v", err)
	}
}

// TestCorruptMedia: after the control knob, the bytes no longer match the sha256.
func TestCorruptMedia(t *testing.T) {
	e := newEnv(t, simulator.Config{}, simulator.Number{})
	id := e.injectMedia(simulator.Inbound{Type: "document", Filename: "invoice.pdf"})["id"].(string)
	resp, err := http.Post(e.srv.URL+"/_sim/media/"+id+"/corrupt", "application/json", nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("corrupt: %v %v", err, resp)
	}
	info, _ := e.client.GetMedia(context.Background(), id)
	data, err := download(t, e.client, info.URL)
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) == info.SHA256 || int64(len(data)) != info.FileSize {
		t.Fatal("corrupted media still matches its sha256")
	}
	if e.sim.CorruptMedia("404") == nil {
		t.Fatal("corrupting an unknown media ID did not fail")
	}
}

// TestUploadAndDelete uploads a file, reads it back, deletes it, and checks the
// upload's refusals name the bad parameter.
func TestUploadAndDelete(t *testing.T) {
	e := newEnv(t, simulator.Config{}, simulator.Number{})
	ctx := context.Background()
	file := bytes.Repeat([]byte("%PDF-1.7 switchboard "), 500)
	id, err := e.client.UploadMedia(ctx, pnid, "application/pdf", "a.pdf", bytes.NewReader(file))
	if err != nil || id == "" {
		t.Fatalf("upload: %q %v", id, err)
	}
	info, err := e.client.GetMedia(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := download(t, e.client, info.URL); err != nil || !bytes.Equal(got, file) {
		t.Fatalf("read back %d bytes: %v", len(got), err)
	}
	if err := e.client.DeleteMedia(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.GetMedia(ctx, id); graphCode(err) != 100 {
		t.Fatalf("deleted media: %v", err)
	}
	if _, err := e.client.UploadMedia(ctx, pnid, "application/x-msdownload", "a.exe", bytes.NewReader(file)); graphCode(err) != 100 {
		t.Fatalf("unsupported type: %v", err)
	}
}

func graphCode(err error) int {
	var e *whatsapp.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}
