package clock

import (
	"fmt"
	"sync"
	"time"
)

// DefaultResolution is the resolution of a Coarse clock made with a zero
// resolution: one millisecond.
const DefaultResolution = time.Millisecond

// Coarse is the clock hot paths read: policies get one from Cached at
// construction, so that every reading is a direct, inlinable call instead of
// an interface call.
//
// Nanotime promises a reading at most Resolution behind the base clock, under
// any scheduling: a call that starts when the base reads s and returns when
// it reads e returns a reading between s − Resolution and e. Over the real
// clock it keeps that with room to spare: it reads the monotonic clock on
// every call (the reading Real().Nanotime takes, time.Since of a fixed
// origin: no lock, no allocation, no goroutine), so its reading lies
// between s and e.
//
// The name is that of the first design. Earlier versions served a reading
// that a background goroutine refreshed every resolution, for the price of
// one atomic load. No such cache can keep a bound in time: its goroutine
// may not run for many milliseconds (with GOMAXPROCS=1 and one busy
// goroutine it lagged 10 ms and more), and a reader cannot tell how old the
// cached reading is without reading a clock, which is all a fresh reading
// costs. A reading of the monotonic clock costs more than the atomic load
// did (about 27 ns against 1 ns on a two-core linux/amd64 VM, more when the
// host is busy; BenchmarkNanotime in the package's tests measures both),
// about half of what time.Now costs, and scales with the number of cores.
//
// When the base is not the real clock, Coarse passes every reading to it: a
// test that advances a Fake clock sees the new time at once, and a custom
// clock keeps its exact semantics. Now, NewTimer and AfterFunc are always
// the base clock's.
type Coarse struct {
	base       Clock
	resolution time.Duration
	direct     bool // base is Real(): read the monotonic clock without an interface call
}

// NewCoarse returns a coarse clock over base (Real() if nil) whose readings
// are at most resolution behind base (DefaultResolution if zero). A negative
// resolution is an error.
func NewCoarse(base Clock, resolution time.Duration) (*Coarse, error) {
	if resolution < 0 {
		return nil, fmt.Errorf("clock: resolution %v is negative; want 0 (default %v) or more", resolution, DefaultResolution)
	}
	if resolution == 0 {
		resolution = DefaultResolution
	}
	if base == nil {
		base = Real()
	}
	_, direct := base.(realClock)
	return &Coarse{base: base, resolution: resolution, direct: direct}, nil
}

// Cached returns the clock hot paths should read c through: c itself when
// it is a *Coarse, the shared Default() when c is Real() (or nil), one
// Coarse per Fake clock, and otherwise a Coarse that passes every reading
// straight to c, so a custom clock keeps its exact semantics. Policies call
// it once, at construction, so their hot path makes a direct, inlinable
// call instead of an interface call.
func Cached(c Clock) *Coarse {
	switch cc := c.(type) {
	case *Coarse:
		return cc
	case nil, realClock:
		return Default()
	case *Fake:
		return cc.cached
	}
	return &Coarse{base: c, resolution: DefaultResolution}
}

var (
	defaultCoarseOnce sync.Once
	defaultCoarse     *Coarse
)

// Default returns the process-wide coarse clock over the real clock at
// DefaultResolution: the clock every policy uses when its config names none.
func Default() *Coarse {
	defaultCoarseOnce.Do(func() {
		defaultCoarse, _ = NewCoarse(Real(), DefaultResolution)
	})
	return defaultCoarse
}

// Resolution returns the most a reading of c may be behind its base clock,
// under any scheduling. Readings over the real clock are taken during the
// call and are behind by less than that; readings over any other base are
// the base's own.
func (c *Coarse) Resolution() time.Duration { return c.resolution }

// Nanotime returns a monotonic reading in nanoseconds: over the real clock,
// the same reading as Real().Nanotime, taken during the call; over any other
// base, the base's Nanotime.
func (c *Coarse) Nanotime() int64 {
	if c.direct {
		return int64(time.Since(origin))
	}
	return c.base.Nanotime()
}

// Running reports whether a background goroutine of c is running: always
// false, since Nanotime reads the base clock itself. It remains for code
// written for earlier versions, whose Coarse clock refreshed its reading in
// a goroutine.
func (c *Coarse) Running() bool { return false }

// Stop does nothing: c has no goroutine to end. It remains for code written
// for earlier versions, whose Coarse clock refreshed its reading in a
// goroutine that Stop ended.
func (c *Coarse) Stop() {}

// Now returns the base clock's time.
func (c *Coarse) Now() time.Time { return c.base.Now() }

// NewTimer returns a timer of the base clock.
func (c *Coarse) NewTimer(d time.Duration) Timer { return c.base.NewTimer(d) }

// AfterFunc returns a timer of the base clock.
func (c *Coarse) AfterFunc(d time.Duration, f func()) Timer { return c.base.AfterFunc(d, f) }
