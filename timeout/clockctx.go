package timeout

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/clock"
)

// clockCtx is the context a Policy gives the call: like
// context.WithDeadlineCause(parent, deadline, ErrTimeout) (Err is
// context.DeadlineExceeded once the deadline passed, context.Cause is
// ErrTimeout, and it ends when the parent ends), with two differences that
// make it cheap:
//
//   - Time is read through clock.Cached, a direct reading of the
//     monotonic clock (no interface call), within the clock's resolution,
//     a millisecond by default.
//   - Nothing is armed until someone waits: the timer and the registration
//     with the parent are made on the first Done or AfterFunc (which is how
//     contexts derived from this one, and select statements, wait). A call
//     that only polls Err, or never looks at its context, costs one
//     allocation and no timer.
//
// With a clock.Fake the timer is the fake clock's, so a test that advances
// the clock past the deadline cancels the call.
//
// It implements the AfterFunc method the context package looks for, so
// contexts derived from it are canceled without a goroutine of their own.
//
// Reading it takes no lock: Value answers every key but its own from the
// parent, and Err and the deadline check read the state through an atomic.
// The mutex is for waiting (Done, AfterFunc), ending, and Hold.
type clockCtx struct {
	parent context.Context
	clk    *clock.Coarse
	// dl is the deadline on clk's Nanotime scale; never (math.MaxInt64),
	// when the timeout reaches past the end of that scale, means it can
	// never pass: no timer is armed for it and poll never fires it.
	dl int64

	mu    sync.Mutex
	done  chan struct{} // nil until first asked for; requires mu
	armed bool          // the timer and the parent registration exist
	// state is live, ending or ended; written under mu, read with or
	// without it. err and cause are written once, under mu, before state
	// leaves live, and never again: a reader that loads a state other than
	// live may read them without mu.
	state atomic.Uint32
	timer clock.Timer
	// stopParent unregisters the context.AfterFunc on parent; nil when
	// not armed or parent can never end.
	stopParent func() bool
	err        error // nil while live; see state
	// cause is a context canceled with ErrTimeout, set when the deadline
	// ended this context; see state. Value hands it out for the context
	// package's cancel-context key so that context.Cause of this context
	// and of its descendants reports ErrTimeout.
	cause context.Context
	// afters are the functions registered with AfterFunc; requires mu.
	afters map[uint64]func()
	nextID uint64
	// holds counts Hold calls not yet released; finished is set when the
	// policy's Run is done with the context. Both require mu.
	holds    int
	finished bool
	// standalone: made by NewContext, not by a policy's Run. Hold does
	// not see it; its CancelFunc releases it at once.
	standalone bool
}

// The states of a clockCtx. ending lasts while end, holding mu, closes the
// done channel: Err waits for ended, so that a non-nil Err never comes
// before Done is closed.
const (
	live uint32 = iota
	ending
	ended
)

// never is the deadline of a timeout that reaches past the end of the
// clock's Nanotime scale: a time that cannot come.
const never = math.MaxInt64

// newClockCtx returns a context that ends d after now, a reading of clk.
// A deadline past the end of the Nanotime scale saturates to never instead
// of wrapping around into the past.
func newClockCtx(parent context.Context, clk *clock.Coarse, now int64, d time.Duration) *clockCtx {
	return &clockCtx{parent: parent, clk: clk, dl: addSat(now, int64(d))}
}

// addSat returns a+b, clamped to [math.MinInt64, math.MaxInt64] instead of
// wrapping around.
func addSat(a, b int64) int64 {
	s := a + b
	if (s > a) != (b > 0) {
		if b > 0 {
			return math.MaxInt64
		}
		return math.MinInt64
	}
	return s
}

// poll ends the context if its parent ended or its deadline passed, for
// readers that do not wait on Done.
func (c *clockCtx) poll() {
	if c.state.Load() != live {
		return
	}
	if err := c.parent.Err(); err != nil {
		c.end(err, false)
	} else if c.dl != never && c.clk.Nanotime() >= c.dl {
		c.end(context.DeadlineExceeded, true)
	}
}

// armLocked starts the timer and the parent registration; requires mu.
func (c *clockCtx) armLocked() {
	if c.armed || c.state.Load() != live {
		return
	}
	c.armed = true
	if c.dl != never {
		c.timer = c.clk.AfterFunc(c.left(), func() { c.end(context.DeadlineExceeded, true) })
	}
	if c.parent.Done() != nil {
		c.stopParent = context.AfterFunc(c.parent, func() { c.end(c.parent.Err(), false) })
	}
}

// end closes the context with err. fired says the deadline did it.
func (c *clockCtx) end(err error, fired bool) {
	var cause context.Context
	if fired {
		var cancel context.CancelCauseFunc
		cause, cancel = context.WithCancelCause(context.Background())
		cancel(ErrTimeout)
	}
	c.mu.Lock()
	if c.state.Load() != live {
		c.mu.Unlock()
		return
	}
	c.err = err
	c.cause = cause
	c.state.Store(ending) // publishes err and cause
	afters := c.afters
	c.afters = nil
	if c.done != nil {
		close(c.done)
	}
	c.state.Store(ended)
	c.mu.Unlock()
	// The registered functions come from the context package (a derived
	// context's cancel): short, non-blocking, and run with no lock held.
	for _, f := range afters {
		f()
	}
}

