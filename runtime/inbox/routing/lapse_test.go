package routing

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/api/v1alpha1"
)

func pending(id int64, agent string, agoSeconds int, accepted bool) Pending {
	return Pending{Conversation: conv(id, 10), Agent: agent, AssignedAt: t0.Add(-time.Duration(agoSeconds) * time.Second), Accepted: accepted}
}

func TestOverdue(t *testing.T) {
	r := mustRouter(t, sales(v1alpha1.LeastLoaded, 0, 0)) // assignWithin 1m
	ps := []Pending{pending(1, "ana", 59, false), pending(2, "ana", 60, false), pending(3, "ana", 600, true), pending(4, "ana", -30, false), pending(5, "bruno", 61, false)}
	var ids []int64
	for _, p := range r.Overdue(ps, t0) {
		ids = append(ids, p.Conversation.ID)
	}
	if want := []int64{2, 5}; !slices.Equal(ids, want) {
		t.Errorf("overdue %v, want %v (at assignWithin exactly, unaccepted, not in the future)", ids, want)
	}
}

func TestLapse(t *testing.T) {
	ll := sales(v1alpha1.LeastLoaded, 0, 2)
	misses := func(a Agent, n int) Agent { a.Misses = n; return a }
	cases := []struct {
		name     string
		agents   []Agent
		pending  []Pending
		open     bool
		want     string // assignments and waiting
		released string // "id<agent:misses"
		away     string
	}{
		{"the next agent gets it, not the previous one", on("ana:1", "bruno:1"), []Pending{pending(1, "ana", 61, false)}, true, "1>bruno", "1<ana:1", ""},
		{"the previous agent only as the last resort", on("ana:1", "bruno:2"), []Pending{pending(1, "ana", 61, false)}, true, "1>ana", "1<ana:1", ""},
		{"the release frees room at once", on("ana:2", "bruno:2"), []Pending{pending(1, "ana", 61, false), pending(2, "bruno", 5, false)}, true, "1>ana", "1<ana:1", ""},
		{"accepted and recent ones stay", on("ana:1", "bruno:0"), []Pending{pending(1, "ana", 600, true), pending(2, "ana", 30, false)}, true, "", "", ""},
		{"the third miss in a row marks the agent away", []Agent{misses(on("ana:1")[0], 2), on("bruno:2")[0]},
			[]Pending{pending(1, "ana", 61, false)}, true, "1?", "1<ana:3", "ana:Missed"},
		{"an agent already away is not marked again", []Agent{misses(avail(on("ana:1")[0], Away), 5), on("bruno:0")[0]},
			[]Pending{pending(1, "ana", 61, false)}, true, "1>bruno", "1<ana:6", ""},
		{"outside business hours the lapsed conversation waits", on("ana:1", "bruno:0"), []Pending{pending(1, "ana", 61, false)}, false, "1?", "1<ana:1", ""},
		{"an agent no longer in the snapshot", on("bruno:0"), []Pending{pending(1, "zoe", 61, false)}, true, "1>bruno", "1<zoe:0", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := mustPlan(t, mustRouter(t, ll), Snapshot{Open: c.open, Agents: c.agents, Pending: c.pending})
			if g := got(res); g != c.want {
				t.Errorf("got %q, want %q", g, c.want)
			}
			if g := renderReleased(res); g != c.released {
				t.Errorf("released %q, want %q", g, c.released)
			}
			if g := renderAway(res); g != c.away {
				t.Errorf("away %q, want %q", g, c.away)
			}
		})
	}
}

func TestLapsedConversationGoesBeforeNewer(t *testing.T) {
	r := mustRouter(t, sales(v1alpha1.LeastLoaded, 0, 1))
	res := mustPlan(t, r, Snapshot{Open: true, Agents: on("ana:1", "bruno:1"), Waiting: []Conversation{conv(2, 1)}, Pending: []Pending{pending(1, "ana", 61, false)}})
	// Conversation 1 began to wait 10 minutes ago and keeps that age when it lapses;
	// 2 began a minute ago. The one slot (ana's, freed by the lapse) goes to 1, even
	// though 1 would rather avoid ana.
	if g, want := got(res), "1>ana 2?"; g != want {
		t.Errorf("got %q, want %q", g, want)
	}
}

func TestAwayAfterDisconnect(t *testing.T) {
	r := mustRouter(t, sales(v1alpha1.LeastLoaded, 0, 0)) // 2 minutes
	gone := func(login string, ago time.Duration) Agent {
		a := on(login + ":0")[0]
		a.GoneSince = t0.Add(-ago)
		return a
	}
	res := mustPlan(t, r, Snapshot{Open: true, Agents: []Agent{gone("ana", 2*time.Minute), gone("bruno", 90*time.Second), on("carla:5")[0]},
		Waiting: []Conversation{conv(1, 1), conv(2, 1)}})
	if g, want := renderAway(res), "ana:Disconnected"; g != want {
		t.Errorf("away %q, want %q", g, want)
	}
	if g, want := got(res), "1>bruno 2>bruno"; g != want {
		t.Errorf("got %q, want %q (bruno's connection is gone for less than 2m)", g, want)
	}
	if want := t0.Add(30 * time.Second); !res.Wake.Equal(want) {
		t.Errorf("wake %v, want %v (bruno times out first, before the new assignments lapse)", res.Wake, want)
	}
}

func TestWake(t *testing.T) {
	r := mustRouter(t, sales(v1alpha1.LeastLoaded, 0, 0))
	res := mustPlan(t, r, Snapshot{Open: true, Agents: on("ana:1"), Pending: []Pending{pending(1, "ana", 50, false), pending(2, "ana", 55, true)}})
	if want := t0.Add(10 * time.Second); !res.Wake.Equal(want) {
		t.Errorf("wake %v, want %v", res.Wake, want)
	}
	if res := mustPlan(t, r, Snapshot{Open: true, Agents: on("ana:1")}); !res.Wake.IsZero() {
		t.Errorf("wake %v with nothing timed, want zero", res.Wake)
	}
	if res := mustPlan(t, r, Snapshot{Open: true, Agents: on("ana:1"), Waiting: []Conversation{conv(1, 1)}}); !res.Wake.Equal(t0.Add(time.Minute)) {
		t.Errorf("wake %v after an assignment, want now+assignWithin", res.Wake)
	}
}

func TestCheckManual(t *testing.T) {
	r := mustRouter(t, sales(v1alpha1.LeastLoaded, 1, 2))
	if err := r.CheckManual(on("ana:1")[0], false); err != nil {
		t.Errorf("below max: %v", err)
	}
	err := r.CheckManual(on("ana:2")[0], false)
	if !errors.Is(err, ErrOverCapacity) || !strings.Contains(err.Error(), `agent "ana" holds 2 open conversations and capacity.max is 2`) {
		t.Errorf("at max without override: %v", err)
	}
	if err := r.CheckManual(on("ana:7")[0], true); err != nil {
		t.Errorf("override: %v", err)
	}
	if err := mustRouter(t, sales(v1alpha1.LeastLoaded, 0, 0)).CheckManual(on("ana:700")[0], false); err != nil {
		t.Errorf("no cap: %v", err)
	}
}

func renderReleased(res Result) string {
	var b []string
	for _, r := range res.Released {
		b = append(b, fmt.Sprintf("%d<%s:%d", r.Conversation, r.Agent, r.Misses))
	}
	return strings.Join(b, " ")
}

func renderAway(res Result) string {
	var b []string
	for _, a := range res.Away {
		b = append(b, a.Agent+":"+string(a.Reason))
	}
	return strings.Join(b, " ")
}
