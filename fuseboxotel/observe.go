package fuseboxotel

import (
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/bulkhead"
	"github.com/fusebox-go/fusebox/fallback"
	"github.com/fusebox-go/fusebox/hedge"
	"github.com/fusebox-go/fusebox/ratelimit"
	"github.com/fusebox-go/fusebox/registry"
	"github.com/fusebox-go/fusebox/retry"
	"github.com/fusebox-go/fusebox/timeout"
)

// observer turns snapshots into observations during one collection.
type observer struct {
	o  metric.Observer
	in *instruments
}

// with returns the measurement option of base plus extra, copying base so
// callers can keep reusing it.
func with(base []attribute.KeyValue, extra ...attribute.KeyValue) metric.ObserveOption {
	kv := make([]attribute.KeyValue, 0, len(base)+len(extra))
	kv = append(append(kv, base...), extra...)
	return metric.WithAttributes(kv...)
}

func (ob observer) int(i metric.Int64Observable, v int64, base []attribute.KeyValue, extra ...attribute.KeyValue) {
	ob.o.ObserveInt64(i, v, with(base, extra...))
}

func (ob observer) uint(i metric.Int64Observable, v uint64, base []attribute.KeyValue, extra ...attribute.KeyValue) {
	ob.int(i, clamp(v), base, extra...)
}

func (ob observer) float(i metric.Float64Observable, v float64, base []attribute.KeyValue, extra ...attribute.KeyValue) {
	ob.o.ObserveFloat64(i, v, with(base, extra...))
}

// clamp converts a counter to int64, saturating instead of wrapping.
func clamp(v uint64) int64 {
	if v > 1<<63-1 {
		return 1<<63 - 1
	}
	return int64(v)
}

