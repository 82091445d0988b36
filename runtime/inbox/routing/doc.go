// Package routing decides which agent gets which conversation: the strategies of a
// RoutingPolicy (RoundRobin, LeastLoaded, Skills), its capacity (target and max), the
// queue of waiting conversations, assignWithin (a lapsed assignment goes to the next
// agent), and the rules that mark an agent away.
//
// It is pure: no I/O, no goroutines, no clock. The inbox calls Router.Plan inside its
// routing transaction, with a Snapshot of the Inbox's agents, waiting conversations
// and unaccepted assignments read under the routing lock, the transaction's time and
// whether the business hours are open (runtime/calendar), and writes the Result in the
// same transaction. The RoundRobin cursor is explicit state: Result.Cursor, stored by
// the caller and passed back as Snapshot.Cursor.
//
// docs/routing.md states every rule, its source (issue 9, the RoutingPolicy API, or a
// decision of this package and why), and how two or more inbox replicas use the
// package safely.
package routing
