package window

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/fusebox-go/fusebox/internal/percpu"
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
// Recording is O(1): one compare-and-swap on the current bucket's counter,
// plus, once per bucket width, a compare-and-swap that claims the bucket and
// zeroes it for its new epoch. Reading is O(B).
//
// Successes, the bulk of the traffic, scale across cores: the first time an
// increment of a bucket's call counter loses a race with another core, the
// window gives every P (the scheduler's processors) a private accumulator of
// the newest epoch's successes on its own cache line, bumped without an
// atomic read-modify-write (see internal/percpu). A P folds its accumulator
// into the bucket when it moves to a new epoch; readers add the
// accumulators of the epochs in the window. Until that first lost race a
// window costs no memory for them.
type Time struct {
	width int64 // nanoseconds per bucket
	// cur caches the newest epoch and its bucket index, epoch<<idxBits |
	// index, published once that bucket is claimed: a record in the
	// current bucket needs no division.
	cur     atomic.Uint64
	head    atomic.Int64
	retired Counts // sums of buckets zeroed for reuse, and AddTotal's calls; atomic access only
	buckets []bucket
	// stripes are the per-P success accumulators, nil until contention.
	stripes atomic.Pointer[stripeSet]
	// moves tracks the moves of counts from one place to another (an
	// accumulator folding into its bucket, a bucket retiring into the
	// totals), so that Totals can tell a reading that no move overlapped:
	// the moves in progress in its low 32 bits, the moves done (modulo
	// 2^32) in its high 32. A move adds 1 when it starts and 2^32-1 when
	// it ends. One word, so that a breaker stays within a kibibyte.
	moves atomic.Uint64
}

// stripeSet is the per-P accumulators, made on the first lost race.
type stripeSet struct {
	// gen counts the Resets since the set was made: an accumulator
	// filled before the latest Reset is out of the window whatever its
	// epoch. (Before the set exists a Reset has nothing to invalidate.)
	gen atomic.Uint64
	s   []stripe
}

// Moves of counts: see Time.moves.
const (
	moveStart = 1
	moveEnd   = 1<<32 - 1
)

// stripe is one P's accumulator of successes in one epoch. Only code pinned
// to that P writes it (percpu.StoreOwned and friends); readers load it
// atomically. A reader racing a fold may count its calls twice for a
// moment, never not at all (see recordStriped).
type stripe struct {
	epoch int64
	gen   uint64 // the set's gen when epoch began
	calls uint64
	_     [40]byte
}

type bucket struct {
	epoch    atomic.Int64
	calls    atomic.Uint64
	failures atomic.Uint64
	slow     atomic.Uint64
	ignored  atomic.Uint64
}

// packedMinWidth is the narrowest bucket that the cached head word serves:
// from it up, every epoch (a Nanotime reading divided by the width) fits the
// word's 54 bits. Narrower buckets, useful only in tests, compute the epoch
// by division on every record.
const packedMinWidth = 1024

// NewTime returns a window of the given duration in n buckets. The duration
// must be a whole multiple of n nanoseconds, 1 ≤ n ≤ MaxBuckets, and each
// bucket at least MinBucketWidth wide.
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
	if st := w.stripes.Load(); st != nil {
		st.gen.Add(1)
	}
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
			atomic.AddUint64(&w.retired.Calls, b.calls.Swap(0))
			atomic.AddUint64(&w.retired.Failures, b.failures.Swap(0))
			atomic.AddUint64(&w.retired.Slow, b.slow.Swap(0))
			atomic.AddUint64(&w.retired.Ignored, b.ignored.Swap(0))
			w.moves.Add(moveEnd)
			b.epoch.Store(e)
			return b
		}
	}
}

// RecordAt adds one call of kind k at time now (a Nanotime reading).
func (w *Time) RecordAt(now int64, k Kind) {
	if w.width < packedMinWidth {
		w.record(w.bucketFor(w.current(now)), k)
		return
	}
	c := w.cur.Load()
	if k == Success && now < (int64(c)>>idxBits+1)*w.width {
		// Within, or (clock stepping back) before, the newest bucket:
		// the common case.
		if st := w.stripes.Load(); st != nil {
			w.recordStriped(st, c)
			return
		}
		calls := &w.buckets[c&(1<<idxBits-1)].calls
		if v := calls.Load(); calls.CompareAndSwap(v, v+1) {
			return
		}
		w.contended()
		calls.Add(1)
		return
	}
	w.recordSlow(now, k, c)
}

// contended gives the window its per-P accumulators, once.
func (w *Time) contended() {
	if w.stripes.Load() == nil {
		w.stripes.CompareAndSwap(nil, &stripeSet{s: make([]stripe, runtime.GOMAXPROCS(0))})
	}
}

