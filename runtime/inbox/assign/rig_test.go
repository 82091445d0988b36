package assign_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/calendar"
	"github.com/switchboard-dev/switchboard/runtime/inbox/assign"
	"github.com/switchboard-dev/switchboard/runtime/inbox/authz"
	"github.com/switchboard-dev/switchboard/runtime/inbox/conversation"
	"github.com/switchboard-dev/switchboard/runtime/inbox/kube"
	"github.com/switchboard-dev/switchboard/runtime/inbox/problem"
	"github.com/switchboard-dev/switchboard/runtime/inbox/routing"
	"github.com/switchboard-dev/switchboard/runtime/store"
	"github.com/switchboard-dev/switchboard/runtime/store/pgtest"
)

var srv *pgtest.Server

func TestMain(m *testing.M) {
	if os.Getenv(replicaEnv) != "" { // a replica process of TestTwoReplicaProcessesUnderLoad
		os.Exit(replicaMain())
	}
	os.Exit(pgtest.Main(m, &srv))
}

const ns = "acme"

// t0 is a Monday, 10:00 UTC.
var t0 = time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)

// clock is a controllable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// rig is one database with one or more routing services (replicas), each on its own
// store (connection pool).
type rig struct {
	t     *testing.T
	dsn   string
	st    *store.Store
	clock *clock
	snap  *kube.Snapshot
	svc   *assign.Service
	reg   *prometheus.Registry // the first replica's metrics
}

// policy is a RoutingPolicy spec: teams iberia (ana, bruno, carla; es, pt, billing) and
// billing (diego; billing).
func policy(strategy v1alpha1.RoutingStrategy, target, max int32, within time.Duration) v1alpha1.RoutingPolicySpec {
	spec := v1alpha1.RoutingPolicySpec{Strategy: strategy, AssignWithin: &metav1.Duration{Duration: within},
		Teams: []v1alpha1.Team{
			{Name: "iberia", Skills: []string{"es", "pt", "billing"}, Members: []string{"ana", "bruno", "carla"}},
			{Name: "billing", Skills: []string{"billing"}, Members: []string{"diego"}},
		}}
	if max > 0 {
		spec.Capacity = &v1alpha1.Capacity{Target: target, Max: max}
	}
	return spec
}

// newRig serves Number "sales" with spec (and business hours, when set).
func newRig(t *testing.T, spec v1alpha1.RoutingPolicySpec, hours *v1alpha1.BusinessHours) *rig {
	t.Helper()
	r := &rig{t: t, dsn: srv.NewDatabase(t), clock: &clock{now: t0}}
	r.st = r.open()
	r.setPolicy(spec, hours)
	r.reg = prometheus.NewRegistry()
	r.svc = assign.New(assign.Config{Store: r.open(), Namespace: ns, Snapshot: func() *kube.Snapshot { return r.snap },
		Registry: r.reg, Log: slog.New(slog.DiscardHandler), Now: r.clock.Now})
	return r
}

func (r *rig) open() *store.Store {
	st, err := store.Open(r.t.Context(), r.dsn)
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(st.Close)
	return st
}

func (r *rig) setPolicy(spec v1alpha1.RoutingPolicySpec, hours *v1alpha1.BusinessHours) {
	snap, err := snapshot(spec, hours)
	if err != nil {
		r.t.Fatal(err)
	}
	r.snap = snap
}

// snapshot serves Number "sales" with spec and hours.
func snapshot(spec v1alpha1.RoutingPolicySpec, hours *v1alpha1.BusinessHours) (*kube.Snapshot, error) {
	router, err := routing.New(routing.FromSpec(spec))
	if err != nil {
		return nil, err
	}
	h, err := calendar.Compile(hours)
	if err != nil {
		return nil, err
	}
	return kube.NewSnapshot(ns, []kube.Number{{Ref: store.NumberRef{Namespace: ns, Name: "sales"}, PhoneNumberID: "100",
		Policy: kube.Policy{Hours: h, Routing: &kube.Routing{Name: "sales-routing", Router: router}}}}), nil
}

// replica returns another routing service on its own store.
func (r *rig) replica() *assign.Service {
	return assign.New(assign.Config{Store: r.open(), Namespace: ns, Snapshot: func() *kube.Snapshot { return r.snap },
		Registry: prometheus.NewRegistry(), Log: slog.New(slog.DiscardHandler), Now: r.clock.Now})
}

// agent returns a principal of the predefined role in teams.
func agent(login, role string, teams ...string) *authz.Principal {
	p := authz.NewPrincipal(ns, "inbox", authz.KindAgent, login, role, authz.Predefined()[role])
	p.Teams = teams
	return p
}

func (r *rig) online(logins ...string) {
	r.t.Helper()
	for _, l := range logins {
		if _, err := r.svc.SetAvailability(r.t.Context(), agent(l, authz.RoleAgent), "online"); err != nil {
			r.t.Fatal(err)
		}
	}
}

// open opens a conversation for a new contact (as the ingest does), with a priority
// and a required skill, and returns its id. It does not plan.
func (r *rig) conv(waID string, priority int, skill string) int64 {
	r.t.Helper()
	var id int64
	err := r.st.InTx(r.t.Context(), func(tx pgx.Tx) error {
		cid, err := conversation.UpsertContact(r.t.Context(), tx, ns, waID, "")
		if err != nil {
			return err
		}
		c, err := conversation.Open(r.t.Context(), tx, store.NumberRef{Namespace: ns, Name: "sales"}, cid)
		if err != nil {
			return err
		}
		id = c.ID
		_, err = tx.Exec(r.t.Context(), `UPDATE conversations SET priority = $2, required_skill = NULLIF($3, '') WHERE id = $1`, id, priority, skill)
		return err
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return id
}

func (r *rig) plan() {
	r.t.Helper()
	if err := r.svc.Plan(r.t.Context()); err != nil {
		r.t.Fatal(err)
	}
}

// assignee reads a conversation's assignee ("" for none).
func (r *rig) assignee(id int64) string {
	r.t.Helper()
	var a string
	r.query(`SELECT COALESCE(assignee, '') FROM conversations WHERE id = $1`, []any{id}, &a)
	return a
}

func (r *rig) query(sql string, args []any, dest ...any) {
	r.t.Helper()
	err := r.st.InTx(r.t.Context(), func(tx pgx.Tx) error { return tx.QueryRow(r.t.Context(), sql, args...).Scan(dest...) })
	if err != nil {
		r.t.Fatalf("%s: %v", sql, err)
	}
}

// audits counts audit rows of an action on an object.
func (r *rig) audits(action, objectID string) int {
	r.t.Helper()
	var n int
	r.query(`SELECT count(*) FROM audit_log WHERE namespace = $1 AND action = $2 AND object_id = $3`, []any{ns, action, objectID}, &n)
	return n
}

func wa(i int) string { return fmt.Sprintf("3460000%04d", i) }

// eventually waits up to 20 s for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// errorsAsStatus returns the status of a problem error, or 0.
func errorsAsStatus(err error) int {
	var pr problem.Problem
	if errors.As(err, &pr) {
		return pr.Status
	}
	return 0
}
