package fusebox

import "context"

// Outcome is what a finished call says about the health of the dependency
// it called.
type Outcome uint8

const (
	// Success: the dependency did its job.
	Success Outcome = iota
	// Failure: the dependency failed; policies count it against it.
	Failure
	// Ignored: the call says nothing about the dependency (the caller gave
	// up, or the error is the caller's own fault). Policies release any
	// permit the call held and count it nowhere but in its own counter.
	Ignored
)

// String returns "success", "failure" or "ignored".
func (o Outcome) String() string {
	switch o {
	case Success:
		return "success"
	case Failure:
		return "failure"
	case Ignored:
		return "ignored"
	}
	return "outcome(" + itoa(int(o)) + ")"
}

// Classifier maps the error a call returned (nil for a call that returned
// none) to an Outcome. It must be safe for concurrent use and fast: it runs
// on every call.
type Classifier func(err error) Outcome

// DefaultClassifier is the classifier used when a policy is given none:
// nil is a Success; [context.Canceled] is Ignored; a rejection by a policy
// inside this one ([ErrOpen], [ErrBulkheadFull], [ErrRateLimited],
// [ErrClosed]) is Ignored too, since the call never reached the dependency
// (a breaker outside a full bulkhead does not count the bulkhead's
// rejections against the dependency); and every other error,
// [context.DeadlineExceeded] from a deadline the caller did not set
// included, is a Failure. A deadline set by the caller's own context is
// Ignored by [Classify] before any classifier is consulted.
func DefaultClassifier(err error) Outcome {
	if err == nil {
		return Success
	}
	if ignoredByDefault(err) {
		return Ignored
	}
	return Failure
}

// ignoredByDefault reports whether err is or wraps context.Canceled or a
// policy's rejection: errors.Is against each of them, in one walk of err's
// tree instead of five (this runs on every failure).
func ignoredByDefault(err error) bool {
	for {
		// The targets are comparable pointers: comparing err with them
		// cannot panic, whatever err's dynamic type.
		switch err {
		case context.Canceled, ErrOpen, ErrBulkheadFull, ErrRateLimited, ErrClosed:
			return true
		}
		if x, ok := err.(interface{ Is(error) bool }); ok {
			if x.Is(context.Canceled) || x.Is(ErrOpen) || x.Is(ErrBulkheadFull) || x.Is(ErrRateLimited) || x.Is(ErrClosed) {
				return true
			}
		}
		switch x := err.(type) {
		case interface{ Unwrap() error }:
			if err = x.Unwrap(); err == nil {
				return false
			}
		case interface{ Unwrap() []error }:
			for _, e := range x.Unwrap() {
				if e != nil && ignoredByDefault(e) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
}

// Classify is how every policy turns a call's result into an Outcome. When
// the call failed and the caller's context has ended (canceled, or past the
// caller's deadline), the outcome is Ignored whatever the classifier says:
// caller cancellation is never a dependency failure. Otherwise c decides; a
// nil c means DefaultClassifier.
func Classify(ctx context.Context, err error, c Classifier) Outcome {
	if err != nil && ctx.Err() != nil {
		return Ignored
	}
	if c == nil {
		return DefaultClassifier(err)
	}
	return c(err)
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	neg := n < 0
	if neg {
		n = -n
	}
	var buf [20]byte
	i := len(buf)
	for n > 0 {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		buf[i] = '-'
	}
	return string(buf[i:])
}
