package media_test

import (
	"context"
	"io"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/runtime/inbox/media"
	"github.com/switchboard-dev/switchboard/runtime/inbox/media/s3test"
	"github.com/switchboard-dev/switchboard/runtime/simulator"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

const (
	pnid  = "106540352242922"
	token = "EAAJB-media-token"
	user  = "16505551234"
)

// sim is a simulator with a fake clock and one number, and a client with its token.
type sim struct {
	t      *testing.T
	srv    *simulator.Server
	clock  *simulator.FakeClock
	client *whatsapp.Client
}

func newSim(t *testing.T) *sim {
	t.Helper()
	clock := simulator.NewFakeClock(time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC))
	srv, err := simulator.New(simulator.Config{Clock: clock, Numbers: []simulator.Number{
		{ID: pnid, DisplayPhoneNumber: "+1 555-078-3881", AccessToken: token}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	client, err := whatsapp.New(whatsapp.Options{BaseURL: hs.URL, AccessToken: token})
	if err != nil {
		t.Fatal(err)
	}
	return &sim{t: t, srv: srv, clock: clock, client: client}
}

// media injects an inbound message of kind and returns its media ID.
func (s *sim) media(kind string) string {
	s.t.Helper()
	wamid, err := s.srv.Inject(pnid, simulator.Inbound{From: user, Type: kind})
	if err != nil {
		s.t.Fatal(err)
	}
	id, ok := s.srv.MediaOf(wamid)
	if !ok {
		s.t.Fatalf("no media in %s", wamid)
	}
	return id
}

// stores opens a store of each kind: a local directory and a real S3-protocol server.
func stores(t *testing.T) map[string]*media.Store {
	t.Helper()
	dir, err := media.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	gw := s3test.Start(t)
	s3, err := media.OpenS3(context.Background(), media.S3Config{Bucket: gw.Bucket, Endpoint: gw.Endpoint,
		Region: gw.Region, PathStyle: true, AccessKeyID: gw.AccessKey, SecretAccessKey: gw.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*media.Store{dir, s3} {
		t.Cleanup(func() { _ = s.Close() })
	}
	return map[string]*media.Store{"dir": dir, "s3": s3}
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
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
