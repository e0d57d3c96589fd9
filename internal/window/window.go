// Package window holds the sliding windows the circuit breaker judges a
// dependency by: a count-based ring of the last N outcomes and a time-based
// ring of buckets covering the last W of time.
//
// Both record in O(1) with atomics only (no lock, no allocation) and read an
// aggregate in O(buckets). Each keeps four counters: calls, failures, slow
// calls and ignored calls. An ignored call counts only in Ignored: it is not
// a call for the rates.
package window

// Kind is what one recorded call was: a success or a failure, either of which
// may also be slow, or ignored.
type Kind uint8

const (
	// Success is a call that succeeded in time.
	Success Kind = 0
	// FailureBit marks a failed call.
	FailureBit Kind = 1
	// SlowBit marks a call slower than the slow-call threshold.
	SlowBit Kind = 2
	// Ignored is a call that counts only in Counts.Ignored.
	Ignored Kind = 4
)

// Counts is an aggregate of a window.
type Counts struct {
	Calls    uint64 `json:"calls"`
	Failures uint64 `json:"failures"`
	Slow     uint64 `json:"slow"`
	Ignored  uint64 `json:"ignored"`
}

// FailureRate returns Failures/Calls, or 0 with no calls.
func (c Counts) FailureRate() float64 {
	if c.Calls == 0 {
		return 0
	}
	return float64(c.Failures) / float64(c.Calls)
}

// SlowRate returns Slow/Calls, or 0 with no calls.
func (c Counts) SlowRate() float64 {
	if c.Calls == 0 {
		return 0
	}
	return float64(c.Slow) / float64(c.Calls)
}
