// Package simulator is a stand-in for Meta's WhatsApp Cloud API on loopback,
// for dev mode, tests and load tests. It serves the Graph endpoints
// Switchboard uses (POST /{version}/{phone-number-id}/messages and
// GET /{version}/{phone-number-id}?fields=…) with Meta's validation, error
// envelope and limits (per-number throughput → 130429, per-recipient pair rate
// → 131056, the 24-hour customer-service window → 131047, restricted numbers →
// 131048, unique-recipient messaging limits counted but not enforced, as Meta
// does), and sends signed webhooks (statuses, inbound messages, quality and
// account updates) with retries and optional duplicates.
//
// A JSON control API under /_sim/ registers numbers, injects inbound traffic,
// flips quality or restricts a number now or later, and reads counters. A
// scenario file (YAML or JSON) does the same at start. Everything random
// (message IDs, user IDs, duplicate choices) is derived from Config.Seed, and
// time comes from Config.Clock, so tests can use a FakeClock.
package simulator
