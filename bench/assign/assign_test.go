package assign

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/bench/internal/latency"
	"github.com/switchboard-dev/switchboard/bench/internal/measure"
	"github.com/switchboard-dev/switchboard/runtime/inbox/assign"
	"github.com/switchboard-dev/switchboard/runtime/inbox/ingest"
	"github.com/switchboard-dev/switchboard/runtime/inbox/kube"
	"github.com/switchboard-dev/switchboard/runtime/inbox/routing"
	"github.com/switchboard-dev/switchboard/runtime/store"
	"github.com/switchboard-dev/switchboard/runtime/store/pgtest"
)

var (
	flagRate          = flag.Int("assign.rate", 500, "new conversations per second")
	flagConversations = flag.Int("assign.conversations", 1500, "new conversations per measurement")
	flagAgents        = flag.Int("assign.agents", 200, "online agents (in 4 teams)")
)

const ns = "bench"

var pg *pgtest.Server

// TestMain starts PostgreSQL only when benchmarks run (the package has no tests).
func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f == nil || f.Value.String() == "" {
		os.Exit(m.Run())
	}
	os.Exit(pgtest.MainDurable(m, &pg))
}

var number = kube.Number{Ref: store.NumberRef{Namespace: ns, Name: "sales"}, PhoneNumberID: "106540352242922",
	WABAID: "102290129340398", DisplayDigits: "15550783881", AppSecret: "bench-app-secret", VerifyToken: "v"}

func BenchmarkAssignment(b *testing.B) {
	for range b.N {
		bare := run(b, false)
		router := run(b, true)
		b.ReportMetric(0, "ns/op")
		b.ReportMetric(latency.Ms(latency.Pct(router.fromCommit, 0.50)), "p50-ms")
		b.ReportMetric(latency.Ms(latency.Pct(router.fromCommit, 0.99)), "p99-ms")
		b.ReportMetric(latency.Ms(latency.Pct(bare.fromCommit, 0.99)), "bare-p99-ms")
		b.ReportMetric(latency.Ms(latency.Pct(router.fromCommit, 0.99))/latency.Ms(latency.Pct(bare.fromCommit, 0.99)), "ratio")
		b.ReportMetric(router.rate, "conv/s")
		for _, r := range []struct {
			name string
			res  result
		}{{"router", router}, {"bare", bare}} {
			b.Logf("%s: %d conversations at %.0f/s; from the commit (200) to the assignment event p50 %.1f ms p99 %.1f ms; "+
				"from the POST p50 %.1f ms p99 %.1f ms; %d routing transactions, %.1f ms each on average", r.name, len(r.res.fromCommit), r.res.rate,
				latency.Ms(latency.Pct(r.res.fromCommit, 0.5)), latency.Ms(latency.Pct(r.res.fromCommit, 0.99)), latency.Ms(latency.Pct(r.res.fromPost, 0.5)),
				latency.Ms(latency.Pct(r.res.fromPost, 0.99)), r.res.plans, latency.Ms(r.res.planMean))
		}
	}
}

type result struct {
	plans                int           // routing transactions of both replicas (router only)
	planMean             time.Duration // their mean duration
	rate                 float64
	fromCommit, fromPost []time.Duration
}

// spec is the RoutingPolicy: LeastLoaded, target 5, max 15, assignWithin 10m, the
// agents in 4 teams.
func spec() v1alpha1.RoutingPolicySpec {
	s := v1alpha1.RoutingPolicySpec{Strategy: v1alpha1.LeastLoaded, Capacity: &v1alpha1.Capacity{Target: 5, Max: 15},
		AssignWithin: &metav1.Duration{Duration: 10 * time.Minute}} // nobody accepts during the run
	for i := range 4 {
		s.Teams = append(s.Teams, v1alpha1.Team{Name: fmt.Sprintf("team%d", i)})
	}
	for i := range *flagAgents {
		s.Teams[i%4].Members = append(s.Teams[i%4].Members, fmt.Sprintf("agent%03d", i))
	}
	return s
}

