package media_test

import (
	"context"
	"io"
	"sync/atomic"
	"testing"

	"github.com/switchboard-dev/switchboard/runtime/inbox/media"
	"github.com/switchboard-dev/switchboard/runtime/inbox/media/mediatest"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// stores opens a store of each kind: a local directory and a real S3-protocol server.
func stores(t *testing.T) map[string]*media.Store {
	t.Helper()
	return map[string]*media.Store{"dir": mediatest.Dir(t), "s3": mediatest.S3(t)}
}

// countingGraph counts GetMedia calls and can run a hook after each (to expire URLs).
type countingGraph struct {
	media.Graph
	gets  atomic.Int32
	after func()
}

func (g *countingGraph) GetMedia(ctx context.Context, id string) (whatsapp.MediaInfo, error) {
	g.gets.Add(1)
	info, err := g.Graph.GetMedia(ctx, id)
	if g.after != nil {
		g.after()
	}
	return info, err
}

func readAll(t *testing.T, s *media.Store, key media.Key) []byte {
	t.Helper()
	r, err := s.Open(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
