package fuseboxotel

import (
	"fmt"

	"go.opentelemetry.io/otel/metric"
)

// instruments are the observable instruments of NewMetrics. The list of
// names, units and meanings is in the package documentation; keep both in
// step.
type instruments struct {
	all []metric.Observable

	breakerState, breakerWindowCalls                                            metric.Int64ObservableGauge
	breakerCalls, breakerSlowCalls, breakerRejections                           metric.Int64ObservableCounter
	breakerTransitions, breakerLateOutcomes                                     metric.Int64ObservableCounter
	breakerFailureRate, breakerSlowCallRate                                     metric.Float64ObservableGauge
	bulkheadInFlight, bulkheadQueued, bulkheadLimit, bulkheadQueueLimit         metric.Int64ObservableUpDownCounter
	bulkheadAdmitted, bulkheadRejections, bulkheadCanceled                      metric.Int64ObservableCounter
	bulkheadQueueWait                                                           metric.Float64ObservableCounter
	limiterAllowed, limiterRejections, limiterEvictions                         metric.Int64ObservableCounter
	limiterTokens, limiterEstimate                                              metric.Float64ObservableGauge
	limiterKeys                                                                 metric.Int64ObservableUpDownCounter
	retryCalls, retryAttempts, retryRecovered, retryExhausted                   metric.Int64ObservableCounter
	retryBudgetRejections, budgetRefused                                        metric.Int64ObservableCounter
	budgetRequests, budgetRetries                                               metric.Int64ObservableGauge
	budgetAllowed                                                               metric.Float64ObservableGauge
	hedgeCalls, hedgeHedges, hedgeWins, hedgeDenials                            metric.Int64ObservableCounter
	hedgeDelay                                                                  metric.Float64ObservableGauge
	timeoutCalls, timeoutTimeouts                                               metric.Int64ObservableCounter
	fallbackCalls, fallbackFailures, fallbackServed, fallbackErrors             metric.Int64ObservableCounter
	cacheLookups, cacheFetches, cacheFetchErrors, cacheDegraded, cacheEvictions metric.Int64ObservableCounter
	cacheEntries                                                                metric.Int64ObservableUpDownCounter
	registryCreated, registryEvictions                                          metric.Int64ObservableCounter
	registryKeys                                                                metric.Int64ObservableUpDownCounter
}

// builder creates instruments on a meter, keeping the first error.
type builder struct {
	m   metric.Meter
	err error
	all []metric.Observable
}

func (b *builder) fail(name string, err error) {
	if err != nil && b.err == nil {
		b.err = fmt.Errorf("fuseboxotel: %s: %w", name, err)
	}
}

func (b *builder) counter(name, unit, desc string) metric.Int64ObservableCounter {
	i, err := b.m.Int64ObservableCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
	b.fail(name, err)
	b.all = append(b.all, i)
	return i
}

func (b *builder) fcounter(name, unit, desc string) metric.Float64ObservableCounter {
	i, err := b.m.Float64ObservableCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
	b.fail(name, err)
	b.all = append(b.all, i)
	return i
}

func (b *builder) updown(name, unit, desc string) metric.Int64ObservableUpDownCounter {
	i, err := b.m.Int64ObservableUpDownCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
	b.fail(name, err)
	b.all = append(b.all, i)
	return i
}

func (b *builder) gauge(name, unit, desc string) metric.Int64ObservableGauge {
	i, err := b.m.Int64ObservableGauge(name, metric.WithUnit(unit), metric.WithDescription(desc))
	b.fail(name, err)
	b.all = append(b.all, i)
	return i
}

func (b *builder) fgauge(name, unit, desc string) metric.Float64ObservableGauge {
	i, err := b.m.Float64ObservableGauge(name, metric.WithUnit(unit), metric.WithDescription(desc))
	b.fail(name, err)
	b.all = append(b.all, i)
	return i
}