// run runs one measurement with two replicas, routed by assign.Service (router) or
// by the bare assigner.
func run(b *testing.B, router bool) result {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dsn := pg.NewDatabase(b)
	r, err := routing.New(routing.FromSpec(spec()))
	if err != nil {
		b.Fatal(err)
	}
	n := number
	n.Policy.Routing = &kube.Routing{Name: "sales-routing", Router: r}
	snap := kube.NewSnapshot(ns, []kube.Number{n})
	var urls []string
	reg := prometheus.NewRegistry()
	for i := range 2 {
		reg := prometheus.WrapRegistererWith(prometheus.Labels{"replica": fmt.Sprint(i)}, reg)
		st := open(b, dsn)
		var kick func()
		if router {
			svc := assign.New(assign.Config{Store: st, Namespace: ns, Snapshot: func() *kube.Snapshot { return snap },
				Registry: reg, Log: slog.New(slog.DiscardHandler)})
			go svc.Run(ctx)
			kick = svc.Kick
		} else {
			kick = bareAssigner(ctx, b, st)
		}
		h := ingest.New(ingest.Config{Store: st, Snapshot: func() *kube.Snapshot { return snap }, Committed: kick,
			Metrics: ingest.NewMetrics(prometheus.NewRegistry()), Log: slog.New(slog.DiscardHandler)})
		mux := http.NewServeMux()
		h.Register(mux)
		hs := httptest.NewServer(mux)
		b.Cleanup(hs.Close)
		urls = append(urls, hs.URL+ingest.Path)
	}
	conn := connect(b, dsn)
	setup(b, conn)
	events := listen(ctx, b, dsn)
	res := send(b, urls)
	waitAssigned(b, conn, *flagConversations)
	cancel()
	out := latencies(b, conn, res, events)
	out.plans, out.planMean = plans(b, reg)
	return out
}

func open(b *testing.B, dsn string) *store.Store {
	st, err := store.Open(context.Background(), dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(st.Close)
	return st
}

func connect(b *testing.B, dsn string) *pgx.Conn {
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// setup puts every agent online.
func setup(b *testing.B, conn *pgx.Conn) {
	_, err := conn.Exec(context.Background(), `INSERT INTO agent_availability (namespace, login, availability)
		SELECT $1, format('agent%s', lpad(i::text, 3, '0')), 'online' FROM generate_series(0, $2 - 1) i`, ns, *flagAgents)
	if err != nil {
		b.Fatal(err)
	}
}

// bareAssigner is the ceiling's router: on each kick one transaction locks the routing
// row, assigns every waiting conversation to one agent and notifies each.
func bareAssigner(ctx context.Context, b *testing.B, st *store.Store) func() {
	kick := make(chan struct{}, 1)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-kick:
			}
			err := st.InTx(ctx, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, `INSERT INTO routing_state (namespace) VALUES ($1) ON CONFLICT DO NOTHING`, ns); err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, `SELECT 1 FROM routing_state WHERE namespace = $1 FOR UPDATE`, ns); err != nil {
					return err
				}
				_, err := tx.Exec(ctx, `WITH a AS (UPDATE conversations SET assignee = 'agent000', assigned_at = now()
						WHERE namespace = $1 AND assignee IS NULL AND status <> 'resolved' RETURNING id)
					SELECT count(pg_notify('inbox_events', json_build_object('kind', 'conversation.assigned', 'conversation_id', id)::text)) FROM a`, ns)
				return err
			})
			if err != nil && ctx.Err() == nil {
				b.Error(err)
			}
		}
	}()
	return func() {
		select {
		case kick <- struct{}{}:
		default:
		}
	}
}

// listen records when each conversation's first assignment event arrives.
func listen(ctx context.Context, b *testing.B, dsn string) *sync.Map {
	conn := connect(b, dsn)
	if _, err := conn.Exec(ctx, "LISTEN "+assign.Channel); err != nil {
		b.Fatal(err)
	}
	var seen sync.Map
	go func() {
		for {
			n, err := conn.WaitForNotification(ctx)
			if err != nil {
				return
			}
			at := time.Now()
			var p struct {
				Kind string `json:"kind"`
				Conv int64  `json:"conversation_id"`
			}
			if json.Unmarshal([]byte(n.Payload), &p) == nil && p.Kind == assign.KindAssigned {
				seen.LoadOrStore(p.Conv, at)
			}
		}
	}()
	return &seen
}

