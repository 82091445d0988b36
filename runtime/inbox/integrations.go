package inbox

import (
	"context"
	"net/http"

	"github.com/switchboard-dev/switchboard/runtime/inbox/agentapi"
	"github.com/switchboard-dev/switchboard/runtime/inbox/integrations"
	"github.com/switchboard-dev/switchboard/runtime/store"
)

// startIntegrations runs the integrations' worker until ctx ends: it turns the events
// the database triggers queue (migration 00010) into webhook deliveries and chatbot
// calls, and makes them (docs/integrations.md). Every replica runs one.
func (o Options) startIntegrations(ctx context.Context, s *store.Store, handedOff func()) {
	w := integrations.NewWorker(integrations.Config{Store: s, Snapshot: o.Snapshot, Log: o.Log, Metrics: o.integrationMetrics,
		Inbox: store.NumberRef{Namespace: o.Namespace, Name: o.Inbox}, HandedOff: handedOff})
	go func() { _ = w.Run(ctx) }()
}

// registerIntegrations serves the delivery log and the CRM lookup behind the read API's
// bearer token.
func (o Options) registerIntegrations(mux *http.ServeMux, api *agentapi.API, s *store.Store) {
	crm := integrations.NewCRMLookup(o.Snapshot, nil, o.integrationMetrics, o.Log)
	integrations.NewAPI(s, o.Namespace, crm, o.Log).Register(mux, api.Authenticator())
}
