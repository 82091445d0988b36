package media

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/gabriel-vasile/mimetype"
)

// Upload is what an outbound file may be sent as: the WhatsApp message type (image,
// document, audio, video, sticker), the MIME type given to Meta's upload, and the
// largest size Meta accepts for it, in bytes.
type Upload struct {
	Type     string
	MimeType string
	MaxBytes int64
}

// Captioned reports whether Meta's message of this type takes a caption (image, video,
// document; audio and stickers do not).
func (u Upload) Captioned() bool { return u.Type != "audio" && u.Type != "sticker" }

// The size limits of Meta's "Supported media types" (WhatsApp Cloud API, media reference):
// images 5 MB, audio and video 16 MB, documents 100 MB, stickers 100 KB (500 KB animated).
const (
	mb                      = 1 << 20
	kb                      = 1 << 10
	MaxImageBytes           = 5 * mb
	MaxAudioBytes           = 16 * mb
	MaxVideoBytes           = 16 * mb
	MaxDocumentBytes        = 100 * mb
	MaxStickerBytes         = 100 * kb
	MaxAnimatedStickerBytes = 500 * kb
)

// uploads maps a detected MIME type to what Meta accepts it as, in the order tried
// (github.com/gabriel-vasile/mimetype names; an alias matches too).
var uploads = []struct{ detected, mime, typ string }{
	{"image/jpeg", "image/jpeg", "image"},
	{"image/png", "image/png", "image"},
	{"image/webp", "image/webp", "sticker"},
	{"audio/aac", "audio/aac", "audio"},
	{"audio/amr", "audio/amr", "audio"},
	{"audio/mpeg", "audio/mpeg", "audio"},
	{"audio/mp4", "audio/mp4", "audio"},
	{"audio/x-m4a", "audio/mp4", "audio"},
	{"audio/ogg", "audio/ogg", "audio"},
	{"video/mp4", "video/mp4", "video"},
	{"video/3gpp", "video/3gpp", "video"},
	{"application/pdf", "application/pdf", "document"},
	{"text/plain", "text/plain", "document"},
	{"application/msword", "application/msword", "document"},
	{"application/vnd.ms-excel", "application/vnd.ms-excel", "document"},
	{"application/vnd.ms-powerpoint", "application/vnd.ms-powerpoint", "document"},
	{"application/vnd.openxmlformats-officedocument.wordprocessingml.document",
		"application/vnd.openxmlformats-officedocument.wordprocessingml.document", "document"},
	{"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
		"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "document"},
	{"application/vnd.openxmlformats-officedocument.presentationml.presentation",
		"application/vnd.openxmlformats-officedocument.presentationml.presentation", "document"},
}

var maxBytes = map[string]int64{"image": MaxImageBytes, "audio": MaxAudioBytes, "video": MaxVideoBytes,
	"document": MaxDocumentBytes, "sticker": MaxStickerBytes}

// UnsupportedError is a file whose type, detected from its content, Meta does not
// accept as media.
type UnsupportedError struct{ Detected string }

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("the file's content is %s, which WhatsApp does not accept as media "+
		"(images: JPEG, PNG; stickers: WebP; audio: AAC, AMR, MP3, M4A, OGG Opus; video: MP4, 3GPP; "+
		"documents: PDF, plain text, Word, Excel, PowerPoint)", e.Detected)
}

// TooLargeError is a file larger than Meta's limit for its type.
type TooLargeError struct {
	Upload
	Size int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("the file is %d bytes; WhatsApp takes a %s (%s) of at most %d bytes",
		e.Size, e.Type, e.MimeType, e.MaxBytes)
}

// Classify detects a file's type from its content (head: at least its first 3 KiB, or
// the whole file when shorter; a client's declared type is never trusted) and checks
// size against Meta's limit for it: an *UnsupportedError or a *TooLargeError otherwise.
func Classify(head []byte, size int64) (Upload, error) {
	detected := mimetype.Detect(head)
	for _, u := range uploads {
		if !detected.Is(u.detected) {
			continue
		}
		if u.mime == "audio/ogg" && !opus(head) {
			return Upload{}, &UnsupportedError{Detected: "audio/ogg without the Opus codec"}
		}
		up := Upload{Type: u.typ, MimeType: u.mime, MaxBytes: maxBytes[u.typ]}
		if up.Type == "sticker" && animatedWebP(head) {
			up.MaxBytes = MaxAnimatedStickerBytes
		}
		if size > up.MaxBytes {
			return up, &TooLargeError{Upload: up, Size: size}
		}
		if size == 0 {
			return up, &UnsupportedError{Detected: "empty"}
		}
		return up, nil
	}
	name, _, _ := strings.Cut(detected.String(), ";")
	return Upload{}, &UnsupportedError{Detected: name}
}

// opus reports an Ogg stream whose first packet is an Opus header (RFC 7845: "OpusHead"
// at the start of the first page's payload, byte 28 of a one-segment page): Meta takes
// OGG audio with the Opus codec only.
func opus(b []byte) bool { return len(b) >= 36 && bytes.Equal(b[28:36], []byte("OpusHead")) }

// animatedWebP reports a WebP whose VP8X header has the animation flag (WebP container
// specification: RIFF, size, "WEBP", "VP8X", chunk size, flags with bit 1 = animation).
func animatedWebP(b []byte) bool {
	return len(b) > 20 && bytes.Equal(b[12:16], []byte("VP8X")) && b[20]&0x02 != 0
}

// OutboundPrefix starts the object name of an outbound file, which is stored before Meta
// gives it a media ID (Meta's IDs are digits, so the two never meet).
const OutboundPrefix = "out-"

// NewOutboundKey names a new object for an outbound file of the Number: the same
// namespace/number/… layout as inbound media, with a random "out-" name.
func NewOutboundKey(namespace, number string) (Key, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return Key{}, err
	}
	k := Key{Namespace: namespace, Number: number, MediaID: OutboundPrefix + hex.EncodeToString(b[:])}
	return k, k.Validate()
}

// ParseKey reads an object key written by Key.String ("namespace/number/name"),
// refusing one whose parts Validate refuses.
func ParseKey(s string) (Key, error) {
	parts := strings.Split(s, "/")
	if len(parts) != 3 {
		return Key{}, fmt.Errorf("media: object key %q is not namespace/number/name", s)
	}
	k := Key{Namespace: parts[0], Number: parts[1], MediaID: parts[2]}
	return k, k.Validate()
}
