package inbox

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/runtime/inbox/media"
	"github.com/switchboard-dev/switchboard/runtime/inbox/media/s3test"
)

// TestMediaBucketFromFlags: the flags the manager renders from Inbox spec.media.s3, and
// the credentials from their environment variables, open a real S3-protocol bucket.
func TestMediaBucketFromFlags(t *testing.T) {
	s3 := s3test.Start(t)
	var f flags
	err := f.parse([]string{"--inbox=acme/main", "--media-s3-bucket=" + s3.Bucket, "--media-s3-endpoint=" + s3.Endpoint,
		"--media-s3-region=" + s3.Region, "--media-s3-path-style"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	f.mediaS3.AccessKeyID, f.mediaS3.SecretAccessKey = s3.AccessKey, s3.SecretKey
	st, err := openMedia(t.Context(), f.mediaDir, f.mediaS3)
	if err != nil || st == nil {
		t.Fatalf("openMedia: %v, %v", st, err)
	}
	body := []byte("a photo")
	sum := sha256.Sum256(body)
	key := media.Key{Namespace: "acme", Number: "sales", MediaID: "123"}
	if _, err := st.Put(t.Context(), key, bytes.NewReader(body), media.Expect{SHA256: hex.EncodeToString(sum[:]), Size: int64(len(body))}); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := st.Stat(t.Context(), key); !ok || err != nil {
		t.Fatalf("stored object: %v, %v", ok, err)
	}

	if err := (&flags{}).parse([]string{"--inbox=acme/main", "--media-dir=/tmp/x", "--media-s3-bucket=b"}, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "choose one archive") {
		t.Errorf("both archives: %v", err)
	}
	wrong := f.mediaS3
	wrong.SecretAccessKey = ""
	if _, err := openMedia(t.Context(), "", wrong); err == nil || !strings.Contains(err.Error(), "--media-s3-bucket") {
		t.Errorf("a key without its secret: %v", err)
	}
}
