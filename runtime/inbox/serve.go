package inbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/switchboard-dev/switchboard/runtime/contract"
	"github.com/switchboard-dev/switchboard/runtime/inbox/agentapi"
	"github.com/switchboard-dev/switchboard/runtime/inbox/assign"
	"github.com/switchboard-dev/switchboard/runtime/inbox/auth"
	"github.com/switchboard-dev/switchboard/runtime/inbox/authz"
	"github.com/switchboard-dev/switchboard/runtime/inbox/conversation"
	"github.com/switchboard-dev/switchboard/runtime/inbox/httpapi"
	"github.com/switchboard-dev/switchboard/runtime/inbox/ingest"
	"github.com/switchboard-dev/switchboard/runtime/inbox/integrations"
	"github.com/switchboard-dev/switchboard/runtime/inbox/kube"
	"github.com/switchboard-dev/switchboard/runtime/inbox/live"
	"github.com/switchboard-dev/switchboard/runtime/inbox/media"
	"github.com/switchboard-dev/switchboard/runtime/inbox/media/archive"
	"github.com/switchboard-dev/switchboard/runtime/inbox/openapi"
	"github.com/switchboard-dev/switchboard/runtime/inbox/reports"
	"github.com/switchboard-dev/switchboard/runtime/inbox/retention"
	"github.com/switchboard-dev/switchboard/runtime/inbox/ui"
	"github.com/switchboard-dev/switchboard/runtime/logging"
	"github.com/switchboard-dev/switchboard/runtime/store"
)

// Options configure Serve. Namespace, DSN, Snapshot and Log are required.
type Options struct {
	Namespace string // the Inbox's namespace: the tenant
	Inbox     string // the Inbox's name: agent accounts belong to it ("inbox" when empty); in integration events
	// integrationMetrics are shared by the integrations' worker and the CRM lookup.
	integrationMetrics *integrations.Metrics
	DSN                string
	// Snapshot returns what the inbox serves now (nil until loaded: not ready).
	Snapshot func() *kube.Snapshot
	// Refresh asks the manager to re-read Numbers (quality, account, capability updates).
	Refresh func(ctx context.Context, numbers []kube.Number) error
	// Metrics and Registry: created by Serve when nil (Main creates them, to share the
	// rule compile histogram with the snapshot source).
	Metrics  *ingest.Metrics
	Registry *prometheus.Registry
	// The traffic port (webhooks, read API) and the probe port (/healthz, /readyz,
	// /metrics): listeners, or addresses to listen on when a listener is nil.
	Traffic, Probes       net.Listener
	BindAddr, MetricsAddr string
	APIToken              string // the static read token (--api-token-file); "" for none
	// InsecureLoopbackCookies: dev mode's plain-HTTP loopback session cookies (see
	// auth.Config).
	InsecureLoopbackCookies bool
	// TrustedProxies: see auth.Config (--trusted-proxies).
	TrustedProxies        []netip.Prefix
	RequestTimeout        time.Duration
	MaxAutoRepliesPerHour int
	// Media, when set, archives inbound media there (see media.go and docs/inbox-media.md).
	Media *media.Store
	// Retention, when set, executes the Inbox's RetentionPolicies (runtime/inbox/retention).
	Retention retention.Policies
	Archive   archive.Config
	Log       *slog.Logger
}

// Serve opens the store (applying the migrations under their advisory lock, retrying
// while the database is unreachable), serves both ports, and shuts down gracefully when
// ctx ends: requests in flight finish (a committed webhook still gets its 200).
func Serve(ctx context.Context, o Options) error {
	if err := o.listen(); err != nil {
		return err
	}
	logStart(o.Log, o)
	if o.Registry == nil {
		o.Registry, o.Metrics = NewMetrics()
	}
	reg, metrics := o.Registry, o.Metrics
	o.integrationMetrics = integrations.NewMetrics(reg)
	var st atomic.Pointer[store.Store]
	probes := &http.Server{Handler: probeMux(&st, o.Snapshot, reg), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = probes.Serve(o.Probes) }()
	defer func() { _ = probes.Shutdown(context.WithoutCancel(ctx)) }()
	s, err := openStore(ctx, o)
	if err != nil || s == nil {
		return err
	}
	defer s.Close()
	st.Store(s)
	o.startArchive(ctx, s)
	o.startRetention(ctx, s, reg)
	router := assign.New(assign.Config{Store: s, Namespace: o.Namespace, Snapshot: o.Snapshot, Registry: reg, Log: o.Log})
	go router.Run(ctx)
	o.startIntegrations(ctx, s, router.Kick)
	o.startCampaigns(ctx, s)
	traffic, err := o.trafficMux(ctx, s, metrics, router)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: traffic, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute}
	go func() { _ = srv.Serve(o.Traffic) }()
	<-ctx.Done()
	o.Log.Info("inbox stopping: finishing requests in flight")
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.RequestTimeout+5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}

// startRetention runs the RetentionPolicies until ctx ends, when Options.Retention is
// set; each policy runs on one replica at a time.
func (o Options) startRetention(ctx context.Context, s *store.Store, reg prometheus.Registerer) {
	if o.Retention == nil {
		return
	}
	r := retention.New(retention.Config{Store: s, Namespace: o.Namespace, Policies: o.Retention, Media: o.Media,
		Metrics: retention.NewMetrics(reg), Log: o.Log.With("component", "retention")})
	go func() { _ = r.Run(ctx) }()
}

