// Package autoreply benchmarks an inbound message's way to its automatic reply: the
// simulator's inbound load generator (simulator.Server.StartLoad) delivers signed
// webhooks to the real inbox handler (runtime/inbox/ingest, on a durable PostgreSQL:
// fsync on), whose Inbound KeywordRule (compiled by runtime/keywords) puts the reply in
// the outbox in the webhook's transaction; the real sender (sender.Run holding the
// number's fence and woken by LISTEN/NOTIFY, as bench/sender starts it) sends it to the
// simulator through whatsapp.Client.
//
// The load is -autoreply.messages messages (2,500) at -autoreply.rate (500/s), every
// one from a customer of its own and carrying the keyword, to one HIGH number (1,000
// msg/s, so replies are not queued behind STANDARD's 80/s); the sender's limit is 1,000
// msg/s. The simulator's status webhooks (sent, delivered, read) go to the inbox too,
// as they would from Meta (-autoreply.statuses=false leaves them out). The simulator
// delivers webhooks with 16 concurrent workers (-autoreply.webhook-workers; its default
// is 4).
//
// Latency is measured per customer, to the reply's arrival at the simulator (a tap in
// front of its HTTP handler):
//
//   - p50-ms, p99-ms: from the webhook's arrival at the inbox's HTTP server (a tap in
//     front of the handler; on loopback, within microseconds of the simulator's send);
//   - sched-p50-ms, sched-p99-ms: from the time the load scheduled the message (start +
//     k ÷ rate), which adds the simulator's own injection tick (5 ms) and webhook queue;
//   - ingest-p50-ms, ingest-p99-ms: the inbox's answer time for those webhooks (read,
//     verify, store, commit), the part of the way spent before the sender is woken.
//
// Every message must get exactly one reply and the simulator must reject nothing.
//
// Run with `make bench BENCH=./bench/autoreply`, or
//
//	go test -run '^$' -bench . -benchtime 1x -count 1 ./bench/autoreply
package autoreply
