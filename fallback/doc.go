// Package fallback answers for a call that failed: the outermost layer of a
// Fusebox pipeline, which turns a failure or a rejection of everything inside
// it into a degraded but useful result.
//
// A [Policy] runs the rest of the pipeline and, when it fails, runs its
// fallback [Func] and hands the fallback's value to the caller: through
// [fusebox.Next.SetResult], so [fusebox.Do] returns it as the call's value.
// [Static] and [Chain] build the common fallbacks: a constant, and a list of
// alternatives tried in order. A fallback never hides the caller's own
// cancellation: when the caller's context has ended, the call's error comes
// back and no fallback runs.
//
// A [Func] answers an any, whose type is checked against the call's only
// when it runs. The typed forms check it at compile time: a [FuncOf] answers
// a T ([Value] and [ChainOf] are the typed Static and Chain), and
// [NewPipeline] puts one outermost around the inner policies, in a
// [Pipeline] whose Do takes only functions that return a T.
//
// The caller learns that an answer is a fallback's, and for what failure,
// from fusebox.DoAnswer (or Pipeline.DoAnswer); Do's error stays nil. A
// fallback learns what the call was for from its context:
// fusebox.CallKeyFromContext returns the key the caller set with
// fusebox.WithCallKey, or else the call's own (a fuseboxhttp request's key).
//
// A [Cache] keeps the last good results of a call, so that a failure can be
// answered with a recent value instead of an error (stale-if-error), a value
// past its freshness can be served at once while it is refreshed in the
// background (stale-while-revalidate), and concurrent callers of a missing
// key share one fetch. It is a small LRU bounded by a number of entries.
//
// A fallback that panics does not take the caller down: the panic is
// recovered and returned as a [*PanicError] inside an [*Error], which keeps
// the call's own error reachable too.
//
// Given a [fusebox.Events] bus (Config.Events), a Policy publishes an
// EventFallback each time its fallback runs: with the call's error when the
// fallback answered, with Reason "fallback failed" and the [*Error] when it
// did not. A Cache publishes no events.
package fallback
