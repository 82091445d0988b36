package assign_test

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/inbox/assign"
	"github.com/switchboard-dev/switchboard/runtime/inbox/authz"
	"github.com/switchboard-dev/switchboard/runtime/inbox/kube"
	"github.com/switchboard-dev/switchboard/runtime/inbox/problem"
	"github.com/switchboard-dev/switchboard/runtime/inbox/routing"
)

func id(n int64) string { return strconv.FormatInt(n, 10) }

func TestRoundRobinRotatesAndAudits(t *testing.T) {
	r := newRig(t, policy(v1alpha1.RoundRobin, 0, 0, time.Hour), nil)
	r.online("ana", "bruno", "carla")
	var got []string
	for i := range 6 {
		c := r.conv(wa(i), 0, "")
		r.plan()
		got = append(got, r.assignee(c))
		if n := r.audits(assign.KindAssigned, id(c)); n != 1 {
			t.Errorf("conversation %d has %d %s audit rows, want 1", c, n, assign.KindAssigned)
		}
	}
	if fmt.Sprint(got) != "[ana bruno carla ana bruno carla]" {
		t.Errorf("RoundRobin assigned %v", got)
	}
}

func TestLeastLoadedPicksFewestOpen(t *testing.T) {
	r := newRig(t, policy(v1alpha1.LeastLoaded, 0, 0, time.Hour), nil)
	r.online("ana")
	for i := range 2 {
		r.conv(wa(i), 0, "")
	}
	r.plan() // ana holds 2
	r.online("bruno")
	c := r.conv(wa(9), 0, "")
	r.plan()
	if a := r.assignee(c); a != "bruno" {
		t.Errorf("LeastLoaded gave the conversation to %q, want bruno (0 open against ana's 2)", a)
	}
}

func TestSkillsRoutesToTheTeamWithTheSkill(t *testing.T) {
	r := newRig(t, policy(v1alpha1.Skills, 0, 0, time.Hour), nil)
	r.online("ana", "diego")
	es := r.conv(wa(1), 0, "es")
	r.plan()
	if a := r.assignee(es); a != "ana" {
		t.Errorf("an es conversation went to %q, want ana (only iberia has es)", a)
	}
	// diego (billing) and ana (iberia, which also has billing) both qualify; ana has
	// one open, so the least loaded is diego.
	bill := r.conv(wa(2), 0, "billing")
	r.plan()
	if a := r.assignee(bill); a != "diego" {
		t.Errorf("a billing conversation went to %q, want diego", a)
	}
}

func TestQueueOrderAndDrain(t *testing.T) {
	r := newRig(t, policy(v1alpha1.LeastLoaded, 1, 1, time.Hour), nil)
	r.online("ana")
	first := r.conv(wa(1), 0, "")
	r.plan()
	older := r.conv(wa(2), 0, "")
	urgent := r.conv(wa(3), 5, "")
	newest := r.conv(wa(4), 0, "")
	r.plan()
	for _, c := range []int64{older, urgent, newest} {
		if a := r.assignee(c); a != "" {
			t.Fatalf("conversation %d assigned to %q while ana is at capacity.max 1", c, a)
		}
	}
	ana := agent("ana", authz.RoleAgent, "iberia")
	// A resolve makes room: the higher priority goes first.
	if _, err := r.svc.Resolve(t.Context(), ana, first); err != nil {
		t.Fatal(err)
	}
	if a := r.assignee(urgent); a != "ana" {
		t.Fatalf("after the resolve the priority-5 conversation went to %q, want ana", a)
	}
	// Then the oldest of equal priority, not the newest.
	if _, err := r.svc.Resolve(t.Context(), ana, urgent); err != nil {
		t.Fatal(err)
	}
	if r.assignee(older) != "ana" || r.assignee(newest) != "" {
		t.Fatalf("after the second resolve: older → %q, newest → %q; want ana and nobody", r.assignee(older), r.assignee(newest))
	}
	// An agent coming online drains the queue.
	r.online("bruno")
	if a := r.assignee(newest); a != "bruno" {
		t.Fatalf("bruno came online and the waiting conversation went to %q", a)
	}
	// A transfer away from ana makes room for the next waiting one.
	next := r.conv(wa(5), 0, "")
	r.plan()
	sup := agent("sofia", authz.RoleSupervisor)
	if _, err := r.svc.Transfer(t.Context(), sup, older, assign.Target{Agent: "carla"}); err != nil {
		t.Fatal(err)
	}
	if r.assignee(older) != "carla" {
		t.Fatalf("transfer to carla: assignee %q", r.assignee(older))
	}
	// carla is offline (a manual transfer ignores availability); ana, who has room
	// again, gets the waiting conversation.
	if a := r.assignee(next); a != "ana" {
		t.Fatalf("after the transfer the waiting conversation went to %q, want ana", a)
	}
}

