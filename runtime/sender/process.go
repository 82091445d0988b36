package sender

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	ctrl "sigs.k8s.io/controller-runtime"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/contract"
	"github.com/switchboard-dev/switchboard/runtime/logging"
	"github.com/switchboard-dev/switchboard/runtime/startup"
	"github.com/switchboard-dev/switchboard/runtime/store"
)

// DatabaseURLEnv is the environment variable holding the PostgreSQL DSN; the manager
// fills it from a Secret in the sender Deployment (contract.DatabaseURLEnv).
const DatabaseURLEnv = contract.DatabaseURLEnv

// flags of `switchboard sender`.
type flags struct {
	number                  string
	metricsAddr, healthAddr string
	leaderElect             bool
	leaseDuration           time.Duration
	renewDeadline           time.Duration
	retryPeriod             time.Duration
	workers                 int
	poll                    time.Duration
	pauseFor                time.Duration
	retry                   RetryPolicy
	logLevel, logEncoding   string
}

func (f *flags) parse(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("switchboard sender", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&f.number, "number", "", "the Number this sender serves, as NAMESPACE/NAME (required)")
	fs.StringVar(&f.metricsAddr, contract.MetricsBindAddressFlag, contract.BindAll(contract.SenderMetricsPort), "address of the Prometheus metrics endpoint (0 disables it)")
	fs.StringVar(&f.healthAddr, contract.SenderHealthAddressFlag, contract.BindAll(contract.SenderHealthPort), "address of the /healthz and /readyz endpoints")
	fs.BoolVar(&f.leaderElect, "leader-elect", true, "elect one active sender among replicas with the Lease sender-NAME")
	fs.DurationVar(&f.leaseDuration, "lease-duration", 15*time.Second, "how long a lost leader keeps the Lease")
	fs.DurationVar(&f.renewDeadline, "renew-deadline", 10*time.Second, "how long the leader retries renewing before giving up")
	fs.DurationVar(&f.retryPeriod, "retry-period", 2*time.Second, "interval of leader-election attempts")
	fs.IntVar(&f.workers, "workers", 64, "concurrent calls to Meta")
	fs.DurationVar(&f.poll, "poll-interval", time.Second, "fallback polling of the outbox when no notification arrives")
	fs.DurationVar(&f.pauseFor, "pause-for", 15*time.Minute, "how long to pause the number when Meta says to stop (at least; longer if Meta asks)")
	f.retry = DefaultRetryPolicy()
	for _, class := range retryClasses {
		fs.Var(retryFlag{f.retry, class}, "retry-"+string(class),
			"ATTEMPTS/AGE: fail a message at its ATTEMPTS-th "+string(class)+" failure in a row, or at one AGE after the first")
	}
	fs.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info or error")
	fs.StringVar(&f.logEncoding, "log-encoding", "json", "log encoding: json or console")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if _, err := ParseNumberRef(f.number); err != nil {
		return err
	}
	if f.workers < 1 {
		return fmt.Errorf("--workers must be at least 1, got %d", f.workers)
	}
	return nil
}

// ParseNumberRef reads NAMESPACE/NAME.
func ParseNumberRef(s string) (store.NumberRef, error) { return store.ParseRef("number", s) }

// Main runs `switchboard sender`: it elects one active sender per Number (a Lease),
// takes the number's fence (a PostgreSQL advisory lock) and drains the outbox under
// the limits in the Number's status, until SIGTERM.
func Main(ctx context.Context, args []string, stdout io.Writer) error {
	var f flags
	log, dsn, help, err := startup.Begin(func() error { return f.parse(args, stdout) }, &f.logLevel, &f.logEncoding,
		DatabaseURLEnv, "the sender")
	if help || err != nil {
		return err
	}
	p, err := newProcess(ctx, f, dsn, log)
	if err != nil {
		return err
	}
	return p.run(ctx)
}

// process is one running `switchboard sender`.
type process struct {
	f       flags
	ref     store.NumberRef
	dsn     string
	log     *slog.Logger
	number  *numberSource
	rules   *ruleSource
	metrics *Metrics
	reg     *prometheus.Registry
	ready   atomic.Bool
}

func newProcess(ctx context.Context, f flags, dsn string, log *slog.Logger) (*process, error) {
	ref, _ := ParseNumberRef(f.number)
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return nil, fmt.Errorf("finding the Kubernetes API server: %w", err)
	}
	src, err := newNumberSource(cfg, ref, log)
	if err != nil {
		return nil, err
	}
	src.identity = os.Getenv(contract.PodNameEnv)
	if src.identity == "" {
		host, _ := os.Hostname()
		src.identity = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	reg := prometheus.NewRegistry()
	metrics := NewMetrics(reg)
	log = log.With("number", ref.String())
	rules, err := newRuleSource(cfg, src.c.Scheme(), ref, metrics, log)
	if err != nil {
		return nil, err
	}
	src.onNumber = rules.setNumber
	return &process{f: f, ref: ref, dsn: dsn, log: log, number: src, rules: rules,
		metrics: metrics, reg: reg}, nil
}

func (p *process) run(ctx context.Context) error {
	stop, err := p.serve(ctx)
	if err != nil {
		return err
	}
	defer stop()
	go p.number.watch(ctx)
	go func() {
		if err := p.rules.run(ctx); err != nil && ctx.Err() == nil {
			p.log.Error("following the KeywordRules; sending stops", "error", err)
		}
	}()
	if !p.f.leaderElect {
		p.ready.Store(true)
		return p.lead(ctx)
	}
	return p.elect(ctx)
}

