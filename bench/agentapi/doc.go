// Package agentapi benchmarks the agents' API's conversation list
// (runtime/inbox/agentapi, GET /api/v1/conversations): a page of 50 open conversations,
// latest activity first, with 100,000 conversations and 1,000,000 messages stored.
//
// One database is seeded with SQL (generate_series) and analysed: 100,000 contacts and
// conversations in one namespace (40 % open, 10 % pending, 50 % resolved; five teams;
// half the unassigned unresolved ones wait with no team and two eligible teams; last
// activity spread over 30 days), ten messages each, and 10,000 conversations of
// another namespace. Then, sequentially from one client, on the same server:
//
//   - sql: the ceiling, the list's own statement (the one conversation.List builds)
//     on a pgx pool, no HTTP, no JSON;
//   - api: the same page through the real handler behind an http.Server on 127.0.0.1,
//     authenticated, JSON encoded and decoded.
//
// Each for three pages: every open conversation (the first page), the fifth page
// (following nextCursor), an agent of one team (conversations.read without readAll:
// its team's, its own and the waiting ones its team may take), and that agent's
// unassigned list (?unassigned=true). -agentapi.explain prints each statement's plan. Reported: p50 and p99 of each and api÷sql at p99 (-agentapi.requests, default
// 1,000 per page kind). Goal: api p99 < 50 ms. Any answer but 200 or a short page fails.
//
// Run with `make bench BENCH=./bench/agentapi`, or
//
//	go test -run '^$' -bench . -benchtime 1x -count 1 ./bench/agentapi
package agentapi
