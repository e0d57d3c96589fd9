package ratelimit

import (
	"context"
	"fmt"
	"math/bits"
	"sync/atomic"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/clock"
)

// MaxWindowLimit is the largest Limit a Window accepts.
const MaxWindowLimit = sealed - 1

// DefaultWindow is the Window of a WindowConfig that leaves it zero.
const DefaultWindow = time.Second

// WindowConfig configures a Window limiter. Limit has no default: the zero
// WindowConfig is rejected by NewWindow.
type WindowConfig struct {
	// Name identifies the limiter in events.
	Name string `json:"name" yaml:"name"`
	// Limit is how many calls are allowed per Window. Required: 1 to
	// MaxWindowLimit.
	Limit int `json:"limit" yaml:"limit"`
	// Window is the length of the sliding window. Zero means DefaultWindow
	// (1s); negative values are an error.
	Window time.Duration `json:"window" yaml:"window"`
	// Clock supplies the time; nil means clock.Default().
	Clock clock.Clock `json:"-" yaml:"-"`
	// Events, when set, receives an EventRejected (Policy "ratelimit",
	// Reason "rate limited") for every call Allow or Run refuses. nil means
	// no events.
	Events *fusebox.Events `json:"-" yaml:"-"`
}

// Window is a sliding-window counter rate limiter: it allows a call when
// fewer than Limit calls were allowed in the Window-long span that ends now.
// It is safe for concurrent use; create one with NewWindow.
//
// It keeps no log of calls: it counts calls per fixed window and estimates
// the sliding count as the current window's count plus the previous
// window's count weighted by how much of the previous window the sliding
// span still covers, assuming the previous window's calls were spread
// evenly. The estimate never lets more than Limit calls into one fixed
// window, and smooths the boundary between windows, where a plain fixed
// window admits up to 2×Limit calls in quick succession.
//
// Allow is lock-free and allocation-free: one compare-and-swap on the
// current window's counter. Starting a new window allocates one small
// object, once per window.
type Window struct {
	// Read-only after NewWindow.
	limit  int64
	width  int64
	clk    clock.Clock
	name   string
	events *fusebox.Events

	_ [64]byte

	cur      atomic.Pointer[windowState]
	allowed  atomic.Uint64
	rejected atomic.Uint64
}

// windowState is one fixed window: its start, the final count of the
// window before it, and its own count. A window is retired by sealing its
// count: once the sealed bit is set the count is final, so the next window
// gets an exact previous count however many callers race at the boundary.
type windowState struct {
	start int64 // Nanotime at which the window starts; a multiple of width
	prev  int64 // count of the window before, if it was [start-width, start)
	count atomic.Int64
}

const sealed = int64(1) << 62

// NewWindow returns a Window limiter configured by c, or an error naming
// the first field that is out of range.
func NewWindow(c WindowConfig) (*Window, error) {
	if c.Limit < 1 || int64(c.Limit) > MaxWindowLimit {
		return nil, fmt.Errorf("ratelimit: Limit %d out of range: want 1 to %d", c.Limit, int64(MaxWindowLimit))
	}
	if c.Window < 0 {
		return nil, fmt.Errorf("ratelimit: Window %v out of range: want 0 (default %v) or more", c.Window, DefaultWindow)
	}
	w := &Window{limit: int64(c.Limit), width: int64(c.Window), clk: c.Clock, name: c.Name, events: c.Events}
	if w.width == 0 {
		w.width = int64(DefaultWindow)
	}
	if w.clk == nil {
		w.clk = clock.Default()
	}
	w.cur.Store(&windowState{start: w.windowStart(w.clk.Nanotime())})
	return w, nil
}

// windowStart returns the start of the fixed window holding now.
func (w *Window) windowStart(now int64) int64 {
	start := now - now%w.width
	if start > now { // now < 0: % truncates towards zero
		start -= w.width
	}
	return start
}

// Limit returns the configured limit per window.
func (w *Window) Limit() int { return int(w.limit) }

// Width returns the length of the window.
func (w *Window) Width() time.Duration { return time.Duration(w.width) }

// Allow reports whether a call may happen now, and counts it if so.
func (w *Window) Allow() bool {
	return w.allowAt(w.clk.Nanotime())
}

