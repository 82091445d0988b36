package inbox

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox/agentapi"
	"github.com/switchboard-dev/switchboard/runtime/inbox/campaigns"
	"github.com/switchboard-dev/switchboard/runtime/inbox/contacts"
	"github.com/switchboard-dev/switchboard/runtime/inbox/kube"
	"github.com/switchboard-dev/switchboard/runtime/outbound"
	"github.com/switchboard-dev/switchboard/runtime/store"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// startCampaigns runs the campaign runner of the Inbox's namespace (docs/campaigns.md):
// every replica runs one; a campaign is fed by one runner at a time.
func (o Options) startCampaigns(ctx context.Context, s *store.Store) {
	r := &campaigns.Runner{Store: s, Namespace: o.Namespace, Rules: outboundOf(o.Snapshot), Log: o.Log}
	go r.Run(ctx)
}

// registerCampaigns serves /api/v1/campaigns. Until the agents' sessions and tokens
// exist, the read API's token (an auditor: campaigns.read only) is the one credential.
func (o Options) registerCampaigns(mux *http.ServeMux, api *agentapi.API, s *store.Store) {
	(&campaigns.API{Store: s, Namespace: o.Namespace, Auth: api.Authenticator(), Templates: templatesOf(o.Snapshot),
		Segments: CampaignSegments(), Log: o.Log}).Register(mux)
}

// CampaignSegments streams a segment's contacts (runtime/inbox/contacts) into a
// campaign: the segment's filter as it is when the campaign is created. An unknown
// segment is a 422 naming target.segment.
func CampaignSegments() campaigns.Segments { return segmentStream{} }

type segmentStream struct{}

func (segmentStream) Stream(ctx context.Context, tx pgx.Tx, namespace, segment string, fn func(waID string) error) error {
	seg, err := contacts.GetSegment(ctx, tx, namespace, segment)
	if errors.Is(err, contacts.ErrNoSegment) {
		return &campaigns.Error{Status: http.StatusUnprocessableEntity, Field: "target.segment",
			Detail: fmt.Sprintf("no segment %q in namespace %s", segment, namespace)}
	}
	if err != nil {
		return fmt.Errorf("segment %s: %w", segment, err)
	}
	return contacts.Each(ctx, tx, namespace, seg.Filter, func(c contacts.Contact) error { return fn(c.WAID) })
}

// outboundOf returns a Number's compiled Outbound KeywordRules from the snapshot.
func outboundOf(snapshot func() *kube.Snapshot) func(number string) *outbound.Rules {
	return func(number string) *outbound.Rules {
		if snap := snapshot(); snap != nil {
			if n, ok := snap.ByName(number); ok {
				return n.Policy.OutboundRules
			}
		}
		return nil
	}
}

// templatesOf lists the approved templates of a Number's WABA with its access token.
func templatesOf(snapshot func() *kube.Snapshot) campaigns.Templates {
	return func(ctx context.Context, number string) ([]whatsapp.MessageTemplate, error) {
		snap := snapshot()
		if snap == nil {
			return nil, campaigns.ErrUnknownNumber
		}
		n, ok := snap.ByName(number)
		if !ok || n.WABAID == "" {
			return nil, campaigns.ErrUnknownNumber
		}
		c, err := whatsapp.New(whatsapp.Options{BaseURL: n.APIBaseURL, APIVersion: n.APIVersion, AccessToken: n.AccessToken})
		if err != nil {
			return nil, err
		}
		return c.ListTemplates(ctx, n.WABAID, whatsapp.ListTemplatesOptions{ApprovedOnly: true})
	}
}
