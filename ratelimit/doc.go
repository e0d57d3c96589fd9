// Package ratelimit bounds how often something may happen: calls to a
// dependency, requests from a client, retries of a job.
//
// It offers three limiters, each a [fusebox.Policy] that rejects with
// [ErrRateLimited]:
//
//   - [Bucket], a token bucket: Rate tokens per second, at most Burst
//     saved up. Most callers want this one. It can also make callers wait
//     for a token ([Bucket.Wait], Config.Wait) instead of rejecting them.
//   - [Window], a sliding-window counter: at most Limit calls in any
//     Window-long span, estimated from the counts of the current and the
//     previous fixed window. Use it when the limit is stated as "N per
//     minute" and a caller must not get a fresh burst at every minute mark.
//   - [Keyed], one token bucket per key (client, tenant, route) with bounded
//     memory: idle keys are forgotten, the number of keys is capped, and a
//     key longer than [MaxKeyLen] bytes is kept as a fixed-size digest, so
//     keys taken from requests cost little whatever their length.
//
// Bucket and Window decide with one compare-and-swap on shared state: no
// lock and no allocation on any call. Keyed takes one short lock on the
// key's shard. All three read time from an injected [clock.Clock], so tests
// drive them with a fake clock; the default, [clock.Default], reads the
// monotonic clock on every call, so the time they see is never behind real
// time, however busy the other goroutines keep the CPUs.
//
// A token bucket (Bucket, or a key's bucket in Keyed) never grants more
// than Rate × period + Burst over any period. It spaces its tokens by whole
// nanoseconds, rounded up, so it may grant less than Rate when 1e9/Rate is
// not a whole number: under 0.1% less up to 1e6 tokens per second, under
// 1% up to 1e7, under 9.1% up to 1e8, and 5e8 for every Rate above 5e8 and
// below 1e9 (see Config.Rate). On the default clock it also never refuses
// a call whose tokens have arrived by real time, however the goroutines are
// scheduled.
//
// A rate limiter never runs the caller's function when it rejects, and never
// judges the function's outcome: ErrRateLimited is a rejection, not a
// dependency failure.
//
// Given a [fusebox.Events] bus (the Events field of each config), every
// limiter publishes an EventRejected (Reason "rate limited"; Keyed adds the
// key) for each call it refuses. Without a subscriber, that costs one
// atomic load and no allocation.
package ratelimit