// sent is one webhook's timing.
type sent struct {
	waID     string
	post, ok time.Time
}

// send posts the webhooks paced at -assign.rate, alternating replicas.
func send(b *testing.B, urls []string) []sent {
	total := *flagConversations
	out := make([]sent, total)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	interval := time.Second / time.Duration(*flagRate)
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < total; i = int(next.Add(1)) - 1 {
				time.Sleep(time.Until(start.Add(time.Duration(i) * interval)))
				waID := fmt.Sprintf("34622%06d", i)
				body := webhook(i, waID)
				out[i] = sent{waID: waID, post: time.Now()}
				if err := measure.PostWebhook(client, urls[i%2], number.AppSecret, body); err != nil {
					b.Error(err)
					return
				}
				out[i].ok = time.Now()
			}
		})
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	return out
}

func webhook(i int, waID string) []byte {
	return []byte(fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":%q,"changes":[{"field":"messages","value":{"messaging_product":"whatsapp",`+
		`"metadata":{"display_phone_number":%q,"phone_number_id":%q},"contacts":[{"profile":{"name":"Customer %d"},"wa_id":%q}],`+
		`"messages":[{"from":%q,"id":"wamid.assign.%d","timestamp":"%d","type":"text","text":{"body":"Hola"}}]}}]}]}`,
		number.WABAID, number.DisplayDigits, number.PhoneNumberID, i, waID, waID, i, time.Now().Unix()))
}

// waitAssigned waits (up to a minute) until want conversations are assigned, then
// checks none is over max or assigned twice.
func waitAssigned(b *testing.B, conn *pgx.Conn, want int) {
	deadline := time.Now().Add(time.Minute)
	for {
		var n int
		if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM conversations WHERE assignee IS NOT NULL`).Scan(&n); err != nil {
			b.Fatal(err)
		}
		if n == want {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d conversations assigned after a minute", n, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var twice int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM (SELECT object_id FROM audit_log
		WHERE action = 'conversation.assigned' GROUP BY object_id HAVING count(*) > 1) d`).Scan(&twice); err != nil || twice > 0 {
		b.Fatalf("%d conversations assigned twice (%v)", twice, err)
	}
}

// latencies joins the webhooks' times with the assignment events by wa_id.
func latencies(b *testing.B, conn *pgx.Conn, res []sent, events *sync.Map) result {
	rows, _ := conn.Query(context.Background(), `SELECT c.id, k.wa_id FROM conversations c JOIN contacts k ON k.id = c.contact_id`)
	byWA := map[string]int64{}
	var id int64
	var wa string
	if _, err := pgx.ForEachRow(rows, []any{&id, &wa}, func() error { byWA[wa] = id; return nil }); err != nil {
		b.Fatal(err)
	}
	var out result
	first, last := res[0].post, res[0].ok
	for _, s := range res {
		v, ok := events.Load(byWA[s.waID])
		if !ok {
			b.Fatalf("no assignment event for the conversation of %s", s.waID)
		}
		at := v.(time.Time)
		out.fromCommit = append(out.fromCommit, max(at.Sub(s.ok), 0))
		out.fromPost = append(out.fromPost, at.Sub(s.post))
		if s.ok.After(last) {
			last = s.ok
		}
	}
	out.rate = float64(len(res)) / last.Sub(first).Seconds()
	return out
}

// plans sums the routing transactions of both replicas and their mean duration.
func plans(b *testing.B, reg *prometheus.Registry) (int, time.Duration) {
	mfs, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	var n uint64
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != "switchboard_inbox_routing_transaction_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			n += m.GetHistogram().GetSampleCount()
			sum += m.GetHistogram().GetSampleSum()
		}
	}
	if n == 0 {
		return 0, 0
	}
	return int(n), time.Duration(sum / float64(n) * float64(time.Second))
}
