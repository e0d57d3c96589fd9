package timeout

import (
	"context"
	"sync"
	"time"

	"github.com/fusebox-go/fusebox/clock"
)

// clockCtx is a context whose deadline follows a clock other than the real
// one: its Done channel is closed by the clock's AfterFunc timer, so a test
// that advances a clock.Fake past the deadline cancels it. It behaves like a
// context.WithDeadlineCause(parent, deadline, ErrTimeout): Err is
// context.DeadlineExceeded once the timer fired, context.Cause is
// ErrTimeout, and it ends when the parent ends.
//
// It implements the AfterFunc method the context package looks for, so
// contexts derived from it are canceled without a goroutine of their own.
type clockCtx struct {
	parent   context.Context
	deadline time.Time
	done     chan struct{}
	timer    clock.Timer
	// stopParent unregisters the context.AfterFunc on parent; nil when
	// parent can never end.
	stopParent func() bool

	mu  sync.Mutex
	err error // nil until done; requires mu
	// cause is a context canceled with ErrTimeout, set when the timer
	// fired. Value hands out its cancel-context key so that context.Cause
	// of this context and of its descendants reports ErrTimeout.
	cause context.Context
	// afters are the functions registered with AfterFunc; requires mu.
	afters map[uint64]func()
	nextID uint64
}

func newClockCtx(parent context.Context, clk clock.Clock, deadline time.Time, d time.Duration) *clockCtx {
	c := &clockCtx{parent: parent, deadline: deadline, done: make(chan struct{})}
	if err := parent.Err(); err != nil {
		// Ended already: end now rather than in context.AfterFunc's
		// goroutine, so next sees a done context from its first look.
		c.end(err, false)
	} else if parent.Done() != nil {
		c.stopParent = context.AfterFunc(parent, func() { c.end(parent.Err(), false) })
	}
	c.timer = clk.AfterFunc(d, func() { c.end(context.DeadlineExceeded, true) })
	return c
}

// end closes the context with err. fired says the policy's timer did it.
func (c *clockCtx) end(err error, fired bool) {
	var cause context.Context
	if fired {
		var cancel context.CancelCauseFunc
		cause, cancel = context.WithCancelCause(context.Background())
		cancel(ErrTimeout)
	}
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = err
	c.cause = cause
	afters := c.afters
	c.afters = nil
	close(c.done)
	c.mu.Unlock()
	// The registered functions come from the context package (a derived
	// context's cancel): short, non-blocking, and run with no lock held.
	for _, f := range afters {
		f()
	}
}

// release stops the timer and the parent registration and ends the context
// with context.Canceled if it has not ended yet: the CancelFunc.
func (c *clockCtx) release() {
	c.timer.Stop()
	if c.stopParent != nil {
		c.stopParent()
	}
	c.end(context.Canceled, false)
}

// timedOut reports whether the policy's timer ended the context.
func (c *clockCtx) timedOut() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cause != nil
}

func (c *clockCtx) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *clockCtx) Done() <-chan struct{} { return c.done }

func (c *clockCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *clockCtx) Value(key any) any {
	c.mu.Lock()
	cause := c.cause
	c.mu.Unlock()
	if cause != nil {
		// cause is a cancel context over Background: the only key it
		// answers is the context package's own, asked by context.Cause.
		if v := cause.Value(key); v != nil {
			return v
		}
	}
	return c.parent.Value(key)
}

// AfterFunc is the hook context.WithCancel and context.AfterFunc use to
// learn when this context ends. f runs once the context ends, or at once in
// its own goroutine if it already has (the caller may hold a lock f needs).
func (c *clockCtx) AfterFunc(f func()) (stop func() bool) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		go f()
		return func() bool { return false }
	}
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
	return "timeout.clockCtx(" + c.deadline.String() + ")"
}
