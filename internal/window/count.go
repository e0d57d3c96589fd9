package window

import (
	"fmt"
	"sync/atomic"
)

// MaxCountSize is the largest count-based window: the aggregate of calls,
// failures and slow calls is packed into one 64-bit word, 21 bits each.
const MaxCountSize = 1<<21 - 1

const (
	fieldBits = 21
	callUnit  = uint64(1)
	failUnit  = uint64(1) << fieldBits
	slowUnit  = uint64(1) << (2 * fieldBits)
	fieldMask = uint64(1)<<fieldBits - 1
)

// Count is a count-based sliding window: the outcomes of the last N calls.
//
// Recording takes a slot of the ring with one atomic increment, swaps the new
// outcome into it, and applies the difference between the new outcome and
// the one it replaced to a packed aggregate with one atomic add. Because the
// differences are applied in modular arithmetic to the packed word, they
// telescope: once concurrent records have returned, the aggregate is exactly
// the sum of the ring's slots. (Only when more goroutines than the ring has
// slots record at the same instant can a reader catch a field mid-update.)
// Reading is O(1).
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
	slots         []atomic.Uint32
}

// NewCount returns a window over the last size calls, 1 ≤ size ≤
// MaxCountSize.
func NewCount(size int) (*Count, error) {
	if size < 1 || size > MaxCountSize {
		return nil, fmt.Errorf("window: size %d out of range: want 1 to %d", size, MaxCountSize)
	}
	return &Count{slots: make([]atomic.Uint32, size)}, nil
}

// slot values: 0 is an empty slot; otherwise 1 + the Kind bits.
func packed(v uint32) uint64 {
	if v == 0 {
		return 0
	}
	k := Kind(v - 1)
	p := callUnit
	if k&FailureBit != 0 {
		p += failUnit
	}
	if k&SlowBit != 0 {
		p += slowUnit
	}
	return p
}

// Record adds one call of kind k.
func (w *Count) Record(k Kind) {
	if k&Ignored != 0 {
		w.ignored.Add(1)
		w.totalIgnored.Add(1)
		return
	}
	if k&FailureBit != 0 {
		w.totalFailures.Add(1)
	}
	if k&SlowBit != 0 {
		w.totalSlow.Add(1)
	}
	i := (w.pos.Add(1) - 1) % uint64(len(w.slots))
	nv := uint32(k) + 1
	old := w.slots[i].Swap(nv)
	if old == nv {
		return
	}
	w.agg.Add(packed(nv) - packed(old))
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
// totals are kept. Each slot is emptied like a record of "nothing", so the
// aggregate stays exact even when records race with the reset.
func (w *Count) Reset() {
	w.ignored.Store(0)
	for i := range w.slots {
		if old := w.slots[i].Swap(0); old != 0 {
			w.agg.Add(-packed(old))
		}
	}
}

// Counts returns the aggregate over the window.
func (w *Count) Counts() Counts {
	a := w.agg.Load()
	return Counts{
		Calls:    a & fieldMask,
		Failures: a >> fieldBits & fieldMask,
		Slow:     a >> (2 * fieldBits) & fieldMask,
		Ignored:  w.ignored.Load(),
	}
}

// Totals returns the aggregate of every call ever recorded, in or out of
// the window.
func (w *Count) Totals() Counts {
	return Counts{
		Calls:    w.pos.Load() + w.totalOnly.Load(),
		Failures: w.totalFailures.Load(),
		Slow:     w.totalSlow.Load(),
		Ignored:  w.totalIgnored.Load(),
	}
}

// Size returns the window's capacity in calls.
func (w *Count) Size() int { return len(w.slots) }
