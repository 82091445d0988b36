package routing

import (
	"fmt"

	"github.com/switchboard-dev/switchboard/api/v1alpha1"
)

// Router is a compiled Policy: the teams indexed by name, by member and by skill. It
// is immutable, so one Router serves every replica's goroutines at once.
type Router struct {
	policy   Policy
	teamIdx  map[string]int    // team name → index in policy.Teams
	memberOf map[string][]int  // login → the indices of its teams
	skilled  map[string][]bool // skill → which teams have it
}

// New compiles p. It returns an error naming the first bad field (strategy,
// capacity, assignWithin, missesBeforeAway, awayAfterDisconnect, teams[i].name,
// teams[i].members[j]); admission refuses most of these already, the rest guard
// callers that build a Policy by hand.
func New(p Policy) (*Router, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	r := &Router{policy: p, teamIdx: map[string]int{}, memberOf: map[string][]int{}, skilled: map[string][]bool{}}
	for i, t := range p.Teams {
		if err := r.addTeam(i, t); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// addTeam indexes team i.
func (r *Router) addTeam(i int, t Team) error {
	if _, dup := r.teamIdx[t.Name]; dup || t.Name == "" {
		return fmt.Errorf("teams[%d].name: %q is empty or not unique", i, t.Name)
	}
	r.teamIdx[t.Name] = i
	for j, m := range t.Members {
		if m == "" {
			return fmt.Errorf("teams[%d].members[%d] is empty", i, j)
		}
		r.memberOf[m] = append(r.memberOf[m], i)
	}
	for _, s := range t.Skills {
		if r.skilled[s] == nil {
			r.skilled[s] = make([]bool, len(r.policy.Teams))
		}
		r.skilled[s][i] = true
	}
	return nil
}

// Policy returns the policy r was compiled from.
func (r *Router) Policy() Policy { return r.policy }

// eligible returns the teams whose members may take c, as a mask over policy.Teams,
// or nil when the policy has no teams (every agent may). The rules, in
// docs/routing.md#eligibility: c.Teams empty means every team; names the policy does
// not know are skipped, and if none is known every team is eligible; under Skills, a
// required skill narrows the mask to the eligible teams that have it, unless none
// has it (then the skill is ignored).
func (r *Router) eligible(c Conversation) []bool {
	if len(r.policy.Teams) == 0 {
		return nil
	}
	m := r.teamMask(c.Teams)
	if r.policy.Strategy != v1alpha1.Skills || c.Skill == "" {
		return m
	}
	if s := and(m, r.skilled[c.Skill]); s != nil {
		return s
	}
	return m
}

// teamMask marks the known teams among names, or every team when names is empty or
// names no known team.
func (r *Router) teamMask(names []string) []bool {
	m := make([]bool, len(r.policy.Teams))
	known := false
	for _, n := range names {
		if i, ok := r.teamIdx[n]; ok {
			m[i], known = true, true
		}
	}
	if !known {
		for i := range m {
			m[i] = true
		}
	}
	return m
}

// and returns the teams set in both a and b, or nil when none is.
func and(a, b []bool) []bool {
	if b == nil {
		return nil
	}
	out, some := make([]bool, len(a)), false
	for i := range a {
		out[i] = a[i] && b[i]
		some = some || out[i]
	}
	if !some {
		return nil
	}
	return out
}

// inTeams reports whether one of teams (indices) is set in mask (nil: every team).
func inTeams(teams []int, mask []bool) bool {
	if mask == nil {
		return true
	}
	for _, i := range teams {
		if mask[i] {
			return true
		}
	}
	return false
}

// TeamsOf returns the names of the policy's teams whose members list login, in the
// policy's order; nil when it is in none.
func (r *Router) TeamsOf(login string) []string {
	var out []string
	for _, i := range r.memberOf[login] {
		out = append(out, r.policy.Teams[i].Name)
	}
	return out
}

// EligibleTeams returns the names of the teams whose members may take c automatically
// (docs/routing.md#eligibility), in the policy's order; nil when the policy has no
// teams (every agent may).
func (r *Router) EligibleTeams(c Conversation) []string {
	m := r.eligible(c)
	if m == nil {
		return nil
	}
	var out []string
	for i, ok := range m {
		if ok {
			out = append(out, r.policy.Teams[i].Name)
		}
	}
	return out
}
