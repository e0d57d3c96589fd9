package window

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"time"
)

// MaxBuckets bounds the buckets of a time-based window.
const MaxBuckets = 1000

// resetting marks a bucket whose counters are being zeroed for a new epoch.
const resetting = -1 << 63

// idxBits holds a bucket index in the cur word; MaxBuckets fits.
const idxBits = 10

// Time is a time-based sliding window: the last Duration split into B
// buckets of Duration/B each, rotated by time, not by traffic. A bucket
// belongs to one epoch (a bucket-width slice of time); a bucket whose epoch
// is older than the window, because nothing was recorded while it would have
// been current, reads as empty.
//
// Time never runs backwards for a window: a record whose timestamp is older
// than the newest epoch recorded so far counts in the newest bucket, so a
// clock stepping back cannot write into (or wipe) buckets that hold newer
// data.
//
// Recording is O(1): one atomic add on the current bucket's counter (two
// for a failure or a slow call), plus, once per bucket width, a
// compare-and-swap that claims the bucket for its new epoch and moves its
// old counts into the lifetime totals. Reading is O(B). Every counter is a
// plain atomic word: the per-P accumulators an earlier version used were
// not reproducibly faster on two cores (docs/BENCHMARKS.md, "Per-P
// counters"). Bringing them back would take a gain that reproduces, a
// build that needs no go:linkname to the runtime, and Totals kept
// monotonic across every fold of an accumulator into its bucket, not only
// across retirements.
type Time struct {
	width int64 // nanoseconds per bucket
	// cur caches the newest epoch and its bucket index, epoch<<idxBits |
	// index, published once that bucket is claimed: a record in the
	// current bucket needs no division.
	cur  atomic.Uint64
	head atomic.Int64
	// retired holds the counts of buckets zeroed for reuse, and AddTotal's
	// calls.
	retired counters
	buckets []bucket
	// moves counts the retirements of buckets (a bucket's counts moving
	// into retired), so that Totals can tell a reading that none
	// overlapped: the retirements in progress in its low 32 bits, those
	// done (modulo 2^32) in its high 32. A retirement adds moveStart when
	// it begins and moveEnd when it ends.
	moves atomic.Uint64
}

// Moves of counts: see Time.moves.
const (
	moveStart = 1
	moveEnd   = 1<<32 - 1
)

// retireHook, set only by tests, is called in the middle of a bucket's
// retirement: its counts taken, not yet added to the retired totals.
var retireHook func()

// counters are four atomic counts, in the order of Counts.
type counters struct {
	calls, failures, slow, ignored atomic.Uint64
}

func (c *counters) load() Counts {
	return Counts{Calls: c.calls.Load(), Failures: c.failures.Load(), Slow: c.slow.Load(), Ignored: c.ignored.Load()}
}

type bucket struct {
	epoch atomic.Int64
	counters
}

// packedMinWidth is the narrowest bucket that the cached head word serves:
// from it up, every epoch (a Nanotime reading divided by the width) fits the
// word's 54 bits. Narrower buckets, useful only in tests, compute the epoch
// by division on every record.
const packedMinWidth = 1024

// NewTime returns a window of the given duration in n buckets. The duration
// must be a whole multiple of n nanoseconds, 1 ≤ n ≤ MaxBuckets.
func NewTime(d time.Duration, n int) (*Time, error) {
	if n < 1 || n > MaxBuckets {
		return nil, fmt.Errorf("window: buckets %d out of range: want 1 to %d", n, MaxBuckets)
	}
	if d <= 0 || d%time.Duration(n) != 0 {
		return nil, fmt.Errorf("window: duration %v must be positive and a whole multiple of %d buckets", d, n)
	}
	w := &Time{width: int64(d) / int64(n), buckets: make([]bucket, n)}
	w.Reset(0)
	return w, nil
}

// Reset empties the window as of time now (a Nanotime reading). Records
// that race with Reset may land on either side of it.
func (w *Time) Reset(now int64) {
	e := w.epochOf(now)
	w.head.Store(e)
	for i := range w.buckets {
		b := &w.buckets[i]
		// An epoch at least one window old reads as empty and is zeroed
		// by the first record into it.
		b.epoch.Store(e - int64(len(w.buckets)))
	}
	w.bucketFor(e)
	w.cur.Store(uint64(e)<<idxBits | uint64(w.index(e)))
}

