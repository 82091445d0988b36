// Package live serves the inbox's live view:
//
//	GET /api/v1/events      Server-Sent Events: messages, statuses, assignments, transfers,
//	                        availability and queue changes (conversations.read, scoped)
//	GET /api/v1/supervisor  every declared agent's load and response times, the teams'
//	                        queues, the share assigned within 5 s (supervisor.read)
//
// Events are rows of inbox_events (migration 00009) written in the transaction of the
// change by triggers on messages and conversations, or by inbox_event() (the routing's
// availability and queue changes). Each process LISTENs once (Hub) and fans the rows out
// to its subscribers; a client that reconnects with Last-Event-ID gets what it missed
// from the table (kept 15 minutes). docs/live.md describes the format.
//
// The supervisor's figures are also Prometheus gauges (Collector), one series per
// declared agent and team (RoutingPolicy teams[].members), capped.
package live

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-dev/switchboard/runtime/inbox/authz"
	"github.com/switchboard-dev/switchboard/runtime/store"
)

// Config configures a Service. Store and Namespace are required.
type Config struct {
	Store     *store.Store
	Namespace string // the Inbox's namespace: the tenant
	// Roster returns the declared teams and agents (RosterOf reads them from the snapshot);
	// nil: none.
	Roster func() Roster
	// Registry, when set, gets the live events' metrics and the supervisor's collector.
	Registry prometheus.Registerer
	Hub      HubOptions
	// Presence, when set, is told when an agent's event stream opens and closes (the
	// routing's away rule for agents whose last live connection is gone: wire the
	// routing's service here).
	Presence Presence
	Log      *slog.Logger
}

// Presence counts agents' live connections. Errors are logged; the stream goes on.
type Presence interface {
	Connected(ctx context.Context, login string) error
	Disconnected(ctx context.Context, login string) error
}

// Service is the live events' hub and the two endpoints.
type Service struct {
	store     *store.Store
	namespace string
	roster    func() Roster
	presence  Presence
	hub       *Hub
	log       *slog.Logger
	ctx       context.Context
}

// Start creates the service and runs its hub until ctx ends (the server's shutdown:
// open streams end then too).
func Start(ctx context.Context, c Config) *Service {
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Roster == nil {
		c.Roster = func() Roster { return Roster{} }
	}
	if c.Hub.Log == nil {
		c.Hub.Log = c.Log
	}
	s := &Service{store: c.Store, namespace: c.Namespace, roster: c.Roster, presence: c.Presence, log: c.Log, ctx: ctx}
	if c.Registry != nil {
		c.Hub.Metrics = NewMetrics(c.Registry)
		c.Registry.MustRegister(s.Collector())
	}
	s.hub = NewHub(c.Store, c.Namespace, c.Hub)
	go s.hub.Run(ctx)
	return s
}

// Hub returns the service's hub.
func (s *Service) Hub() *Hub { return s.hub }

// Register adds the endpoints to mux behind authenticate (which puts the caller's
// principal into the request's context) and their permissions.
func (s *Service) Register(mux *http.ServeMux, authenticate authz.Authenticator) {
	mux.Handle("GET /api/v1/events", authz.Authenticate(authenticate, authz.RequireFunc(authz.ConversationsRead, s.events)))
	mux.Handle("GET /api/v1/supervisor", authz.Authenticate(authenticate, authz.RequireFunc(authz.SupervisorRead, s.supervisor)))
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}
