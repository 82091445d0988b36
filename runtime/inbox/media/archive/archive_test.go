package archive_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/switchboard-dev/switchboard/runtime/inbox/authz"
	"github.com/switchboard-dev/switchboard/runtime/inbox/media"
	"github.com/switchboard-dev/switchboard/runtime/inbox/media/archive"
	"github.com/switchboard-dev/switchboard/runtime/inbox/media/mediaapi"
	"github.com/switchboard-dev/switchboard/runtime/inbox/media/mediatest"
	"github.com/switchboard-dev/switchboard/runtime/inbox/openapi/openapitest"
	"github.com/switchboard-dev/switchboard/runtime/store"
	"github.com/switchboard-dev/switchboard/runtime/store/pgtest"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

var srv *pgtest.Server

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &srv)) }

// pool runs transactions as *store.Store does (InTx, ReadTx).
type pool struct{ *pgxpool.Pool }

func (p pool) InTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, p.Pool, fn)
}

func (p pool) ReadTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginTxFunc(ctx, p.Pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, fn)
}

// rig is a migrated database, the simulator, a real S3 store and a worker's parts.
type rig struct {
	t     *testing.T
	db    pool
	sim   *mediatest.Sim
	store *media.Store
	gets  atomic.Int32
}

func newRig(t *testing.T) *rig {
	t.Helper()
	dsn := srv.NewDatabase(t)
	st, err := store.Open(context.Background(), dsn) // applies the migrations, 00005 included
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	p, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return &rig{t: t, db: pool{p}, sim: mediatest.NewSim(t), store: mediatest.S3(t)}
}

// graphs gives every Number the simulator's client, counting GetMedia calls.
func (r *rig) graphs(string, string) (media.Graph, error) { return countingGraph{r}, nil }

type countingGraph struct{ r *rig }

func (g countingGraph) GetMedia(ctx context.Context, id string) (whatsapp.MediaInfo, error) {
	g.r.gets.Add(1)
	return g.r.sim.Client.GetMedia(ctx, id)
}

func (g countingGraph) Download(ctx context.Context, url string) (io.ReadCloser, int64, error) {
	return g.r.sim.Client.Download(ctx, url)
}

func (r *rig) worker(cfg archive.Config) *archive.Worker {
	return archive.NewWorker(r.db, r.store, r.graphs, cfg, nil)
}

// enqueue records a job for a new inbound media of kind in namespace and returns its row.
func (r *rig) enqueue(namespace, kind string) archive.Record {
	r.t.Helper()
	ctx := context.Background()
	j := archive.Job{Namespace: namespace, Number: "support", MediaID: r.sim.Media(kind)}
	var rec archive.Record
	err := r.db.InTx(ctx, func(tx pgx.Tx) (err error) {
		if err = archive.Enqueue(ctx, tx, j); err == nil {
			err = archive.Enqueue(ctx, tx, j) // a redelivered webhook: no second row
		}
		if err == nil {
			rec, err = archive.ByMediaID(ctx, tx, j.Namespace, j.Number, j.MediaID)
		}
		return err
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return rec
}

// await waits (generously) until row id of namespace is in state.
func (r *rig) await(namespace string, id int64, state string) archive.Record {
	r.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var rec archive.Record
		err := r.db.ReadTx(context.Background(), func(tx pgx.Tx) (err error) {
			rec, err = archive.Get(context.Background(), tx, namespace, id)
			return err
		})
		if err == nil && rec.State == state {
			return rec
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("media %d not %s: %+v %v", id, state, rec, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (r *rig) run(w *archive.Worker) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = w.Run(ctx); close(done) }()
	r.t.Cleanup(func() { cancel(); <-done })
}

// api serves GET /api/v1/media/{id} for namespace to a supervisor (who sees every
// conversation of the namespace).
func (r *rig) api(namespace string) *httptest.Server {
	mux := http.NewServeMux()
	supervisor := authz.NewPrincipal(namespace, "inbox", authz.KindAgent, "sam", authz.RoleSupervisor, authz.Predefined()[authz.RoleSupervisor])
	mediaapi.New(r.db, r.store, namespace, nil).Register(mux, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			h.ServeHTTP(w, req.WithContext(authz.WithPrincipal(req.Context(), supervisor)))
		})
	})
	hs := httptest.NewServer(mux)
	r.t.Cleanup(hs.Close)
	return hs
}

