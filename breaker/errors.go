package breaker

import (
	"time"

	"github.com/fusebox-go/fusebox"
)

// ErrOpen is returned, wrapped in an *OpenError, for every call the breaker
// rejects. Match it with errors.Is.
var ErrOpen = fusebox.ErrOpen

// OpenError is the rejection of a breaker that is open, forced open, or
// half-open with every probe slot taken. It matches ErrOpen with errors.Is
// and tells when the breaker will next let a probe through, for a
// Retry-After header. The breaker makes one OpenError per opening and
// returns the same value for every rejection, so rejecting allocates
// nothing.
type OpenError struct {
	// Name is the breaker's name.
	Name string
	// State is the state that rejected the call.
	State State
	until int64 // Nanotime of the next probe; 0 when unknown
	b     *Breaker
}

// Error returns a message naming the breaker and its state.
func (e *OpenError) Error() string {
	if e.Name == "" {
		return "breaker: " + e.State.String()
	}
	return "breaker " + e.Name + ": " + e.State.String()
}

// Is reports whether target is ErrOpen.
func (e *OpenError) Is(target error) bool { return target == fusebox.ErrOpen }

// Unwrap returns ErrOpen.
func (e *OpenError) Unwrap() error { return fusebox.ErrOpen }

// RetryAfter returns how long until the breaker lets the next probe
// through: 0 when it may already do so (half-open with its slots taken, or
// an open duration that has just ended), and 0 too for a breaker forced open,
// which has no schedule.
func (e *OpenError) RetryAfter() time.Duration {
	if e.until == 0 {
		return 0
	}
	return time.Duration(remaining(e.until, e.b.now()))
}