func TestTransferToTeamKeepsItsPlace(t *testing.T) {
	r := newRig(t, policy(v1alpha1.LeastLoaded, 0, 0, time.Hour), nil)
	r.online("ana")
	c := r.conv(wa(1), 0, "")
	r.plan()
	sup := agent("sofia", authz.RoleSupervisor)
	st, err := r.svc.Transfer(t.Context(), sup, c, assign.Target{Team: "billing"})
	if err != nil {
		t.Fatal(err)
	}
	if st.Assignee != "" || st.Team != "billing" || st.WaitingSince == nil {
		t.Fatalf("after a transfer to billing with diego offline: %+v, want waiting for billing", st)
	}
	r.online("diego")
	if a := r.assignee(c); a != "diego" {
		t.Fatalf("diego came online; the billing conversation went to %q", a)
	}
	_, err = r.svc.Transfer(t.Context(), sup, c, assign.Target{Team: "nope"})
	var pr problem.Problem
	if !errors.As(err, &pr) || pr.Status != http.StatusUnprocessableEntity || pr.Field != "team" {
		t.Fatalf("transfer to an unknown team: %v, want 422 naming team", err)
	}
}

func TestManualAssignOverCapacityNeedsOverride(t *testing.T) {
	r := newRig(t, policy(v1alpha1.LeastLoaded, 1, 1, time.Hour), nil)
	r.online("ana")
	r.conv(wa(1), 0, "")
	r.plan()
	c := r.conv(wa(2), 0, "")
	r.plan()
	// conversations.assign and readAll (the conversation waits with no team), no override
	lead := authz.NewPrincipal(ns, "inbox", authz.KindAgent, "bruno", "lead",
		[]authz.Permission{authz.ConversationsRead, authz.ConversationsReadAll, authz.ConversationsAssign})
	_, err := r.svc.Assign(t.Context(), lead, c, assign.Target{Agent: "ana"})
	var pr problem.Problem
	if !errors.As(err, &pr) || pr.Status != http.StatusConflict || pr.Field != "agent" {
		t.Fatalf("assign over max without the override: %v, want 409 naming agent", err)
	}
	if r.assignee(c) != "" || r.audits("conversation.assigned.overCapacity", id(c)) != 0 {
		t.Fatal("a refused assignment changed something")
	}
	sup := agent("sofia", authz.RoleSupervisor)
	if _, err := r.svc.Assign(t.Context(), sup, c, assign.Target{Agent: "ana"}); err != nil {
		t.Fatal(err)
	}
	if r.assignee(c) != "ana" || r.audits("conversation.assigned.overCapacity", id(c)) != 1 {
		t.Fatalf("override: assignee %q, audited %d times", r.assignee(c), r.audits("conversation.assigned.overCapacity", id(c)))
	}
	var actor string
	r.query(`SELECT actor FROM audit_log WHERE action = 'conversation.assigned.overCapacity'`, nil, &actor)
	if actor != "agent:sofia" {
		t.Errorf("audit actor %q, want agent:sofia", actor)
	}
	if _, err := r.svc.Transfer(t.Context(), sup, c, assign.Target{Agent: "nobody"}); !errors.As(err, &pr) || pr.Field != "agent" {
		t.Errorf("transfer to an unknown agent: %v, want a problem naming agent", err)
	}
}

