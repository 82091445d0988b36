package assign_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/inbox/assign"
	"github.com/switchboard-dev/switchboard/runtime/inbox/authz"
	"github.com/switchboard-dev/switchboard/runtime/inbox/conversation"
	"github.com/switchboard-dev/switchboard/runtime/inbox/kube"
	"github.com/switchboard-dev/switchboard/runtime/store"
)

// The load of TestTwoReplicaProcessesUnderLoad: each replica process opens its share of
// the conversations (with priorities 0–2), resolves some and takes its half of the
// agents offline and back online, while its routing service runs (assign.Service.Run,
// kicked after each new conversation, as the ingest does) and its workers plan too.
const (
	procReplicas      = 2
	procAgents        = 20
	procConversations = 400 // in all, procConversations/procReplicas per process
	procMax           = 4   // capacity.max
	procResolves      = 80  // per process
	procToggles       = 30  // availability changes per process
)

// replicaEnv makes the test binary a replica process (replicaMain): its value is
// "DSN index lock" (lock: "nolock" runs without the routing lock), and it prints READY, waits for a line on stdin, runs its load, and
// prints DONE with its figures.
const replicaEnv = "ASSIGN_TEST_REPLICA"

func procPolicy() v1alpha1.RoutingPolicySpec {
	spec := policy(v1alpha1.LeastLoaded, 2, procMax, time.Hour)
	spec.Teams = []v1alpha1.Team{{Name: "all"}}
	for i := range procAgents {
		spec.Teams[0].Members = append(spec.Teams[0].Members, fmt.Sprintf("agent%02d", i))
	}
	return spec
}

// replicaMain is a replica process: a real routing service of its own, on its own
// connection pool, in its own process. It exits 1 when any operation failed for a
// reason other than the expected 409 (resolving a conversation another replica just
// resolved).
func replicaMain() int {
	args := strings.Fields(os.Getenv(replicaEnv))
	if len(args) != 3 {
		fmt.Fprintf(os.Stderr, "%s: want \"DSN index lock\", got %d fields\n", replicaEnv, len(args))
		return 1
	}
	dsn := args[0]
	me, err := strconv.Atoi(args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "replica index:", err)
		return 1
	}
	if args[2] == "nolock" {
		assign.WithoutRoutingLock()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	st, err := store.Open(ctx, dsn)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer st.Close()
	spec := procPolicy()
	snap, err := snapshot(spec, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	svc := assign.New(assign.Config{Store: st, Namespace: ns, Snapshot: func() *kube.Snapshot { return snap },
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})), Sweep: 50 * time.Millisecond})
	fmt.Println("READY")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		fmt.Fprintln(os.Stderr, "waiting for the start:", err)
		return 1
	}
	runCtx, stopRun := context.WithCancel(ctx)
	var run sync.WaitGroup
	run.Go(func() { svc.Run(runCtx) })

	var mu sync.Mutex
	var failures []string
	fail := func(what string, err error) {
		mu.Lock()
		failures = append(failures, fmt.Sprintf("%s: %v", what, err))
		mu.Unlock()
	}
	var wg sync.WaitGroup
	share := procConversations / procReplicas
	next := make(chan int, share)
	for i := range share {
		next <- me*share + i
	}
	close(next)
	for range 4 { // new conversations, each planned at once half the time, else kicked
		wg.Go(func() {
			for i := range next {
				if err := openConv(ctx, st, wa(i), i%3); err != nil {
					fail("open", err)
					continue
				}
				if i%2 == 0 {
					svc.Kick()
				} else if err := svc.Plan(ctx); err != nil {
					fail("plan", err)
				}
			}
		})
	}
	sup := agent("sofia", authz.RoleSupervisor)
	resolved := 0
	wg.Go(func() { // resolves: the oldest open assigned conversation, as an agent would
		for resolved < procResolves && ctx.Err() == nil {
			var ids []int64
			err := st.InTx(ctx, func(tx pgx.Tx) error {
				rows, _ := tx.Query(ctx, `SELECT id FROM conversations WHERE namespace = $1 AND status <> 'resolved'
					AND assignee IS NOT NULL ORDER BY id LIMIT 4`, ns)
				var err error
				ids, err = pgx.CollectRows(rows, pgx.RowTo[int64])
				return err
			})
			if err != nil {
				fail("pick", err)
				return
			}
			if len(ids) == 0 {
				time.Sleep(2 * time.Millisecond)
				continue
			}
			_, err = svc.Resolve(ctx, sup, ids[rand.N(len(ids))]) //nolint:gosec // test load
			switch {
			case err == nil:
				resolved++
			case errorsAsStatus(err) != 409:
				fail("resolve", err)
			}
		}
	})
	wg.Go(func() { // this replica's half of the agents go offline and come back
		for k := range procToggles {
			login := fmt.Sprintf("agent%02d", me*procAgents/procReplicas+k%(procAgents/procReplicas))
			for _, av := range []string{"offline", "online"} {
				if _, err := svc.SetAvailability(ctx, agent(login, authz.RoleAgent), av); err != nil {
					fail("availability", err)
				}
			}
		}
	})
	wg.Wait()
	if err := svc.Plan(ctx); err != nil {
		fail("final plan", err)
	}
	stopRun()
	run.Wait()
	fmt.Printf("DONE resolved=%d\n", resolved)
	for _, f := range failures {
		fmt.Fprintln(os.Stderr, f)
	}
	if len(failures) > 0 {
		return 1
	}
	return 0
}

