// Package breaker is Fusebox's circuit breaker: it stops calling a
// dependency that is failing, so callers fail fast instead of piling up
// behind it, and lets a few probe calls through now and then to find out
// when the dependency has recovered.
//
// # States
//
//	Closed ──trip──▶ Open ──open duration ends──▶ HalfOpen ──M successes──▶ Closed
//	                  ▲                               │
//	                  └──────── a probe fails ────────┘
//
// Closed admits every call and judges the outcomes in a sliding window,
// count-based (the last N calls) or time-based (the last W, in buckets).
// It trips on any enabled condition: ConsecutiveFailures in a row, a
// FailureRate, or a SlowCallRate (calls slower than SlowCallDuration,
// successful or not); the rate conditions wait for MinimumCalls in the
// window.
//
// Open rejects every call at once with an *OpenError that matches ErrOpen
// and says, through RetryAfter, when the next probe may go. The open
// duration is constant, or grows by OpenBackoff with each re-open up to
// MaxOpenDuration, then is shortened at random by up to OpenJitter (never
// lengthened, so it stays within the cap); the growth resets when the
// breaker closes.
//
// HalfOpen admits exactly HalfOpenProbes calls at a time (taken by
// compare-and-swap, never more) and rejects the rest. HalfOpenSuccesses
// successful probes close the breaker; one failed probe opens it again. A
// probe that never reports holds its slot for HalfOpenMaxWait at most.
// An open breaker moves to half-open on the first call after its open
// duration, or by timer with AutoHalfOpen.
//
// Operators can Trip (open now; in Closed, Open and HalfOpen only), Reset,
// ForceOpen (reject everything), Disable (admit everything, record nothing)
// or switch to MetricsOnly (admit and record, never trip). The last three
// are operator states: they last until Reset or another of these commands,
// and Trip leaves them alone.
//
// # Outcomes
//
// A Classifier maps each call's error to fusebox.Success, Failure or
// Ignored (by default nil is a success, context.Canceled is ignored and
// every other error is a failure); an error returned after the caller's own
// context ended is always ignored. Ignored calls count only in their own
// counter. A panic in the protected function is recorded as a failure and
// the panic continues. Each state carries a generation number: an outcome
// that arrives after the breaker changed state (a slow call finishing after
// it opened) is dropped and counted as late.
//
// # Use
//
// Execute and Do wrap a function. Allow returns a Permit whose Done takes
// the outcome, for proxies and streams that cannot wrap a closure. A
// Breaker is also a fusebox.Policy, for pipelines.
//
// # Cost
//
// In the closed state, admitting and recording a call is lock-free and
// allocation-free: an atomic load to admit, an atomic add to record a
// success, and one reading of the monotonic clock. An open breaker's
// rejection is one clock reading, one atomic add and a preallocated error. Only transitions and half-open
// probe outcomes take the breaker's mutex, and state-change listeners run
// outside it, in order, in a goroutine that exists only while there is
// something to deliver.
package breaker
