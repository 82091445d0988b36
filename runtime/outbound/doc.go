// Package outbound decides whether an outbound message may be sent under the Outbound
// KeywordRules of its Number (docs/keywordrule.md): which texts of a Cloud API message
// a customer reads (Texts), and the first rule that blocks one of them (Rules.Check).
//
// The sender checks every message it claims, right before calling Meta, so that no
// producer can bypass the rules (docs/sender.md, "Outbound KeywordRules"). Producers
// that answer someone at once (an agents' API) check with the same function before
// they enqueue, so that the refusal is seen immediately:
//
//	rules, errs := outbound.Compile(number, namespaceKeywordRules, routingPolicy)
//	if b := rules.Check(payload, time.Now()); b != nil {
//		return b // "blocked by KeywordRule acme/no-guarantees: \"garantizado\" …"
//	}
//
// Matching itself is runtime/keywords' (the same package the inbox and the operator
// use); business hours are runtime/calendar's.
package outbound
