package fuseboxprom

import (
	"github.com/prometheus/client_golang/prometheus"
	"strconv"

	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/bulkhead"
	"github.com/fusebox-go/fusebox/fallback"
	"github.com/fusebox-go/fusebox/hedge"
	"github.com/fusebox-go/fusebox/ratelimit"
	"github.com/fusebox-go/fusebox/retry"
	"github.com/fusebox-go/fusebox/timeout"
)

// labels are the labels of every metric: the name a policy was added
// under, and its registry key (empty for a policy added with Add).
var labels = []string{"name", "key"}

// Outcome label values of breaker_calls_total.
const (
	outcomeSuccess = "success"
	outcomeFailure = "failure"
	outcomeIgnored = "ignored"
)

// kind is a group of metric families that one policy of a pipeline or a
// registry member exports; two policies of one kind would export the same
// series twice.
type kind uint16

const (
	kindBreaker kind = 1 << iota
	kindBulkhead
	kindPool
	kindRatelimit
	kindRetry
	kindBudget
	kindHedge
	kindTimeout
	kindFallback
	kindCache
)

// kinds is a set of kinds.
type kinds kind

// first adds k to s and reports whether it was not there yet.
func (s *kinds) first(k kind) bool {
	if kind(*s)&k != 0 {
		return false
	}
	*s |= kinds(k)
	return true
}

// descs are the descriptors of the metrics read from snapshots.
type descs struct {
	all []*prometheus.Desc

	breakerState, breakerCalls, breakerSlowCalls, breakerRejections, breakerTransitions,
	breakerLate, breakerFailureRatio, breakerSlowCallRatio *prometheus.Desc

	bulkheadInFlight, bulkheadQueued, bulkheadMaxConcurrent, bulkheadMaxQueue, bulkheadAdmitted,
	bulkheadRejections, bulkheadQueueTimeouts, bulkheadCanceled, bulkheadQueueWait *prometheus.Desc

	poolWorkers, poolBusy, poolQueued, poolSubmitted, poolRejections, poolCompleted, poolPanics *prometheus.Desc

	rlTokens, rlWindowCalls, rlKeys, rlAllowed, rlRejections, rlEvictions *prometheus.Desc

	retryCalls, retryAttempts, retryRetries, retrySuccessesAfterRetry, retryExhausted, retryBudgetRejections *prometheus.Desc
	retryByAttempt                                                                                           *prometheus.Desc

	budgetRequests, budgetRetries, budgetAllowed, budgetRefused *prometheus.Desc

	hedgeCalls, hedgeHedges, hedgeWins, hedgeBudgetDenials, hedgeDelay *prometheus.Desc

	timeoutCalls, timeoutTimeouts, timeoutLimit *prometheus.Desc

	fallbackCalls, fallbackFailures, fallbackRuns, fallbackErrors *prometheus.Desc

	cacheEntries, cacheHits, cacheStaleHits, cacheMisses, cacheFetches, cacheFetchErrors, cacheDegraded, cacheEvictions *prometheus.Desc
}

