package inbox_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox"
	"github.com/switchboard-dev/switchboard/runtime/inbox/auth"
	"github.com/switchboard-dev/switchboard/runtime/inbox/ingest"
	"github.com/switchboard-dev/switchboard/runtime/inbox/kube"
	"github.com/switchboard-dev/switchboard/runtime/inbox/media/archive"
	"github.com/switchboard-dev/switchboard/runtime/inbox/media/mediatest"
	"github.com/switchboard-dev/switchboard/runtime/simulator"
)

// End to end: the simulator delivers an image; the inbox stores the message, archives the
// media from the simulator's Graph API into a real S3-protocol server with its sha256
// checked, and serves it behind the read API's token, to its own namespace only.
func TestInboundMediaArchived(t *testing.T) {
	dsn := srv.NewDatabase(t)
	bucket := mediatest.S3(t)
	num := numA
	num.AccessToken = "graph-token-a"
	sim, graph := mediaSimulator(t, num.AccessToken)
	num.APIBaseURL = graph
	withMedia := func(o *inbox.Options) {
		o.Media, o.Archive = bucket, archive.Config{Poll: 20 * time.Millisecond}
	}
	snap := served(num)
	snap.Access.InitialAdminPassword = "acme-admin-password"
	snap.Access.Teams = map[string][]string{"ana": {"iberia"}}
	s := startServer(t, dsn, snap, withMedia, func(o *inbox.Options) { o.Inbox = "support" })
	other := startServer(t, dsn, kube.NewSnapshot("other", nil), withMedia, func(o *inbox.Options) { o.Namespace = "other" })
	waitStatus(t, s.probes+"/readyz", 200)
	if err := sim.UpdateNumber(num.PhoneNumberID, func(n *simulator.Number) { n.WebhookURL = s.traffic + ingest.Path }); err != nil {
		t.Fatal(err)
	}
	wamid, err := sim.Inject(num.PhoneNumberID, simulator.Inbound{From: "34600000001", Type: "image", Text: "recibo"})
	if err != nil {
		t.Fatal(err)
	}
	mediaID, _ := sim.MediaOf(wamid)
	id, messageID := awaitStored(t, dsn, mediaID)
	if code, body := get(t, fmt.Sprintf("%s/api/v1/messages/%d/media", s.traffic, messageID), token); code != 200 ||
		!strings.Contains(body, `"state":"stored"`) || !strings.Contains(body, mediaID) {
		t.Fatalf("the message's media: %d %s", code, body)
	}
	url := fmt.Sprintf("/api/v1/media/%d", id)
	code, body := get(t, s.traffic+url, token)
	sum := sha256.Sum256([]byte(body))
	if want, _ := sim.MediaSHA256(mediaID); code != 200 || hex.EncodeToString(sum[:]) != want {
		t.Fatalf("GET %s: %d, %d bytes", url, code, len(body))
	}
	if code, _ := get(t, s.traffic+url, ""); code != 401 {
		t.Fatalf("without the token: %d", code)
	}
	if code, body := get(t, other.traffic+url, token); code != 404 {
		t.Fatalf("another namespace's inbox read it: %d %s", code, body)
	}

	// An agent reads the media of the conversations she sees (authz.Scope) only.
	admin, csrf := session(t, s, "admin", "acme-admin-password")
	if code, body, _ := call(t, "POST", s.traffic+"/api/v1/agents", `{"login":"ana","role":"agent","password":"ana-password-123"}`,
		"Cookie", admin, auth.CSRFHeader, csrf); code != 201 {
		t.Fatalf("create ana: %d %s", code, body)
	}
	ana, _ := session(t, s, "ana", "ana-password-123")
	paths := []string{url, fmt.Sprintf("/api/v1/messages/%d/media", messageID)}
	for _, p := range paths {
		if code, body, _ := call(t, "GET", s.traffic+p, "", "Cookie", ana); code != 404 {
			t.Errorf("ana GET %s of a conversation she may not see: %d %s", p, code, body)
		}
	}
	conn := connect(t, dsn)
	if _, err := conn.conn.Exec(context.Background(), `UPDATE conversations SET assignee = 'ana'`); err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		if code, body, _ := call(t, "GET", s.traffic+p, "", "Cookie", ana); code != 200 {
			t.Errorf("ana GET %s of her conversation: %d %.200s", p, code, body)
		}
	}
}