func (w *Time) index(e int64) int64 {
	n := int64(len(w.buckets))
	return ((e % n) + n) % n
}

func (w *Time) epochOf(now int64) int64 {
	e := now / w.width
	if now%w.width < 0 {
		// floor division, so instants before the origin map to
		// distinct, earlier epochs. (Not now-width+1, which overflows
		// near math.MinInt64, the reading of a far-back Fake clock.)
		e--
	}
	return e
}

// current returns the epoch a record at now belongs to, advancing the head.
func (w *Time) current(now int64) int64 {
	e := w.epochOf(now)
	for {
		h := w.head.Load()
		if e <= h {
			return h
		}
		if w.head.CompareAndSwap(h, e) {
			return e
		}
	}
}

// bucketFor returns the bucket of epoch e, zeroed if it held an older epoch.
func (w *Time) bucketFor(e int64) *bucket {
	b := &w.buckets[w.index(e)]
	for {
		be := b.epoch.Load()
		if be == e {
			return b
		}
		if be == resetting {
			runtime.Gosched()
			continue
		}
		if be > e {
			// A newer epoch already took the bucket: the head moved on
			// while this record was in flight. Count it there.
			return b
		}
		if b.epoch.CompareAndSwap(be, resetting) {
			w.moves.Add(moveStart)
			calls, failures := b.calls.Swap(0), b.failures.Swap(0)
			slow, ignored := b.slow.Swap(0), b.ignored.Swap(0)
			if retireHook != nil {
				retireHook()
			}
			w.retired.calls.Add(calls)
			w.retired.failures.Add(failures)
			w.retired.slow.Add(slow)
			w.retired.ignored.Add(ignored)
			w.moves.Add(moveEnd)
			b.epoch.Store(e)
			return b
		}
	}
}

// RecordAt adds one call of kind k at time now (a Nanotime reading). It
// reports whether the record began a new epoch (the first record of a
// bucket width): only then can calls have left the window, which a caller
// judging rates may want to look at.
func (w *Time) RecordAt(now int64, k Kind) (rotated bool) {
	if w.width < packedMinWidth {
		e := w.epochOf(now)
		rotated = e > w.head.Load()
		w.record(w.bucketFor(w.current(now)), k)
		return rotated
	}
	c := w.cur.Load()
	if now < (int64(c)>>idxBits+1)*w.width {
		// Within, or (clock stepping back) before, the newest bucket:
		// the common case.
		w.record(&w.buckets[c&(1<<idxBits-1)], k)
		return false
	}
	w.record(w.rotate(now), k)
	return true
}

// record adds one call of kind k to bucket b. The call is counted before
// its failure and slow marks, and CountsAt reads them in the other order,
// so that a reading never finds a failure without its call.
func (w *Time) record(b *bucket, k Kind) {
	if k&Ignored != 0 {
		b.ignored.Add(1)
		return
	}
	b.calls.Add(1)
	if k&FailureBit != 0 {
		b.failures.Add(1)
	}
	if k&SlowBit != 0 {
		b.slow.Add(1)
	}
}

// AddTotal adds one call of kind k to the lifetime totals only: Totals
// counts it, the window (CountsAt) never does. It is for calls judged
// outside the window, such as a circuit breaker's half-open probes.
func (w *Time) AddTotal(k Kind) {
	if k&Ignored != 0 {
		w.retired.ignored.Add(1)
		return
	}
	w.retired.calls.Add(1)
	if k&FailureBit != 0 {
		w.retired.failures.Add(1)
	}
	if k&SlowBit != 0 {
		w.retired.slow.Add(1)
	}
}

// rotate is RecordAt's path for a record past the newest bucket: advance
// the head, claim the bucket, publish it in cur.
func (w *Time) rotate(now int64) *bucket {
	e := w.current(now)
	b := w.bucketFor(e)
	next := uint64(e)<<idxBits | uint64(w.index(e))
	for {
		c := w.cur.Load()
		if int64(c)>>idxBits >= e || w.cur.CompareAndSwap(c, next) {
			return b
		}
	}
}