// recordStriped counts a success of the newest epoch (from the head word c)
// in the running P's accumulator.
func (w *Time) recordStriped(set *stripeSet, c uint64) {
	e := int64(c) >> idxBits
	gen, st := set.gen.Load(), set.s
	id := percpu.Pin()
	if id >= len(st) {
		// GOMAXPROCS grew since the accumulators were made.
		percpu.Unpin()
		w.buckets[c&(1<<idxBits-1)].calls.Add(1)
		return
	}
	s := &st[id]
	oldEpoch, oldGen := percpu.LoadOwnedInt(&s.epoch), percpu.LoadOwned(&s.gen)
	if oldEpoch == e && oldGen == gen {
		percpu.AddOwned(&s.calls, 1)
		percpu.Unpin()
		return
	}
	// Fold before the accumulator forgets its successes, and while still
	// pinned: a read racing this finds them twice for a moment (a lower
	// failure rate), never not at all (a higher one, which could trip a
	// breaker on a rate that never happened). CountsAt reads the
	// accumulators before the buckets for the same reason.
	w.moves.Add(moveStart)
	w.fold(percpu.LoadOwned(&s.calls), oldEpoch, oldGen, gen)
	percpu.StoreOwned(&s.calls, 0)
	percpu.StoreOwnedInt(&s.epoch, e)
	percpu.StoreOwned(&s.gen, gen)
	percpu.StoreOwned(&s.calls, 1)
	w.moves.Add(moveEnd)
	percpu.Unpin()
}

// fold moves n successes an accumulator held for epoch (of reset
// generation g) into that epoch's bucket, or, when the bucket has moved on
// or a Reset came between, into the lifetime totals only.
func (w *Time) fold(n uint64, epoch int64, g, current uint64) {
	if n == 0 {
		return
	}
	if g == current {
		b := &w.buckets[w.index(epoch)]
		if b.epoch.Load() == epoch {
			b.calls.Add(n)
			return
		}
	}
	atomic.AddUint64(&w.retired.Calls, n)
}

func (w *Time) recordSlow(now int64, k Kind, c uint64) {
	var b *bucket
	if now < (int64(c)>>idxBits+1)*w.width {
		b = &w.buckets[c&(1<<idxBits-1)]
	} else {
		b = w.rotate(now)
	}
	w.record(b, k)
}

// record adds one call of kind k to bucket b.
func (w *Time) record(b *bucket, k Kind) {
	if k == Success {
		b.calls.Add(1)
		return
	}
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
		atomic.AddUint64(&w.retired.Ignored, 1)
		return
	}
	atomic.AddUint64(&w.retired.Calls, 1)
	if k&FailureBit != 0 {
		atomic.AddUint64(&w.retired.Failures, 1)
	}
	if k&SlowBit != 0 {
		atomic.AddUint64(&w.retired.Slow, 1)
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

// CountsAt returns the aggregate of the window ending at now.
func (w *Time) CountsAt(now int64) Counts {
	e := w.epochOf(now)
	if h := w.head.Load(); h > e {
		e = h
	}
	var c Counts
	n := int64(len(w.buckets))
	// The accumulators first, then the buckets they fold into: a fold
	// racing this read is then counted twice or once, never lost.
	if set := w.stripes.Load(); set != nil {
		gen := set.gen.Load()
		for i := range set.s {
			s := &set.s[i]
			se := atomic.LoadInt64(&s.epoch)
			if atomic.LoadUint64(&s.gen) == gen && se > e-n && se <= e {
				c.Calls += atomic.LoadUint64(&s.calls)
			}
		}
	}
	for i := range w.buckets {
		b := &w.buckets[i]
		be := b.epoch.Load()
		if be <= e-n || be > e {
			continue
		}
		c.Calls += b.calls.Load()
		c.Failures += b.failures.Load()
		c.Slow += b.slow.Load()
		c.Ignored += b.ignored.Load()
	}
	return c
}

// Totals returns the aggregate of every call ever recorded, in or out of
// the window. Successive readings never decrease (they feed monotonic
// counters such as Prometheus's): a reading that a move of counts (a fold,
// a bucket retiring) overlapped could count the moved calls twice or not
// at all, so such a reading is retried. Moves come once per bucket width
// per core, so a retry is rare; only buckets narrower than the clock's
// resolution under constant traffic could keep every reading overlapped,
// and after maxTotalsTries Totals returns the last reading as it is.
func (w *Time) Totals() Counts {
	for try := 0; try < maxTotalsTries; try++ {
		before := w.moves.Load()
		if uint32(before) == 0 { // no move in progress
			c := w.totals()
			if w.moves.Load() == before { // and none since
				return c
			}
		}
		if try >= 8 {
			// A mover may have been descheduled mid-move: let it finish.
			runtime.Gosched()
		}
	}
	return w.totals()
}

// maxTotalsTries bounds the readings Totals makes.
const maxTotalsTries = 1000

// totals adds up every count, in the order counts move: accumulators fold
// into buckets, buckets retire into the totals.
func (w *Time) totals() Counts {
	var c Counts
	if set := w.stripes.Load(); set != nil {
		for i := range set.s {
			c.Calls += atomic.LoadUint64(&set.s[i].calls)
		}
	}
	for i := range w.buckets {
		b := &w.buckets[i]
		c.Calls += b.calls.Load()
		c.Failures += b.failures.Load()
		c.Slow += b.slow.Load()
		c.Ignored += b.ignored.Load()
	}
	c.Calls += atomic.LoadUint64(&w.retired.Calls)
	c.Failures += atomic.LoadUint64(&w.retired.Failures)
	c.Slow += atomic.LoadUint64(&w.retired.Slow)
	c.Ignored += atomic.LoadUint64(&w.retired.Ignored)
	return c
}

// Buckets returns the number of buckets.
func (w *Time) Buckets() int { return len(w.buckets) }

// Width returns the time one bucket covers.
func (w *Time) Width() time.Duration { return time.Duration(w.width) }
