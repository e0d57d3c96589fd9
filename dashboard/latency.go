package dashboard

import (
	"context"
	"math/bits"
	"sync/atomic"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/clock"
)

// The latency histogram: log-linear buckets over nanoseconds, eight per
// power of two, so a bucket spans at most 12.5% of its value. Values below
// 8 ns have a bucket each; values from 2^maxExp ns (about 137 s) up share
// the last bucket.
const (
	subBits    = 3
	subBuckets = 1 << subBits
	maxExp     = 37
	numBuckets = (maxExp-subBits+1)*subBuckets + subBuckets
)

// bucketOf returns the bucket of a duration of ns nanoseconds.
func bucketOf(ns int64) int {
	if ns < subBuckets {
		if ns < 0 {
			return 0
		}
		return int(ns)
	}
	e := bits.Len64(uint64(ns)) - 1
	if e > maxExp {
		return numBuckets - 1
	}
	sub := int(uint64(ns)>>(e-subBits)) & (subBuckets - 1)
	return (e-subBits+1)*subBuckets + sub
}

// bucketValue returns a representative duration of bucket i: the middle of
// its range.
func bucketValue(i int) time.Duration {
	if i < subBuckets {
		return time.Duration(i)
	}
	e := i/subBuckets + subBits - 1
	sub := int64(i % subBuckets)
	lo := (subBuckets + sub) << (e - subBits)
	width := int64(1) << (e - subBits)
	return time.Duration(lo + width/2)
}

// Latency is a policy that measures how long the rest of the pipeline takes
// and counts its failures, for the dashboard's latency percentiles. Get one
// with Dashboard.LatencyPolicy; put it innermost in the pipeline, next to
// the call, to measure the dependency, or outermost to measure what the
// caller waits, retries and queueing included.
//
// Recording is lock-free and allocation-free: one clock reading before the
// call and one after, and three atomic additions. A Latency is safe for
// concurrent use.
type Latency struct {
	name     string
	clk      clock.Clock
	calls    atomic.Uint64
	failures atomic.Uint64
	buckets  [numBuckets]atomic.Uint64
}

var _ fusebox.Policy = (*Latency)(nil)

// LatencySnapshot is a Latency's counters since it was made.
type LatencySnapshot struct {
	// Calls is how many calls finished.
	Calls uint64 `json:"calls"`
	// Failures is how many of Calls failed, by
	// fusebox.DefaultClassifier: caller cancellation is not a failure; a
	// panic is.
	Failures uint64 `json:"failures"`
	// P50 is the median of the calls' durations over the Latency's whole
	// life, to within 7%; 0 with no calls. The dashboard shows
	// percentiles over the last samples instead. In JSON, like every
	// duration here, whole nanoseconds.
	P50 time.Duration `json:"p50"`
	// P90 is the 90th percentile of the same durations.
	P90 time.Duration `json:"p90"`
	// P99 is the 99th percentile of the same durations.
	P99 time.Duration `json:"p99"`
}

// Name returns the name the Latency reports under.
func (l *Latency) Name() string { return l.name }

// Run runs next and records how long it took and whether it failed. A
// panic in next is recorded as a failure and goes on.
func (l *Latency) Run(ctx context.Context, next fusebox.Next) error {
	start := l.clk.Nanotime()
	finished := false
	var err error
	defer func() {
		failed := !finished || fusebox.Classify(ctx, err, nil) == fusebox.Failure
		l.record(l.clk.Nanotime()-start, failed)
	}()
	err = next.Run(ctx)
	finished = true
	return err
}

// Execute runs fn as Run runs the rest of a pipeline.
func (l *Latency) Execute(ctx context.Context, fn func(context.Context) error) error {
	return l.Run(ctx, fusebox.NextFunc(fn))
}

// Record records one call of duration d by hand, for calls not run through
// Run (a streaming call, say).
func (l *Latency) Record(d time.Duration, failed bool) {
	l.record(int64(d), failed)
}

func (l *Latency) record(ns int64, failed bool) {
	l.buckets[bucketOf(ns)].Add(1)
	if failed {
		l.failures.Add(1)
	}
	l.calls.Add(1)
}

// Snapshot returns the Latency's counters and percentiles.
func (l *Latency) Snapshot() LatencySnapshot {
	var h hist
	l.load(&h)
	return LatencySnapshot{
		Calls:    l.calls.Load(),
		Failures: l.failures.Load(),
		P50:      h.quantile(0.50),
		P90:      h.quantile(0.90),
		P99:      h.quantile(0.99),
	}
}

// hist is a copy of a Latency's bucket counts.
type hist [numBuckets]uint64

// load copies l's buckets into h.
func (l *Latency) load(h *hist) {
	for i := range l.buckets {
		h[i] = l.buckets[i].Load()
	}
}

// sub sets h to a - b, bucket by bucket (0 where b is ahead).
func (h *hist) sub(a, b *hist) {
	for i := range h {
		if a[i] >= b[i] {
			h[i] = a[i] - b[i]
		} else {
			h[i] = 0
		}
	}
}

// count returns the number of values in h.
func (h *hist) count() uint64 {
	var n uint64
	for _, c := range h {
		n += c
	}
	return n
}

// quantile returns the q-quantile of h's values, 0 for an empty h.
func (h *hist) quantile(q float64) time.Duration {
	n := h.count()
	if n == 0 {
		return 0
	}
	rank := uint64(q*float64(n) + 0.5)
	if rank < 1 {
		rank = 1
	}
	if rank > n {
		rank = n
	}
	var seen uint64
	for i, c := range h {
		seen += c
		if seen >= rank {
			return bucketValue(i)
		}
	}
	return bucketValue(numBuckets - 1)
}
