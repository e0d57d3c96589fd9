package ratelimit

import (
	"fmt"
	"math"

	"github.com/fusebox-go/fusebox"
)

// ErrRateLimited is returned when a limiter has no token for a call. It is
// fusebox.ErrRateLimited.
var ErrRateLimited = fusebox.ErrRateLimited

// MaxRate is the largest Rate a Bucket or Keyed accepts: one token per
// nanosecond, the resolution of the clock.
const MaxRate = 1e9

// maxTau bounds Burst × the token interval, so that sums of times stay far
// from overflow (2^62 ns is about 146 years).
const maxTau = int64(1) << 62

// minRate is the smallest Rate whose token interval fits under maxTau.
const minRate = 1e9 / float64(maxTau)

// gcra is a token bucket in the form of the generic cell rate algorithm: the
// whole state of a bucket is one "theoretical arrival time" tat, the instant
// at which the bucket will be full again. At time now the bucket holds
// (tau - max(tat-now, 0)) / interval tokens; taking n tokens moves tat to
// max(tat, now) + n×interval, allowed while that stays within tau of now.
// This is exactly a token bucket of Burst tokens refilled at Rate, kept in a
// single int64 so that it can be updated with one compare-and-swap.
type gcra struct {
	rate     float64
	burst    int
	interval int64 // nanoseconds per token, 1e9/rate rounded up
	tau      int64 // burst × interval: how far tat may run ahead of now
}

// newGCRA validates rate and burst, naming the fields of a Config.
func newGCRA(rate float64, burst int) (gcra, error) {
	if math.IsNaN(rate) || rate < minRate || rate > MaxRate {
		return gcra{}, fmt.Errorf("ratelimit: Rate %v out of range: want %.3g to %.0e tokens per second", rate, minRate, MaxRate)
	}
	// The interval is rounded up, never to the nearest: a token interval
	// even a fraction of a nanosecond short grants more than Rate (1.49ns
	// rounded to 1 grants 49% more). Rounding up grants a little less at
	// high rates instead; see Config.Rate for how much.
	interval := int64(math.Ceil(1e9 / rate))
	if interval > 1 && 1e9/float64(interval-1) <= rate {
		// A whole 1e9/rate that the division rounded up past it.
		interval--
	}
	maxBurst := maxTau / interval
	def := defaultBurst(rate)
	if burst < 0 || int64(burst) > maxBurst {
		return gcra{}, fmt.Errorf("ratelimit: Burst %d out of range: want 0 (default ceil(Rate) = %d) to %d", burst, def, maxBurst)
	}
	if burst == 0 {
		burst = def
	}
	return gcra{rate: rate, burst: burst, interval: interval, tau: int64(burst) * interval}, nil
}

// defaultBurst is one second's worth of tokens, at least one.
func defaultBurst(rate float64) int {
	return max(1, int(math.Ceil(rate)))
}

// take returns the new tat after taking cost nanoseconds' worth of tokens
// from a bucket whose tat is tat, and whether that is allowed at now.
func (g *gcra) take(tat, now, cost int64) (int64, bool) {
	next := max(tat, now) + cost
	return next, next-now <= g.tau
}

// tokens returns how many tokens a bucket with the given tat holds at now;
// negative when reservations have run ahead.
func (g *gcra) tokens(tat, now int64) float64 {
	return float64(g.tau-max(tat-now, 0)) / float64(g.interval)
}