// elect runs for the Lease sender-NAME; only the leader sends. Losing the Lease ends
// the process (its pod restarts as a standby).
func (p *process) elect(ctx context.Context) error {
	cs, err := kubernetes.NewForConfig(p.number.cfg)
	if err != nil {
		return err
	}
	lock, err := resourcelock.New(resourcelock.LeasesResourceLock, p.ref.Namespace, contract.SenderObjectName(p.ref.Name),
		cs.CoreV1(), cs.CoordinationV1(), resourcelock.ResourceLockConfig{Identity: p.number.identity})
	if err != nil {
		return err
	}
	p.ready.Store(true) // a standby is ready: it waits to take over
	// electCtx ends when the process is asked to stop, or when leading fails: a leader
	// that cannot send must give the Lease up, not keep it.
	electCtx, stopElecting := context.WithCancel(ctx)
	defer stopElecting()
	var leadErr error
	led := make(chan struct{})
	var started atomic.Bool
	leaderelection.RunOrDie(electCtx, leaderelection.LeaderElectionConfig{
		Lock: lock, LeaseDuration: p.f.leaseDuration, RenewDeadline: p.f.renewDeadline,
		RetryPeriod: p.f.retryPeriod, ReleaseOnCancel: true, Name: contract.SenderObjectName(p.ref.Name),
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(leaderCtx context.Context) {
				started.Store(true)
				defer close(led)
				defer stopElecting()
				p.metrics.Leader.Set(1)
				if leadErr = p.lead(leaderCtx); leadErr != nil {
					p.log.Error("leading failed; giving the Lease up", "error", leadErr)
				}
			},
			OnStoppedLeading: func() { p.metrics.Leader.Set(0) },
		},
	})
	// RunOrDie does not wait for OnStartedLeading: wait for the drain (in-flight calls
	// recorded, fence released) before exiting.
	if started.Load() {
		<-led
	}
	if ctx.Err() == nil && leadErr == nil {
		leadErr = errors.New("lost the sender Lease")
	}
	return leadErr
}

// lead takes the fence and sends until ctx ends.
func (p *process) lead(ctx context.Context) error {
	st, err := store.Open(ctx, p.dsn, store.WithLogger(logging.Logr(p.log)))
	if err != nil {
		return err
	}
	defer st.Close()
	lock, err := p.fence(ctx, st)
	if err != nil || lock == nil {
		return err
	}
	p.metrics.Fenced.Set(1)
	defer func() {
		p.metrics.Fenced.Set(0)
		_ = lock.Release(context.WithoutCancel(ctx))
	}()
	wake, err := st.Listen(ctx, p.ref)
	if err != nil {
		return err
	}
	num, err := p.number.current(ctx)
	if err != nil {
		return err
	}
	api, err := p.number.client(ctx, num)
	if err != nil {
		return err
	}
	if err := p.rules.ready(ctx, rulesWait); err != nil {
		return err
	}
	p.log.Info("sending", "limits", limitsOf(num, time.Now()))
	if err := p.number.reportDelivery(ctx, sbv1.DeliveryStatus{ActiveSender: p.number.identity}); err != nil {
		p.log.Error("reporting the active sender in the Number's status", "error", err)
	}
	return Run(ctx, Config{
		PhoneNumberID: num.Spec.PhoneNumberID, API: api, Outbox: lock, Wake: wake, Poll: p.f.poll,
		Limits: p.number.limits, Initial: limitsOf(num, time.Now()), Workers: p.f.workers,
		PauseFor: p.f.pauseFor, OnPause: p.number.reportPause, Guard: p.rules, Retry: p.f.retry.WithSpec(num.Spec.Sending),
		Metrics: p.metrics, Log: p.log,
	})
}

// rulesWait bounds the wait for the Outbound KeywordRules before sending: a leader
// that cannot read them gives its Lease up rather than send unchecked.
const rulesWait = time.Minute

// fence waits for the number's advisory lock: a previous sender may still hold it
// for a moment after losing its Lease.
func (p *process) fence(ctx context.Context, st *store.Store) (*store.NumberLock, error) {
	for {
		lock, err := st.LockNumber(ctx, p.ref)
		if err == nil {
			return lock, nil
		}
		if !errors.Is(err, store.ErrLocked) {
			return nil, err
		}
		p.log.Info("another sender holds the number's fence; waiting")
		select {
		case <-ctx.Done():
			return nil, nil
		case <-time.After(time.Second):
		}
	}
}

// serve starts the health and metrics endpoints.
func (p *process) serve(ctx context.Context) (func(), error) {
	health := http.NewServeMux()
	health.HandleFunc(contract.HealthzPath, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	health.HandleFunc(contract.ReadyzPath, func(w http.ResponseWriter, _ *http.Request) {
		if !p.ready.Load() {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
	servers := []*http.Server{{Addr: p.f.healthAddr, Handler: health, ReadHeaderTimeout: 5 * time.Second}}
	if p.f.metricsAddr != "0" {
		servers = append(servers, &http.Server{Addr: p.f.metricsAddr, ReadHeaderTimeout: 5 * time.Second,
			Handler: promhttp.HandlerFor(p.reg, promhttp.HandlerOpts{})})
	}
	for _, srv := range servers {
		ln, err := net.Listen("tcp", srv.Addr)
		if err != nil {
			return nil, fmt.Errorf("listening on %s: %w", srv.Addr, err)
		}
		go func() { _ = srv.Serve(ln) }()
	}
	return func() {
		for _, srv := range servers {
			_ = srv.Shutdown(context.WithoutCancel(ctx))
		}
	}, nil
}
