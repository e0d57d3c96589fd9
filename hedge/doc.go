// Package hedge races extra attempts against a slow one: the innermost
// layer of a Fusebox pipeline, for cutting tail latency.
//
// A [Policy] starts the call, and when it has not finished after a delay it
// starts the same call again (a hedge), up to MaxHedges times, one delay
// apart. The first attempt to succeed wins; the others are canceled through
// their context, and Run returns only once every attempt has returned, so no
// goroutine outlives the call and the rest of the pipeline is never used
// after Run returns. When every attempt fails, Run returns the error of the
// last one to finish.
//
// Each attempt has a context of its own, so canceling the losers does not
// reach the winner. The winner's ends when Run returns, unless the attempt
// held it with [fusebox.Hold] for a result still being read (fuseboxhttp
// does so for a response body); then it ends when the hold is released.
//
// The delay is either fixed (Config.Delay) or adaptive: a percentile of the
// latencies of recent winning attempts (95th by default, after Dean and
// Barroso's "The Tail at Scale"), never below MinDelay. A budget bounds the
// hedges to a share of the calls, so that hedging cannot multiply the load on
// a dependency that is slow because it is overloaded.
//
// The first attempt runs in the caller's goroutine; only hedges get their
// own. A call that finishes before the delay starts no goroutine at all; it
// costs 5 allocations (464 bytes on amd64 with Go 1.26, about what
// context.WithTimeout costs): the call's state and its timer callback, the
// first attempt's cancelable context and its cancel function, the timer (see
// BenchmarkRun).
//
// Hedging repeats calls: use it only for idempotent operations.
//
// Given a [fusebox.Events] bus (Config.Events), the policy publishes an
// EventHedge for each hedge it starts (its attempt number and the time since
// the call started) and an EventRejected ("hedge budget exhausted") for each
// hedge the budget refuses. Without a subscriber, events cost one atomic load
// and no allocation.
package hedge