func get(t *testing.T, hs *httptest.Server, id int64) (int, []byte) {
	t.Helper()
	resp, err := openapitest.Client(t).Get(fmt.Sprintf("%s/api/v1/media/%d", hs.URL, id))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestMediaArchivedAndServed: a media message's job is downloaded at once, stored with
// Meta's sha256 checked, readable through the API, and not by another tenant.
func TestMediaArchivedAndServed(t *testing.T) {
	r := newRig(t)
	r.run(r.worker(archive.Config{}))
	rec := r.enqueue("shop", "image")
	got := r.await("shop", rec.ID, archive.Stored)
	want, _ := r.sim.Server.MediaSHA256(rec.MediaID)
	if *got.SHA256 != want || got.Attempts != 1 || *got.ObjectKey != "shop/support/"+rec.MediaID {
		t.Fatalf("stored %+v, Meta's sha256 %s", got, want)
	}
	status, body := get(t, r.api("shop"), rec.ID)
	sum := sha256.Sum256(body)
	if status != 200 || hex.EncodeToString(sum[:]) != want || int64(len(body)) != *got.Size {
		t.Fatalf("API answered %d with %d bytes", status, len(body))
	}
	if status, body := get(t, r.api("other-tenant"), rec.ID); status != 404 {
		t.Fatalf("another tenant read it: %d %s", status, body)
	}
}

// TestChecksumMismatchFails: corrupted bytes are refused on every attempt; after the
// bounded attempts the row is failed with the mismatch recorded, nothing is in the bucket
// and the API says why.
func TestChecksumMismatchFails(t *testing.T) {
	r := newRig(t)
	rec := r.enqueue("shop", "document")
	if err := r.sim.Server.CorruptMedia(rec.MediaID); err != nil {
		t.Fatal(err)
	}
	r.run(r.worker(archive.Config{MaxAttempts: 3, BaseDelay: 10 * time.Millisecond, Poll: 10 * time.Millisecond}))
	got := r.await("shop", rec.ID, archive.Failed)
	if got.Attempts != 3 || got.LastError == nil || !strings.Contains(*got.LastError, "sha256 mismatch") {
		t.Fatalf("failed row: %+v", got)
	}
	key := media.Key{Namespace: "shop", Number: "support", MediaID: rec.MediaID}
	if _, ok, err := r.store.Stat(context.Background(), key); ok || err != nil {
		t.Fatalf("refused object in the bucket (%t, %v)", ok, err)
	}
	if status, body := get(t, r.api("shop"), rec.ID); status != 409 || !strings.Contains(string(body), "sha256 mismatch") {
		t.Fatalf("API: %d %s", status, body)
	}
}

// TestFailedAttemptRetried: a first attempt that fails (the Number's token not yet
// readable) is retried after the backoff and then stored.
func TestFailedAttemptRetried(t *testing.T) {
	r := newRig(t)
	rec := r.enqueue("shop", "audio")
	var calls atomic.Int32
	w := archive.NewWorker(r.db, r.store, func(ns, n string) (media.Graph, error) {
		if calls.Add(1) == 1 {
			return nil, errors.New("the Number's credentials Secret is not readable yet")
		}
		return r.graphs(ns, n)
	}, archive.Config{BaseDelay: 20 * time.Millisecond, Poll: 10 * time.Millisecond}, nil)
	r.run(w)
	if got := r.await("shop", rec.ID, archive.Stored); got.Attempts != 2 || got.LastError != nil {
		t.Fatalf("after a retry: %+v", got)
	}
}

// TestTwoWorkersShareTheQueue: two workers (two inbox replicas) archive 20 media; each is
// downloaded exactly once.
func TestTwoWorkersShareTheQueue(t *testing.T) {
	r := newRig(t)
	var recs []archive.Record
	for i := 0; i < 20; i++ {
		recs = append(recs, r.enqueue("shop", []string{"image", "video", "sticker", "document"}[i%4]))
	}
	r.run(r.worker(archive.Config{Poll: 10 * time.Millisecond}))
	r.run(r.worker(archive.Config{Poll: 10 * time.Millisecond}))
	for _, rec := range recs {
		r.await("shop", rec.ID, archive.Stored)
	}
	if n := r.gets.Load(); n != 20 {
		t.Fatalf("%d GET /{media-id} for 20 media", n)
	}
}

// TestEnqueueRefusesBadFields: a bad key part is refused by name and writes nothing.
func TestEnqueueRefusesBadFields(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	err := r.db.InTx(ctx, func(tx pgx.Tx) error {
		return archive.Enqueue(ctx, tx, archive.Job{Namespace: "shop", Number: "../x", MediaID: "1"})
	})
	if err == nil || !strings.Contains(err.Error(), "number") {
		t.Fatalf("bad number: %v", err)
	}
	var n int
	if err := r.db.QueryRow(ctx, `SELECT count(*) FROM media`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d rows, %v", n, err)
	}
}
