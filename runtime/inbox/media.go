package inbox

import (
	"context"
	"fmt"
	"net/http"

	"github.com/switchboard-dev/switchboard/runtime/contract"
	"github.com/switchboard-dev/switchboard/runtime/inbox/agentapi"
	"github.com/switchboard-dev/switchboard/runtime/inbox/kube"
	"github.com/switchboard-dev/switchboard/runtime/inbox/media"
	"github.com/switchboard-dev/switchboard/runtime/inbox/media/archive"
	"github.com/switchboard-dev/switchboard/runtime/inbox/media/mediaapi"
	"github.com/switchboard-dev/switchboard/runtime/store"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// startArchive runs the media archive's worker until ctx ends, when Options.Media is
// set. Inbound media messages queue themselves as the ingest stores them (migration
// 00005's trigger); the worker looks at the queue every Archive.Poll (1 s by default).
func (o Options) startArchive(ctx context.Context, s *store.Store) {
	if o.Media == nil {
		return
	}
	w := archive.NewWorker(s, o.Media, graphsOf(o.Snapshot), o.Archive, o.Log)
	go func() { _ = w.Run(ctx) }()
}

// registerMedia serves the media endpoints (mediaapi) behind the read API's bearer token,
// with or without an archive (without: 503 for media the caller may see).
func (o Options) registerMedia(mux *http.ServeMux, api *agentapi.API, s *store.Store) {
	mediaapi.New(s, o.Media, o.Namespace, o.Log).Register(mux, api.Protect)
}

// graphsOf gives a served Number's Cloud API client, with its access token.
func graphsOf(snapshot func() *kube.Snapshot) archive.Graphs {
	return func(_, number string) (media.Graph, error) {
		snap := snapshot()
		if snap == nil {
			return nil, fmt.Errorf("the Numbers are not loaded yet")
		}
		n, ok := snap.ByName(number)
		if !ok {
			return nil, fmt.Errorf("the Number %s is not served by this Inbox", number)
		}
		return whatsapp.New(whatsapp.Options{BaseURL: n.APIBaseURL, APIVersion: n.APIVersion, AccessToken: n.AccessToken})
	}
}

// openMedia opens the archive: the S3 bucket of --media-s3-bucket (Inbox spec.media), or
// --media-dir (dev mode), or none.
func openMedia(ctx context.Context, dir string, s3 media.S3Config) (*media.Store, error) {
	if s3.Bucket != "" {
		st, err := media.OpenS3(ctx, s3)
		if err != nil {
			return nil, fmt.Errorf("--%s: %w", contract.InboxMediaS3BucketFlag, err)
		}
		return st, nil
	}
	if dir == "" {
		return nil, nil
	}
	st, err := media.OpenDir(dir)
	if err != nil {
		return nil, fmt.Errorf("--media-dir: %w", err)
	}
	return st, nil
}