func TestAssignWithinReassignsAndMarksAway(t *testing.T) {
	r := newRig(t, policy(v1alpha1.LeastLoaded, 0, 0, time.Minute), nil)
	r.online("ana", "bruno")
	bruno := agent("bruno", authz.RoleAgent, "iberia")
	for i := range 3 {
		c := r.conv(wa(i), 0, "")
		r.plan()
		if a := r.assignee(c); a != "ana" {
			t.Fatalf("round %d: conversation went to %q first, want ana (fewest open, then login)", i, a)
		}
		r.clock.Add(time.Minute)
		r.plan()
		if a := r.assignee(c); a != "bruno" {
			t.Fatalf("round %d: after assignWithin the conversation is with %q, want bruno", i, a)
		}
		if r.audits(assign.KindLapsed, id(c)) != 1 {
			t.Fatalf("round %d: the lapse is not audited once", i)
		}
		if _, err := r.svc.Accept(t.Context(), bruno, c); err != nil {
			t.Fatal(err)
		}
		// bruno has one more open each round and ana none, so she is picked again.
	}
	var av, reason string
	r.query(`SELECT availability, reason FROM agent_availability WHERE namespace = $1 AND login = 'ana'`, []any{ns}, &av, &reason)
	if av != "away" || reason != "Missed" {
		t.Fatalf("after 3 lapses in a row ana is %s (%s), want away (Missed)", av, reason)
	}
	// Accepted assignments never lapse.
	r.clock.Add(time.Hour)
	r.plan()
	var lapsed int
	r.query(`SELECT count(*) FROM audit_log WHERE action = $1`, []any{assign.KindLapsed}, &lapsed)
	if lapsed != 3 {
		t.Fatalf("%d lapses, want 3 (accepted assignments do not lapse)", lapsed)
	}
}

func TestBusinessHoursHoldTheQueueUntilTheyOpen(t *testing.T) {
	hours := &v1alpha1.BusinessHours{TimeZone: "UTC", Weekly: []v1alpha1.WeeklyWindow{
		{Days: []v1alpha1.Weekday{"Mon", "Tue", "Wed", "Thu", "Fri"}, From: "09:00", To: "17:00"}}}
	r := newRig(t, policy(v1alpha1.LeastLoaded, 0, 0, time.Hour), hours)
	r.clock.Add(8 * time.Hour) // Monday 18:00: closed
	r.online("ana")
	c := r.conv(wa(1), 0, "")
	r.plan()
	if a := r.assignee(c); a != "" {
		t.Fatalf("assigned to %q outside business hours", a)
	}
	r.clock.Add(15 * time.Hour) // Tuesday 09:00: open
	r.plan()
	if a := r.assignee(c); a != "ana" {
		t.Fatalf("hours opened; the conversation is with %q, want ana", a)
	}
}

