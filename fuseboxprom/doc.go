// Package fuseboxprom exports the state and counters of Fusebox policies
// as Prometheus metrics.
//
// It lives in a module of its own, github.com/fusebox-go/fusebox/fuseboxprom,
// so that the core module does not depend on the Prometheus client.
//
// # Use
//
//	c, err := fuseboxprom.New(fuseboxprom.Config{})
//	c.Add("payments", paymentsBreaker)         // a policy, or a whole pipeline
//	c.AddRegistry("hosts", hostBreakers)       // one series per registry key
//	reg := prometheus.NewRegistry()
//	err = c.Register(reg)
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// A [Collector] reads each policy's Snapshot when it is scraped, and only
// then: it adds nothing to a policy's call path, and a policy added to it
// needs no configuration of its own. Fusebox never registers anything on
// the global prometheus.DefaultRegisterer; you register the Collector where
// you want it.
//
// Call durations are not in any snapshot. To measure them, put a [Latency]
// policy (Collector.NewLatencyPolicy) in the pipeline.
//
// # Metrics
//
// Every metric has the labels name (the name given to Add, or the prefix
// given to AddRegistry) and key (the registry key; empty for Add), and
// nothing else but the two enumerations noted below. Names follow the
// Prometheus conventions: base units (seconds), _total for counters. With
// the default namespace "fusebox":
//
//	fusebox_breaker_state{state}                    gauge, 1 for the current state, 0 for the 5 others
//	fusebox_breaker_calls_total{outcome}            counter, outcome success, failure or ignored
//	fusebox_breaker_slow_calls_total                counter (slow successes and failures alike)
//	fusebox_breaker_rejections_total                counter
//	fusebox_breaker_transitions_total               counter
//	fusebox_breaker_late_outcomes_total             counter
//	fusebox_breaker_failure_ratio                   gauge, 0 to 1, of the current window
//	fusebox_breaker_slow_call_ratio                 gauge, 0 to 1, of the current window
//
//	fusebox_bulkhead_in_flight, _queued             gauges
//	fusebox_bulkhead_max_concurrent, _max_queue     gauges, the limits
//	fusebox_bulkhead_admitted_total                 counter
//	fusebox_bulkhead_rejections_total               counter, rejected at once (full)
//	fusebox_bulkhead_queue_timeouts_total           counter, rejected after the longest wait
//	fusebox_bulkhead_canceled_total                 counter
//	fusebox_bulkhead_queue_wait_seconds_total       counter
//	fusebox_bulkhead_pool_workers, _busy, _queued   gauges (bulkhead.Pool)
//	fusebox_bulkhead_pool_submitted_total, _rejections_total, _completed_total, _panics_total
//
//	fusebox_ratelimit_tokens                        gauge (token bucket)
//	fusebox_ratelimit_window_calls                  gauge (sliding window)
//	fusebox_ratelimit_keys                          gauge (keyed limiter)
//	fusebox_ratelimit_allowed_total, _rejections_total, _key_evictions_total
//
//	fusebox_retry_calls_total, _attempts_total, _retries_total, _successes_after_retry_total,
//	_retries_by_attempt_total{attempt} (attempt 2 to at most 17: bounded by MaxAttempts)
//	fusebox_retry_exhausted_total, _budget_rejections_total
//	fusebox_retry_budget_window_requests, _budget_window_retries, _budget_window_allowed_retries  gauges (retry.Budget)
//	fusebox_retry_budget_refusals_total             counter (retry.Budget)
//
//	fusebox_hedge_calls_total, _hedges_total, _wins_total, _budget_denials_total
//	fusebox_hedge_delay_seconds                     gauge
//	fusebox_timeout_calls_total, _timeouts_total
//	fusebox_timeout_limit_seconds                   gauge
//	fusebox_fallback_calls_total, _failures_total, _runs_total, _errors_total
//	fusebox_fallback_cache_entries                  gauge (fallback.Cache)
//	fusebox_fallback_cache_hits_total, _stale_hits_total, _misses_total, _fetches_total,
//	    _fetch_errors_total, _degraded_total, _evictions_total
//
//	fusebox_call_duration_seconds                   histogram (Latency), classic and native buckets
//
// Breaker calls are split by outcome so that the outcomes add up to the
// calls; slowness is a separate counter because a slow call is also a
// success or a failure.
//
// # Cardinality
//
// The number of series is the number of policies times the number of
// keys: each policy added with Add is one (name, key="") pair, each member
// of a registry added with AddRegistry one (prefix, key) pair, and each
// pair has a fixed number of series for its kind of policy (a breaker 15:
// 6 states, 3 outcomes and 6 others). A registry's evictions bound its
// keys; a registry keyed by something unbounded (a client IP, a URL with
// IDs in it) is unbounded here too. Latency series are one per latency
// policy name, whatever the keys.
package fuseboxprom
