package dashboard

import (
	"fmt"
	"strconv"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/bulkhead"
	"github.com/fusebox-go/fusebox/fallback"
	"github.com/fusebox-go/fusebox/hedge"
	"github.com/fusebox-go/fusebox/ratelimit"
	"github.com/fusebox-go/fusebox/registry"
	"github.com/fusebox-go/fusebox/retry"
	"github.com/fusebox-go/fusebox/timeout"
)

// Kinds of policy, as PolicyStatus.Kind names them.
const (
	KindBreaker   = "breaker"
	KindBulkhead  = "bulkhead"
	KindPool      = "pool"
	KindRateLimit = "ratelimit"
	KindRetry     = "retry"
	KindBudget    = "budget"
	KindTimeout   = "timeout"
	KindFallback  = "fallback"
	KindCache     = "cache"
	KindHedge     = "hedge"
	KindLatency   = "latency"
	KindOther     = "other"
)

// States of policies other than breakers (a breaker's state is its
// breaker.State name: "closed", "open", "half-open", "forced-open",
// "disabled" or "metrics-only").
const (
	// StateOK: the policy admits calls and turned none away lately.
	StateOK = "ok"
	// StateBusy: a bulkhead or pool has callers waiting in its queue.
	StateBusy = "busy"
	// StateFull: a bulkhead or pool has no free slot and no queue place.
	StateFull = "full"
	// StateLimiting: a rate limiter, retry budget or hedge budget refused
	// calls in the last sample.
	StateLimiting = "limiting"
	// StateClosed is the state of a closed worker pool.
	StateClosed = "closed"
)

// policyLayers is what a *fusebox.Pipeline offers, or a user type wrapping
// policies: its layers.
type policyLayers interface{ Policies() []fusebox.Policy }

// reading is one policy's snapshot, normalized: what every kind has in
// common, and the raw snapshot for the rest.
type reading struct {
	name  string
	kind  string
	state string
	// reason, since and retryAfter are a breaker's.
	reason      string
	timeInState time.Duration
	since       time.Time // when the state began, set by the sampler
	retryAfter  time.Duration
	generation  uint64
	breakerName string

	// Life-time totals, 0 where the kind has no such count.
	calls      uint64
	failures   uint64
	slow       uint64
	rejections uint64

	detail string
	snap   any
	lat    *Latency
	// op is the breaker an operator action applies to, when known.
	op *breaker.Breaker
	// opSource and opKey locate a registry member, for actions on a
	// breaker the dashboard holds no reference to; opLayer is the index
	// of the layer in a pipeline member, -1 for the member itself.
	opSource int
	opKey    string
	opLayer  int
	// addID is the id of the named the row is of, 0 for a source's row;
	// latOwn marks the row of a Latency with no row of its name, lat.
	addID  uint64
	latOwn bool
}

// snapshotOf returns the snapshot of a policy object, and whether the
// dashboard knows how to read it (registry.SnapshotFunc does). It may run
// user code (a Snapshotter).
func snapshotOf(p any) (any, bool) {
	if f := registry.SnapshotFunc(p); f != nil {
		return f(), true
	}
	return nil, false
}

// supported reports whether Add accepts p.
func supported(p any) bool {
	switch p.(type) {
	case *Latency, policyLayers:
		return true
	}
	return registry.SnapshotFunc(p) != nil
}

