// Package mediatest holds the media archive's test rig: a simulator with one Number on a
// fake clock, a Cloud API client with its token, and stores in a local directory and on
// a real S3-protocol server (s3test). Only tests import it.
package mediatest

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/runtime/inbox/media"
	"github.com/switchboard-dev/switchboard/runtime/inbox/media/s3test"
	"github.com/switchboard-dev/switchboard/runtime/simulator"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// The simulated Number and user.
const (
	PhoneNumberID = "106540352242922"
	Token         = "EAAJB-media-token"
	User          = "16505551234"
)

// Sim is a simulator with a fake clock and one Number, and a client with its token.
type Sim struct {
	t      testing.TB
	Server *simulator.Server
	Clock  *simulator.FakeClock
	Client *whatsapp.Client
}

// NewSim starts a simulator on a loopback port for the test.
func NewSim(t testing.TB) *Sim {
	t.Helper()
	clock := simulator.NewFakeClock(time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC))
	srv, err := simulator.New(simulator.Config{Clock: clock, Numbers: []simulator.Number{
		{ID: PhoneNumberID, DisplayPhoneNumber: "+1 555-078-3881", AccessToken: Token}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	client, err := whatsapp.New(whatsapp.Options{BaseURL: hs.URL, AccessToken: Token})
	if err != nil {
		t.Fatal(err)
	}
	return &Sim{t: t, Server: srv, Clock: clock, Client: client}
}

// Media injects an inbound message of kind (image, document…) and returns its media ID.
func (s *Sim) Media(kind string) string {
	s.t.Helper()
	wamid, err := s.Server.Inject(PhoneNumberID, simulator.Inbound{From: User, Type: kind})
	if err != nil {
		s.t.Fatal(err)
	}
	id, ok := s.Server.MediaOf(wamid)
	if !ok {
		s.t.Fatalf("no media in %s", wamid)
	}
	return id
}

// S3 opens a store in a bucket of a real S3-protocol server started for the test.
func S3(t testing.TB) *media.Store {
	t.Helper()
	gw := s3test.Start(t)
	st, err := media.OpenS3(context.Background(), media.S3Config{Bucket: gw.Bucket, Endpoint: gw.Endpoint,
		Region: gw.Region, PathStyle: true, AccessKeyID: gw.AccessKey, SecretAccessKey: gw.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// Dir opens a store in a temporary directory.
func Dir(t testing.TB) *media.Store {
	t.Helper()
	st, err := media.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}
