package inbox

import (
	"context"
	"net/http"

	"github.com/switchboard-dev/switchboard/runtime/inbox/agentapi"
	"github.com/switchboard-dev/switchboard/runtime/inbox/campaigns"
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
		Log: o.Log}).Register(mux)
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
