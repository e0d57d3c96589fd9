package timeout

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/clock"
)

// DefaultTimeout is the timeout of a Config whose Timeout is zero.
const DefaultTimeout = time.Second

// ErrTimeout is matched by the error Run returns when the policy's own
// deadline passed before the call finished. It is [fusebox.ErrTimeout].
var ErrTimeout = fusebox.ErrTimeout

// Config configures a Policy. The zero value is usable: a one-second timeout
// on the real clock, no events.
type Config struct {
	// Name identifies the policy in events.
	Name string `json:"name" yaml:"name"`
	// Timeout is how long a call may take. Zero means DefaultTimeout (1s);
	// a negative value is an error. The deadline saturates: a Timeout so
	// large that it reaches past the end of the clock's scale (such as
	// math.MaxInt64) is a deadline that never passes, with no timer.
	Timeout time.Duration `json:"timeout" yaml:"timeout"`
	// Clock is the time source; nil means the real clock, read through
	// the default coarse clock (millisecond precision). The deadline is a
	// timer of this clock, armed only when the call waits on its context:
	// with a clock.Fake, a test that advances the clock past it cancels
	// the call.
	Clock clock.Clock `json:"-" yaml:"-"`
	// Events, when set, receives an EventTimeout (Policy "timeout", Delay
	// the timeout, Err the function's error) for each call that Run ends
	// with ErrTimeout, when the call returns. nil means no events.
	Events *fusebox.Events `json:"-" yaml:"-"`
}

// Policy is a per-call timeout. It is safe for concurrent use; build it
// once with New and share it.
type Policy struct {
	timeout time.Duration
	clock   clock.Clock
	coarse  *clock.Coarse // clock.Cached(clock): cheap readings, lazy timers
	name    string
	events  *fusebox.Events

	calls    atomic.Uint64
	timeouts atomic.Uint64
}

// New validates cfg and returns a Policy.
func New(cfg Config) (*Policy, error) {
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("timeout: Timeout %v out of range: want 0 (default %v) or more", cfg.Timeout, DefaultTimeout)
	}
	p := &Policy{timeout: cfg.Timeout, clock: cfg.Clock, name: cfg.Name, events: cfg.Events}
	if p.timeout == 0 {
		p.timeout = DefaultTimeout
	}
	if p.clock == nil {
		p.clock = clock.Real()
	}
	p.coarse = clock.Cached(p.clock)
	return p, nil
}

// Timeout returns the configured timeout.
func (p *Policy) Timeout() time.Duration { return p.timeout }

// Run runs next with a context that is canceled when the timeout passes, in
// the caller's goroutine, and returns when next returns.
//
// It returns nil when next returned nil, even past the deadline: a function
// that finished its work has a result that stands. It returns an [*Error]
// matching [ErrTimeout] and wrapping next's error when the policy's deadline
// passed while ctx was still live; otherwise next's error unchanged (in
// particular when ctx ended first: the caller's deadline or cancellation).
//
// Inside next, ctx.Err() is context.DeadlineExceeded once the policy's
// deadline has passed, and context.Cause reports ErrTimeout.
//
// Cost: when ctx's deadline is earlier than the policy's, nothing (the
// caller's deadline governs and ctx is passed through). Otherwise one
// allocation, the context, and no timer for a call that never waits on its
// context (that polls Err, or ignores it); a call that waits (selects on
// Done, or derives a context, as net/http does) also pays for the timer,
// about what context.WithTimeout costs. Plus the *Error on a timeout.
func (p *Policy) Run(ctx context.Context, next fusebox.Next) error {
	p.calls.Add(1)
	if cur, ok := ctx.Deadline(); ok && !cur.After(p.coarse.Now().Add(p.timeout)) {
		// The caller's deadline governs; whatever happens is the caller's.
		return next.Run(ctx)
	}
	cc := newClockCtx(ctx, p.coarse, p.coarse.Nanotime(), p.timeout)
	err := runGuarded(cc, next, cc.release)
	fired := err != nil && ctx.Err() == nil && cc.timedOut()
	cc.finish()
	if !fired {
		return err
	}
	p.timeouts.Add(1)
	if p.events.Enabled() {
		p.events.Publish(fusebox.Event{Kind: fusebox.EventTimeout, Policy: "timeout", Name: p.name, At: p.clock.Now(), Delay: p.timeout, Err: err})
	}
	return &Error{Timeout: p.timeout, Err: err}
}

// runGuarded runs next and, should it panic, releases the derived context on
// the way out without recovering, so the panic keeps its original stack.
func runGuarded(ctx context.Context, next fusebox.Next, release func()) error {
	finished := false
	defer func() {
		if !finished {
			release()
		}
	}()
	err := next.Run(ctx)
	finished = true
	return err
}

// Execute runs fn under the policy: Run with fusebox.NextFunc(fn).
func (p *Policy) Execute(ctx context.Context, fn func(context.Context) error) error {
	return p.Run(ctx, fusebox.NextFunc(fn))
}

// Snapshot is a point-in-time copy of a Policy's counters.
type Snapshot struct {
	// Timeout is the configured timeout.
	Timeout time.Duration `json:"timeout"`
	// Calls is how many calls Run started.
	Calls uint64 `json:"calls"`
	// Timeouts is how many calls ended with ErrTimeout.
	Timeouts uint64 `json:"timeouts"`
}

// Snapshot returns the policy's counters. It is safe to call concurrently
// with Run; the counters are read one by one, not as one atomic view.
func (p *Policy) Snapshot() Snapshot {
	return Snapshot{Timeout: p.timeout, Calls: p.calls.Load(), Timeouts: p.timeouts.Load()}
}

// Error is the error Run returns when the policy's deadline passed before
// the call finished. It matches ErrTimeout with errors.Is, and the error the
// function returned stays reachable with errors.Is and errors.As.
type Error struct {
	// Timeout is the policy's timeout.
	Timeout time.Duration
	// Err is the error the function returned, often context.DeadlineExceeded.
	Err error
}

// Error returns "timeout: call exceeded <timeout>: <err>".
func (e *Error) Error() string {
	return "timeout: call exceeded " + e.Timeout.String() + ": " + e.Err.Error()
}

// Unwrap returns ErrTimeout and the function's error.
func (e *Error) Unwrap() []error { return []error{ErrTimeout, e.Err} }
