package media_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/runtime/inbox/media"
)

// TestClassify: types come from the content, as Meta's message types with Meta's limits;
// an animated WebP sticker may be larger than a static one; others are refused by name.
func TestClassify(t *testing.T) {
	webp := func(vp8x bool, flags byte) []byte {
		b := []byte("RIFF\x00\x00\x00\x00WEBP")
		if vp8x {
			return append(append(b, "VP8X\x0a\x00\x00\x00"...), flags, 0, 0, 0, 0, 0, 0, 0, 0, 0)
		}
		return append(b, "VP8 \x0a\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"...)
	}
	for _, c := range []struct {
		name                  string
		head                  []byte
		size                  int64
		typ, mime             string
		max                   int64
		unsupported, tooLarge bool
	}{
		{name: "png", head: []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR"), size: 100, typ: "image", mime: "image/png", max: media.MaxImageBytes},
		{name: "jpeg", head: []byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00"), size: 100, typ: "image", mime: "image/jpeg", max: media.MaxImageBytes},
		{name: "pdf", head: []byte("%PDF-1.7\n"), size: 100, typ: "document", mime: "application/pdf", max: media.MaxDocumentBytes},
		{name: "text", head: []byte("hola, esto es texto\n"), size: 20, typ: "document", mime: "text/plain", max: media.MaxDocumentBytes},
		{name: "ogg opus", head: append([]byte("OggS\x00\x02"), append(make([]byte, 22), "OpusHead\x01\x02"...)...), size: 100, typ: "audio", mime: "audio/ogg", max: media.MaxAudioBytes},
		{name: "ogg vorbis", head: append([]byte("OggS\x00\x02"), append(make([]byte, 22), "\x01vorbis\x00\x00\x00"...)...), size: 100, unsupported: true},
		{name: "mp3", head: []byte("ID3\x03\x00\x00\x00\x00\x00\x0a"), size: 100, typ: "audio", mime: "audio/mpeg", max: media.MaxAudioBytes},
		{name: "mp4", head: []byte("\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"), size: 100, typ: "video", mime: "video/mp4", max: media.MaxVideoBytes},
		{name: "static sticker", head: webp(false, 0), size: 100, typ: "sticker", mime: "image/webp", max: media.MaxStickerBytes},
		{name: "animated sticker", head: webp(true, 0x02), size: 200 << 10, typ: "sticker", mime: "image/webp", max: media.MaxAnimatedStickerBytes},
		{name: "static sticker too large", head: webp(true, 0), size: 200 << 10, typ: "sticker", mime: "image/webp", max: media.MaxStickerBytes, tooLarge: true},
		{name: "image too large", head: []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR"), size: media.MaxImageBytes + 1, typ: "image", mime: "image/png", max: media.MaxImageBytes, tooLarge: true},
		{name: "gif", head: []byte("GIF89a\x01\x00\x01\x00"), size: 10, unsupported: true},
		{name: "zip", head: []byte("PK\x03\x04\x14\x00\x00\x00\x00\x00"), size: 10, unsupported: true},
		{name: "html", head: []byte("<!DOCTYPE html><html><body>x</body></html>"), size: 40, unsupported: true},
		{name: "empty", head: nil, size: 0, unsupported: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			up, err := media.Classify(c.head, c.size)
			var ue *media.UnsupportedError
			var te *media.TooLargeError
			switch {
			case c.unsupported:
				if !errors.As(err, &ue) {
					t.Fatalf("got %+v, %v; want unsupported", up, err)
				}
				return
			case c.tooLarge:
				if !errors.As(err, &te) || te.MaxBytes != c.max || !strings.Contains(err.Error(), c.typ) {
					t.Fatalf("got %v; want too large for %s (%d)", err, c.typ, c.max)
				}
			case err != nil:
				t.Fatal(err)
			}
			if up.Type != c.typ || up.MimeType != c.mime || up.MaxBytes != c.max {
				t.Errorf("got %+v, want %s %s %d", up, c.typ, c.mime, c.max)
			}
		})
	}
}

// TestParseKey reads back what Key.String writes, and refuses what could leave a prefix.
func TestParseKey(t *testing.T) {
	k, err := media.NewOutboundKey("acme", "sales")
	if err != nil || !strings.HasPrefix(k.MediaID, media.OutboundPrefix) {
		t.Fatal(k, err)
	}
	if got, err := media.ParseKey(k.String()); err != nil || got != k {
		t.Fatalf("%v %v", got, err)
	}
	for _, bad := range []string{"acme/sales", "acme/../x", "acme/sales/a/b", "/sales/x"} {
		if _, err := media.ParseKey(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