// snapshot observes one snapshot with the attributes base. A []any (a
// pipeline's layers) is observed layer by layer with AttrPolicyLayer;
// snapshots of unknown types are skipped.
func (ob observer) snapshot(base []attribute.KeyValue, snap any) {
	in := ob.in
	switch s := snap.(type) {
	case []any:
		for i, l := range s {
			ob.snapshot(append(base[:len(base):len(base)], AttrPolicyLayer.Int(i)), l)
		}
	case breaker.Snapshot:
		for _, st := range breaker.States {
			v := int64(0)
			if st == s.State {
				v = 1
			}
			ob.int(in.breakerState, v, base, AttrState.String(st.String()))
		}
		succ := uint64(0)
		if s.TotalCalls > s.TotalFailures {
			succ = s.TotalCalls - s.TotalFailures
		}
		ob.uint(in.breakerCalls, succ, base, AttrOutcome.String(OutcomeSuccess))
		ob.uint(in.breakerCalls, s.TotalFailures, base, AttrOutcome.String(OutcomeFailure))
		ob.uint(in.breakerCalls, s.TotalIgnored, base, AttrOutcome.String(OutcomeIgnored))
		ob.uint(in.breakerSlowCalls, s.TotalSlowCalls, base)
		ob.uint(in.breakerRejections, s.Rejections, base)
		ob.uint(in.breakerTransitions, s.Transitions, base)
		ob.uint(in.breakerLateOutcomes, s.LateOutcomes, base)
		ob.uint(in.breakerWindowCalls, s.Calls, base)
		ob.float(in.breakerFailureRate, s.FailureRate, base)
		ob.float(in.breakerSlowCallRate, s.SlowCallRate, base)
	case bulkhead.Snapshot:
		ob.int(in.bulkheadInFlight, int64(s.InFlight), base)
		ob.int(in.bulkheadQueued, int64(s.Queued), base)
		ob.int(in.bulkheadLimit, int64(s.MaxConcurrent), base)
		ob.int(in.bulkheadQueueLimit, int64(s.MaxQueue), base)
		ob.uint(in.bulkheadAdmitted, s.Admitted, base)
		ob.uint(in.bulkheadRejections, s.Rejected, base, AttrReason.String("full"))
		ob.uint(in.bulkheadRejections, s.QueueTimeouts, base, AttrReason.String("queue_timeout"))
		ob.uint(in.bulkheadCanceled, s.Canceled, base)
		ob.float(in.bulkheadQueueWait, s.QueueWait.Seconds(), base)
	case bulkhead.PoolSnapshot:
		ob.int(in.bulkheadInFlight, int64(s.Busy), base)
		ob.int(in.bulkheadQueued, int64(s.Queued), base)
		ob.int(in.bulkheadLimit, int64(s.Workers), base)
		ob.int(in.bulkheadQueueLimit, int64(s.QueueSize), base)
		ob.uint(in.bulkheadAdmitted, s.Submitted, base)
		ob.uint(in.bulkheadRejections, s.Rejected, base, AttrReason.String("full"))
		ob.uint(in.bulkheadCanceled, s.Withdrawn, base)
	case ratelimit.Snapshot:
		ob.uint(in.limiterAllowed, s.Allowed, base)
		ob.uint(in.limiterRejections, s.Rejected, base)
		ob.float(in.limiterTokens, s.Tokens, base)
	case ratelimit.WindowSnapshot:
		ob.uint(in.limiterAllowed, s.Allowed, base)
		ob.uint(in.limiterRejections, s.Rejected, base)
		ob.float(in.limiterEstimate, s.Estimate, base)
	case ratelimit.KeyedSnapshot:
		ob.uint(in.limiterAllowed, s.Allowed, base)
		ob.uint(in.limiterRejections, s.Rejected, base)
		ob.int(in.limiterKeys, int64(s.Keys), base)
		ob.uint(in.limiterEvictions, s.IdleEvictions, base, AttrReason.String("idle"))
		ob.uint(in.limiterEvictions, s.CapacityEvictions, base, AttrReason.String("capacity"))
	case retry.Snapshot:
		ob.int(in.retryCalls, s.Calls, base)
		ob.int(in.retryAttempts, s.Attempts, base)
		ob.int(in.retryRecovered, s.SuccessesAfterRetry, base)
		ob.int(in.retryExhausted, s.Exhausted, base)
		ob.int(in.retryBudgetRejections, s.BudgetRejections, base)
	case retry.BudgetSnapshot:
		ob.int(in.budgetRequests, s.Requests, base)
		ob.int(in.budgetRetries, s.Retries, base)
		ob.float(in.budgetAllowed, s.Allowed, base)
		ob.int(in.budgetRefused, s.Refused, base)
	case hedge.Snapshot:
		ob.uint(in.hedgeCalls, s.Calls, base)
		ob.uint(in.hedgeHedges, s.Hedges, base)
		ob.uint(in.hedgeWins, s.HedgeWins, base)
		ob.uint(in.hedgeDenials, s.BudgetDenials, base)
		ob.float(in.hedgeDelay, s.Delay.Seconds(), base)
	case timeout.Snapshot:
		ob.uint(in.timeoutCalls, s.Calls, base)
		ob.uint(in.timeoutTimeouts, s.Timeouts, base)
	case fallback.Snapshot:
		ob.uint(in.fallbackCalls, s.Calls, base)
		ob.uint(in.fallbackFailures, s.Failures, base)
		ob.uint(in.fallbackServed, s.Fallbacks, base)
		ob.uint(in.fallbackErrors, s.FallbackErrors, base)
	case fallback.CacheSnapshot:
		ob.int(in.cacheEntries, int64(s.Entries), base)
		ob.uint(in.cacheLookups, s.Hits, base, AttrCacheResult.String("hit"))
		ob.uint(in.cacheLookups, s.StaleHits, base, AttrCacheResult.String("stale_hit"))
		ob.uint(in.cacheLookups, s.Misses, base, AttrCacheResult.String("miss"))
		ob.uint(in.cacheFetches, s.Fetches, base)
		ob.uint(in.cacheFetchErrors, s.FetchErrors, base)
		ob.uint(in.cacheDegraded, s.Degraded, base)
		ob.uint(in.cacheEvictions, s.Evictions, base)
	}
}

// registry observes a registry's own counters.
func (ob observer) registry(base []attribute.KeyValue, s registry.Stats) {
	ob.int(ob.in.registryKeys, int64(s.Keys), base)
	ob.uint(ob.in.registryCreated, s.Created, base)
	ob.uint(ob.in.registryEvictions, s.Evicted, base)
}
