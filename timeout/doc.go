// Package timeout bounds how long one call may take: the per-attempt timeout
// of a Fusebox pipeline.
//
// A [Policy] derives a context with its deadline and runs the rest of the
// pipeline synchronously in the caller's goroutine. Nothing is started in the
// background, so nothing is abandoned: when the deadline passes the call's
// context is canceled, and the call returns when the function notices. A
// function that ignores its context therefore runs to its end; the policy
// bounds cooperative work, it cannot stop a function that does not listen.
//
// Two deadlines are told apart. When the policy's own deadline passed while
// the caller's context was still live, Run returns an [*Error] that matches
// [ErrTimeout] (a Failure for every policy outside it) and keeps the
// function's error reachable. When the caller's own deadline or cancellation
// came first, Run returns the function's error unchanged, which
// [fusebox.Classify] reports as Ignored: the caller gave up, the dependency
// did not fail. When the caller's deadline is already earlier than the
// policy's would be, the caller's deadline governs and the policy derives no
// context at all.
//
// In a pipeline, put the timeout inside the retry so that it bounds each
// attempt, and a second one outermost to bound the whole call:
//
//	fallback → deadline → bulkhead → breaker → retry → timeout → hedge → fn
//
// The policy's deadline contexts are cheap: time comes from a coarse clock
// and no timer is armed until someone waits on Done. [NewContext] makes the
// same kind of context outside a policy, in place of context.WithTimeout on
// a hot path (fuseboxhttp's Deadline middleware uses it for every request).
//
// Given a [fusebox.Events] bus (Config.Events), the policy publishes an
// EventTimeout, with the timeout as Delay, for each call its own deadline
// ended; the caller's deadline publishes nothing.
package timeout
