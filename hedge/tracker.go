package hedge

import (
	"math"
	"sync/atomic"
	"time"
)

const (
	// historySize is how many recent latencies the adaptive delay is
	// computed from.
	historySize = 128
	// minSamples is how many latencies must be seen before the percentile
	// replaces MinDelay.
	minSamples = 32
	// recomputeEvery is how many recordings pass between two computations
	// of the percentile: latencies drift slowly, and a computation costs a
	// copy and a selection over historySize values.
	recomputeEvery = 16
)

// tracker keeps the latencies of recent winning attempts in a ring and the
// delay derived from them. Recording is lock-free: one atomic add and one
// store, plus, every recomputeEvery recordings, a selection over a copy of
// the ring by the recorder that crossed the mark.
type tracker struct {
	pct      float64
	minDelay int64
	n        atomic.Uint64 // latencies recorded so far
	ring     [historySize]atomic.Int64
	delay    atomic.Int64 // the current delay in nanoseconds
	busy     atomic.Bool  // a recomputation is in progress
}

func newTracker(pct float64, minDelay time.Duration) *tracker {
	t := &tracker{pct: pct, minDelay: int64(minDelay)}
	t.delay.Store(int64(minDelay))
	return t
}

// record adds a latency in nanoseconds.
func (t *tracker) record(d int64) {
	d = max(d, 0) // a clock set backwards
	n := t.n.Add(1)
	t.ring[(n-1)%historySize].Store(d)
	if n >= minSamples && n%recomputeEvery == 0 {
		t.recompute(n)
	}
}

// recompute sets the delay to the percentile of the recorded latencies,
// floored at minDelay. A recomputation already in progress makes it a no-op.
func (t *tracker) recompute(n uint64) {
	if !t.busy.CompareAndSwap(false, true) {
		return
	}
	defer t.busy.Store(false)
	var buf [historySize]int64
	k := int(min(n, historySize))
	for i := range k {
		buf[i] = t.ring[i].Load()
	}
	t.delay.Store(max(percentile(buf[:k], t.pct), t.minDelay))
}

// percentile returns the nearest-rank p-th percentile of xs (0 < p < 1,
// len(xs) > 0), reordering xs.
func percentile(xs []int64, p float64) int64 {
	rank := int(math.Ceil(p*float64(len(xs)))) - 1
	rank = min(max(rank, 0), len(xs)-1)
	return selectKth(xs, rank)
}

// selectKth returns the value that would be at index k if xs were sorted,
// reordering xs: Hoare's quickselect with a median-of-three pivot, in
// expected linear time and without allocating.
func selectKth(xs []int64, k int) int64 {
	lo, hi := 0, len(xs)-1
	for lo < hi {
		mid := lo + (hi-lo)/2
		// Order xs[lo], xs[mid], xs[hi] and take the middle as pivot.
		if xs[mid] < xs[lo] {
			xs[mid], xs[lo] = xs[lo], xs[mid]
		}
		if xs[hi] < xs[lo] {
			xs[hi], xs[lo] = xs[lo], xs[hi]
		}
		if xs[hi] < xs[mid] {
			xs[hi], xs[mid] = xs[mid], xs[hi]
		}
		pivot := xs[mid]
		i, j := lo, hi
		for i <= j {
			for xs[i] < pivot {
				i++
			}
			for xs[j] > pivot {
				j--
			}
			if i <= j {
				xs[i], xs[j] = xs[j], xs[i]
				i++
				j--
			}
		}
		// xs[lo..j] <= pivot, xs[i..hi] >= pivot, xs[j+1..i-1] == pivot.
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return xs[k]
		}
	}
	return xs[k]
}

// budget is a token bucket that fills by a share of a hedge per call and
// pays one token per hedge. Tokens are counted in millionths so that small
// shares still add up; the bucket holds at most budgetBurst hedges and starts
// full.
type budget struct {
	unlimited bool
	perCall   int64
	tokens    atomic.Int64
}

const (
	tokenUnit   = 1_000_000
	budgetBurst = 10 * tokenUnit
)

func (b *budget) init(ratio float64, maxHedges int) {
	if ratio >= float64(maxHedges) {
		b.unlimited = true
		return
	}
	b.perCall = max(int64(ratio*tokenUnit), 1)
	b.tokens.Store(budgetBurst)
}

// deposit adds one call's share. A full bucket costs one atomic load.
func (b *budget) deposit() {
	if b.unlimited {
		return
	}
	for {
		t := b.tokens.Load()
		if t >= budgetBurst {
			return
		}
		if b.tokens.CompareAndSwap(t, min(t+b.perCall, budgetBurst)) {
			return
		}
	}
}

// withdraw takes one hedge's token and reports whether there was one.
func (b *budget) withdraw() bool {
	if b.unlimited {
		return true
	}
	for {
		t := b.tokens.Load()
		if t < tokenUnit {
			return false
		}
		if b.tokens.CompareAndSwap(t, t-tokenUnit) {
			return true
		}
	}
}