func TestNotFoundAcrossTeamsAndNamespaces(t *testing.T) {
	r := newRig(t, policy(v1alpha1.Skills, 0, 0, time.Hour), nil)
	es := r.conv(wa(1), 0, "es") // only iberia has es
	for name, p := range map[string]*authz.Principal{
		"another team":      agent("diego", authz.RoleAgent, "billing"),
		"another namespace": authz.NewPrincipal("other", "inbox", authz.KindAgent, "sofia", authz.RoleAdmin, authz.Predefined()[authz.RoleAdmin]),
	} {
		_, err := r.svc.Resolve(t.Context(), p, es)
		var pr problem.Problem
		if !errors.As(err, &pr) || pr.Status != http.StatusNotFound {
			t.Errorf("%s: resolve: %v, want 404", name, err)
		}
		if _, err := r.svc.Assign(t.Context(), p, es, assign.Target{Agent: "diego"}); !errors.As(err, &pr) || pr.Status != http.StatusNotFound {
			t.Errorf("%s: assign: %v, want 404", name, err)
		}
	}
	var pr problem.Problem
	if _, err := r.svc.Resolve(t.Context(), agent("ana", authz.RoleAgent, "iberia"), es+1000); !errors.As(err, &pr) || pr.Status != http.StatusNotFound {
		t.Errorf("a guessed id: %v, want 404", err)
	}
	if r.audits(assign.KindResolved, id(es)) != 0 {
		t.Fatal("a refused resolve was audited")
	}
	// A waiting conversation with no team whose eligible teams no plan has named yet is
	// seen with conversations.readAll only (authz.Scope).
	if _, err := r.svc.Resolve(t.Context(), agent("ana", authz.RoleAgent, "iberia"), es); !errors.As(err, &pr) || pr.Status != http.StatusNotFound {
		t.Errorf("an agent of an eligible team on a conversation of no team: %v, want 404", err)
	}
	if _, err := r.svc.Assign(t.Context(), agent("sofia", authz.RoleSupervisor), es, assign.Target{Team: "iberia"}); err != nil {
		t.Fatalf("a supervisor assigns it to iberia: %v", err)
	}
	if _, err := r.svc.Resolve(t.Context(), agent("ana", authz.RoleAgent, "iberia"), es); err != nil {
		t.Fatalf("the team's agent resolves: %v", err)
	}
	if _, err := r.svc.Reopen(t.Context(), agent("sofia", authz.RoleSupervisor), es); err != nil {
		t.Fatalf("readAll reopens: %v", err)
	}
}

func TestRunAssignsAfterKick(t *testing.T) {
	r := newRig(t, policy(v1alpha1.LeastLoaded, 0, 0, time.Hour), nil)
	r.online("ana")
	go r.svc.Run(t.Context())
	c := r.conv(wa(1), 0, "")
	r.svc.Kick()
	eventually(t, "the kicked plan to assign", func() bool { return r.assignee(c) == "ana" })
}

func TestRunPlansOnceTheSnapshotLoads(t *testing.T) {
	r := newRig(t, policy(v1alpha1.LeastLoaded, 0, 0, time.Hour), nil)
	r.online("ana")
	c := r.conv(wa(1), 0, "") // waits: nobody planned since
	var loaded atomic.Bool
	svc := assign.New(assign.Config{Store: r.st, Namespace: ns, Log: slog.New(slog.DiscardHandler), Now: r.clock.Now,
		Snapshot: func() *kube.Snapshot {
			if !loaded.Load() {
				return nil
			}
			return r.snap
		}})
	go svc.Run(t.Context())
	time.Sleep(50 * time.Millisecond)
	if a := r.assignee(c); a != "" {
		t.Fatalf("assigned to %q before the snapshot loaded", a)
	}
	loaded.Store(true)
	eventually(t, "the first plan after the snapshot loads", func() bool { return r.assignee(c) == "ana" })
}

