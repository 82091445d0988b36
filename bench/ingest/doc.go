// Package ingest benchmarks the inbox's webhook ingest (runtime/inbox/ingest): signed
// "messages" webhooks POSTed over loopback to the real ingest.Handler, which verifies
// X-Hub-Signature-256 over the raw body, decodes, and stores contacts, conversations,
// messages and windows in one transaction per request before answering 200.
//
// PostgreSQL runs durable (pgserver.StartDurable: fsync, synchronous_commit and
// full_page_writes on, as in production; the tests' servers run with them off), so a
// 200 means the batch's WAL is on disk.
//
// For batches of 1 and of 100 changes (one customer message each; customers cycle over
// 1,000 wa_ids, so most requests update existing contacts and conversations), in one
// run and on one server, each in a fresh database:
//
//   - raw: the ceiling, a pgx pool writing the same rows the same way: per batch one
//     transaction running the very statements of the handler (conversation.OpenAll,
//     InsertAll, TouchAll), from pre-decoded messages, with no HTTP, signature, JSON or
//     plan;
//   - handler: the same batches, signed, POSTed to ingest.Handler behind an
//     http.Server on 127.0.0.1.
//
// Both use the same concurrent clients and a fixed number of requests: batches of 1,
// 2,000 requests from 8 clients (-ingest.requests1, -ingest.workers1: small requests
// wait mostly on the WAL flush, and concurrent commits share one); batches of 100, 200
// requests from 2 clients (-ingest.requests100, -ingest.workers100: these are CPU-bound
// on the 2 cores, and more clients only queue, adding latency and no throughput). Reported per batch size: msg/s of each, ratio (handler ÷ raw),
// and p50/p99 per request (handler, from the POST to the answer; raw, the transaction).
// Any answer but 200 fails the benchmark; afterwards the messages table must hold every
// message exactly once.
//
// Run with `make bench BENCH=./bench/ingest`, or
//
//	go test -run '^$' -bench . -benchtime 1x -count 1 ./bench/ingest
package ingest
