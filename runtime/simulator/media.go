package simulator

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// MediaConfig tunes the media endpoints.
type MediaConfig struct {
	// URLTTL is how long a URL answered by GET /{media-id} downloads; default 5 minutes,
	// as Meta documents ("The URL is only valid for 5 minutes").
	URLTTL time.Duration
	// MaxUploadBytes bounds an upload's file; default 100 MiB (Meta's largest, documents).
	MaxUploadBytes int64
}

func (m MediaConfig) withDefaults() MediaConfig {
	m.URLTTL = orDur(m.URLTTL, 5*time.Minute)
	if m.MaxUploadBytes <= 0 {
		m.MaxUploadBytes = 100 << 20
	}
	return m
}

// mediaObject is one media item: uploaded by the business or received with an inbound
// message. sum is the SHA-256 of data as it was stored; corrupt flips a byte of every
// download afterwards, so the downloaded bytes no longer match sum.
type mediaObject struct {
	id, numberID, mimeType string
	data                   []byte
	sum                    [32]byte
	corrupt                bool
}

// mediaStore holds the media objects by ID. Its lock is taken after Server.mu, never
// before it.
type mediaStore struct {
	mu        sync.Mutex
	objects   map[string]*mediaObject
	byMessage map[string]string // inbound wamid → media ID
	key       []byte            // signs download URLs
}

func newMediaStore(seed int64) *mediaStore {
	key := sha256.Sum256([]byte("simulator-media-url:" + strconv.FormatInt(seed, 10)))
	return &mediaStore{objects: map[string]*mediaObject{}, byMessage: map[string]string{}, key: key[:]}
}

func (m *mediaStore) put(o *mediaObject) {
	o.sum = sha256.Sum256(o.data)
	m.mu.Lock()
	m.objects[o.id] = o
	m.mu.Unlock()
}

func (m *mediaStore) get(id string) (*mediaObject, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objects[id]
	return o, ok
}

func (m *mediaStore) remove(id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.objects[id]
	delete(m.objects, id)
	return ok
}

// body returns the bytes a download answers: a copy with its middle byte flipped once
// the object is marked corrupt.
func (m *mediaStore) body(o *mediaObject) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !o.corrupt || len(o.data) == 0 {
		return o.data
	}
	b := append([]byte(nil), o.data...)
	b[len(b)/2] ^= 0xff
	return b
}

// signature is the hash parameter of a download URL for media id expiring at ext.
func (m *mediaStore) signature(id string, ext int64) string {
	mac := hmac.New(sha256.New, m.key)
	fmt.Fprintf(mac, "%s|%d", id, ext)
	return hex.EncodeToString(mac.Sum(nil)[:16])
}

// CorruptMedia makes every later download of media id answer bytes whose SHA-256 no
// longer matches the sha256 GET /{media-id} reports, for tests of a receiver's checksum.
func (s *Server) CorruptMedia(id string) error {
	s.media.mu.Lock()
	defer s.media.mu.Unlock()
	o, ok := s.media.objects[id]
	if !ok {
		return fmt.Errorf("simulator: no media %s", id)
	}
	o.corrupt = true
	return nil
}

// MediaSHA256 returns the hex SHA-256 of media id as stored (what GET /{media-id}
// reports), so tests can compare what a receiver kept.
func (s *Server) MediaSHA256(id string) (string, bool) {
	o, ok := s.media.get(id)
	if !ok {
		return "", false
	}
	return hex.EncodeToString(o.sum[:]), true
}

// MediaOf returns the media ID an injected inbound media message (by wamid) carries.
func (s *Server) MediaOf(wamid string) (string, bool) {
	s.media.mu.Lock()
	defer s.media.mu.Unlock()
	id, ok := s.media.byMessage[wamid]
	return id, ok
}

// mediaKinds are the inbound message types that carry a media object, with the MIME type
// the simulator gives them unless Inbound.MimeType says otherwise.
var mediaKinds = map[string]string{
	"image": "image/jpeg", "document": "application/pdf", "audio": "audio/ogg; codecs=opus",
	"video": "video/mp4", "sticker": "image/webp",
}

// inboundMediaMessage builds an inbound media message shaped like Meta's webhook examples
// and stores its deterministic bytes under a new media ID owned by st. The webhook's
// sha256 is base64, as Meta sends it; GET /{media-id} answers the same digest in hex.
func (s *Server) inboundMediaMessage(st *numberState, in Inbound, from, id string, now time.Time) map[string]any {
	o := &mediaObject{id: s.rnd.digits("media", s.seq, 16), numberID: st.ID,
		mimeType: orStr(in.MimeType, mediaKinds[in.Type])}
	o.data = s.mediaBytes(o.id, s.seq)
	s.media.put(o)
	s.media.mu.Lock()
	s.media.byMessage[id] = o.id
	s.media.mu.Unlock()
	obj := map[string]any{"mime_type": o.mimeType, "sha256": base64.StdEncoding.EncodeToString(o.sum[:]), "id": o.id}
	mediaExtras(obj, in, o.id)
	return map[string]any{"from": from, "id": id, "timestamp": unix(now), "type": in.Type, in.Type: obj}
}

// mediaExtras adds the fields Meta sends for some kinds: caption (image, video, document),
// filename (document), voice (audio), animated (sticker).
func mediaExtras(obj map[string]any, in Inbound, mediaID string) {
	if in.Text != "" && (in.Type == "image" || in.Type == "video" || in.Type == "document") {
		obj["caption"] = in.Text
	}
	switch in.Type {
	case "document":
		obj["filename"] = orStr(in.Filename, "document-"+mediaID+".pdf")
	case "audio":
		obj["voice"] = true
	case "sticker":
		obj["animated"] = false
	}
}

// mediaBytes are the deterministic contents of an injected media object: 1 to 32 KiB
// derived from the seed and the message sequence.
func (s *Server) mediaBytes(id string, n uint64) []byte {
	size := 1024 + int(s.rnd.u64("media-size", n)%(31*1024))
	out := make([]byte, 0, size+sha256.Size)
	var ctr [8]byte
	for i := uint64(0); len(out) < size; i++ {
		binary.BigEndian.PutUint64(ctr[:], i)
		block := sha256.Sum256(append([]byte(id+":"), append(ctr[:], byte(s.rnd.seed))...))
		out = append(out, block[:]...)
	}
	return out[:size]
}
