package timeout

import (
	"context"
	"time"

	"github.com/fusebox-go/fusebox/clock"
)

// NewContext returns a copy of parent that ends d from now, like
// context.WithTimeoutCause(parent, d, ErrTimeout), made the cheap way the
// policy makes its per-call contexts:
//
//   - Time is read through clk's clock.Cached (nil means the real clock:
//     a direct reading of the monotonic clock), within its resolution, a
//     millisecond by default.
//   - No timer runs and nothing is registered with parent until someone
//     waits: on the first Done, or when a context is derived from it with
//     context.WithCancel and the like. A context that is only polled with
//     Err, or never looked at, costs one allocation.
//
// Err is context.DeadlineExceeded once the deadline passed and
// context.Cause is ErrTimeout; when parent ends first, Err and Cause are
// parent's. When parent's deadline is no later than d from now, the copy
// keeps parent's deadline, as context.WithTimeout does. Call cancel as soon
// as the work is done, as with context.WithTimeout: it stops the timer, if
// one runs, and ends the context with context.Canceled. A d so large that
// the deadline would overflow (such as math.MaxInt64) saturates: the
// deadline never passes and no timer is armed for it.
//
// fuseboxhttp's Deadline middleware gives handlers such a context.
func NewContext(parent context.Context, d time.Duration, clk clock.Clock) (ctx context.Context, cancel context.CancelFunc) {
	coarse := clock.Cached(clk)
	if dl, ok := parent.Deadline(); ok && !dl.After(coarse.Now().Add(d)) {
		return context.WithCancel(parent)
	}
	c := newClockCtx(parent, coarse, coarse.Nanotime(), d)
	c.standalone = true
	return c, c.release
}
