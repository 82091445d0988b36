package media_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/runtime/inbox/media"
	"github.com/switchboard-dev/switchboard/runtime/inbox/media/mediatest"
)

// TestFetchStoresVerified archives each media kind in both stores: the bytes read back
// hash to Meta's sha256, and a second Fetch downloads nothing.
func TestFetchStoresVerified(t *testing.T) {
	ctx := context.Background()
	for name, store := range stores(t) {
		t.Run(name, func(t *testing.T) {
			s := mediatest.NewSim(t)
			for _, kind := range []string{"image", "document", "audio", "video", "sticker"} {
				key := media.Key{Namespace: "shop", Number: "support", MediaID: s.Media(kind)}
				g := &countingGraph{Graph: s.Client}
				obj, err := media.Fetch(ctx, g, store, key)
				if err != nil {
					t.Fatalf("%s: %v", kind, err)
				}
				want, _ := s.Server.MediaSHA256(key.MediaID)
				sum := sha256.Sum256(readAll(t, store, key))
				if obj.SHA256 != want || hex.EncodeToString(sum[:]) != want || obj.Key != key.String() {
					t.Fatalf("%s: stored %+v, read %x, Meta says %s", kind, obj, sum, want)
				}
				if _, err := media.Fetch(ctx, g, store, key); err != nil || g.gets.Load() != 1 {
					t.Fatalf("%s: re-fetch: %v after %d GETs", kind, err, g.gets.Load())
				}
			}
		})
	}
}

// TestChecksumMismatchRefused: corrupted bytes are refused and nothing is committed.
func TestChecksumMismatchRefused(t *testing.T) {
	ctx := context.Background()
	for name, store := range stores(t) {
		t.Run(name, func(t *testing.T) {
			s := mediatest.NewSim(t)
			key := media.Key{Namespace: "shop", Number: "support", MediaID: s.Media("document")}
			if err := s.Server.CorruptMedia(key.MediaID); err != nil {
				t.Fatal(err)
			}
			_, err := media.Fetch(ctx, s.Client, store, key)
			var ce *media.ChecksumError
			if !errors.As(err, &ce) || ce.Got == ce.Want {
				t.Fatalf("want a checksum error, got %v", err)
			}
			if _, ok, err := store.Stat(ctx, key); ok || err != nil {
				t.Fatalf("refused object committed (ok=%t, %v)", ok, err)
			}
		})
	}
}

// TestExpiredURLRetried: the URL expires between GET /{media-id} and the download; Fetch
// gets a fresh one and stores the media.
func TestExpiredURLRetried(t *testing.T) {
	s := mediatest.NewSim(t)
	store := mediatest.S3(t)
	key := media.Key{Namespace: "shop", Number: "support", MediaID: s.Media("image")}
	g := &countingGraph{Graph: s.Client}
	g.after = func() {
		if g.gets.Load() == 1 {
			s.Clock.Advance(6 * time.Minute) // past Meta's 5 minutes
		}
	}
	if _, err := media.Fetch(context.Background(), g, store, key); err != nil || g.gets.Load() != 2 {
		t.Fatalf("fetch: %v after %d GETs", err, g.gets.Load())
	}
}

// TestBadKeyRefused: a key segment that could escape its tenant's prefix is refused by
// name, before anything is written.
func TestBadKeyRefused(t *testing.T) {
	store := mediatest.Dir(t)
	for _, key := range []media.Key{{Namespace: "..", Number: "n", MediaID: "1"},
		{Namespace: "ns", Number: "a/b", MediaID: "1"}, {Namespace: "ns", Number: "n", MediaID: ""}} {
		_, err := store.Put(context.Background(), key, strings.NewReader("x"), media.Expect{SHA256: strings.Repeat("0", 64)})
		if err == nil || !strings.Contains(err.Error(), "invalid") {
			t.Fatalf("%+v: %v", key, err)
		}
	}
	_, err := store.Put(context.Background(), media.Key{Namespace: "ns", Number: "n", MediaID: "1"},
		strings.NewReader("x"), media.Expect{SHA256: "abc"})
	if err == nil || !strings.Contains(err.Error(), "sha256") {
		t.Fatalf("short sha256: %v", err)
	}
}
