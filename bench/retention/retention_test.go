// Package retention measures a RetentionPolicy run's purge rate on a large table next to
// the ceiling of a bare DELETE of the same rows in the same PostgreSQL, in the same run:
//
//	make bench BENCH=./bench/retention                       # 1,000,000 messages
//	go test ./bench/retention -run '^$' -bench . -retention.messages 100000
package retention

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/calendar"
	"github.com/switchboard-dev/switchboard/runtime/inbox/kube"
	"github.com/switchboard-dev/switchboard/runtime/inbox/retention"
	"github.com/switchboard-dev/switchboard/runtime/store"
	"github.com/switchboard-dev/switchboard/runtime/store/pgtest"
)

var flagMessages = flag.Int("retention.messages", 1_000_000, "messages stored, all older than the period")

var pg *pgtest.Server

// TestMain starts PostgreSQL only when benchmarks run (the package has no tests).
func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f == nil || f.Value.String() == "" {
		os.Exit(m.Run())
	}
	os.Exit(pgtest.MainDurable(m, &pg))
}

type policies struct{}

func (policies) Retention() ([]kube.Retention, []error) { return nil, nil }
func (policies) PatchRetentionStatus(context.Context, string, kube.RetentionRun) error {
	return nil
}

func BenchmarkPurge(b *testing.B) {
	n := *flagMessages
	for range b.N {
		raw := seed(b, n)
		start := time.Now()
		exec(b, raw, `DELETE FROM messages WHERE namespace = 'bench' AND created_at < now() - interval '365 days'`)
		rawSecs := time.Since(start).Seconds()

		st := seed(b, n)
		sched, err := calendar.ParseSchedule("0 3 * * *", "UTC")
		if err != nil {
			b.Fatal(err)
		}
		r := retention.New(retention.Config{Store: st, Namespace: "bench", Policies: policies{},
			Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
		start = time.Now()
		c, err := r.RunPolicy(b.Context(), kube.Retention{Name: "bench", Numbers: []string{"sales"}, Messages: 365 * 24 * time.Hour,
			Schedule: sched}, "run-now")
		purgeSecs := time.Since(start).Seconds()
		if err != nil || c.Messages != int64(n) {
			b.Fatalf("purged %+v, %v; want %d messages", c, err, n)
		}
		b.ReportMetric(float64(n)/rawSecs, "raw-delete-rows/s")
		b.ReportMetric(float64(n)/purgeSecs, "purge-rows/s")
		b.ReportMetric(rawSecs/purgeSecs, "purge/raw-ratio")
		b.Logf("%d messages: bare DELETE %.1f s (%.0f rows/s); retention run in batches of 1,000 %.1f s (%.0f rows/s), %.2f of the ceiling",
			n, rawSecs, float64(n)/rawSecs, purgeSecs, float64(n)/purgeSecs, rawSecs/purgeSecs)
	}
}

// seed stores n messages of 400 days ago in 1,000 conversations of the Number "sales".
func seed(b *testing.B, n int) *store.Store {
	b.Helper()
	st, err := store.Open(b.Context(), pg.NewDatabase(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(st.Close)
	exec(b, st, `INSERT INTO contacts (namespace, wa_id) SELECT 'bench', (34600000000 + g)::text FROM generate_series(1, 1000) g`)
	exec(b, st, `INSERT INTO conversations (namespace, number, contact_id) SELECT 'bench', 'sales', id FROM contacts`)
	exec(b, st, `INSERT INTO messages (namespace, conversation_id, direction, wamid, type, text, content, status, created_at)
		SELECT 'bench', 1 + (g % 1000), 'in', 'wamid.' || g, 'text', 'message ' || g, '{"type":"text"}', 'received',
		       now() - interval '400 days' + g * interval '1 ms'
		FROM generate_series(1, $1) g`, n)
	exec(b, st, `ANALYZE`)
	return st
}

func exec(b *testing.B, st *store.Store, sql string, args ...any) {
	b.Helper()
	if err := st.InTx(context.Background(), func(tx pgx.Tx) error { _, err := tx.Exec(context.Background(), sql, args...); return err }); err != nil {
		b.Fatalf("%s: %v", sql, err)
	}
}