func TestAwayAfterTheLastConnectionIsGone(t *testing.T) {
	r := newRig(t, policy(v1alpha1.LeastLoaded, 0, 0, time.Hour), nil)
	r.online("ana")
	ctx := t.Context()
	for _, err := range []error{r.svc.Connected(ctx, "ana"), r.svc.Connected(ctx, "ana"), r.svc.Disconnected(ctx, "ana")} {
		if err != nil {
			t.Fatal(err)
		}
	}
	r.clock.Add(time.Hour)
	r.plan()
	availability := func() (av, reason string) {
		r.query(`SELECT availability, reason FROM agent_availability WHERE namespace = $1 AND login = 'ana'`, []any{ns}, &av, &reason)
		return av, reason
	}
	if av, _ := availability(); av != "online" {
		t.Fatalf("ana with one live connection left is %s, want online", av)
	}
	if err := r.svc.Disconnected(ctx, "ana"); err != nil {
		t.Fatal(err)
	}
	r.clock.Add(routing.DefaultAwayAfterDisconnect - time.Second)
	r.plan()
	if av, _ := availability(); av != "online" {
		t.Fatalf("ana is %s before the away delay passed", av)
	}
	r.clock.Add(time.Second)
	r.plan()
	if av, reason := availability(); av != "away" || reason != "Disconnected" {
		t.Fatalf("ana is %s (%s) after her last connection was gone %v, want away (Disconnected)", av, reason, routing.DefaultAwayAfterDisconnect)
	}
	c := r.conv(wa(1), 0, "")
	r.plan()
	if a := r.assignee(c); a != "" {
		t.Fatalf("an away agent received conversation %d", c)
	}
}

// TestAnsweringCountsAsAccepting: the assignee's answer accepts the assignment (it no
// longer lapses, her misses restart from 0, one conversation.accepted audited); an answer
// by a supervisor or an integration's token accepts nothing, and that assignment lapses.
func TestAnsweringCountsAsAccepting(t *testing.T) {
	r := newRig(t, policy(v1alpha1.LeastLoaded, 0, 0, time.Minute), nil)
	r.online("ana", "bruno")
	answered, other := r.conv(wa(1), 0, ""), r.conv(wa(2), 0, "")
	r.plan()
	if r.assignee(answered) == "" || r.assignee(other) == "" || r.assignee(answered) == r.assignee(other) {
		t.Fatalf("assigned to %q and %q, want one each", r.assignee(answered), r.assignee(other))
	}
	asg, oth := r.assignee(answered), r.assignee(other)
	r.query(`WITH u AS (UPDATE agent_availability SET misses = 2 WHERE namespace = $1 RETURNING 1) SELECT count(*) FROM u`,
		[]any{ns}, new(int))
	answer := func(id int64, p *authz.Principal) {
		t.Helper()
		err := r.st.InTx(t.Context(), func(tx pgx.Tx) error { return assign.Answered(t.Context(), tx, ns, id, p, r.clock.Now()) })
		if err != nil {
			t.Fatal(err)
		}
	}
	answer(answered, agent(asg, authz.RoleAgent))
	answer(answered, agent(asg, authz.RoleAgent)) // twice: one acceptance
	// someone else answers the other conversation: a supervisor, then a token named like its assignee.
	answer(other, agent("sue", authz.RoleSupervisor))
	answer(other, authz.NewPrincipal(ns, "inbox", authz.KindToken, oth, authz.RoleAdmin, authz.Predefined()[authz.RoleAdmin]))
	var misses int
	r.query(`SELECT misses FROM agent_availability WHERE namespace = $1 AND login = $2`, []any{ns, asg}, &misses)
	if misses != 0 {
		t.Errorf("%s answered and still has %d misses, want 0", asg, misses)
	}
	if n := r.audits(assign.KindAccepted, fmt.Sprint(answered)); n != 1 {
		t.Errorf("%d conversation.accepted audited for the answered conversation, want 1", n)
	}
	if n := r.audits(assign.KindAccepted, fmt.Sprint(other)); n != 0 {
		t.Errorf("a supervisor's answer accepted for the assignee (%d audit rows)", n)
	}
	r.clock.Add(time.Hour)
	r.plan()
	if a := r.assignee(answered); a != asg {
		t.Fatalf("an answered assignment lapsed to %q", a)
	}
	if a := r.assignee(other); a == oth {
		t.Errorf("the assignment only others answered did not lapse: still %q", a)
	}
}

