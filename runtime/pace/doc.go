// Package pace is the exact, in-process pacing of one number's sender.
//
// One sender is active per number (a Lease plus a PostgreSQL advisory lock), so the
// sender's limiter sees every outbound message of the number and can be exact. This
// package is that limiter. It is pure: it starts no goroutines, reads no clock and does
// no I/O. Every method takes the current time as now, so production passes
// time.Now() and tests drive a simulated clock. Every type is safe for concurrent use
// (each guards its state with a mutex). A now earlier than one already seen (clocks of
// concurrent callers interleave) never refills tokens and never moves state back.
//
// # Building blocks
//
//   - Bucket: a token bucket (rate per second, burst). Rate 0 means closed.
//   - Pairs: Meta's per-recipient pair rate, one token bucket per recipient (by
//     default 1 message per 6 s, bursts up to 45; error 131056), with Backoff to block
//     one recipient after a 131056 and amortised pruning of idle recipients so memory
//     stays bounded.
//   - Pacer: one number's limits (status.sending): a total-rate bucket shared by both
//     lanes, a campaign-rate bucket and the number's Pairs. Reserve takes every token a
//     message needs atomically, or none and says how long until it could succeed.
//
// # Limits to buckets
//
// Total rate: MessagesPerSecond tokens per second, burst MessagesPerSecond (one
// second's worth). Meta measures throughput per second (130429 when exceeded), so the
// burst is capped at the per-second rate: in any window of length w the sender sends
// at most MessagesPerSecond*(w/1s) + MessagesPerSecond messages, and a sender that
// bursts after an idle period never sends more than the cap within one second.
//
// Campaign rate: CampaignPerMinute/60 tokens per second, burst max(1,
// floor(CampaignPerMinute/60)), one second's worth and at least one message. A
// campaign never sends a minute's worth at once: at 20/min it sends exactly one
// message every 3 s, from the start.
//
// Pair rate: see Pairs. Both lanes use the same Pairs: Meta counts every message to a
// recipient.
//
// Rate 0 closes a lane: MessagesPerSecond 0 closes both lanes, CampaignPerMinute 0
// closes the campaign lane; Reserve then answers (false, Forever) and Blocked true. A
// closed bucket holds no tokens, so a lane that reopens starts empty and ramps up at
// its rate rather than bursting.
//
// # Replies first
//
// Conversation replies never wait behind a campaign. Three rules make that hold:
//
//  1. The sender asks for the conversation lane first, every round, and asks for the
//     campaign lane only when no reply is waiting for tokens.
//  2. Headroom: a campaign reservation must leave ConversationReserve() total tokens
//     in the bucket (a tenth of a second's worth, at least one and at most burst-1).
//     Campaigns therefore never drain the total bucket: a reply (or a burst of up to
//     the headroom) that arrives while a campaign runs at full speed finds tokens and
//     leaves at once. In steady state this costs campaigns no throughput (they get
//     every token that replies do not use); under sustained reply load at or above the
//     total rate, campaigns get nothing.
//  3. SetConversationPending(true) tells the pacer that replies are waiting. While it is
//     set, a campaign reservation needs a full total bucket: as long as replies consume
//     tokens the bucket is never full and campaigns wait; when the pending replies are
//     held up by something else (their recipients' pair rate), the bucket fills and
//     campaigns go on, so a forgotten flag slows campaigns but never stops them.
//
// Only a number whose total rate is 1 msg/s has no room for headroom (burst 1); there
// a campaign can delay a reply by at most one token interval, and only if rule 1 is
// ignored.
//
// # Waits
//
// A refused reservation returns how long until it could succeed, assuming nobody else
// takes tokens meanwhile: the largest of the waits of every bucket involved. The wait
// of a busy recipient concerns that recipient only, so the caller skips it and serves
// others: one busy recipient never blocks the others. Forever means never (a closed
// lane); callers compare against it rather than adding it to a time.
package pace
