// Package percpu holds counters striped per P (the scheduler's processors),
// for counts that many goroutines bump at once on a hot path: a rejection
// counter of an open circuit breaker, say. An increment touches only the
// running P's own cache line, with no atomic read-modify-write, so it costs
// about as much as a function call and scales with the number of cores.
//
// The running P is found with the runtime's procPin, the mechanism
// sync.Pool uses, reached through go:linkname; the runtime keeps that symbol
// for exactly such packages. Pinning also keeps the goroutine from being
// preempted between reading and writing its slot, which is what makes the
// plain increment safe. Under the race detector the increment is atomic
// instead, so the detector sees no race it cannot understand.
package percpu

import (
	"runtime"
	"sync/atomic"
	_ "unsafe" // for go:linkname
)

//go:linkname procPin runtime.procPin
func procPin() int

//go:linkname procUnpin runtime.procUnpin
func procUnpin()

// slot is one P's counter, alone on its cache line.
type slot struct {
	n uint64
	_ [56]byte
}

// Counter is a monotonically increasing counter. Make one with New; it is
// safe for concurrent use.
type Counter struct {
	slots []slot
	// spill takes the increments of P ids beyond the slots, when
	// GOMAXPROCS grew after New.
	spill atomic.Uint64
}

// New returns a counter with one slot per P of the current GOMAXPROCS.
func New() *Counter {
	return &Counter{slots: make([]slot, runtime.GOMAXPROCS(0))}
}

// Add adds n.
func (c *Counter) Add(n uint64) {
	id := procPin()
	if id < len(c.slots) {
		add(&c.slots[id].n, n)
		procUnpin()
		return
	}
	procUnpin()
	c.spill.Add(n)
}

// Pin pins the calling goroutine to its P, which it keeps (unpreempted)
// until Unpin, and returns the P's id, in [0, GOMAXPROCS). Between Pin and
// Unpin the caller may write, with Store and AddOwned, data that only code
// pinned to the same P writes.
func Pin() int { return procPin() }

// Unpin ends Pin.
func Unpin() { procUnpin() }

// AddPinned adds n for the P id the caller pinned with Pin: Add without
// the pinning, for a hot path that inlines it.
func (c *Counter) AddPinned(id int, n uint64) {
	if id < len(c.slots) {
		add(&c.slots[id].n, n)
		return
	}
	c.spill.Add(n)
}

// Load returns the sum of every increment that happened before the call
// began, and perhaps some of those that raced with it.
func (c *Counter) Load() uint64 {
	if c == nil {
		return 0
	}
	n := c.spill.Load()
	for i := range c.slots {
		n += atomic.LoadUint64(&c.slots[i].n)
	}
	return n
}