// mediaSimulator serves the simulator's Graph API on loopback; numA's webhooks are
// pointed at the inbox once it listens.
func mediaSimulator(t *testing.T, accessToken string) (*simulator.Server, string) {
	t.Helper()
	sim, err := simulator.New(simulator.Config{Seed: 5, Numbers: []simulator.Number{{ID: numA.PhoneNumberID,
		DisplayPhoneNumber: "+1 555 078 3881", BusinessAccountID: numA.WABAID, AppSecret: numA.AppSecret,
		AccessToken: accessToken}}, Webhooks: simulator.WebhookConfig{BaseDelay: 20 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	hs := httptest.NewServer(sim)
	t.Cleanup(hs.Close)
	return sim, hs.URL
}

// awaitStored waits (generously) for the media row of mediaID to be stored and returns
// its id and its message's.
func awaitStored(t *testing.T, dsn, mediaID string) (int64, int64) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	deadline := time.Now().Add(time.Minute)
	for {
		var id, messageID int64
		var state string
		_ = conn.QueryRow(context.Background(), `SELECT id, state, message_id FROM media WHERE media_id = $1`,
			mediaID).Scan(&id, &state, &messageID)
		if state == archive.Stored {
			return id, messageID
		}
		if time.Now().After(deadline) {
			t.Fatalf("media %s not stored (state %q)", mediaID, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Without a media archive (no spec.media, no --media-dir) the media endpoints still
// exist: 401 without credentials, 404 for media the caller may not see or that does not
// exist, and 503 naming spec.media for media she may see; the inbound image's row stays
// pending.
func TestMediaWithoutArchive(t *testing.T) {
	dsn := srv.NewDatabase(t)
	num := numA
	num.AccessToken = "graph-token-a"
	sim, graph := mediaSimulator(t, num.AccessToken)
	num.APIBaseURL = graph
	snap := served(num)
	snap.Access.InitialAdminPassword = "acme-admin-password"
	snap.Access.Teams = map[string][]string{"ana": {"iberia"}}
	s := startServer(t, dsn, snap, func(o *inbox.Options) { o.Inbox = "support" })
	waitStatus(t, s.probes+"/readyz", 200)
	if err := sim.UpdateNumber(num.PhoneNumberID, func(n *simulator.Number) { n.WebhookURL = s.traffic + ingest.Path }); err != nil {
		t.Fatal(err)
	}
	wamid, err := sim.Inject(num.PhoneNumberID, simulator.Inbound{From: "34600000001", Type: "image", Text: "recibo"})
	if err != nil {
		t.Fatal(err)
	}
	mediaID, _ := sim.MediaOf(wamid)
	conn := connect(t, dsn)
	var id, messageID int64
	var state string
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		err := conn.conn.QueryRow(context.Background(), `SELECT id, message_id, state FROM media WHERE media_id = $1`,
			mediaID).Scan(&id, &messageID, &state)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no media row for %s: %v", mediaID, err)
		}
	}
	if state != archive.Pending {
		t.Errorf("without an archive the image's row is %s, want pending", state)
	}
	// The message itself says its file is not archived (yet).
	var convID int64
	if err := conn.conn.QueryRow(context.Background(), `SELECT conversation_id FROM messages WHERE id = $1`, messageID).Scan(&convID); err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, s.traffic+fmt.Sprintf("/api/v1/conversations/%d/messages", convID), token); code != 200 ||
		!strings.Contains(body, fmt.Sprintf(`"mediaId":%d,"mediaState":"pending"`, id)) {
		t.Errorf("the image's message: %d %s, want its mediaId %d and mediaState pending", code, body, id)
	}

	admin, csrf := session(t, s, "admin", "acme-admin-password")
	if code, body, _ := call(t, "POST", s.traffic+"/api/v1/agents", `{"login":"ana","role":"agent","password":"ana-password-123"}`,
		"Cookie", admin, auth.CSRFHeader, csrf); code != 201 {
		t.Fatalf("create ana: %d %s", code, body)
	}
	ana, _ := session(t, s, "ana", "ana-password-123")
	paths := []string{fmt.Sprintf("/api/v1/media/%d", id), fmt.Sprintf("/api/v1/messages/%d/media", messageID)}
	for _, p := range paths {
		if code, body := get(t, s.traffic+p, ""); code != 401 {
			t.Errorf("GET %s without credentials: %d %s, want 401", p, code, body)
		}
		if code, body, _ := call(t, "GET", s.traffic+p, "", "Cookie", ana); code != 404 {
			t.Errorf("ana GET %s of a conversation she may not see: %d %s, want 404", p, code, body)
		}
		if code, body := get(t, s.traffic+p, token); code != 503 || !strings.Contains(body, "spec.media") {
			t.Errorf("GET %s without an archive: %d %s, want 503 naming spec.media", p, code, body)
		}
	}
	for _, p := range []string{"/api/v1/media/999999", "/api/v1/messages/999999/media"} {
		if code, body := get(t, s.traffic+p, token); code != 404 {
			t.Errorf("GET %s: %d %s, want 404", p, code, body)
		}
	}
}
