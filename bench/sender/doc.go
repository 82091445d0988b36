// Package sender benchmarks the real sender (runtime/sender): sender.Run holding
// the number's fence (store.NumberLock on a real PostgreSQL from pgtest, started
// in TestMain only when benchmarks run), woken by LISTEN/NOTIFY, calling the Cloud
// API simulator (runtime/simulator) through whatsapp.Client over an http.Server on
// 127.0.0.1. The goal is that the outbox is never the bottleneck at
// 1,000 msg/s, Meta's highest per-number throughput.
//
// As in bench/cloudapi, the figures are fixed counts and ratios to a ceiling
// measured in the same run, never absolute targets, and any rejection by the
// simulator fails the benchmark, so that a limit can never silently shape a
// figure. Every message is a template (never refused for a closed 24 h window)
// on the conversation lane, to a recipient of its own (so neither the pacer's nor
// the simulator's pair rate applies), with limits lifted: CampaignPerMinute
// 60,000 and UniqueRecipientsPer24h -1. Status webhooks are off. A tap in front of
// the simulator timestamps each send on arrival.
//
// # BenchmarkThroughput
//
// In one run, on one simulator:
//
//   - raw: a bare net/http loop POSTing the pre-encoded template bodies (as the
//     client encodes them) with the client's headers, with as many goroutines as
//     the sender has Workers (64, its default), checking only the status: the
//     ceiling of the simulator on loopback at that concurrency. Half of its sends
//     run before the sender and half after, after an unmeasured warm-up, so that
//     drift over the run (CPU frequency, other load) hits both sides.
//   - sender: 10,000 messages in the outbox before the sender starts, drained by
//     sender.Run at its limits of 1,000 msg/s (MessagesPerSecond) on one HIGH
//     number.
//
// The simulator's per-number throughput cannot be raised: Number.Throughput is
// STANDARD (80 msg/s) or HIGH (1,000 msg/s, burst 1,000), and LimitConfig only
// overrides the pair rate, the service window and the unique-recipients window.
// So the sender runs on one HIGH number with its own limit at 1,000 msg/s, its
// pacer being the limit, while the raw loop is spread round-robin over enough
// HIGH numbers that their combined burst covers each of its phases, as
// bench/cloudapi does. Reported:
//
//   - raw-sends/s and sender-sends/s, and ratio (sender ÷ raw): how much of the
//     loopback ceiling 1,000 msg/s uses;
//   - at-1000-ratio (sender ÷ 1,000): 1.0 means the sender keeps up with its
//     1,000 msg/s limit, i.e. the outbox (claim, mark sent, notify) is not the
//     bottleneck there; below 1.0 it is.
//
// Rates are sustained rates at the simulator: the first and last 5% of a phase's
// arrivals are dropped (connection set-up, tokens the pacer gathered while the
// sender started, stragglers) and the rate is the least-squares slope of arrivals
// over time through the rest.
//
// Uncapped run (uncapped-sends/s, uncapped-headroom = ÷ 1,000; -sender.uncapped=0
// skips it): to see how far above 1,000 msg/s the sender itself can go, it runs
// once more with a 4,000 msg/s limit and 20,000 messages, its whatsapp.Client
// wrapped so that each call goes to the next of the spread HIGH numbers (the
// sender's phone number ID is ignored): a test double for "one number with a
// higher bucket", which the simulator lacks. Below 4,000 sends/s the figure is
// the sender's own ceiling on the machine (PostgreSQL, the sender loop, HTTP),
// not its limit. It uses the same Workers as the raw ceiling.
//
// # BenchmarkLatency
//
// Enqueue-to-Meta latency at 80 msg/s: a producer goroutine enqueues 800
// messages with store.Enqueue, one every 12.5 ms on an absolute schedule, while
// the sender runs at an 80 msg/s limit on a STANDARD (80 msg/s) number. Each
// message's template name marks it; latency is from Enqueue's return to its
// arrival at the simulator (p50-ms, p99-ms, max-ms), and from Enqueue's call
// (call-p50-ms, call-p99-ms). The transaction commits, and NOTIFY wakes the
// sender, before Enqueue returns, so the first figure can be slightly negative;
// the second is an upper bound. The sender runs for a second before the producer
// starts, as a sender that has been running has a full pacer: one started at the
// same moment as a producer at exactly its rate phase-locks to it, and every
// message then waits for the part of a token the start left it short (about
// 12 ms, one token interval, in trials).
//
// # Running
//
// Run with `make bench`, or:
//
//	go test -run '^$' -bench . -benchtime 1x -count 1 ./bench/...
//
// `go test` runs the packages of ./bench/... in parallel (-p defaults to the
// number of CPUs), so these benchmarks may share the machine with bench/cloudapi;
// add -p 1 for quieter figures. Tune with -args -sender.messages=10000
// -sender.raw=10000 -sender.warmup=1000 -sender.workers=64 -sender.uncapped=4000
// -sender.uncapped-messages=20000 -sender.latency-messages=800
// -sender.latency-rate=80. PostgreSQL comes from the machine's binaries
// (/usr/lib/postgresql/<version>/bin, or PG_BIN).
package sender
