package sender_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/runtime/sender"
	"github.com/switchboard-dev/switchboard/runtime/simulator"
	"github.com/switchboard-dev/switchboard/runtime/store"
	"github.com/switchboard-dev/switchboard/runtime/whatsapp"
)

// A sender in a child process: this test binary run again with childEnv set, so that a
// test can kill it with SIGKILL.
const (
	childEnv     = "SENDER_TEST_CHILD"
	childDSNEnv  = "SENDER_TEST_DSN"
	childAPIEnv  = "SENDER_TEST_API"
	childRateEnv = "SENDER_TEST_RATE"
)

func signalNotify() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
}

func childMain() int {
	ctx, stop := signalNotify()
	defer stop()
	st, err := store.Open(ctx, os.Getenv(childDSNEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer st.Close()
	lock, err := st.LockNumber(ctx, number)
	for errors.Is(err, store.ErrLocked) {
		time.Sleep(50 * time.Millisecond)
		lock, err = st.LockNumber(ctx, number)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fmt.Println("fenced")
	wake, _ := st.Listen(ctx, number)
	api, _ := whatsapp.New(whatsapp.Options{BaseURL: os.Getenv(childAPIEnv), AccessToken: token})
	rate, _ := strconv.Atoi(os.Getenv(childRateEnv))
	err = sender.Run(ctx, sender.Config{PhoneNumberID: pnid, API: api, Outbox: lock, Wake: wake,
		Initial: sender.Limits{MessagesPerSecond: int32(rate), CampaignPerMinute: int32(rate * 60), UniqueRecipientsPer24h: -1},
		Poll:    100 * time.Millisecond})
	_ = lock.Release(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// child is a sender process.
type child struct {
	cmd    *exec.Cmd
	fenced chan struct{}
}

func (r *rig) spawn(rate int) *child {
	r.t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1", childDSNEnv+"="+r.dsn, childAPIEnv+"="+r.url,
		childRateEnv+"="+strconv.Itoa(rate))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		r.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	c := &child{cmd: cmd, fenced: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.TrimSpace(sc.Text()) == "fenced" {
				close(c.fenced)
			}
		}
	}()
	r.t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return c
}

func (c *child) kill9() {
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	_ = c.cmd.Wait()
}

// accounted checks that every message was sent, and that any message Meta saw twice is
// marked possibly duplicated.
func (r *rig) accounted(ids []int64) (dups int) {
	r.t.Helper()
	seen := map[string]int{}
	for _, a := range r.tap.accepted() {
		seen[a.marker]++
	}
	for i, id := range ids {
		m, err := r.st.Get(r.t.Context(), id)
		if err != nil {
			r.t.Fatal(err)
		}
		marker := fmt.Sprintf("%s_%d", m.Lane, i)
		switch {
		case m.State != store.StateSent:
			r.t.Errorf("message %d is %s, want sent", id, m.State)
		case seen[marker] == 0:
			r.t.Errorf("message %d is marked sent but never reached Meta", id)
		case seen[marker] > 1 && !m.PossiblyDuplicate:
			r.t.Errorf("message %d reached Meta %d times but is not marked possibly duplicated", id, seen[marker])
		}
		if m.PossiblyDuplicate {
			dups++
		}
	}
	return dups
}

// TestKill9MidStream: a sender killed with SIGKILL mid-stream loses nothing; its
// successor sends the rest, and only messages that may have reached Meta twice are
// marked so.
func TestKill9MidStream(t *testing.T) {
	r := newRig(t, simulator.Number{Throughput: "HIGH", Tier: "TIER_UNLIMITED"})
	ids := r.enqueue(600, store.LaneConversation, recipients(300))
	first := r.spawn(200)
	<-first.fenced
	r.waitSent(150, 30*time.Second)
	first.kill9()

	second := r.spawn(200)
	<-second.fenced
	r.waitSent(len(ids), 60*time.Second)
	dups := r.accounted(ids)
	t.Logf("all %d messages sent; %d marked possibly duplicated", len(ids), dups)
}

// TestTwoSendersOneNumber: two sender processes for one number never exceed the
// number's limit together (the fence lets one send), and when the active one dies the
// standby takes over.
func TestTwoSendersOneNumber(t *testing.T) {
	r := newRig(t, simulator.Number{Throughput: "STANDARD", Tier: "TIER_UNLIMITED"})
	ids := r.enqueue(400, store.LaneConversation, recipients(200))
	a, b := r.spawn(80), r.spawn(80)
	var leader, standby *child
	select {
	case <-a.fenced:
		leader, standby = a, b
	case <-b.fenced:
		leader, standby = b, a
	case <-time.After(30 * time.Second):
		t.Fatal("no sender took the fence")
	}
	r.waitSent(100, 30*time.Second)
	select {
	case <-standby.fenced:
		t.Fatal("both senders hold the fence")
	default:
	}
	leader.kill9()
	select {
	case <-standby.fenced:
	case <-time.After(30 * time.Second):
		t.Fatal("the standby did not take over")
	}
	r.waitSent(len(ids), 60*time.Second)
	r.accounted(ids)
	if c := r.sim.Counters(); c.Rejected[130429] != 0 {
		t.Errorf("the simulator saw more than the limit: %d × 130429", c.Rejected[130429])
	}
}

// terminate sends SIGTERM to a sender process, expects a clean exit with nothing left in
// flight, and returns how many messages are marked possibly duplicated.
func (r *rig) terminate(cmd *exec.Cmd) int {
	r.t.Helper()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		r.t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		r.t.Fatalf("the sender did not exit cleanly on SIGTERM: %v", err)
	}
	counts, dups, err := r.st.Counts(r.t.Context(), number)
	if err != nil {
		r.t.Fatal(err)
	}
	if counts[store.StateSending] != 0 {
		r.t.Errorf("%d messages left in flight after SIGTERM", counts[store.StateSending])
	}
	return dups
}

// TestSIGTERMStopsCleanly: on SIGTERM a sender stops claiming, finishes its in-flight
// calls, records them and releases the fence: nothing is left in flight, so its
// successor marks nothing as possibly duplicated.
func TestSIGTERMStopsCleanly(t *testing.T) {
	r := newRig(t, simulator.Number{Throughput: "HIGH", Tier: "TIER_UNLIMITED"})
	ids := r.enqueue(600, store.LaneConversation, recipients(300))
	first := r.spawn(200)
	<-first.fenced
	r.waitSent(150, 30*time.Second)
	dups := r.terminate(first.cmd)
	second := r.spawn(200)
	<-second.fenced
	r.waitSent(len(ids), 60*time.Second)
	if n := r.accounted(ids); n != 0 || dups != 0 {
		t.Errorf("%d messages marked possibly duplicated after a clean stop", n)
	}
}
