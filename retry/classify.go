package retry

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/fusebox-go/fusebox"
)

// DefaultRetryable is the classifier a policy uses when Config.Retryable is
// nil. It retries only errors that say the request failed for a reason that
// may pass, and is conservative otherwise: an error it does not recognise is
// not retried, since a retry is safe only when the request did not take
// effect or is idempotent.
//
// Retryable:
//   - a [*StatusError] whose code [RetryableStatus] accepts;
//   - connection refused, reset or aborted (syscall.ECONNREFUSED,
//     ECONNRESET, ECONNABORTED) and a broken pipe (EPIPE);
//   - a timeout: a net.Error whose Timeout() is true (an i/o deadline, a
//     dial timeout, a *net.DNSError with IsTimeout), [fusebox.ErrTimeout]
//     from a per-attempt timeout policy, and context.DeadlineExceeded from a
//     context other than the caller's;
//   - io.ErrUnexpectedEOF (a response cut short).
//
// Not retryable: nil, an error marked with [Permanent], a *StatusError with
// any other code, context.Canceled, the rejections of other Fusebox policies
// nested inside the retry (an open breaker, a full bulkhead, a rate limit, a
// closed policy), and an inner retry's own [ErrRetriesExhausted] or
// [ErrBudgetExhausted] (retrying them would multiply attempts). It does not
// use net.Error's deprecated Temporary method.
//
// Whatever the classifier says, the policy never retries once the caller's
// own context has ended: the caller's cancellation and the caller's deadline
// end the call.
func DefaultRetryable(err error) bool {
	if err == nil || IsPermanent(err) {
		return false
	}
	switch {
	case errors.Is(err, context.Canceled),
		errors.Is(err, fusebox.ErrRetriesExhausted),
		errors.Is(err, fusebox.ErrBudgetExhausted),
		errors.Is(err, fusebox.ErrOpen),
		errors.Is(err, fusebox.ErrBulkheadFull),
		errors.Is(err, fusebox.ErrRateLimited),
		errors.Is(err, fusebox.ErrClosed):
		return false
	}
	// A status says more than the transport error it may wrap.
	var se *StatusError
	if errors.As(err, &se) {
		return RetryableStatus(se.Code)
	}
	switch {
	case errors.Is(err, fusebox.ErrTimeout),
		isConnError(err),
		errors.Is(err, io.ErrUnexpectedEOF):
		return true
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return dns.IsTimeout
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// RetryableStatus reports whether a request that got an HTTP status code may
// be retried: 408 Request Timeout, 425 Too Early, 429 Too Many Requests, 500
// Internal Server Error, 502 Bad Gateway, 503 Service Unavailable and 504
// Gateway Timeout. Every other code, other 4xx included, is not retryable.
func RetryableStatus(code int) bool {
	switch code {
	case 408, 425, 429, 500, 502, 503, 504:
		return true
	}
	return false
}

// StatusError is a failed protocol response: the error Fusebox's
// integrations (fuseboxhttp and the like) return for a response whose status
// says the request failed, and the error your own code can return for one.
// Codes have HTTP semantics; see [RetryableStatus]. Return it as a pointer:
//
//	return &retry.StatusError{Code: resp.StatusCode, Wait: wait}
type StatusError struct {
	// Code is the status code, e.g. 503.
	Code int
	// Wait is how long the server asked the client to wait before trying
	// again (its Retry-After, see [ParseRetryAfter]); zero if it did not
	// say.
	Wait time.Duration
	// Err is the underlying error, if any; it is returned by Unwrap.
	Err error
}

// Error returns "status <code>", followed by the underlying error if any.
func (e *StatusError) Error() string {
	s := "status " + strconv.Itoa(e.Code)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error.
func (e *StatusError) Unwrap() error { return e.Err }

// RetryAfter returns Wait: the policy waits at least this long (capped by
// Config.MaxRetryAfter) before the next attempt.
func (e *StatusError) RetryAfter() time.Duration { return e.Wait }

// Permanent marks err as never retryable, whatever the classifier says. The
// result has err's message and unwraps to err, so errors.Is and errors.As
// see through it; Run returns it as is, so that a retry further out does not
// retry it either. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil || IsPermanent(err) {
		return err
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err, or an error it wraps, was marked with
// Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

type permanentError struct{ err error }

func (p *permanentError) Error() string { return p.err.Error() }
func (p *permanentError) Unwrap() error { return p.err }

// retryAfterOf returns the delay asked for by the first error in err's chain
// with a RetryAfter method, if positive.
func retryAfterOf(err error) (time.Duration, bool) {
	var ra interface{ RetryAfter() time.Duration }
	if errors.As(err, &ra) {
		if d := ra.RetryAfter(); d > 0 {
			return d, true
		}
	}
	return 0, false
}
