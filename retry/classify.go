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
//
// It gives the answers of errors.Is and errors.As in one walk of err's tree
// and allocates nothing, unless an error in the tree has an As method.
func DefaultRetryable(err error) bool {
	if err == nil {
		return false
	}
	// One walk of err's tree instead of a dozen errors.Is and errors.As
	// (this runs on every failed attempt, retried or not), with their
	// answers: see retryScan.
	var s retryScan
	if s.walk(err) {
		return false
	}
	// A status says more than the transport error it may wrap.
	if s.hasStatus {
		return RetryableStatus(s.status.Code)
	}
	if s.sentinel || isConnErrorMessage(err) {
		return true
	}
	if s.hasDNS {
		return s.dns.IsTimeout
	}
	return s.hasNetErr && s.netErr.Timeout()
}

// retryScan is what DefaultRetryable learns from one walk of an error's
// tree, the same answers as errors.Is and errors.As would give one walk per
// target: the first *StatusError, *net.DNSError and net.Error of the tree
// (in the order errors.As visits it), and whether any error in it matches
// one of the retryable sentinels. It allocates nothing, unless an error in
// the tree has an As method: that method is then asked for each target
// type, as errors.As would, through a pointer that escapes.
type retryScan struct {
	status    *StatusError
	dns       *net.DNSError
	netErr    net.Error
	hasStatus bool
	hasDNS    bool
	hasNetErr bool
	// sentinel: an error in the tree matches fusebox.ErrTimeout,
	// io.ErrUnexpectedEOF or a connection error (connErrs).
	sentinel bool
}

// walk visits err's tree the way errors.Is and errors.As do: err, then
// depth first through Unwrap. It returns true as soon as an error in it
// makes err not retryable whatever else the tree holds: a Permanent mark,
// or a match for context.Canceled, a policy's rejection or an inner
// retry's own exhaustion; otherwise it fills s and returns false.
func (s *retryScan) walk(err error) bool {
	for {
		if s.visit(err) {
			return true
		}
		switch x := err.(type) {
		case *Error:
			// What its Unwrap returns, without the slice it allocates.
			return x.Reason != nil && s.walk(x.Reason) || x.Err != nil && s.walk(x.Err)
		case interface{ Unwrap() error }:
			if err = x.Unwrap(); err == nil {
				return false
			}
		case interface{ Unwrap() []error }:
			for _, e := range x.Unwrap() {
				if e != nil && s.walk(e) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
}

// visit looks at one error of the tree, not at what it wraps: what
// errors.Is (equality, then its Is method) and errors.As (a type
// assertion, then its As method) do at each step of their walks.
func (s *retryScan) visit(err error) bool {
	// The targets are comparable values: comparing err with them cannot
	// panic, whatever err's dynamic type. The rejections come first: they
	// are the failures of an outage.
	switch err {
	case fusebox.ErrOpen, fusebox.ErrBulkheadFull, fusebox.ErrRateLimited, fusebox.ErrClosed,
		context.Canceled, fusebox.ErrRetriesExhausted, fusebox.ErrBudgetExhausted:
		return true
	case fusebox.ErrTimeout, io.ErrUnexpectedEOF:
		s.sentinel = true
	}
	if !s.sentinel {
		for _, t := range connErrs {
			if err == t {
				s.sentinel = true
				break
			}
		}
	}
	switch x := err.(type) {
	case *permanentError:
		return true
	case *StatusError:
		if !s.hasStatus {
			s.status, s.hasStatus = x, true
		}
	case *net.DNSError:
		if !s.hasDNS {
			s.dns, s.hasDNS = x, true
		}
	}
	if !s.hasNetErr {
		if ne, ok := err.(net.Error); ok {
			s.netErr, s.hasNetErr = ne, true
		}
	}
	if x, ok := err.(interface{ Is(error) bool }); ok {
		if x.Is(fusebox.ErrOpen) || x.Is(fusebox.ErrBulkheadFull) || x.Is(fusebox.ErrRateLimited) || x.Is(fusebox.ErrClosed) ||
			x.Is(context.Canceled) || x.Is(fusebox.ErrRetriesExhausted) || x.Is(fusebox.ErrBudgetExhausted) {
			return true
		}
		if !s.sentinel && (x.Is(fusebox.ErrTimeout) || x.Is(io.ErrUnexpectedEOF) || isAny(x, connErrs)) {
			s.sentinel = true
		}
	}
	if x, ok := err.(interface{ As(any) bool }); ok {
		return s.ask(x)
	}
	return false
}

// ask asks an error's As method for each target type errors.As would
// still be looking for: a Permanent mark (then it returns true), then the
// first *StatusError, *net.DNSError and net.Error. Each target escapes, so
// this allocates; it is apart so that the allocations happen only here.
func (s *retryScan) ask(x interface{ As(any) bool }) bool {
	var p *permanentError
	if x.As(&p) {
		return true
	}
	if !s.hasStatus {
		var se *StatusError
		if x.As(&se) {
			s.status, s.hasStatus = se, true
		}
	}
	if !s.hasDNS {
		var dns *net.DNSError
		if x.As(&dns) {
			s.dns, s.hasDNS = dns, true
		}
	}
	if !s.hasNetErr {
		var ne net.Error
		if x.As(&ne) {
			s.netErr, s.hasNetErr = ne, true
		}
	}
	return false
}

// isAny reports whether x's Is method matches one of targets.
func isAny(x interface{ Is(error) bool }, targets []error) bool {
	for _, t := range targets {
		if x.Is(t) {
			return true
		}
	}
	return false
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
// Permanent. It allocates nothing, unless an error in err's tree has an As
// method.
func IsPermanent(err error) bool {
	// errors.As(err, &p), without its reflection and without moving p to
	// the heap on every call: only an As method needs a pointer to it.
	for {
		switch x := err.(type) {
		case nil:
			return false
		case *permanentError:
			return true
		case interface{ As(any) bool }:
			if asPermanent(x) {
				return true
			}
		}
		switch x := err.(type) {
		case *Error:
			// What its Unwrap returns, without the slice it allocates.
			return IsPermanent(x.Reason) || IsPermanent(x.Err)
		case interface{ Unwrap() error }:
			err = x.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range x.Unwrap() {
				if IsPermanent(e) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
}

// asPermanent asks an As method for a *permanentError, as errors.As does.
func asPermanent(x interface{ As(any) bool }) bool {
	var p *permanentError
	return x.As(&p)
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
