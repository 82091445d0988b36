// Package assign benchmarks automatic assignment in the running inbox
// (runtime/inbox/assign): the latency from an inbound webhook's commit to the
// conversation's assignment event, with two inbox replicas.
//
// PostgreSQL runs durable (pgserver.StartDurable: fsync and synchronous_commit on). The
// setup, in a fresh database per measurement: one Number whose RoutingPolicy
// (LeastLoaded, capacity target 5 and max 15, assignWithin 10m so that nothing lapses) has 200 agents in 4 teams of 50, all
// online; two replicas, each with its own connection pool, its own ingest.Handler behind
// an http.Server on 127.0.0.1 (the webhook's Committed hook kicks its replica's router),
// and its own router running (assign.Service.Run). A client sends 1,500 signed webhooks,
// each a first message from a new customer (so a new conversation), paced at 500 per
// second (-assign.rate, -assign.conversations), alternating between the replicas. A
// LISTEN connection records when each conversation.assigned notification arrives.
//
// Latency per conversation, p50 and p99:
//
//   - from the webhook's 200 (sent after the commit: so this is at most the time from
//     the commit) to the assignment notification's arrival at the listener, which
//     includes the notification's delivery;
//   - from the POST's start (an upper bound that includes the ingest transaction).
//
// The ceiling, in the same run and the same setup: the routers are replaced by a bare
// assigner per replica that, on the same kick, runs the minimum an assignment needs (one
// transaction: lock the routing row, assign every waiting conversation to one agent,
// notify each). Reported: p50/p99 of both, and ratio (router p99 ÷ bare p99). After a
// measurement every conversation must be assigned exactly once and no agent over max.
//
// Run with `make bench BENCH=./bench/assign`, or
//
//	go test -run '^$' -bench . -benchtime 1x -count 1 ./bench/assign
package assign
