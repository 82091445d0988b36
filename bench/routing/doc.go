// Package routing benchmarks the inbox's routing decisions (runtime/inbox/routing):
// one Router.Plan over a snapshot of 200 agents and 1,000 waiting conversations, the
// work the inbox does inside its routing transaction when a burst arrives or room
// appears. Nothing else runs: no database, no clock; the figure is the pure decision.
//
// The snapshot is drawn from a fixed seed: 10 teams of 20 agents, each team with two
// of 6 skills, every fifth agent also in a second team; 90% of the agents online
// holding 0 to 3 conversations; conversations with 3 priorities, ages up to an hour,
// a required skill on half of them and an eligible team on a tenth. Capacity is
// target 5, max 7 (the 5–7), so most conversations are assigned and some
// wait. The "full" case has every agent at max: nothing is assigned and every
// conversation scans every agent, the worst case of a queue that cannot move.
//
// Reported per case: ns/conversation (the time of one Plan over the 1,000
// conversations it orders and places) and assigned (how many the plan assigned).
//
// Run with `make bench`, or:
//
//	go test -run '^$' -bench . -benchtime 1x -count 1 ./bench/routing
//
// (-benchtime 1x times a single plan; -benchtime 2s averages many.)
package routing
