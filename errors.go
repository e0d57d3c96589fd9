package fusebox

import "errors"

// Sentinel errors shared by every policy. A rejection returned by any policy
// matches exactly one of them with [errors.Is]; the policies' own packages
// re-export the ones they return (breaker.ErrOpen is fusebox.ErrOpen).
var (
	// ErrOpen: a circuit breaker is open (or forced open, or its half-open
	// probes are all taken) and rejected the call without running it.
	ErrOpen = errors.New("fusebox: circuit breaker is open")
	// ErrBulkheadFull: a bulkhead had no free slot and no room in its queue,
	// or the call waited in the queue longer than allowed.
	ErrBulkheadFull = errors.New("fusebox: bulkhead is full")
	// ErrRateLimited: a rate limiter had no token for the call.
	ErrRateLimited = errors.New("fusebox: rate limited")
	// ErrTimeout: a timeout policy's own deadline passed before the call
	// finished. It is a Failure; the caller's deadline is not ErrTimeout.
	ErrTimeout = errors.New("fusebox: timeout")
	// ErrRetriesExhausted: a retry policy gave up after its last attempt.
	// The last attempt's error stays reachable with errors.As/Unwrap.
	ErrRetriesExhausted = errors.New("fusebox: retries exhausted")
	// ErrBudgetExhausted: a retry or hedge budget refused another attempt.
	ErrBudgetExhausted = errors.New("fusebox: budget exhausted")
	// ErrClosed: the policy was closed and takes no more calls.
	ErrClosed = errors.New("fusebox: closed")
)
