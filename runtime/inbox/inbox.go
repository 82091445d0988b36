// Package inbox is `switchboard inbox --inbox NS/NAME`: a stateless HTTP service (run as
// two or more replicas behind one Service) that receives Meta's webhooks for the Numbers
// an Inbox selects and keeps contacts, conversations and messages in PostgreSQL. All its
// state is in the database; the Kubernetes objects it follows (package kube) are read into
// an immutable snapshot. This package only wires: flags, the store, the snapshot, the
// traffic port (ingest, agentapi) and the metrics/probe port.
package inbox

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/switchboard-dev/switchboard/runtime/contract"
	"github.com/switchboard-dev/switchboard/runtime/inbox/kube"
	"github.com/switchboard-dev/switchboard/runtime/inbox/media"
	"github.com/switchboard-dev/switchboard/runtime/startup"
	"github.com/switchboard-dev/switchboard/runtime/store"
)

// Environment variables: the PostgreSQL DSN (the same variable the senders get, filled
// by the manager from the namespace's database Secret) and the read API's bearer token
// (or --api-token-file).
const (
	DatabaseURLEnv = contract.InboxDatabaseURLEnv
	APITokenEnv    = "SWITCHBOARD_INBOX_TOKEN"
)

// InsecureLoopbackCookiesFlag lets session cookies go without Secure on plain-HTTP
// loopback requests (dev mode, docs/auth.md).
const InsecureLoopbackCookiesFlag = "insecure-loopback-cookies"

// flags of `switchboard inbox`.
type flags struct {
	inbox                 string
	bindAddr, metricsAddr string
	apiTokenFile          string
	insecureCookies       bool
	trustedProxies        []netip.Prefix
	mediaDir              string
	mediaS3               media.S3Config
	requestTimeout        time.Duration
	maxAutoRepliesPerHour int
	logLevel, logEncoding string
}

func (f *flags) parse(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("switchboard inbox", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&f.inbox, contract.InboxFlag, "", "the Inbox this process serves, as NAMESPACE/NAME (required)")
	fs.StringVar(&f.bindAddr, contract.InboxHTTPAddressFlag, fmt.Sprintf(":%d", contract.InboxHTTPPort), "address of the traffic port: Meta's webhooks and the read API")
	fs.StringVar(&f.metricsAddr, contract.InboxMetricsAddressFlag, fmt.Sprintf(":%d", contract.InboxMetricsPort), "address of /healthz, /readyz and /metrics")
	fs.StringVar(&f.apiTokenFile, "api-token-file", "", "file holding the read API's bearer token (default: $"+APITokenEnv+"; neither: no read API)")
	fs.BoolVar(&f.insecureCookies, InsecureLoopbackCookiesFlag, false, "dev mode only: session cookies without Secure on plain-HTTP requests from loopback addresses")
	fs.Func("trusted-proxies", "comma-separated CIDRs of the proxies (the Ingress controller) whose X-Forwarded-For names the client for login throttling", func(v string) error {
		for _, c := range strings.Split(v, ",") {
			p, err := netip.ParsePrefix(strings.TrimSpace(c))
			if err != nil {
				return fmt.Errorf("%q is not a CIDR such as 10.0.0.0/8", c)
			}
			f.trustedProxies = append(f.trustedProxies, p)
		}
		return nil
	})
	fs.StringVar(&f.mediaDir, "media-dir", "", "directory archiving inbound media (dev mode; default: no archive)")
	fs.StringVar(&f.mediaS3.Bucket, contract.InboxMediaS3BucketFlag, "", "S3-compatible bucket archiving inbound media (credentials: $"+
		contract.InboxMediaS3AccessKeyEnv+" and $"+contract.InboxMediaS3SecretKeyEnv+", else the ambient ones)")
	fs.StringVar(&f.mediaS3.Endpoint, contract.InboxMediaS3EndpointFlag, "", "the bucket's S3 API URL (default: AWS S3)")
	fs.StringVar(&f.mediaS3.Region, contract.InboxMediaS3RegionFlag, "", "the bucket's region (default us-east-1)")
	fs.BoolVar(&f.mediaS3.PathStyle, contract.InboxMediaS3PathStyleFlag, false, "put the bucket in the URL's path (most S3-compatible servers)")
	fs.DurationVar(&f.requestTimeout, "request-timeout", 20*time.Second, "bound on one webhook's transaction; past it the answer is 503 and Meta retries")
	fs.IntVar(&f.maxAutoRepliesPerHour, "max-auto-replies-per-hour", 5, "automatic replies one contact may receive in an hour")
	fs.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info or error")
	fs.StringVar(&f.logEncoding, "log-encoding", "json", "log encoding: json or console")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if _, err := ParseInboxRef(f.inbox); err != nil {
		return err
	}
	if f.mediaDir != "" && f.mediaS3.Bucket != "" {
		return fmt.Errorf("--media-dir and --%s: choose one archive", contract.InboxMediaS3BucketFlag)
	}
	if f.requestTimeout <= 0 || f.maxAutoRepliesPerHour < 0 {
		return fmt.Errorf("--request-timeout must be positive and --max-auto-replies-per-hour not negative, got %s and %d",
			f.requestTimeout, f.maxAutoRepliesPerHour)
	}
	return nil
}