// release stops the timer and the parent registration and ends the context
// with context.Canceled if it has not ended yet: the CancelFunc.
//
// It ends the context first: once ended, nothing arms it any more
// (armLocked looks at the state under the mutex), so the timer and the
// registration it then reads are all there is to stop. (Reading them
// first let a Done racing the release arm both after the reading, and
// they then outlived the context.)
func (c *clockCtx) release() {
	c.end(context.Canceled, false)
	c.mu.Lock()
	t, stop := c.timer, c.stopParent
	c.mu.Unlock()
	if t != nil {
		t.Stop()
	}
	if stop != nil {
		stop()
	}
}

// timedOut reports whether the deadline ended the context, or has passed
// while nothing else ended it.
func (c *clockCtx) timedOut() bool {
	c.poll()
	return c.endCause() != nil
}

// loadErr returns the error the context ended with, nil while it is live.
// While end is closing the done channel it waits for end to finish, so
// that whoever sees the error also finds Done closed.
func (c *clockCtx) loadErr() error {
	switch c.state.Load() {
	case live:
		return nil
	case ending:
		c.mu.Lock() // end holds it until done is closed
		c.mu.Unlock()
	}
	return c.err
}

// endCause returns cause, nil while the context is live or when the
// deadline did not end it.
func (c *clockCtx) endCause() context.Context {
	if c.state.Load() == live {
		return nil
	}
	return c.cause
}

// left returns the time until the deadline, clamped instead of wrapping
// around when dl is never or the clock reads below zero (a fake clock Set
// back past its start).
func (c *clockCtx) left() time.Duration {
	return time.Duration(addSat(c.dl, -c.clk.Nanotime()))
}

// Deadline returns the deadline as a wall-clock time, computed when asked
// from the time left on the coarse clock. For a deadline that is never,
// that is about 292 years from now (time.Time.Add saturates, it does not
// wrap).
func (c *clockCtx) Deadline() (time.Time, bool) {
	return c.clk.Now().Add(c.left()), true
}

func (c *clockCtx) Done() <-chan struct{} {
	c.poll() // a parent that already ended, or a deadline already passed
	c.mu.Lock()
	if c.done == nil {
		c.done = make(chan struct{})
		if c.state.Load() != live {
			close(c.done)
		} else {
			c.armLocked()
		}
	}
	d := c.done
	c.mu.Unlock()
	return d
}

func (c *clockCtx) Err() error {
	c.poll()
	return c.loadErr()
}

// Value answers fusebox.HoldKey with the context itself (unless
// standalone), the context package's cancel-context key with cause once
// the deadline ended the context, and every other key from the parent,
// without a lock or a look at the state: a lookup through it costs what
// one through context.WithTimeout does.
func (c *clockCtx) Value(key any) any {
	if key == cancelKey || cancelKey == nil {
		return c.cancelValue(key)
	}
	if _, ok := key.(fusebox.HoldKey); ok && !c.standalone {
		return c
	}
	return c.parent.Value(key)
}

// cancelValue is Value for the cancel-context key, which context.Cause
// asks for: cause, if the deadline ended the context (polled first, for a
// deadline that passed while nobody waited), else the parent's answer.
// Should cancelKey be unknown, it is Value for every key.
func (c *clockCtx) cancelValue(key any) any {
	if _, ok := key.(fusebox.HoldKey); ok && !c.standalone {
		return c
	}
	c.poll()
	if cause := c.endCause(); cause != nil {
		// cause is a cancel context over Background: the only key it
		// answers is the context package's own.
		if v := cause.Value(key); v != nil {
			return v
		}
	}
	return c.parent.Value(key)
}

// cancelKey is the key under which the context package's cancel contexts
// answer Value with themselves (the address of its unexported
// cancelCtxKey): context.Cause, and context.WithCancel on a custom parent,
// ask for it. findCancelKey learns it by handing context.Cause a context
// that records the key it is asked for, and checks that a cancel context
// answers that key with itself; nil if either fails (a change in the
// context package), and then Value takes the slow path for every key.
var cancelKey = findCancelKey()

func findCancelKey() any {
	p := &keyProbe{Context: context.Background()}
	_ = context.Cause(p)
	cc, cancel := context.WithCancel(context.Background())
	defer cancel()
	if p.key == nil || cc.Value(p.key) != cc {
		return nil
	}
	return p.key
}

// keyProbe is an ended context that records the first key Value is asked
// for.
type keyProbe struct {
	context.Context
	key any
}

func (p *keyProbe) Err() error { return context.Canceled }

func (p *keyProbe) Value(key any) any {
	if p.key == nil {
		p.key = key
	}
	return nil
}

// AfterFunc is the hook context.WithCancel and context.AfterFunc use to
// learn when this context ends. f runs once the context ends, or at once in
// its own goroutine if it already has (the caller may hold a lock f needs).
func (c *clockCtx) AfterFunc(f func()) (stop func() bool) {
	c.poll()
	c.mu.Lock()
	if c.state.Load() != live {
		c.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	c.armLocked()
	if c.afters == nil {
		c.afters = make(map[uint64]func())
	}
	id := c.nextID
	c.nextID++
	c.afters[id] = f
	c.mu.Unlock()
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		_, ok := c.afters[id]
		delete(c.afters, id)
		return ok
	}
}

func (c *clockCtx) String() string {
	d, _ := c.Deadline()
	return "timeout.clockCtx(" + d.String() + ")"
}
