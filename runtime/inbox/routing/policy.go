package routing

import (
	"fmt"
	"time"

	"github.com/switchboard-dev/switchboard/api/v1alpha1"
)

// Defaults for the rules the RoutingPolicy does not state (docs/routing.md says why).
const (
	// DefaultAssignWithin is the CRD's default of spec.assignWithin.
	DefaultAssignWithin = 3 * time.Second
	// DefaultMissesBeforeAway: an agent who lets this many assignments in a row lapse
	// (assignWithin passes unaccepted and unanswered) is marked away.
	DefaultMissesBeforeAway = 3
	// DefaultAwayAfterDisconnect: an online agent whose last live connection has been
	// gone this long is marked away.
	DefaultAwayAfterDisconnect = 2 * time.Minute
)

// Team is spec.teams[] of a RoutingPolicy: a name, the skills its members have and the
// members' login names.
type Team struct {
	Name    string
	Skills  []string
	Members []string
}

// Policy is what routing needs of a RoutingPolicy, plus the two away rules.
type Policy struct {
	// Strategy is spec.strategy: RoundRobin, LeastLoaded or Skills.
	Strategy v1alpha1.RoutingStrategy
	// Target and Max are spec.capacity, in open conversations per agent. Max 0 means
	// no cap (spec.capacity left out); Target 0 means no preference.
	Target, Max int
	// AssignWithin is spec.assignWithin; more than zero.
	AssignWithin time.Duration
	// Teams is spec.teams. With no teams every agent of the snapshot is eligible.
	Teams []Team
	// MissesBeforeAway is the count of lapses in a row that marks an agent away; 1 or more.
	MissesBeforeAway int
	// AwayAfterDisconnect is how long an online agent may have no live connection
	// before it is marked away; more than zero.
	AwayAfterDisconnect time.Duration
}

// FromSpec reads a RoutingPolicy's spec, applying the CRD's defaults (strategy
// LeastLoaded, assignWithin 3s), no cap when spec.capacity is left out, and this
// package's defaults for the away rules.
func FromSpec(spec v1alpha1.RoutingPolicySpec) Policy {
	p := Policy{Strategy: spec.Strategy, AssignWithin: DefaultAssignWithin,
		MissesBeforeAway: DefaultMissesBeforeAway, AwayAfterDisconnect: DefaultAwayAfterDisconnect}
	if p.Strategy == "" {
		p.Strategy = v1alpha1.LeastLoaded
	}
	if spec.Capacity != nil {
		p.Target, p.Max = int(spec.Capacity.Target), int(spec.Capacity.Max)
	}
	if spec.AssignWithin != nil {
		p.AssignWithin = spec.AssignWithin.Duration
	}
	for _, t := range spec.Teams {
		p.Teams = append(p.Teams, Team{Name: t.Name, Skills: t.Skills, Members: t.Members})
	}
	return p
}

// validate returns an error naming the first bad field of p.
func (p Policy) validate() error {
	switch {
	case p.Strategy != v1alpha1.RoundRobin && p.Strategy != v1alpha1.LeastLoaded && p.Strategy != v1alpha1.Skills:
		return fmt.Errorf("strategy: unknown strategy %q (want RoundRobin, LeastLoaded or Skills)", p.Strategy)
	case p.Max < 0 || p.Target < 0:
		return fmt.Errorf("capacity: target %d and max %d must not be negative", p.Target, p.Max)
	case p.Max > 0 && p.Target > p.Max:
		return fmt.Errorf("capacity.target %d must not exceed capacity.max %d", p.Target, p.Max)
	case p.AssignWithin <= 0:
		return fmt.Errorf("assignWithin: %v must be more than zero", p.AssignWithin)
	case p.MissesBeforeAway < 1:
		return fmt.Errorf("missesBeforeAway: %d must be 1 or more", p.MissesBeforeAway)
	case p.AwayAfterDisconnect <= 0:
		return fmt.Errorf("awayAfterDisconnect: %v must be more than zero", p.AwayAfterDisconnect)
	}
	return nil
}

// room reports whether an agent holding open conversations may receive one more
// automatically: below capacity.max, or no cap.
func (p Policy) room(open int) bool { return p.Max == 0 || open < p.Max }

// belowTarget reports whether an agent holding open conversations is below
// capacity.target (every agent is when there is no target).
func (p Policy) belowTarget(open int) bool { return p.Target == 0 || open < p.Target }
