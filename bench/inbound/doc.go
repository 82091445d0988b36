// Package inbound benchmarks the simulator's inbound load generator
// (simulator.Server.StartLoad), which the inbox's benchmarks drive, so that
// they know the generator is not their bottleneck.
//
// Each run starts a loopback receiver that verifies every webhook's
// X-Hub-Signature-256 over the raw bytes and answers 200, then measures, with
// the same receiver and the same number of messages:
//
//   - raw: a ceiling, 4 goroutines POSTing pre-built signed webhook bodies
//     (one inbound text message each, as the simulator writes them) as fast as
//     the receiver takes them;
//   - flat-out: a load whose rate is far above what can be delivered, so the
//     simulator injects, encodes, signs and delivers as fast as it can (4
//     webhook workers, as by default);
//   - paced: a load at -inbound.rate messages/s, to show the pacing holds.
//
// Reported: messages/s of each, flat-out ÷ raw (1.0 = the simulator adds
// nothing over bare HTTP), and paced ÷ the asked rate (1.0 = on pace).
// Signatures that fail to verify fail the benchmark.
package inbound