func newInstruments(m metric.Meter) (*instruments, error) {
	b := &builder{m: m}
	in := &instruments{}

	in.breakerState = b.gauge("fusebox.breaker.state", "1", "Circuit breaker state: 1 for the state the breaker is in (fusebox.state), 0 for the others.")
	in.breakerCalls = b.counter("fusebox.breaker.calls", "{call}", "Calls a circuit breaker judged, by fusebox.outcome (success, failure, ignored).")
	in.breakerSlowCalls = b.counter("fusebox.breaker.slow_calls", "{call}", "Calls slower than the breaker's slow-call duration.")
	in.breakerRejections = b.counter("fusebox.breaker.rejections", "{call}", "Calls a circuit breaker rejected.")
	in.breakerTransitions = b.counter("fusebox.breaker.transitions", "{transition}", "State transitions of a circuit breaker.")
	in.breakerLateOutcomes = b.counter("fusebox.breaker.late_outcomes", "{outcome}", "Outcomes dropped because they belonged to an earlier state.")
	in.breakerWindowCalls = b.gauge("fusebox.breaker.window.calls", "{call}", "Calls in the breaker's current window (what its rates are computed over).")
	in.breakerFailureRate = b.fgauge("fusebox.breaker.failure_rate", "1", "Failure rate over the breaker's current window.")
	in.breakerSlowCallRate = b.fgauge("fusebox.breaker.slow_call_rate", "1", "Slow-call rate over the breaker's current window.")

	in.bulkheadInFlight = b.updown("fusebox.bulkhead.in_flight", "{call}", "Calls holding a bulkhead slot (busy workers of a pool).")
	in.bulkheadQueued = b.updown("fusebox.bulkhead.queued", "{call}", "Calls waiting in a bulkhead's queue.")
	in.bulkheadLimit = b.updown("fusebox.bulkhead.limit", "{call}", "Slots of a bulkhead (workers of a pool).")
	in.bulkheadQueueLimit = b.updown("fusebox.bulkhead.queue.limit", "{call}", "Places in a bulkhead's queue.")
	in.bulkheadAdmitted = b.counter("fusebox.bulkhead.admitted", "{call}", "Calls a bulkhead admitted (jobs a pool accepted).")
	in.bulkheadRejections = b.counter("fusebox.bulkhead.rejections", "{call}", "Calls a bulkhead turned away, by fusebox.reason (full, queue_timeout).")
	in.bulkheadCanceled = b.counter("fusebox.bulkhead.canceled", "{call}", "Queued calls whose caller gave up first.")
	in.bulkheadQueueWait = b.fcounter("fusebox.bulkhead.queue.wait", "s", "Total time calls spent in a bulkhead's queue.")

	in.limiterAllowed = b.counter("fusebox.ratelimit.allowed", "{call}", "Calls a rate limiter allowed.")
	in.limiterRejections = b.counter("fusebox.ratelimit.rejections", "{call}", "Calls a rate limiter rejected.")
	in.limiterTokens = b.fgauge("fusebox.ratelimit.tokens", "{token}", "Tokens in a token bucket.")
	in.limiterEstimate = b.fgauge("fusebox.ratelimit.window.estimate", "{call}", "Sliding count of calls of a window limiter.")
	in.limiterKeys = b.updown("fusebox.ratelimit.keys", "{key}", "Keys a keyed rate limiter remembers.")
	in.limiterEvictions = b.counter("fusebox.ratelimit.evictions", "{key}", "Keys a keyed rate limiter forgot, by fusebox.reason (idle, capacity).")

	in.retryCalls = b.counter("fusebox.retry.calls", "{call}", "Calls through a retry policy.")
	in.retryAttempts = b.counter("fusebox.retry.attempts", "{attempt}", "Attempts a retry policy made, first attempts included.")
	in.retryRecovered = b.counter("fusebox.retry.recovered", "{call}", "Calls that succeeded on a retry.")
	in.retryExhausted = b.counter("fusebox.retry.exhausted", "{call}", "Calls a retry policy gave up on (ErrRetriesExhausted).")
	in.retryBudgetRejections = b.counter("fusebox.retry.budget.rejections", "{call}", "Calls whose retry the budget refused (ErrBudgetExhausted).")
	in.budgetRequests = b.gauge("fusebox.retry.budget.requests", "{request}", "Requests in a retry budget's current window.")
	in.budgetRetries = b.gauge("fusebox.retry.budget.retries", "{retry}", "Retries in a retry budget's current window.")
	in.budgetAllowed = b.fgauge("fusebox.retry.budget.allowed", "{retry}", "Retries a retry budget allows in its current window.")
	in.budgetRefused = b.counter("fusebox.retry.budget.refused", "{retry}", "Retries a retry budget refused.")

	in.hedgeCalls = b.counter("fusebox.hedge.calls", "{call}", "Calls through a hedge policy.")
	in.hedgeHedges = b.counter("fusebox.hedge.hedges", "{attempt}", "Hedged attempts started.")
	in.hedgeWins = b.counter("fusebox.hedge.wins", "{call}", "Calls a hedged attempt won.")
	in.hedgeDenials = b.counter("fusebox.hedge.budget.denials", "{attempt}", "Hedges the hedge budget refused.")
	in.hedgeDelay = b.fgauge("fusebox.hedge.delay", "s", "Current delay before a hedge.")

	in.timeoutCalls = b.counter("fusebox.timeout.calls", "{call}", "Calls through a timeout policy.")
	in.timeoutTimeouts = b.counter("fusebox.timeout.timeouts", "{call}", "Calls that ended with the policy's ErrTimeout.")

	in.fallbackCalls = b.counter("fusebox.fallback.calls", "{call}", "Calls through a fallback policy.")
	in.fallbackFailures = b.counter("fusebox.fallback.failures", "{call}", "Calls that failed before any fallback.")
	in.fallbackServed = b.counter("fusebox.fallback.served", "{call}", "Failures a fallback was run for.")
	in.fallbackErrors = b.counter("fusebox.fallback.errors", "{call}", "Fallbacks that failed themselves.")
	in.cacheEntries = b.updown("fusebox.fallback.cache.entries", "{entry}", "Entries a fallback cache holds.")
	in.cacheLookups = b.counter("fusebox.fallback.cache.lookups", "{lookup}", "Lookups of a fallback cache, by fusebox.cache.result (hit, stale_hit, miss).")
	in.cacheFetches = b.counter("fusebox.fallback.cache.fetches", "{fetch}", "Fetches a fallback cache started.")
	in.cacheFetchErrors = b.counter("fusebox.fallback.cache.fetch_errors", "{fetch}", "Fetches of a fallback cache that failed.")
	in.cacheDegraded = b.counter("fusebox.fallback.cache.degraded", "{lookup}", "Lookups answered by a cached value because the fetch failed.")
	in.cacheEvictions = b.counter("fusebox.fallback.cache.evictions", "{entry}", "Entries a fallback cache evicted.")

	in.registryKeys = b.updown("fusebox.registry.keys", "{key}", "Members of a registry.")
	in.registryCreated = b.counter("fusebox.registry.created", "{key}", "Members a registry built.")
	in.registryEvictions = b.counter("fusebox.registry.evictions", "{key}", "Members a registry evicted.")

	in.all = b.all
	if b.err != nil {
		return nil, b.err
	}
	return in, nil
}
