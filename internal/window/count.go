package window

import (
	"fmt"
	"sync/atomic"
)

// MaxCountSize is the largest count-based window. The aggregate of calls,
// failures and slow calls is packed into one 64-bit word, 21 bits each; a
// field holds the window's outcomes plus those of records in flight (see
// Count), so the window may fill only half of a field.
const MaxCountSize = 1 << 20

const (
	fieldBits = 21
	callUnit  = uint64(1)
	failUnit  = uint64(1) << fieldBits
	slowUnit  = uint64(1) << (2 * fieldBits)
	fieldMask = uint64(1)<<fieldBits - 1
)

// Count is a count-based sliding window: the outcomes of the last N calls.
//
// A record takes a slot of the ring with one atomic increment and puts its
// outcome there; the aggregate of calls, failures and slow calls is one
// packed word, so a reading is one load and its three counts belong to the
// same instant. A record adds its own outcome to the aggregate before the
// outcome enters the ring, and takes out the outcome it replaced only
// after taking it out of the ring, so every field of the aggregate is at
// all times the sum of the outcomes in the ring plus those of records in
// flight: it never goes below zero, so it never borrows from the field
// above it, whatever the interleaving, and Failures and Slow never exceed
// Calls. (Records in flight can lift a field above the window's size for a
// moment; MaxCountSize leaves room for 2^20 of them at once, which would
// take 2^20 goroutines recording into one window at the same instant.) A
// record whose outcome equals the one it replaces changes nothing in the
// aggregate and skips it: one compare-and-swap of the slot.
//
// Slots hold a record's sequence number beside its outcome, so that a
// compare-and-swap never mistakes a later record's identical outcome for
// the one it read.
type Count struct {
	pos     atomic.Uint64
	agg     atomic.Uint64
	ignored atomic.Uint64 // since the last Reset
	// lifetime totals of the rarer kinds; calls are counted by pos, plus
	// totalOnly for the calls AddTotal counted outside the ring.
	totalOnly     atomic.Uint64
	totalFailures atomic.Uint64
	totalSlow     atomic.Uint64
	totalIgnored  atomic.Uint64
	// slots hold seq<<kindBits | Kind (failure and slow bits), seq the
	// record's 1-based position; 0 is an empty slot.
	slots []atomic.Uint64
}

const kindBits = 2

// countHook, set only by tests, is called between the steps of a record
// that changes the aggregate, with the step's name: "added" (its outcome
// in the aggregate, not yet in the ring), "swapped" (in the ring, the
// replaced outcome not yet taken out of the aggregate).
var countHook func(step string)

// NewCount returns a window over the last size calls, 1 ≤ size ≤
// MaxCountSize.
func NewCount(size int) (*Count, error) {
	if size < 1 || size > MaxCountSize {
		return nil, fmt.Errorf("window: size %d out of range: want 1 to %d", size, MaxCountSize)
	}
	return &Count{slots: make([]atomic.Uint64, size)}, nil
}

// packed returns the aggregate's share of a slot value.
func packed(v uint64) uint64 {
	if v == 0 {
		return 0
	}
	p := callUnit
	if Kind(v)&FailureBit != 0 {
		p += failUnit
	}
	if Kind(v)&SlowBit != 0 {
		p += slowUnit
	}
	return p
}

// Record adds one call of kind k and returns the window's counts just
// after it (Ignored excepted): what a caller judging rates needs, without
// another load.
func (w *Count) Record(k Kind) Counts {
	if k&Ignored != 0 {
		w.ignored.Add(1)
		w.totalIgnored.Add(1)
		return Counts{}
	}
	// The call (pos) before its marks, and Totals reads them in the other
	// order: a reading never finds a failure without its call.
	seq := w.pos.Add(1)
	if k&FailureBit != 0 {
		w.totalFailures.Add(1)
	}
	if k&SlowBit != 0 {
		w.totalSlow.Add(1)
	}
	slot := &w.slots[(seq-1)%uint64(len(w.slots))]
	nv := seq<<kindBits | uint64(k&(FailureBit|SlowBit))
	p := packed(nv)
	if old := slot.Load(); packed(old) == p && slot.CompareAndSwap(old, nv) {
		// The same outcome replaced: the aggregate already counts it.
		return unpack(w.agg.Load())
	}
	w.agg.Add(p)
	if countHook != nil {
		countHook("added")
	}
	old := slot.Swap(nv)
	if countHook != nil {
		countHook("swapped")
	}
	if old == 0 {
		return unpack(w.agg.Load())
	}
	return unpack(w.agg.Add(-packed(old)))
}

// AddTotal adds one call of kind k to the lifetime totals only: Totals
// counts it, the window (Counts) never does. It is for calls judged outside
// the window, such as a circuit breaker's half-open probes.
func (w *Count) AddTotal(k Kind) {
	if k&Ignored != 0 {
		w.totalIgnored.Add(1)
		return
	}
	w.totalOnly.Add(1)
	if k&FailureBit != 0 {
		w.totalFailures.Add(1)
	}
	if k&SlowBit != 0 {
		w.totalSlow.Add(1)
	}
}

// Reset empties the window, the count of ignored calls included. Lifetime
// totals are kept. Each slot is emptied like a record of "nothing": taken
// out of the ring, then out of the aggregate, so the aggregate stays exact
// even when records race with the reset.
func (w *Count) Reset() {
	w.ignored.Store(0)
	for i := range w.slots {
		if old := w.slots[i].Swap(0); old != 0 {
			w.agg.Add(-packed(old))
		}
	}
}

func unpack(a uint64) Counts {
	return Counts{
		Calls:    a & fieldMask,
		Failures: a >> fieldBits & fieldMask,
		Slow:     a >> (2 * fieldBits) & fieldMask,
	}
}

// Counts returns the aggregate over the window.
func (w *Count) Counts() Counts {
	c := unpack(w.agg.Load())
	c.Ignored = w.ignored.Load()
	return c
}

// Totals returns the aggregate of every call ever recorded, in or out of
// the window. Each field only ever grows, and Failures and Slow never
// exceed Calls.
func (w *Count) Totals() Counts {
	// Marks before calls: see Record (and AddTotal, which counts the
	// call first too).
	c := Counts{
		Failures: w.totalFailures.Load(),
		Slow:     w.totalSlow.Load(),
		Ignored:  w.totalIgnored.Load(),
	}
	c.Calls = w.totalOnly.Load() + w.pos.Load()
	return c
}

// Size returns the window's capacity in calls.
func (w *Count) Size() int { return len(w.slots) }
