// Package pace benchmarks the accuracy of the sender's limiter (runtime/pace):
// how close the rate a Pacer lets through comes to the limit it is given, at
// the campaign rate of 20/min, at 80 msg/s (Meta's STANDARD throughput) and at
// 1,000 msg/s (HIGH).
//
// Each pacer is built as sender.Run builds it: empty at start (closed, then
// opened) and bursting at most half a second's worth of the total rate
// (LimitTotalBurst(0.5)). The caller goes to recipients enough that the pair
// rate (1 per 6 s per recipient) never binds. The 20/min case sends on the
// campaign lane (with MessagesPerSecond 80), the others on the conversation lane
// (with CampaignPerMinute 60 × the rate).
//
//   - BenchmarkAccuracy: a simulated clock, nothing sleeps. The fastest possible
//     caller asks again exactly when the pacer said it could succeed (the clock
//     jumps by the wait Reserve returned), over a fixed simulated duration:
//     10 minutes at 80 and 1,000 msg/s, an hour at 20/min.
//   - BenchmarkRealTime: the real clock, 80 and 1,000 msg/s for 2 s each; the
//     caller sleeps for the returned wait (timers oversleep; the tokens that
//     accrue meanwhile stay in the bucket for the next call).
//
// Reported per case: ratio, the achieved rate over the limit across the whole
// run (1.0 = exact; an empty start costs at most one message, which is why the
// 20/min hour shows 1199 of 1200), and window-ratio, the most sends in any window
// of the limit's period (1 s, or 1 min for 20/min) over the limit per period,
// which is what Meta's per-second measurement sees. In real time it can exceed
// 1.0 by the tokens an oversleep left in the bucket (at most the half-second
// burst, far inside Meta's one-second bucket).
//
// Run with `make bench`, or:
//
//	go test -run '^$' -bench . -benchtime 1x -count 1 ./bench/...
//
// and tune with -args -pace.simulated=10m -pace.realtime=2s.
package pace
