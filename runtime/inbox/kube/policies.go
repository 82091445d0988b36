package kube

import (
	"log/slog"
	"sort"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/cache"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/calendar"
	"github.com/switchboard-dev/switchboard/runtime/inbox/routing"
	"github.com/switchboard-dev/switchboard/runtime/keywords"
	"github.com/switchboard-dev/switchboard/runtime/outbound"
)

// The policies the inbox compiles for each Number it serves.
var (
	KeywordRuleResource   = schema.GroupVersionResource{Group: "switchboard.dev", Version: "v1alpha1", Resource: "keywordrules"}
	RoutingPolicyResource = schema.GroupVersionResource{Group: "switchboard.dev", Version: "v1alpha1", Resource: "routingpolicies"}
)

// Policy is what the inbox applies to a Number's inbound messages: the Inbound
// KeywordRules that select it (compiled, in priority order), and the business hours and
// after-hours reply of its RoutingPolicy.
type Policy struct {
	Inbound *keywords.Set // nil: no inbound rule
	// OutboundRules are the Outbound KeywordRules (sensitive words) that select the
	// Number, compiled for runtime/outbound with the RoutingPolicy's business hours, for
	// every producer that checks a message before enqueueing it (the agents' API, the
	// chatbot hook, campaigns; the sender checks again). Never nil from a Source.
	OutboundRules   *outbound.Rules
	Hours           *calendar.Hours // nil: always open (no RoutingPolicy, or no businessHours)
	AfterHoursReply string
	// Teams are the RoutingPolicy's teams with their members (agents' login names).
	Teams []sbv1.Team
	// Routing is the RoutingPolicy that selects the Number, compiled; nil when none does
	// (or it does not compile): its conversations are then assigned only by hand.
	Routing *Routing
}

// Routing is a Number's RoutingPolicy: its name (the key of its RoundRobin cursor) and
// its compiled rules.
type Routing struct {
	Name   string
	Router *routing.Router
}

// policies holds the namespace's KeywordRules and RoutingPolicies as read from the
// informers, for compiling Policies.
type policies struct {
	rules   []sbv1.KeywordRule
	routing []sbv1.RoutingPolicy
}

// listPolicies reads the informers' KeywordRules and RoutingPolicies (RoutingPolicies
// oldest first, for the conflict rule). Objects that do not convert are left out.
func listPolicies(rules, routing cache.GenericLister) (policies, error) {
	var p policies
	kr, err := rules.List(labels.Everything())
	if err != nil {
		return p, err
	}
	rp, err := routing.List(labels.Everything())
	if err != nil {
		return p, err
	}
	p.rules = convertAll[sbv1.KeywordRule](kr)
	p.routing = convertAll[sbv1.RoutingPolicy](rp)
	sort.SliceStable(p.routing, func(i, j int) bool { return olderFirst(p.routing[i].ObjectMeta, p.routing[j].ObjectMeta) })
	return p, nil
}

func olderFirst(a, b metav1.ObjectMeta) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return a.Name < b.Name
}

// selects reports whether a policy's numberSelector selects the Number (an invalid
// selector selects nothing: the operator marks such a policy Stalled).
func selects(selector metav1.LabelSelector, num *sbv1.Number) bool {
	sel, err := metav1.LabelSelectorAsSelector(&selector)
	return err == nil && sel.Matches(labels.Set(num.Labels))
}

// compile builds the Number's Policy. A KeywordRule that does not compile is left out
// (the operator already reports it Stalled on the rule), and so are invalid business
// hours (always open), so that one bad policy never stops the inbox. spec.suspend stops
// the operator's reconciling, not the rule: suspended rules still apply.
func (p policies) compile(num *sbv1.Number, log *slog.Logger) Policy {
	var mine []sbv1.KeywordRule
	for _, r := range p.rules {
		if selects(r.Spec.NumberSelector, num) {
			mine = append(mine, r)
		}
	}
	var pol Policy
	if len(mine) > 0 {
		set, errs := keywords.Compile(sbv1.Inbound, mine)
		for _, err := range errs {
			log.Debug("a KeywordRule does not compile; left out", "number", num.Name, "error", err)
		}
		pol.Inbound = set
	}
	var selected *sbv1.RoutingPolicy
	for i, rp := range p.routing {
		if selects(rp.Spec.NumberSelector, num) {
			pol.Hours, pol.AfterHoursReply = routingOf(rp, num, log)
			pol.Routing = compileRouting(rp, num, log)
			pol.Teams = rp.Spec.Teams
			selected = &p.routing[i]
			break
		}
	}
	pol.OutboundRules, _ = outbound.Compile(num, p.rules, selected)
	return pol
}

// routingOf compiles a RoutingPolicy's business hours and after-hours reply.
func routingOf(rp sbv1.RoutingPolicy, num *sbv1.Number, log *slog.Logger) (*calendar.Hours, string) {
	hours, err := calendar.Compile(rp.Spec.BusinessHours)
	if err != nil {
		log.Debug("a RoutingPolicy's business hours do not compile; always open", "number", num.Name, "error", err)
		return nil, ""
	}
	reply := ""
	if rp.Spec.AfterHours != nil {
		reply = rp.Spec.AfterHours.Reply
	}
	return hours, reply
}

// compileRouting compiles a RoutingPolicy's assignment rules; nil (and a debug log) when
// they do not compile, so that one bad policy never stops the inbox.
func compileRouting(rp sbv1.RoutingPolicy, num *sbv1.Number, log *slog.Logger) *Routing {
	r, err := routing.New(routing.FromSpec(rp.Spec))
	if err != nil {
		log.Debug("a RoutingPolicy's assignment rules do not compile; no automatic assignment", "number", num.Name, "error", err)
		return nil
	}
	return &Routing{Name: rp.Name, Router: r}
}