// TestChatbotHoldsNewConversationsUntilItHandsOver: while the Inbox has a chatbot hook,
// routing leaves a new conversation to it; once it hands over (bot_handoff_at), the
// conversation is assigned.
func TestChatbotHoldsNewConversationsUntilItHandsOver(t *testing.T) {
	r := newRig(t, policy(v1alpha1.LeastLoaded, 0, 0, time.Hour), nil)
	r.snap.Integrations = &kube.Integrations{Chatbot: &kube.Chatbot{URL: "http://127.0.0.1:1/bot"}}
	r.online("ana")
	c := r.conv(wa(1), 0, "")
	r.plan()
	if a := r.assignee(c); a != "" {
		t.Fatalf("assigned to %q while the chatbot holds it", a)
	}
	var n int
	r.query(`WITH u AS (UPDATE conversations SET bot_handoff_at = now(), bot_handoff_reason = 'timeout' WHERE id = $1 RETURNING 1)
		SELECT count(*) FROM u`, []any{c}, &n)
	r.plan()
	if a := r.assignee(c); a != "ana" {
		t.Errorf("after the handoff the conversation went to %q, want ana", a)
	}
}

// TestChoosingOnlineAfterTheConnectionWentHolds: an agent who closed the page longer
// than the away delay ago and then chooses online (working through the API) stays online;
// a connection that opens and closes after her choice marks her away again after the delay.
func TestChoosingOnlineAfterTheConnectionWentHolds(t *testing.T) {
	r := newRig(t, policy(v1alpha1.LeastLoaded, 0, 0, time.Hour), nil)
	ctx := t.Context()
	r.online("ana")
	availability := func() (av, reason string) {
		r.query(`SELECT availability, reason FROM agent_availability WHERE namespace = $1 AND login = 'ana'`, []any{ns}, &av, &reason)
		return av, reason
	}
	pageOpenedAndClosed := func() {
		t.Helper()
		if err := r.svc.Connected(ctx, "ana"); err != nil {
			t.Fatal(err)
		}
		if err := r.svc.Disconnected(ctx, "ana"); err != nil {
			t.Fatal(err)
		}
	}
	pageOpenedAndClosed()
	r.clock.Add(routing.DefaultAwayAfterDisconnect + time.Minute)
	r.plan()
	if av, reason := availability(); av != "away" || reason != "Disconnected" {
		t.Fatalf("ana is %s (%s) after closing the page, want away (Disconnected)", av, reason)
	}
	got, err := r.svc.SetAvailability(ctx, agent("ana", authz.RoleAgent), "online")
	if err != nil {
		t.Fatal(err)
	}
	if got.Availability != "online" {
		t.Fatalf("choosing online answered %s (%s), want online", got.Availability, got.Reason)
	}
	r.clock.Add(3 * routing.DefaultAwayAfterDisconnect)
	r.plan()
	if av, reason := availability(); av != "online" {
		t.Fatalf("ana chose online with no live connection and is %s (%s) on the next plan", av, reason)
	}
	// The same choice again while a closed connection's delay runs restarts nothing: it holds.
	pageOpenedAndClosed()
	r.clock.Add(routing.DefaultAwayAfterDisconnect / 2)
	if _, err := r.svc.SetAvailability(ctx, agent("ana", authz.RoleAgent), "online"); err != nil {
		t.Fatal(err)
	}
	r.clock.Add(routing.DefaultAwayAfterDisconnect)
	r.plan()
	if av, reason := availability(); av != "online" {
		t.Fatalf("ana chose online again after closing the page and is %s (%s)", av, reason)
	}
	// A connection that opens and closes after the choice: away after the delay.
	pageOpenedAndClosed()
	r.clock.Add(routing.DefaultAwayAfterDisconnect)
	r.plan()
	if av, reason := availability(); av != "away" || reason != "Disconnected" {
		t.Fatalf("ana is %s (%s) after a later connection was gone %v, want away (Disconnected)", av, reason, routing.DefaultAwayAfterDisconnect)
	}
}