func newDescs(ns string) descs {
	var d descs
	mk := func(subsystem, name, help string, extra ...string) *prometheus.Desc {
		desc := prometheus.NewDesc(prometheus.BuildFQName(ns, subsystem, name), help, append(append([]string(nil), labels...), extra...), nil)
		d.all = append(d.all, desc)
		return desc
	}

	d.breakerState = mk("breaker", "state", "Circuit breaker state: 1 for the current state, 0 for the others.", "state")
	d.breakerCalls = mk("breaker", "calls_total", "Calls whose outcome a circuit breaker recorded, by outcome (success, failure, ignored).", "outcome")
	d.breakerSlowCalls = mk("breaker", "slow_calls_total", "Calls a circuit breaker recorded as slow (successes and failures alike).")
	d.breakerRejections = mk("breaker", "rejections_total", "Calls a circuit breaker rejected (open, forced open, or half-open with every probe slot taken).")
	d.breakerTransitions = mk("breaker", "transitions_total", "State transitions of a circuit breaker.")
	d.breakerLate = mk("breaker", "late_outcomes_total", "Outcomes a circuit breaker dropped because they belonged to an earlier state.")
	d.breakerFailureRatio = mk("breaker", "failure_ratio", "Failures per call in a circuit breaker's current window (0 to 1).")
	d.breakerSlowCallRatio = mk("breaker", "slow_call_ratio", "Slow calls per call in a circuit breaker's current window (0 to 1).")

	d.bulkheadInFlight = mk("bulkhead", "in_flight", "Calls holding a bulkhead slot.")
	d.bulkheadQueued = mk("bulkhead", "queued", "Calls waiting in a bulkhead's queue.")
	d.bulkheadMaxConcurrent = mk("bulkhead", "max_concurrent", "A bulkhead's slots: the most calls in flight at once.")
	d.bulkheadMaxQueue = mk("bulkhead", "max_queue", "A bulkhead's queue places.")
	d.bulkheadAdmitted = mk("bulkhead", "admitted_total", "Calls a bulkhead admitted, at once or after queueing.")
	d.bulkheadRejections = mk("bulkhead", "rejections_total", "Calls a bulkhead rejected at once, every slot and queue place being taken.")
	d.bulkheadQueueTimeouts = mk("bulkhead", "queue_timeouts_total", "Calls a bulkhead rejected after they waited the longest wait in its queue.")
	d.bulkheadCanceled = mk("bulkhead", "canceled_total", "Queued calls whose caller's context ended before a slot came free.")
	d.bulkheadQueueWait = mk("bulkhead", "queue_wait_seconds_total", "Time calls spent in a bulkhead's queue, in seconds.")

	d.poolWorkers = mk("bulkhead", "pool_workers", "A worker pool's workers.")
	d.poolBusy = mk("bulkhead", "pool_busy", "A worker pool's workers running a job.")
	d.poolQueued = mk("bulkhead", "pool_queued", "Jobs waiting in a worker pool's queue.")
	d.poolSubmitted = mk("bulkhead", "pool_submitted_total", "Jobs a worker pool accepted.")
	d.poolRejections = mk("bulkhead", "pool_rejections_total", "Jobs a worker pool rejected, its queue being full.")
	d.poolCompleted = mk("bulkhead", "pool_completed_total", "Jobs a worker pool's workers finished.")
	d.poolPanics = mk("bulkhead", "pool_panics_total", "Jobs whose handler panicked.")

	d.rlTokens = mk("ratelimit", "tokens", "Tokens in a token bucket.")
	d.rlWindowCalls = mk("ratelimit", "window_calls", "A sliding-window limiter's estimate of the calls in its current window.")
	d.rlKeys = mk("ratelimit", "keys", "Keys a keyed rate limiter remembers.")
	d.rlAllowed = mk("ratelimit", "allowed_total", "Calls a rate limiter allowed.")
	d.rlRejections = mk("ratelimit", "rejections_total", "Calls a rate limiter rejected.")
	d.rlEvictions = mk("ratelimit", "key_evictions_total", "Keys a keyed rate limiter forgot, idle or to stay within its key cap.")

	d.retryCalls = mk("retry", "calls_total", "Calls run by a retry policy.")
	d.retryAttempts = mk("retry", "attempts_total", "Attempts made by a retry policy, first attempts included.")
	d.retryRetries = mk("retry", "retries_total", "Attempts after the first made by a retry policy.")
	d.retryByAttempt = mk("retry", "retries_by_attempt_total", "Retries by attempt number (2 for the first retry); bounded by the policy's MaxAttempts, at most 16 values, the last counting every later attempt too.", "attempt")
	d.retrySuccessesAfterRetry = mk("retry", "successes_after_retry_total", "Calls that succeeded on a retry.")
	d.retryExhausted = mk("retry", "exhausted_total", "Calls that failed after the last attempt a retry policy allows.")
	d.retryBudgetRejections = mk("retry", "budget_rejections_total", "Calls that ended because the retry budget refused a retry.")

	d.budgetRequests = mk("retry", "budget_window_requests", "Requests in a retry budget's current window.")
	d.budgetRetries = mk("retry", "budget_window_retries", "Retries in a retry budget's current window.")
	d.budgetAllowed = mk("retry", "budget_window_allowed_retries", "Retries a retry budget's current window allows.")
	d.budgetRefused = mk("retry", "budget_refusals_total", "Retries a retry budget refused.")

	d.hedgeCalls = mk("hedge", "calls_total", "Calls run by a hedge policy.")
	d.hedgeHedges = mk("hedge", "hedges_total", "Extra attempts a hedge policy started.")
	d.hedgeWins = mk("hedge", "wins_total", "Calls an extra attempt won.")
	d.hedgeBudgetDenials = mk("hedge", "budget_denials_total", "Extra attempts a hedge policy's budget refused.")
	d.hedgeDelay = mk("hedge", "delay_seconds", "A hedge policy's current delay before an extra attempt, in seconds.")

	d.timeoutCalls = mk("timeout", "calls_total", "Calls run by a timeout policy.")
	d.timeoutTimeouts = mk("timeout", "timeouts_total", "Calls a timeout policy ended with its own timeout.")
	d.timeoutLimit = mk("timeout", "limit_seconds", "A timeout policy's timeout, in seconds.")

	d.fallbackCalls = mk("fallback", "calls_total", "Calls run by a fallback policy.")
	d.fallbackFailures = mk("fallback", "failures_total", "Calls that failed before any fallback.")
	d.fallbackRuns = mk("fallback", "runs_total", "Failures a fallback was run for.")
	d.fallbackErrors = mk("fallback", "errors_total", "Fallbacks that failed themselves.")

	d.cacheEntries = mk("fallback", "cache_entries", "Entries a fallback cache holds.")
	d.cacheHits = mk("fallback", "cache_hits_total", "Gets a fallback cache answered with a fresh entry.")
	d.cacheStaleHits = mk("fallback", "cache_stale_hits_total", "Gets a fallback cache answered with a stale entry while refreshing it.")
	d.cacheMisses = mk("fallback", "cache_misses_total", "Gets that waited for a fetch.")
	d.cacheFetches = mk("fallback", "cache_fetches_total", "Fetches a fallback cache started, background refreshes included.")
	d.cacheFetchErrors = mk("fallback", "cache_fetch_errors_total", "Fetches that failed or panicked.")
	d.cacheDegraded = mk("fallback", "cache_degraded_total", "Gets answered with a cached value because the fetch failed.")
	d.cacheEvictions = mk("fallback", "cache_evictions_total", "Entries a fallback cache evicted to respect its size.")
	return d
}