// read turns a snapshot value into a reading. The "limiting" state, which
// depends on the previous sample, is the sampler's to set.
func read(name string, snap any) reading {
	r := reading{name: name, snap: snap, opSource: -1, opLayer: -1, state: StateOK}
	switch s := snap.(type) {
	case breaker.Snapshot:
		r.kind = KindBreaker
		r.state = s.State.String()
		r.reason = s.Reason
		r.timeInState = s.TimeInState
		r.retryAfter = s.RetryAfter
		r.generation = s.Generation
		r.breakerName = s.Name
		r.calls, r.failures, r.slow, r.rejections = s.TotalCalls, s.TotalFailures, s.TotalSlowCalls, s.Rejections
		r.detail = "window: no calls"
		if s.Calls > 0 {
			r.detail = fmt.Sprintf("window: %d calls, %s failed, %s slow", s.Calls, pct(s.FailureRate), pct(s.SlowCallRate))
		}
		switch s.State {
		case breaker.HalfOpen:
			r.detail = fmt.Sprintf("probes: %d in flight, %d succeeded", s.ProbesInFlight, s.ProbeSuccesses)
		case breaker.Open:
			r.detail = fmt.Sprintf("open duration %s · opening #%d in a row", s.OpenDuration.Round(time.Millisecond), s.ConsecutiveOpens)
		}
	case bulkhead.Snapshot:
		r.kind = KindBulkhead
		r.calls, r.rejections = s.Admitted, s.Rejected+s.QueueTimeouts
		r.detail = fmt.Sprintf("%d/%d in flight · %d/%d queued", s.InFlight, s.MaxConcurrent, s.Queued, s.MaxQueue)
		switch {
		case s.InFlight >= s.MaxConcurrent && s.Queued >= s.MaxQueue:
			r.state = StateFull
		case s.Queued > 0:
			r.state = StateBusy
		}
	case bulkhead.PoolSnapshot:
		r.kind = KindPool
		r.calls, r.failures, r.rejections = s.Submitted, s.Panics, s.Rejected
		r.detail = fmt.Sprintf("%d/%d busy · %d/%d queued", s.Busy, s.Workers, s.Queued, s.QueueSize)
		switch {
		case s.Closed:
			r.state = StateClosed
		case s.Busy >= s.Workers && s.Queued >= s.QueueSize:
			r.state = StateFull
		case s.Queued > 0:
			r.state = StateBusy
		}
	case ratelimit.Snapshot:
		r.kind = KindRateLimit
		r.calls, r.rejections = s.Allowed, s.Rejected
		r.detail = fmt.Sprintf("%s/s · %.1f of %d tokens", num(s.Rate), s.Tokens, s.Burst)
	case ratelimit.WindowSnapshot:
		r.kind = KindRateLimit
		r.calls, r.rejections = s.Allowed, s.Rejected
		r.detail = fmt.Sprintf("%.1f of %d per %s", s.Estimate, s.Limit, s.Window)
	case ratelimit.KeyedSnapshot:
		r.kind = KindRateLimit
		r.calls, r.rejections = s.Allowed, s.Rejected
		r.detail = fmt.Sprintf("%s/s per key · %d keys", num(s.Rate), s.Keys)
	case retry.Snapshot:
		r.kind = KindRetry
		r.calls, r.failures, r.rejections = uint64(s.Calls), uint64(s.Exhausted), uint64(s.BudgetRejections)
		r.detail = fmt.Sprintf("%d retries · %d saved by a retry", s.Retries, s.SuccessesAfterRetry)
	case retry.BudgetSnapshot:
		r.kind = KindBudget
		r.rejections = uint64(s.Refused)
		r.detail = fmt.Sprintf("%d retries of %.1f allowed · %d requests", s.Retries, s.Allowed, s.Requests)
	case timeout.Snapshot:
		r.kind = KindTimeout
		r.calls, r.failures = s.Calls, s.Timeouts
		r.detail = "timeout " + s.Timeout.String()
	case fallback.Snapshot:
		r.kind = KindFallback
		r.calls, r.failures = s.Calls, s.Failures
		r.detail = fmt.Sprintf("%d fallbacks · %d failed", s.Fallbacks, s.FallbackErrors)
	case fallback.CacheSnapshot:
		r.kind = KindCache
		r.calls, r.failures = s.Hits+s.StaleHits+s.Misses, s.FetchErrors
		r.detail = fmt.Sprintf("%d entries · %d hits · %d misses · %d degraded", s.Entries, s.Hits, s.Misses, s.Degraded)
	case hedge.Snapshot:
		r.kind = KindHedge
		r.calls, r.rejections = s.Calls, s.BudgetDenials
		r.detail = fmt.Sprintf("%d hedges · %d won · delay %s", s.Hedges, s.HedgeWins, s.Delay)
	case LatencySnapshot:
		r.kind = KindLatency
		r.calls, r.failures = s.Calls, s.Failures
	default:
		r.kind = KindOther
		r.state = ""
	}
	return r
}

// pct formats a fraction as a percentage.
func pct(f float64) string {
	return strconv.FormatFloat(f*100, 'f', 0, 64) + "%"
}

// num formats a number without needless decimals.
func num(f float64) string {
	return strconv.FormatFloat(f, 'g', 4, 64)
}
