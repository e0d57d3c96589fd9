package clock

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultResolution is the refresh interval of a Coarse clock made with a
// zero resolution.
const DefaultResolution = time.Millisecond

// idleTicks is how many refreshes in a row may pass without a reader before
// the background goroutine of a Coarse clock stops by itself.
const idleTicks = 50

// Coarse is a clock for hot paths. Its Nanotime is a cached reading of the
// base clock that a background goroutine refreshes every resolution, so a
// reader pays one atomic load instead of a clock call, at the price of being
// up to one resolution behind.
//
// The goroutine starts lazily, on the first Nanotime, and stops by itself
// after 50 refreshes in a row without a reader (50 ms at the default
// resolution), to start again on the next read; Stop ends it at once. An idle
// Coarse clock therefore costs nothing and leaks nothing. Now, NewTimer and
// AfterFunc are the base clock's.
//
// When the base is a Fake clock, Coarse reads it directly instead: a test
// that advances the fake clock sees the new time at once.
type Coarse struct {
	base       Clock
	resolution time.Duration
	now        atomic.Int64
	// state is coarseStopped, coarseIdle (running, not read since the last
	// refresh) or coarseRead (running and read). A reader writes it at most
	// once per refresh, so readers on many cores do not fight over it.
	state   atomic.Int32
	mu      sync.Mutex // serialises start and Stop
	stop    chan struct{}
	done    chan struct{}
	passthr bool
}

const (
	coarseStopped int32 = iota
	coarseIdle
	coarseRead
)

// NewCoarse returns a coarse clock over base (Real() if nil) refreshed every
// resolution (DefaultResolution if zero). A negative resolution is an error.
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
	_, fake := base.(*Fake)
	return &Coarse{base: base, resolution: resolution, passthr: fake}, nil
}

// Cached returns the clock hot paths should read c through: c itself when
// it is a *Coarse, a Coarse over the real clock at DefaultResolution when c
// is Real() (or nil), and otherwise a Coarse that passes every reading
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
	return &Coarse{base: c, resolution: DefaultResolution, passthr: true}
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

// Resolution returns the refresh interval.
func (c *Coarse) Resolution() time.Duration { return c.resolution }

// Nanotime returns the cached monotonic reading, starting the refresh
// goroutine if it is not running.
func (c *Coarse) Nanotime() int64 {
	if c.state.Load() == coarseRead {
		return c.now.Load()
	}
	return c.markRead()
}

// markRead is Nanotime's slow path: read a fake base directly, start the
// goroutine, or tell it that the clock was read since its last refresh.
func (c *Coarse) markRead() int64 {
	if c.passthr {
		return c.base.Nanotime()
	}
	if c.state.CompareAndSwap(coarseIdle, coarseRead) {
		return c.now.Load()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state.Load() != coarseStopped {
		c.state.Store(coarseRead)
		return c.now.Load()
	}
	c.store(c.base.Nanotime())
	c.stop = make(chan struct{})
	c.done = make(chan struct{})
	c.state.Store(coarseRead)
	go c.refresh(c.stop, c.done)
	return c.now.Load()
}

func (c *Coarse) refresh(stop, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(c.resolution)
	defer t.Stop()
	idle := 0
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		c.store(c.base.Nanotime())
		if c.state.CompareAndSwap(coarseRead, coarseIdle) {
			idle = 0
			continue
		}
		idle++
		if idle < idleTicks {
			continue
		}
		c.mu.Lock()
		if c.stop != stop {
			// Stop ended this goroutine and a read has started its
			// successor since: the state is the successor's.
			c.mu.Unlock()
			return
		}
		if c.state.CompareAndSwap(coarseIdle, coarseStopped) {
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		idle = 0
	}
}

// store publishes the reading v unless a later one is already there: a
// goroutine ended by Stop may still store a reading after a read has started
// its successor, and Nanotime must not go backwards.
func (c *Coarse) store(v int64) {
	for {
		old := c.now.Load()
		if v <= old || c.now.CompareAndSwap(old, v) {
			return
		}
	}
}

// Running reports whether the refresh goroutine is running.
func (c *Coarse) Running() bool { return c.state.Load() != coarseStopped }

// Stop ends the refresh goroutine and waits for it to exit. The clock stays
// usable: the next Nanotime starts it again. Stop is idempotent.
func (c *Coarse) Stop() {
	c.mu.Lock()
	if c.state.Load() == coarseStopped {
		// The goroutine may have stopped itself and still be exiting.
		done := c.done
		c.mu.Unlock()
		if done != nil {
			<-done
		}
		return
	}
	c.state.Store(coarseStopped)
	stop, done := c.stop, c.done
	c.mu.Unlock()
	close(stop)
	<-done
}

// Now returns the base clock's time.
func (c *Coarse) Now() time.Time { return c.base.Now() }

// NewTimer returns a timer of the base clock.
func (c *Coarse) NewTimer(d time.Duration) Timer { return c.base.NewTimer(d) }

// AfterFunc returns a timer of the base clock.
func (c *Coarse) AfterFunc(d time.Duration, f func()) Timer { return c.base.AfterFunc(d, f) }