// NewMetrics returns a registry with the Go and process collectors and the inbox's
// metrics.
func NewMetrics() (*prometheus.Registry, *ingest.Metrics) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg, ingest.NewMetrics(reg)
}

func (o *Options) listen() error {
	var err error
	if o.Traffic == nil {
		if o.Traffic, err = net.Listen("tcp", o.BindAddr); err != nil {
			return fmt.Errorf("--http-bind-address %s: %w", o.BindAddr, err)
		}
	}
	if o.Probes == nil {
		if o.Probes, err = net.Listen("tcp", o.MetricsAddr); err != nil {
			return fmt.Errorf("--metrics-bind-address %s: %w", o.MetricsAddr, err)
		}
	}
	o.BindAddr, o.MetricsAddr = o.Traffic.Addr().String(), o.Probes.Addr().String()
	return nil
}

// openStore opens the store, retrying every 2 s while the database cannot be reached;
// it returns nil, nil when ctx ends first.
func openStore(ctx context.Context, o Options) (*store.Store, error) {
	for {
		s, err := store.Open(ctx, o.DSN, store.WithLogger(logging.Logr(o.Log)))
		if err == nil || ctx.Err() != nil {
			return s, nil
		}
		o.Log.Error("opening the database; retrying", "error", err)
		select {
		case <-ctx.Done():
			return nil, nil
		case <-time.After(2 * time.Second):
		}
	}
}

// trafficMux serves the traffic port; ctx is the server's: long-lived responses (live
// events) end with it. Every request's text is checked first (httpapi.CheckRequests),
// the web pages' by the pages themselves, which answer a browser with an HTML page.
func (o Options) trafficMux(ctx context.Context, s *store.Store, metrics *ingest.Metrics, router *assign.Service) (http.Handler, error) {
	mux := http.NewServeMux()
	policy := conversation.DefaultAutoReplyPolicy
	policy.MaxPerHour = o.MaxAutoRepliesPerHour
	ingest.New(ingest.Config{Store: s, Snapshot: o.Snapshot, Rules: rulesOf(o.Snapshot), Refresh: o.Refresh, AutoReply: policy,
		Metrics: metrics, Log: o.Log, Timeout: o.RequestTimeout, Committed: router.Kick}).Register(mux)
	if err := openapi.Register(mux); err != nil {
		return nil, err
	}
	authn, err := o.registerAuth(ctx, mux, s)
	if err != nil {
		return nil, err
	}
	api, err := agentapi.New(agentapi.Config{Store: s, Namespace: o.Namespace, Token: o.APIToken, Authenticator: authn, Snapshot: o.Snapshot, Media: o.Media, Log: o.Log})
	if err != nil {
		return nil, err
	}
	api.Register(mux)
	(&reports.API{Store: s, Namespace: o.Namespace, Log: o.Log}).Register(mux, api.Authenticator())
	assign.Register(mux, router, api.Authenticator(), o.Log)
	o.registerMedia(mux, api, s)
	registerContacts(mux, s, o.Namespace, api.Authenticator(), o.Log)
	live.Start(ctx, live.Config{Store: s, Namespace: o.Namespace, Roster: live.RosterOf(o.Snapshot), Registry: o.Registry, Presence: router, Log: o.Log}).Register(mux, api.Authenticator())
	o.registerIntegrations(mux, api, s)
	o.registerCampaigns(mux, api, s)
	pages, err := ui.New(ui.Config{API: mux, Log: o.Log, SSO: func() bool { return authn.Directory().OIDC != nil }})
	if err != nil {
		return nil, err
	}
	pages.Register(mux)
	return httpapi.CheckRequestsExcept(mux, pages.Pages), nil
}

// registerAuth serves the accounts' endpoints (package auth), keeps the declared agents
// and the initial admin in the database, and returns the authenticator of the API:
// sessions, API tokens and the static token when there is one.
func (o Options) registerAuth(ctx context.Context, mux *http.ServeMux, s *store.Store) (*auth.Service, error) {
	var static authz.Authenticator
	if o.APIToken != "" {
		var err error
		if static, err = agentapi.StaticToken(o.Namespace, o.APIToken); err != nil {
			return nil, err
		}
	}
	inbox := o.Inbox
	if inbox == "" {
		inbox = "inbox"
	}
	svc, err := auth.New(auth.Config{Store: s, Namespace: o.Namespace, Inbox: inbox, Directory: directoryOf(o.Snapshot),
		Static: static, InsecureLoopbackCookies: o.InsecureLoopbackCookies, TrustedProxies: o.TrustedProxies, Log: o.Log})
	if err != nil {
		return nil, err
	}
	svc.Register(mux)
	go svc.RunSync(ctx, 5*time.Second)
	return svc, nil
}

// probeMux serves /healthz (the process runs), /readyz (a working database connection
// and the snapshot loaded) and /metrics.
func probeMux(st *atomic.Pointer[store.Store], snapshot func() *kube.Snapshot, reg *prometheus.Registry) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc(contract.InboxHealthPath, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux.HandleFunc(contract.InboxReadyPath, func(w http.ResponseWriter, r *http.Request) {
		if err := ready(r.Context(), st.Load(), snapshot()); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
	mux.Handle(contract.InboxMetricsPath, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return mux
}

func ready(ctx context.Context, s *store.Store, snap *kube.Snapshot) error {
	if s == nil {
		return errors.New("the database is not open yet")
	}
	if snap == nil {
		return errors.New("the Inbox and its Numbers are not loaded yet")
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := s.Ping(ctx); err != nil {
		return errors.New("the database does not answer")
	}
	return nil
}