// allowAt is Allow at the given Nanotime reading.
func (w *Window) allowAt(now int64) bool {
	start := w.windowStart(now)
	for {
		s := w.cur.Load()
		if start > s.start {
			w.roll(s, start)
			continue
		}
		c := s.count.Load()
		if c&sealed != 0 {
			// Another caller is retiring s: help it, so no caller ever
			// waits for another.
			w.roll(s, s.start+w.width)
			continue
		}
		// A caller whose reading predates s (it read the clock before
		// another caller started s) is judged at s's start.
		if !w.fits(s.prev, c, max(now-s.start, 0)) {
			w.rejected.Add(1)
			if w.events.Enabled() {
				publishRejected(w.events, w.name, w.clk, reasonRateLimited, ErrRateLimited)
			}
			return false
		}
		if s.count.CompareAndSwap(c, c+1) {
			w.allowed.Add(1)
			return true
		}
	}
}

// roll retires s and installs the window starting at start in its place,
// unless another caller has replaced s already.
func (w *Window) roll(s *windowState, start int64) {
	c := s.count.Load()
	for c&sealed == 0 {
		if s.count.CompareAndSwap(c, c|sealed) {
			break
		}
		c = s.count.Load()
	}
	next := &windowState{start: start}
	if start == s.start+w.width {
		next.prev = c &^ sealed
	}
	w.cur.CompareAndSwap(s, next)
}

// fits reports whether one more call fits when the previous window counted
// prev, the current one count, and elapsed of the current window has passed:
// whether count + 1 + prev×(width-elapsed)/width <= limit, in exact integer
// arithmetic.
func (w *Window) fits(prev, count, elapsed int64) bool {
	if count+1 > w.limit {
		return false
	}
	if prev == 0 || elapsed >= w.width {
		return true
	}
	hi, lo := bits.Mul64(uint64(prev), uint64(w.width-elapsed))
	q, r := bits.Div64(hi, lo, uint64(w.width)) // hi < width since prev < 2^63
	room := uint64(w.limit - count - 1)
	return q < room || q == room && r == 0
}

// estimate returns the sliding count at now, as Allow judges it.
func (w *Window) estimate(s *windowState, now int64) float64 {
	c := float64(s.count.Load() &^ sealed)
	if s.start+w.width <= now {
		// s is over but not yet replaced: its count is the previous one.
		if s.start+2*w.width <= now {
			return 0
		}
		return c * float64(s.start+2*w.width-now) / float64(w.width)
	}
	elapsed := max(now-s.start, 0)
	return c + float64(s.prev)*float64(w.width-elapsed)/float64(w.width)
}

// Run runs next if the limiter allows a call now, and returns
// ErrRateLimited without running it otherwise.
func (w *Window) Run(ctx context.Context, next fusebox.Next) error {
	if !w.allowAt(w.clk.Nanotime()) {
		return ErrRateLimited
	}
	return next.Run(ctx)
}

// Execute runs fn under the limiter: Run with fusebox.NextFunc(fn).
func (w *Window) Execute(ctx context.Context, fn func(context.Context) error) error {
	return w.Run(ctx, fusebox.NextFunc(fn))
}

// WindowSnapshot is a point-in-time view of a Window limiter. Counters only
// grow.
type WindowSnapshot struct {
	// Limit is the configured number of calls allowed per Window.
	Limit int `json:"limit" yaml:"limit"`
	// Window is the effective length of the sliding window; in JSON,
	// nanoseconds.
	Window time.Duration `json:"window" yaml:"window"`
	// Estimate is the sliding count of calls now, as Allow judges it.
	Estimate float64 `json:"estimate" yaml:"estimate"`
	// Allowed counts the calls Allow (and Run) let through.
	Allowed uint64 `json:"allowed" yaml:"allowed"`
	// Rejected counts the calls Allow (and Run) refused.
	Rejected uint64 `json:"rejected" yaml:"rejected"`
}

// Snapshot returns the limiter's current state and counters.
func (w *Window) Snapshot() WindowSnapshot {
	return WindowSnapshot{
		Limit:    int(w.limit),
		Window:   time.Duration(w.width),
		Estimate: w.estimate(w.cur.Load(), w.clk.Nanotime()),
		Allowed:  w.allowed.Load(),
		Rejected: w.rejected.Load(),
	}
}
