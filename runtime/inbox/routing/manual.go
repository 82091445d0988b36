package routing

import (
	"errors"
	"fmt"
)

// ErrOverCapacity is returned by CheckManual for an assignment beyond capacity.max
// without the override.
var ErrOverCapacity = errors.New("the agent is at capacity.max")

// CheckManual decides a manual assignment or transfer to agent a (issue 9: max is
// never exceeded by a manual assignment unless the actor's role grants an override).
// override says that the caller checked the actor's override permission; the caller
// audits the assignment either way. It returns an error wrapping ErrOverCapacity that
// names the agent, its open conversations and capacity.max.
func (r *Router) CheckManual(a Agent, override bool) error {
	if override || r.policy.room(a.Open) {
		return nil
	}
	return fmt.Errorf("agent %q holds %d open conversations and capacity.max is %d: %w; assigning more needs the override permission",
		a.Login, a.Open, r.policy.Max, ErrOverCapacity)
}
