// Package clock is the time source of every Fusebox policy. Policies never
// call the time package directly: they take a Clock, so tests drive them with
// a [Fake] clock that only moves when told to, and hot paths read a [Coarse]
// clock through a direct call instead of an interface call. Over the real
// clock a Coarse reading is a reading of the monotonic clock taken during
// the call, cheaper than time.Now and never behind real time, however the
// goroutines are scheduled.
//
// Nanotime is the clock's hot-path reading: nanoseconds on a monotonic scale
// with an arbitrary fixed origin, comparable only with other readings of the
// same clock.
package clock

import "time"

// Clock is a source of time and timers. Implementations are safe for
// concurrent use.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// Nanotime returns a monotonic reading in nanoseconds since an arbitrary
	// origin fixed for the clock's lifetime.
	Nanotime() int64
	// NewTimer returns a timer that sends the time on its channel once d has
	// passed.
	NewTimer(d time.Duration) Timer
	// AfterFunc runs f in its own goroutine once d has passed, unless the
	// returned timer is stopped first. A Fake clock runs f synchronously
	// inside Advance instead.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a single-shot timer made by a Clock.
type Timer interface {
	// C returns the channel a NewTimer timer fires on; nil for AfterFunc.
	C() <-chan time.Time
	// Stop prevents the timer from firing. It returns false if the timer had
	// already fired or been stopped. As with time.Timer since Go 1.23, a
	// channel timer whose time has not been received counts as pending:
	// Stop discards the time and returns true.
	Stop() bool
	// Reset makes the timer fire d from now. It returns true if the timer
	// was still pending (in the sense of Stop); no time from before the
	// Reset is received after it.
	Reset(d time.Duration) bool
}

// Real returns the clock of the operating system. Its Nanotime reads the
// monotonic clock on every call. Hot paths read it through Cached(Real()),
// the shared Default() clock, which takes the same readings with a direct
// call.
func Real() Clock { return realClock{} }

type realClock struct{}

// origin anchors Real().Nanotime; time.Since uses the monotonic reading.
var origin = time.Now()

func (realClock) Now() time.Time  { return time.Now() }
func (realClock) Nanotime() int64 { return int64(time.Since(origin)) }

func (realClock) NewTimer(d time.Duration) Timer {
	return realTimer{t: time.NewTimer(d)}
}

func (realClock) AfterFunc(d time.Duration, f func()) Timer {
	return realTimer{t: time.AfterFunc(d, f)}
}

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time        { return r.t.C }
func (r realTimer) Stop() bool                 { return r.t.Stop() }
func (r realTimer) Reset(d time.Duration) bool { return r.t.Reset(d) }