// openConv opens a conversation for a new contact, as the ingest does, with a priority.
func openConv(ctx context.Context, st *store.Store, waID string, priority int) error {
	return st.InTx(ctx, func(tx pgx.Tx) error {
		cid, err := conversation.UpsertContact(ctx, tx, ns, waID, "")
		if err != nil {
			return err
		}
		c, err := conversation.Open(ctx, tx, store.NumberRef{Namespace: ns, Name: "sales"}, cid)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE conversations SET priority = $2 WHERE id = $1`, c.ID, priority)
		return err
	})
}

// watchSQL records, at each commit that changes a conversation's assignee or status,
// the assignee's unresolved conversations after that commit (cap_peak: the highest
// seen per agent), and every change of an unresolved conversation from one agent to
// another (cap_reassigned). The check is a deferred constraint trigger that first
// takes one advisory lock, so the checks of concurrent commits run one after the
// other, each seeing every commit before it: the recorded counts are the counts at
// every moment, not a sample.
const watchSQL = `
CREATE TABLE cap_peak (assignee text PRIMARY KEY, peak int NOT NULL);
CREATE TABLE cap_reassigned (id bigint NOT NULL, old text NOT NULL, new text NOT NULL);
CREATE FUNCTION cap_watch() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE n int;
BEGIN
	IF TG_OP = 'UPDATE' AND OLD.assignee IS NOT NULL AND NEW.assignee IS DISTINCT FROM OLD.assignee
		AND NEW.assignee IS NOT NULL AND OLD.status <> 'resolved' THEN
		INSERT INTO cap_reassigned VALUES (NEW.id, OLD.assignee, NEW.assignee);
	END IF;
	IF NEW.assignee IS NULL THEN
		RETURN NULL;
	END IF;
	PERFORM pg_advisory_xact_lock(424242);
	SELECT count(*) INTO n FROM conversations
		WHERE namespace = NEW.namespace AND assignee = NEW.assignee AND status <> 'resolved';
	INSERT INTO cap_peak VALUES (NEW.assignee, n)
		ON CONFLICT (assignee) DO UPDATE SET peak = GREATEST(cap_peak.peak, EXCLUDED.peak);
	RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER cap_watch AFTER INSERT OR UPDATE OF assignee, status ON conversations
	DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION cap_watch();`

// replica is a running replica process.
type replica struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	out   *bufio.Reader
	log   string
	index int
}

func startReplica(t *testing.T, dsn string, i int, lock string) *replica {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d %s", replicaEnv, dsn, i, lock))
	r := &replica{cmd: cmd, log: filepath.Join(t.TempDir(), fmt.Sprintf("replica-%d.log", i)), index: i}
	logFile, err := os.Create(r.log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = logFile.Close() })
	cmd.Stderr = logFile
	if r.in, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	r.out = bufio.NewReader(out)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	if line, err := r.out.ReadString('\n'); err != nil || strings.TrimSpace(line) != "READY" {
		t.Fatalf("replica process %d did not start: %q %v\n%s", i, line, err, r.stderr())
	}
	return r
}

func (r *replica) stderr() string {
	b, _ := os.ReadFile(r.log)
	return string(b)
}

// wait reads the DONE line and the exit status; it returns the conversations resolved,
// and an error when the process failed or logged an error (a failed background plan).
func (r *replica) wait() (int, error) {
	line, _ := r.out.ReadString('\n')
	err := r.cmd.Wait()
	var resolved int
	_, serr := fmt.Sscanf(strings.TrimSpace(line), "DONE resolved=%d", &resolved)
	if log := r.stderr(); serr != nil || err != nil || strings.Contains(log, "level=ERROR") {
		return resolved, fmt.Errorf("replica process %d: %q, %v\n%s", r.index, line, errors.Join(err, serr), log)
	}
	return resolved, nil
}

// loadResult is what a run of the replica processes left in the database.
type loadResult struct {
	failures                                       []error // the replica processes' own
	resolvedByReplicas                             int
	peak, over, reassigned, twice                  int
	total, assigned, waiting, resolved, fullAgents int
	queued                                         *int // routing_state's count of team all
}

// runReplicas runs the replica processes (lock: "lock" or "nolock") on a new database
// watched by watchSQL, and reads the result.
func runReplicas(t *testing.T, lock string) loadResult {
	r := newRig(t, procPolicy(), nil)
	if err := r.st.InTx(t.Context(), func(tx pgx.Tx) error { _, err := tx.Exec(t.Context(), watchSQL); return err }); err != nil {
		t.Fatal(err)
	}
	r.svc = assign.New(assign.Config{Store: r.st, Namespace: ns, Snapshot: func() *kube.Snapshot { return r.snap },
		Log: slog.New(slog.DiscardHandler)}) // the real clock, as the replicas'
	r.online(procPolicy().Teams[0].Members...)

	replicas := make([]*replica, procReplicas)
	for i := range replicas {
		replicas[i] = startReplica(t, r.dsn, i, lock)
	}
	for _, p := range replicas {
		if _, err := io.WriteString(p.in, "go\n"); err != nil {
			t.Fatal(err)
		}
	}
	var res loadResult
	for _, p := range replicas {
		n, err := p.wait()
		if err != nil {
			res.failures = append(res.failures, err)
		}
		res.resolvedByReplicas += n
	}
	r.query(`SELECT COALESCE(max(peak), 0), count(*) FILTER (WHERE peak > $1) FROM cap_peak`, []any{procMax}, &res.peak, &res.over)
	r.query(`SELECT count(*) FROM cap_reassigned`, nil, &res.reassigned)
	r.query(`SELECT count(*) FROM (SELECT object_id FROM audit_log WHERE action = $1 GROUP BY object_id HAVING count(*) > 1) d`,
		[]any{assign.KindAssigned}, &res.twice)
	r.query(`SELECT count(*), count(*) FILTER (WHERE assignee IS NOT NULL AND status <> 'resolved'),
		count(*) FILTER (WHERE assignee IS NULL AND status <> 'resolved'), count(*) FILTER (WHERE status = 'resolved')
		FROM conversations WHERE namespace = $1`, []any{ns}, &res.total, &res.assigned, &res.waiting, &res.resolved)
	r.query(`SELECT count(*) FROM (SELECT assignee FROM conversations WHERE namespace = $1 AND status <> 'resolved'
		AND assignee IS NOT NULL GROUP BY assignee HAVING count(*) = $2) f`, []any{ns, procMax}, &res.fullAgents)
	r.query(`SELECT (queues->>'all')::int FROM routing_state WHERE namespace = $1`, []any{ns}, &res.queued)
	t.Logf("%s: %d processes, %d agents (capacity.max %d), %d conversations: %d resolved, %d assigned, %d waiting; "+
		"highest load at any commit %d (%d agents over the cap); %d replica processes failed",
		lock, procReplicas, procAgents, procMax, res.total, res.resolved, res.assigned, res.waiting, res.peak, res.over, len(res.failures))
	return res
}

// TestTwoReplicaProcessesUnderLoad runs two replica processes (this test binary
// re-executed, replicaMain) against one PostgreSQL database while they open 400
// conversations for 20 agents with capacity.max 4, resolve 160 and take agents offline
// and online, all at once. A deferred trigger records every agent's open conversations
// after every commit (watchSQL): no agent ever held more than capacity.max, no
// unresolved conversation moved from one agent to another, no conversation was
// assigned twice (audit log), no plan failed, and at the end every unresolved
// conversation is assigned or waiting in the queue, and conversations wait only while
// every agent is full.
func TestTwoReplicaProcessesUnderLoad(t *testing.T) {
	res := runReplicas(t, "lock")
	for _, err := range res.failures {
		t.Error(err)
	}
	if res.over > 0 || res.peak > procMax {
		t.Errorf("%d agents held more than capacity.max %d open conversations at some commit (highest %d)", res.over, procMax, res.peak)
	}
	if res.peak != procMax {
		t.Errorf("the highest load seen is %d, want capacity.max %d: the load never filled an agent, so the test proves nothing", res.peak, procMax)
	}
	if res.reassigned != 0 || res.twice != 0 {
		t.Errorf("%d unresolved conversations moved between agents, %d were assigned more than once", res.reassigned, res.twice)
	}
	if res.total != procConversations || res.resolvedByReplicas != procReplicas*procResolves || res.resolved != res.resolvedByReplicas ||
		res.assigned+res.waiting+res.resolved != res.total {
		t.Errorf("%d conversations (want %d): %d resolved (the replicas resolved %d, want %d), %d assigned, %d waiting",
			res.total, procConversations, res.resolved, res.resolvedByReplicas, procReplicas*procResolves, res.assigned, res.waiting)
	}
	if res.waiting > 0 && res.fullAgents != procAgents {
		t.Errorf("%d conversations wait while only %d of %d agents are full", res.waiting, res.fullAgents, procAgents)
	}
	if res.queued == nil || *res.queued != res.waiting {
		t.Errorf("routing_state counts %v waiting in team all, want %d", res.queued, res.waiting)
	}
}

// TestTwoReplicaProcessesWithoutTheLock runs the same load with replica processes that
// read routing_state without FOR UPDATE (export_test.go): plans interleave, so some
// fail on the assignment's "still waiting" guard, and agents may go over the cap or be
// left with room while conversations wait. It shows that TestTwoReplicaProcessesUnderLoad
// detects a missing lock.
func TestTwoReplicaProcessesWithoutTheLock(t *testing.T) {
	res := runReplicas(t, "nolock")
	stranded := res.waiting > 0 && res.fullAgents != procAgents
	if len(res.failures) == 0 && res.over == 0 && !stranded {
		t.Fatal("without the routing lock the replicas neither failed, exceeded a cap nor left room with conversations waiting")
	}
}
