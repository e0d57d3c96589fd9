// Package bulkhead bounds how much of a service one dependency may occupy, so
// that a slow or stuck dependency cannot tie up every goroutine, connection
// or socket of its callers.
//
// It offers two forms:
//
//   - [Bulkhead], a semaphore: at most MaxConcurrent calls run at once in
//     the callers' own goroutines; further callers wait in a bounded FIFO
//     queue (MaxQueue places, at most MaxWait each) or are rejected at once
//     with [ErrBulkheadFull]. It is a [fusebox.Policy], and has a two-step
//     form ([Bulkhead.Acquire] and [Permit.Release]) for code that cannot be
//     wrapped in a function.
//   - [Pool], a fixed set of worker goroutines that run a handler on typed
//     jobs taken from a bounded queue; [Pool.Submit] hands a job over and
//     waits for its result.
//
// Choose the semaphore to cap concurrency around calls that already have a
// goroutine each (request handlers); choose the pool to cap the number of
// goroutines doing some kind of work, or to move work off the caller's
// goroutine.
//
// A bulkhead's rejections are rejections, not dependency failures: a
// bulkhead never judges the outcome of a call, and a policy further out (a
// circuit breaker, say) should not count ErrBulkheadFull against the
// dependency, which was never called. A caller whose context ends while it
// waits in the queue gets the context's error, which [fusebox.Classify]
// treats as Ignored.
//
// Given a [fusebox.Events] bus (Config.Events, PoolConfig.Events), both
// publish what they turn away (EventRejected: "bulkhead full", "queue
// timeout", "pool full", "closed"), and the Bulkhead publishes how long each
// queued caller waited (EventQueueWait). Without a subscriber, events cost
// one atomic load and no allocation.
package bulkhead
