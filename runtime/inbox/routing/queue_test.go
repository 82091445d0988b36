package routing

import (
	"slices"
	"testing"

	"github.com/switchboard-dev/switchboard/api/v1alpha1"
)

func prio(c Conversation, p int) Conversation {
	c.Priority = p
	return c
}

func TestQueueOrder(t *testing.T) {
	cs := []Conversation{conv(1, 1), prio(conv(2, 0), 1), conv(3, 5), conv(5, 5), conv(4, 5), prio(conv(6, 9), -1)}
	Queue(cs)
	var ids []int64
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	if want := []int64{2, 3, 4, 5, 1, 6}; !slices.Equal(ids, want) {
		t.Errorf("queue order %v, want %v (priority, then age, then id)", ids, want)
	}
}

func TestQueue(t *testing.T) {
	ll := sales(v1alpha1.LeastLoaded, 1, 2)
	cases := []struct {
		name    string
		agents  []Agent
		waiting []Conversation
		open    bool
		want    string
	}{
		{"room for one: the longest waiting gets it, not the newest", on("ana:1", "bruno:2"), []Conversation{conv(3, 1), conv(1, 9), conv(2, 5)}, true, "1>ana 2? 3?"},
		{"a higher priority goes first", on("ana:1"), []Conversation{conv(1, 9), prio(conv(2, 1), 2)}, true, "2>ana 1?"},
		{"a conversation nobody may take blocks no other",
			on("ana:2", "bruno:2", "carla:2", "diego:0"), []Conversation{withSkill(conv(1, 9), "", "iberia"), conv(2, 1)}, true, "2>diego 1?"},
		{"outside business hours nothing is assigned", on("ana:0"), []Conversation{conv(1, 9), conv(2, 1)}, false, "1? 2?"},
		{"room appears: the queue drains in order", on("ana:0", "bruno:1"),
			[]Conversation{conv(1, 9), conv(2, 8), conv(3, 7), conv(4, 6)}, true, "1>ana 2>bruno 3>ana 4?"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := mustPlan(t, mustRouter(t, ll), Snapshot{Open: c.open, Agents: c.agents, Waiting: c.waiting})
			if g := got(res); g != c.want {
				t.Errorf("got %q, want %q", g, c.want)
			}
		})
	}
}

func TestPlanIgnoresInputOrder(t *testing.T) {
	r := mustRouter(t, sales(v1alpha1.LeastLoaded, 2, 3))
	agents, waiting := on("ana:1", "bruno:1", "carla:0", "diego:2"), []Conversation{conv(1, 1), conv(2, 1), conv(3, 2), conv(4, 0)}
	want := got(mustPlan(t, r, Snapshot{Open: true, Agents: agents, Waiting: waiting}))
	slices.Reverse(agents)
	slices.Reverse(waiting)
	if g := got(mustPlan(t, r, Snapshot{Open: true, Agents: agents, Waiting: waiting})); g != want {
		t.Errorf("reversed input: got %q, want %q", g, want)
	}
}
