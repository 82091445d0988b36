package keywords

// Decision is what the inbound rules that matched one message do together
// (spec.priority on the KeywordRule): only one rule replies and only one routes, the
// first in the order rules are tried that has that action; the tags of every
// matching rule apply.
type Decision struct {
	// Reply is the match whose rule's actions.reply is sent, or nil.
	Reply *Match
	// Route is the match whose rule's actions.routeToSkill is set, or nil.
	Route *Match
	// Tags are the tags of every matching rule, in rule order, without duplicates.
	Tags []string
}

// Decide combines the matches of an Inbound Set.Match, in the order it returned them.
func Decide(matches []Match) Decision {
	var d Decision
	seen := map[string]bool{}
	for i := range matches {
		a := &matches[i].Rule.Actions
		if d.Reply == nil && a.Reply != nil {
			d.Reply = &matches[i]
		}
		if d.Route == nil && a.RouteToSkill != "" {
			d.Route = &matches[i]
		}
		for _, t := range a.Tag {
			if !seen[t] {
				seen[t] = true
				d.Tags = append(d.Tags, t)
			}
		}
	}
	return d
}