// CountsAt returns the aggregate of the window ending at now. Failures and
// Slow never exceed Calls.
func (w *Time) CountsAt(now int64) Counts {
	e := w.epochOf(now)
	if h := w.head.Load(); h > e {
		e = h
	}
	var c Counts
	n := int64(len(w.buckets))
	for i := range w.buckets {
		b := &w.buckets[i]
		be := b.epoch.Load()
		if be <= e-n || be > e {
			continue
		}
		// Marks before calls: see record.
		c.Failures += b.failures.Load()
		c.Slow += b.slow.Load()
		c.Ignored += b.ignored.Load()
		c.Calls += b.calls.Load()
	}
	// A record in flight when its bucket was claimed for a newer epoch
	// can still add its marks after the claim took its call: never let
	// that show as a rate above 1.
	c.Failures = min(c.Failures, c.Calls)
	c.Slow = min(c.Slow, c.Calls)
	return c
}

// Totals returns the aggregate of every call ever recorded, in or out of
// the window, given floor, the reading this caller was last given (zero
// at first). It never returns less than floor, field by field, nor more
// than the calls recorded: successive readings fed back as the floor never
// decrease, as the monotonic counters they feed (Prometheus's) require.
// Failures and Slow never exceed Calls.
//
// A bucket's retirement moves its counts into the retired totals, and a
// reading that overlapped one could miss the moved calls. So Totals
// retries a reading that a retirement overlapped, and yields the processor
// to one in progress: a reading that none overlapped is exact. Retirements
// come once per bucket width, so a retry is rare; but with buckets
// narrower than a reading takes, under constant traffic, every reading
// could be overlapped. After maxTotalsTries Totals therefore takes a
// reading in an order (retired totals before buckets) that a retirement
// can make short, never long, and raises it to floor: the result is then
// short of the truth by at most the calls of the buckets retiring at that
// moment, and the next reading catches up.
func (w *Time) Totals(floor Counts) Counts {
	for try := 0; try < maxTotalsTries; try++ {
		before := w.moves.Load()
		if uint32(before) == 0 { // no retirement in progress
			c := w.totals()
			if w.moves.Load() == before { // and none since
				// Exact as of the start of the reading, which is
				// after floor's: never below it.
				return c.marksWithinCalls()
			}
		}
		if try >= 4 {
			// A retirement may have been descheduled mid-way: let
			// it finish.
			runtime.Gosched()
		}
	}
	c := w.totals()
	c.Calls = max(c.Calls, floor.Calls)
	c.Failures = max(c.Failures, floor.Failures)
	c.Slow = max(c.Slow, floor.Slow)
	c.Ignored = max(c.Ignored, floor.Ignored)
	return c.marksWithinCalls()
}

// marksWithinCalls caps Failures and Slow at Calls. A reading racing a
// retirement (which moves a bucket's calls before its marks) can find a
// mark whose call it missed; capped, it still never goes below a floor
// that was capped too.
func (c Counts) marksWithinCalls() Counts {
	c.Failures = min(c.Failures, c.Calls)
	c.Slow = min(c.Slow, c.Calls)
	return c
}

// maxTotalsTries bounds the readings Totals makes before it settles for
// one raised to its floor.
const maxTotalsTries = 64

// totals adds up every count: the retired totals first, then the buckets,
// so a retirement overlapping the reading can make it short (the counts
// left their bucket before the reading got there, and reached retired after
// it was read), never long.
func (w *Time) totals() Counts {
	c := w.retired.load()
	for i := range w.buckets {
		b := &w.buckets[i]
		// Marks before calls: see record.
		c.Failures += b.failures.Load()
		c.Slow += b.slow.Load()
		c.Ignored += b.ignored.Load()
		c.Calls += b.calls.Load()
	}
	return c
}

// Buckets returns the number of buckets.
func (w *Time) Buckets() int { return len(w.buckets) }

// Width returns the time one bucket covers.
func (w *Time) Width() time.Duration { return time.Duration(w.width) }