// emit sends the metrics of one snapshot. seen holds the kinds already sent
// for this name and key: a second policy of a kind is skipped, since its
// series would repeat the first's and fail the registry's Gather. A []any
// (a pipeline member of a registry, or a Snapshotter's layers) is emitted
// element by element; an unknown value sends nothing.
func (d *descs) emit(ch chan<- prometheus.Metric, name, key string, snap any, seen *kinds) {
	counter := func(desc *prometheus.Desc, v uint64, extra ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(v), append([]string{name, key}, extra...)...)
	}
	gauge := func(desc *prometheus.Desc, v float64, extra ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, append([]string{name, key}, extra...)...)
	}
	switch s := snap.(type) {
	case []any:
		for _, e := range s {
			d.emit(ch, name, key, e, seen)
		}

	case breaker.Snapshot:
		if !seen.first(kindBreaker) {
			return
		}
		for _, st := range breaker.States {
			v := 0.0
			if st == s.State {
				v = 1
			}
			gauge(d.breakerState, v, st.String())
		}
		success := uint64(0)
		if s.TotalCalls > s.TotalFailures { // read one by one: guard the difference
			success = s.TotalCalls - s.TotalFailures
		}
		counter(d.breakerCalls, success, outcomeSuccess)
		counter(d.breakerCalls, s.TotalFailures, outcomeFailure)
		counter(d.breakerCalls, s.TotalIgnored, outcomeIgnored)
		counter(d.breakerSlowCalls, s.TotalSlowCalls)
		counter(d.breakerRejections, s.Rejections)
		counter(d.breakerTransitions, s.Transitions)
		counter(d.breakerLate, s.LateOutcomes)
		gauge(d.breakerFailureRatio, s.FailureRate)
		gauge(d.breakerSlowCallRatio, s.SlowCallRate)

	case bulkhead.Snapshot:
		if !seen.first(kindBulkhead) {
			return
		}
		gauge(d.bulkheadInFlight, float64(s.InFlight))
		gauge(d.bulkheadQueued, float64(s.Queued))
		gauge(d.bulkheadMaxConcurrent, float64(s.MaxConcurrent))
		gauge(d.bulkheadMaxQueue, float64(s.MaxQueue))
		counter(d.bulkheadAdmitted, s.Admitted)
		counter(d.bulkheadRejections, s.Rejected)
		counter(d.bulkheadQueueTimeouts, s.QueueTimeouts)
		counter(d.bulkheadCanceled, s.Canceled)
		ch <- prometheus.MustNewConstMetric(d.bulkheadQueueWait, prometheus.CounterValue, s.QueueWait.Seconds(), name, key)

	case bulkhead.PoolSnapshot:
		if !seen.first(kindPool) {
			return
		}
		gauge(d.poolWorkers, float64(s.Workers))
		gauge(d.poolBusy, float64(s.Busy))
		gauge(d.poolQueued, float64(s.Queued))
		counter(d.poolSubmitted, s.Submitted)
		counter(d.poolRejections, s.Rejected)
		counter(d.poolCompleted, s.Completed)
		counter(d.poolPanics, s.Panics)

	case ratelimit.Snapshot:
		if !seen.first(kindRatelimit) {
			return
		}
		gauge(d.rlTokens, s.Tokens)
		counter(d.rlAllowed, s.Allowed)
		counter(d.rlRejections, s.Rejected)

	case ratelimit.WindowSnapshot:
		if !seen.first(kindRatelimit) {
			return
		}
		gauge(d.rlWindowCalls, s.Estimate)
		counter(d.rlAllowed, s.Allowed)
		counter(d.rlRejections, s.Rejected)

	case ratelimit.KeyedSnapshot:
		if !seen.first(kindRatelimit) {
			return
		}
		gauge(d.rlKeys, float64(s.Keys))
		counter(d.rlAllowed, s.Allowed)
		counter(d.rlRejections, s.Rejected)
		counter(d.rlEvictions, s.IdleEvictions+s.CapacityEvictions)

	case retry.Snapshot:
		if !seen.first(kindRetry) {
			return
		}
		counter(d.retryCalls, nonNeg(s.Calls))
		counter(d.retryAttempts, nonNeg(s.Attempts))
		counter(d.retryRetries, nonNeg(s.Retries))
		for i, n := range s.RetriesByAttempt {
			counter(d.retryByAttempt, nonNeg(n), strconv.Itoa(i+2))
		}
		counter(d.retrySuccessesAfterRetry, nonNeg(s.SuccessesAfterRetry))
		counter(d.retryExhausted, nonNeg(s.Exhausted))
		counter(d.retryBudgetRejections, nonNeg(s.BudgetRejections))

	case retry.BudgetSnapshot:
		if !seen.first(kindBudget) {
			return
		}
		gauge(d.budgetRequests, float64(s.Requests))
		gauge(d.budgetRetries, float64(s.Retries))
		gauge(d.budgetAllowed, s.Allowed)
		counter(d.budgetRefused, nonNeg(s.Refused))

	case hedge.Snapshot:
		if !seen.first(kindHedge) {
			return
		}
		counter(d.hedgeCalls, s.Calls)
		counter(d.hedgeHedges, s.Hedges)
		counter(d.hedgeWins, s.HedgeWins)
		counter(d.hedgeBudgetDenials, s.BudgetDenials)
		gauge(d.hedgeDelay, s.Delay.Seconds())

	case timeout.Snapshot:
		if !seen.first(kindTimeout) {
			return
		}
		counter(d.timeoutCalls, s.Calls)
		counter(d.timeoutTimeouts, s.Timeouts)
		gauge(d.timeoutLimit, s.Timeout.Seconds())

	case fallback.Snapshot:
		if !seen.first(kindFallback) {
			return
		}
		counter(d.fallbackCalls, s.Calls)
		counter(d.fallbackFailures, s.Failures)
		counter(d.fallbackRuns, s.Fallbacks)
		counter(d.fallbackErrors, s.FallbackErrors)

	case fallback.CacheSnapshot:
		if !seen.first(kindCache) {
			return
		}
		gauge(d.cacheEntries, float64(s.Entries))
		counter(d.cacheHits, s.Hits)
		counter(d.cacheStaleHits, s.StaleHits)
		counter(d.cacheMisses, s.Misses)
		counter(d.cacheFetches, s.Fetches)
		counter(d.cacheFetchErrors, s.FetchErrors)
		counter(d.cacheDegraded, s.Degraded)
		counter(d.cacheEvictions, s.Evictions)
	}
}

// nonNeg converts a signed counter, which never goes below zero.
func nonNeg(v int64) uint64 {
	if v < 0 {
		return 0
	}
	return uint64(v)
}