// ParseInboxRef reads NAMESPACE/NAME (the namespace is the tenant).
func ParseInboxRef(s string) (store.NumberRef, error) { return store.ParseRef("inbox", s) }

// apiToken reads the read API's token from --api-token-file or the environment ("" for
// none).
func (f *flags) apiToken() (string, error) {
	if f.apiTokenFile == "" {
		return strings.TrimSpace(os.Getenv(APITokenEnv)), nil
	}
	b, err := os.ReadFile(f.apiTokenFile)
	if err != nil {
		return "", fmt.Errorf("--api-token-file: %w", err)
	}
	if strings.TrimSpace(string(b)) == "" {
		return "", fmt.Errorf("--api-token-file %s is empty", f.apiTokenFile)
	}
	return strings.TrimSpace(string(b)), nil
}

// Main runs `switchboard inbox` until ctx ends (SIGTERM).
func Main(ctx context.Context, args []string, stdout io.Writer) error {
	var f flags
	log, dsn, help, err := startup.Begin(func() error { return f.parse(args, stdout) }, &f.logLevel, &f.logEncoding,
		DatabaseURLEnv, "the inbox")
	if help || err != nil {
		return err
	}
	token, err := f.apiToken()
	if err != nil {
		return err
	}
	ref, _ := ParseInboxRef(f.inbox)
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("finding the Kubernetes API server: %w", err)
	}
	src, err := kube.NewSource(cfg, ref, log)
	if err != nil {
		return err
	}
	reg, metrics := NewMetrics()
	src.CompileSeconds = metrics.RuleCompileSeconds
	go src.Run(ctx)
	f.mediaS3.AccessKeyID, f.mediaS3.SecretAccessKey = os.Getenv(contract.InboxMediaS3AccessKeyEnv), os.Getenv(contract.InboxMediaS3SecretKeyEnv)
	archiveStore, err := openMedia(ctx, f.mediaDir, f.mediaS3)
	if err != nil {
		return err
	}
	return Serve(ctx, Options{Media: archiveStore, Retention: src, Namespace: ref.Namespace, Inbox: ref.Name, InsecureLoopbackCookies: f.insecureCookies, TrustedProxies: f.trustedProxies, DSN: dsn, Snapshot: src.Snapshot, Refresh: src.RefreshQuality,
		Registry: reg, Metrics: metrics,
		BindAddr: f.bindAddr, MetricsAddr: f.metricsAddr, APIToken: token, RequestTimeout: f.requestTimeout,
		MaxAutoRepliesPerHour: f.maxAutoRepliesPerHour, Log: log.With("inbox", ref.String())})
}

// logStart is the one info line at start (no secrets, no DSN).
func logStart(log *slog.Logger, o Options) {
	log.Info("inbox starting", "traffic", o.BindAddr, "metrics", o.MetricsAddr, "staticToken", o.APIToken != "")
}
