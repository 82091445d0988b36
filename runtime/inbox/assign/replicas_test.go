package assign_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/inbox/assign"
	"github.com/switchboard-dev/switchboard/runtime/inbox/authz"
)

// TestTwoReplicasNeverExceedACapNorAssignTwice runs two routing services, each on its
// own connection pool, against one database while 300 conversations arrive for 20
// agents with capacity.max 5 and a resolver frees room: a sampler checks the cap at
// every moment, and at the end each conversation was assigned at most once.
func TestTwoReplicasNeverExceedACapNorAssignTwice(t *testing.T) {
	const agents, conversations, maxOpen = 20, 300, 5
	spec := policy(v1alpha1.LeastLoaded, 3, maxOpen, time.Hour)
	spec.Teams = []v1alpha1.Team{{Name: "all"}}
	for i := range agents {
		spec.Teams[0].Members = append(spec.Teams[0].Members, fmt.Sprintf("agent%02d", i))
	}
	r := newRig(t, spec, nil)
	r.online(spec.Teams[0].Members...)
	replicas := []*assign.Service{r.svc, r.replica()}
	sup := agent("sofia", authz.RoleSupervisor)

	var over atomic.Int64
	var errs sync.Map
	done := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			var most int
			r.query(`SELECT COALESCE(max(n), 0) FROM (SELECT count(*) AS n FROM conversations
				WHERE namespace = $1 AND status <> 'resolved' AND assignee IS NOT NULL GROUP BY assignee) c`, []any{ns}, &most)
			if most > maxOpen {
				over.Store(int64(most))
			}
		}
	})
	var wg sync.WaitGroup
	var next atomic.Int64
	for w := range 6 {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > conversations {
					return
				}
				r.conv(wa(int(i)), int(i%3), "")
				if err := replicas[w%2].Plan(t.Context()); err != nil {
					errs.Store(fmt.Sprint("plan: ", err), true)
				}
			}
		})
	}
	for w := range 2 {
		wg.Go(func() {
			for range 40 {
				var id int64
				err := r.st.InTx(t.Context(), func(tx pgx.Tx) error {
					return tx.QueryRow(t.Context(), `SELECT COALESCE(min(id), 0) FROM conversations
						WHERE namespace = $1 AND status <> 'resolved' AND assignee IS NOT NULL`, ns).Scan(&id)
				})
				if err != nil || id == 0 {
					time.Sleep(5 * time.Millisecond)
					continue
				}
				if _, err := replicas[w].Resolve(t.Context(), sup, id); err != nil && !isConflict(err) {
					errs.Store(fmt.Sprint("resolve: ", err), true)
				}
			}
		})
	}
	wg.Wait()
	for _, s := range replicas {
		if err := s.Plan(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	sampler.Wait()
	errs.Range(func(k, _ any) bool { t.Error(k); return true })
	if n := over.Load(); n > 0 {
		t.Fatalf("an agent held %d open conversations, over capacity.max %d", n, maxOpen)
	}
	var twice, assigned, waiting, resolved int
	r.query(`SELECT count(*) FROM (SELECT object_id FROM audit_log WHERE action = $1 GROUP BY object_id HAVING count(*) > 1) d`,
		[]any{assign.KindAssigned}, &twice)
	r.query(`SELECT count(*) FILTER (WHERE assignee IS NOT NULL AND status <> 'resolved'),
		count(*) FILTER (WHERE assignee IS NULL AND status <> 'resolved'), count(*) FILTER (WHERE status = 'resolved')
		FROM conversations WHERE namespace = $1`, []any{ns}, &assigned, &waiting, &resolved)
	if twice != 0 {
		t.Fatalf("%d conversations were assigned more than once", twice)
	}
	if assigned != agents*maxOpen || waiting != conversations-resolved-assigned {
		t.Fatalf("after the load: %d assigned (want every agent full: %d), %d waiting, %d resolved", assigned, agents*maxOpen, waiting, resolved)
	}
	t.Logf("%d conversations: %d resolved, %d assigned, %d waiting", conversations, resolved, assigned, waiting)
}

func isConflict(err error) bool {
	return err != nil && (errorsAsStatus(err) == 409)
}
