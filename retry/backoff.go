package retry

import (
	"math"
	"time"
)

// Backoff names how the delay between attempts grows. The zero value means
// BackoffExponential.
type Backoff string

// Backoff strategies. Each gives, before jitter, the longest delay of a
// retry; Jitter then takes a random part off it.
const (
	// BackoffExponential: InitialInterval before the first retry, multiplied
	// by Multiplier before each further retry, capped at MaxInterval.
	BackoffExponential Backoff = "exponential"
	// BackoffConstant: InitialInterval before every retry.
	BackoffConstant Backoff = "constant"
	// BackoffDecorrelated: the "decorrelated jitter" of the AWS Architecture
	// Blog's "Exponential Backoff and Jitter": each delay is drawn between
	// InitialInterval and Multiplier times the previous delay (at most
	// MaxInterval), so the delays of competing clients drift apart. It is
	// jittered by construction: Jitter must be left empty.
	BackoffDecorrelated Backoff = "decorrelated"
)

// Jitter names how much randomness is taken off a delay, so that clients
// that failed together do not retry together. JitterFactor scales it.
type Jitter string

// Jitter modes. With a delay d and a factor f (JitterFactor), U uniform in
// [0, 1):
const (
	// JitterNone: the delay is d.
	JitterNone Jitter = "none"
	// JitterFull: the delay is d × (1 − f×U); with f = 1, uniform in (0, d]:
	// AWS's "full jitter", the best at spreading load.
	JitterFull Jitter = "full"
	// JitterEqual: the delay is d × (1 − f×U/2); with f = 1, uniform in
	// (d/2, d]: AWS's "equal jitter", which keeps half of the backoff.
	JitterEqual Jitter = "equal"
)

// Defaults of the backoff fields of Config.
const (
	DefaultInitialInterval = 100 * time.Millisecond
	DefaultMultiplier      = 2.0
	// DefaultDecorrelatedMultiplier is the Multiplier a zero Multiplier
	// means with BackoffDecorrelated, the value of the AWS analysis.
	DefaultDecorrelatedMultiplier = 3.0
	DefaultMaxInterval            = 10 * time.Second
)

// backoff holds a policy's resolved backoff settings.
type backoff struct {
	kind       Backoff
	jitter     Jitter
	factor     float64
	initial    time.Duration
	multiplier float64
	max        time.Duration
}

// ceiling returns the un-jittered delay before retry n (1 for the first
// retry) and the lowest delay jitter may reach; prev is the previous delay
// (decorrelated only; InitialInterval before the first retry).
func (b *backoff) ceiling(n int, prev time.Duration) (hi, lo time.Duration) {
	switch b.kind {
	case BackoffConstant:
		hi = b.initial
	case BackoffDecorrelated:
		hi = scale(prev, b.multiplier, b.max)
		return hi, min(b.initial, hi)
	default:
		hi = scale(b.initial, math.Pow(b.multiplier, float64(n-1)), b.max)
	}
	switch b.jitter {
	case JitterFull:
		lo = 0
	case JitterEqual:
		lo = hi / 2
	default:
		lo = hi
	}
	return hi, lo
}

// delay returns the delay before retry n given a uniform u in [0, 1) (only
// drawn when the strategy is jittered). prev is as for ceiling.
func (b *backoff) delay(n int, prev time.Duration, u float64) time.Duration {
	hi, lo := b.ceiling(n, prev)
	if hi <= lo {
		return hi
	}
	return hi - time.Duration(b.factor*u*float64(hi-lo))
}

// jittered reports whether delay needs a random number.
func (b *backoff) jittered() bool {
	return b.kind == BackoffDecorrelated || b.jitter != JitterNone
}

// scale returns d×m capped at max, without overflowing.
func scale(d time.Duration, m float64, max time.Duration) time.Duration {
	f := float64(d) * m
	if f >= float64(max) || math.IsInf(f, 0) || math.IsNaN(f) {
		return max
	}
	return time.Duration(f)
}
