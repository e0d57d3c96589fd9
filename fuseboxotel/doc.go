// Package fuseboxotel exports what Fusebox's policies do to OpenTelemetry:
// metrics read from the policies' snapshots, a latency histogram, and span
// events and per-attempt spans on the traces of the calls.
//
// It lives in a module of its own, github.com/fusebox-go/fusebox/fuseboxotel,
// so that the core module does not depend on OpenTelemetry. It uses only the
// OpenTelemetry API: pass a metric.Meter and a trace.Tracer from the
// providers the program set up (ScopeName is the scope name to get them
// with); the SDK, its readers and exporters are the program's choice.
//
// # Metrics from snapshots
//
// NewMetrics registers observable instruments and one callback that reads
// each source's Snapshot when a reader collects: watching a policy adds
// nothing to its calls. Sources are made with Watch (a policy, a pipeline, a
// bulkhead pool or fallback cache) and WatchRegistry (every member of a
// registry, keyed):
//
//	m, err := fuseboxotel.NewMetrics(meter,
//		fuseboxotel.Watch("", paymentsBreaker), // "": the breaker's own name
//		fuseboxotel.Watch("search", searchPipeline),
//		fuseboxotel.WatchRegistry("hosts", perHostBreakers),
//	)
//	defer m.Close()
//
// Every measurement carries AttrPolicyName ("fusebox.policy.name"), plus
// AttrPolicyKey ("fusebox.policy.key") for a registry member and
// AttrPolicyLayer ("fusebox.policy.layer", 0 = outermost) for a pipeline's
// layer. Counters are cumulative since the policy was made; gauges and
// up-down counters are current values. The instruments, following the
// semantic conventions' style (dotted lowercase names, UCUM units, "{thing}"
// for counts):
//
//	fusebox.breaker.state            gauge    1       1 for the current fusebox.state, 0 for the others (one series per state)
//	fusebox.breaker.calls            counter  {call}  judged calls by fusebox.outcome: success, failure, ignored
//	fusebox.breaker.slow_calls       counter  {call}
//	fusebox.breaker.rejections       counter  {call}
//	fusebox.breaker.transitions      counter  {transition}
//	fusebox.breaker.late_outcomes    counter  {outcome}
//	fusebox.breaker.window.calls     gauge    {call}  calls in the current window
//	fusebox.breaker.failure_rate     gauge    1       over the current window
//	fusebox.breaker.slow_call_rate   gauge    1
//	fusebox.bulkhead.in_flight       updown   {call}  (a pool: busy workers)
//	fusebox.bulkhead.queued          updown   {call}
//	fusebox.bulkhead.limit           updown   {call}  (a pool: workers)
//	fusebox.bulkhead.queue.limit     updown   {call}
//	fusebox.bulkhead.admitted        counter  {call}
//	fusebox.bulkhead.rejections      counter  {call}  by fusebox.reason: full, queue_timeout
//	fusebox.bulkhead.canceled        counter  {call}
//	fusebox.bulkhead.queue.wait      counter  s       total time spent queued
//	fusebox.ratelimit.allowed        counter  {call}
//	fusebox.ratelimit.rejections     counter  {call}
//	fusebox.ratelimit.tokens         gauge    {token} token bucket
//	fusebox.ratelimit.window.estimate gauge   {call}  sliding-window limiter
//	fusebox.ratelimit.keys           updown   {key}   keyed limiter
//	fusebox.ratelimit.evictions      counter  {key}   by fusebox.reason: idle, capacity
//	fusebox.retry.calls              counter  {call}
//	fusebox.retry.attempts           counter  {attempt} first attempts included
//	fusebox.retry.recovered          counter  {call}  succeeded on a retry
//	fusebox.retry.exhausted          counter  {call}
//	fusebox.retry.budget.rejections  counter  {call}
//	fusebox.retry.budget.requests    gauge    {request} (a retry.Budget, current window)
//	fusebox.retry.budget.retries     gauge    {retry}
//	fusebox.retry.budget.allowed     gauge    {retry}
//	fusebox.retry.budget.refused     counter  {retry}
//	fusebox.hedge.calls              counter  {call}
//	fusebox.hedge.hedges             counter  {attempt}
//	fusebox.hedge.wins               counter  {call}
//	fusebox.hedge.budget.denials     counter  {attempt}
//	fusebox.hedge.delay              gauge    s
//	fusebox.timeout.calls            counter  {call}
//	fusebox.timeout.timeouts         counter  {call}
//	fusebox.fallback.calls           counter  {call}
//	fusebox.fallback.failures        counter  {call}
//	fusebox.fallback.served          counter  {call}
//	fusebox.fallback.errors          counter  {call}
//	fusebox.fallback.cache.entries   updown   {entry}
//	fusebox.fallback.cache.lookups   counter  {lookup} by fusebox.cache.result: hit, stale_hit, miss
//	fusebox.fallback.cache.fetches   counter  {fetch}
//	fusebox.fallback.cache.fetch_errors counter {fetch}
//	fusebox.fallback.cache.degraded  counter  {lookup}
//	fusebox.fallback.cache.evictions counter  {entry}
//	fusebox.registry.keys            updown   {key}
//	fusebox.registry.created         counter  {key}
//	fusebox.registry.evictions       counter  {key}
//
// # Latency
//
// Snapshots hold counts, not durations. A LatencyPolicy, placed in a
// pipeline, records each call's duration in seconds in the histogram
// fusebox.call.duration (unit "s") with AttrOutcome: success, failure,
// ignored (the caller gave up) or rejected (a policy inside refused the
// call, so its duration is no latency of the dependency). Outermost it
// measures what the caller waited; inside a retry, each attempt. The
// histogram is one per meter, so its buckets (WithBuckets) are too: every
// LatencyPolicy of a meter must ask for the same ones, or NewLatencyPolicy
// returns an error.
//
// CountEvents adds the counter fusebox.events from an events bus: which
// transitions happened (fusebox.state.from, fusebox.state.to), which
// rejections, retries and fallbacks.
//
// # Traces
//
// The events bus cannot feed traces: an event says which policy did what,
// but not for which call, since it carries no context, and it is delivered
// later, from another goroutine, when the call's span may have ended. So
// this package does not bridge events to spans. What reaches a trace comes
// from policies that run in the call, with its context:
//
//   - A TracingPolicy adds span events to the call's current span for what
//     the call's error tells: a rejection (fusebox.rejected, with
//     fusebox.reason), a retry policy that gave up
//     (fusebox.retries_exhausted, with the attempts made) or a timeout
//     (fusebox.timeout). With WithBreaker, it also adds
//     fusebox.breaker.state_change when a watched breaker's state is not
//     what it was when the call started: the transition is reported on
//     every call that saw it happen, the one that caused it among them, and
//     a round trip within one call (open, half-open, closed again) is not
//     seen. A fallback hides the error it answers: place the TracingPolicy
//     inside the fallback to see what the fallback answered for.
//   - Its companion, TracingPolicy.Attempt, placed inside a retry or a
//     hedge, starts a child span per attempt, "<name> attempt", with the
//     attempt's number (fusebox.attempt) and outcome, recording its error.
//     The waits between attempts show as the gaps between their spans.
//
// Neither starts a root span: without a span in the context they only run
// the call.
package fuseboxotel
