// Package cloudapi benchmarks the WhatsApp Cloud API client
// (runtime/whatsapp) against the simulator (runtime/simulator) on loopback.
//
// The figures are ratios to a ceiling measured in the same run, never
// absolute targets: each measurement starts one simulator on a real
// 127.0.0.1 listener and sends a fixed number of template messages to it
// twice, with the same concurrency and the same request sequence:
//
//   - raw: a bare net/http loop POSTing the pre-encoded JSON body (byte for
//     byte what the client sends) with the same headers, reading the answer
//     and checking only the status code;
//   - client: whatsapp.Client.Send, which builds, encodes, sends and decodes.
//
// Both use their own transport from whatsapp.NewTransport. To cancel out
// drift (CPU frequency, other load on the machine) each side's sends are
// split into rounds run in the order raw, client, client, raw, after an
// unmeasured warm-up. Reported per concurrency level: sends/s of each side,
// their ratio (client ÷ raw, 1.0 = no client overhead) and latency p50/p99
// of each side, plus ratio-median, the median of the per-round ratios, which
// a stall hitting one chunk (other load on a shared machine) cannot skew.
//
// The simulator enforces Meta's limits; they are kept out of the way:
// templates are always allowed (no 24 h window), recipients are spread so
// no (number, recipient) pair comes near its burst of 45, and since the
// per-number throughput bucket (1000 msg/s for HIGH) cannot be configured,
// traffic is spread round-robin over enough HIGH-throughput numbers that
// their combined burst exceeds everything one measurement sends. Status
// webhooks are switched off (they would only be dropped, without a webhook
// URL, and add background work). Any rejection fails the benchmark, so a
// limit can never silently shape the figures.
//
// Run with `make bench`, or:
//
//	go test -run '^$' -bench . -benchtime 1x -count 1 ./bench/...
//
// and tune with -args -cloudapi.requests=20000 -cloudapi.warmup=1000
// -cloudapi.workers=1,32 -cloudapi.rounds=5 -cloudapi.cap=5m.
package cloudapi
