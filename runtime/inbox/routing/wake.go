package routing

import "time"

// wake returns the earliest future deadline after plan p of snapshot s: a pending or
// new assignment lapsing, or an online agent's connection timing out; zero if none.
func (r *Router) wake(s Snapshot, p *planner) time.Time {
	var w time.Time
	for _, pd := range s.Pending {
		if at := pd.AssignedAt.Add(r.policy.AssignWithin); !pd.Accepted && at.After(s.Now) {
			w = earliest(w, at)
		}
	}
	if len(p.res.Assignments) > 0 {
		w = earliest(w, s.Now.Add(r.policy.AssignWithin))
	}
	for _, a := range p.agents {
		if a.ok && !a.GoneSince.IsZero() {
			w = earliest(w, a.GoneSince.Add(r.policy.AwayAfterDisconnect))
		}
	}
	return w
}

// earliest returns the earlier of w and t, where a zero w means none yet.
func earliest(w, t time.Time) time.Time {
	if w.IsZero() || t.Before(w) {
		return t
	}
	return w
}
