//go:build !plan9

package retry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/fusebox-go/fusebox"
)

// referenceRetryable is DefaultRetryable as it was written before its one
// walk: a dozen errors.Is and errors.As. The walk must agree with it on
// every error.
func referenceRetryable(err error) bool {
	if err == nil || referenceIsPermanent(err) {
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
	var se *StatusError
	if errors.As(err, &se) {
		return RetryableStatus(se.Code)
	}
	switch {
	case errors.Is(err, fusebox.ErrTimeout),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, syscall.EPIPE),
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

// referenceIsPermanent is IsPermanent as it was: errors.As.
func referenceIsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// isErr matches target with an Is method only: it is not target, and
// wraps nothing.
type isErr struct{ target error }

func (e isErr) Error() string        { return "is " + e.target.Error() }
func (e isErr) Is(target error) bool { return target == e.target }

// asErr answers errors.As for the errors it hides with an As method: they
// are not in its Unwrap chain (it has none), only reachable through As.
type asErr struct{ hidden error }

func (e asErr) Error() string      { return "as " + e.hidden.Error() }
func (e asErr) As(target any) bool { return errors.As(e.hidden, target) }

// netErr is a net.Error of its own, with a chosen Timeout.
type netErr struct{ timeout bool }

func (e netErr) Error() string   { return fmt.Sprintf("net timeout=%v", e.timeout) }
func (e netErr) Timeout() bool   { return e.timeout }
func (e netErr) Temporary() bool { return false }

// classifyLeaves are the errors the random trees are made of: each target
// of DefaultRetryable, matched directly, through an Is method and through
// an As method, and errors that match none.
func classifyLeaves() []error {
	return []error{
		errors.New("boom"), io.EOF, os.ErrNotExist,
		context.Canceled, context.DeadlineExceeded, os.ErrDeadlineExceeded,
		fusebox.ErrRetriesExhausted, fusebox.ErrBudgetExhausted, fusebox.ErrOpen,
		fusebox.ErrBulkheadFull, fusebox.ErrRateLimited, fusebox.ErrClosed, fusebox.ErrTimeout,
		io.ErrUnexpectedEOF,
		syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ECONNABORTED, syscall.EPIPE, syscall.ENOENT,
		&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)},
		&StatusError{Code: 503}, &StatusError{Code: 400}, &StatusError{Code: 429, Err: io.ErrUnexpectedEOF},
		&StatusError{Code: 404, Err: os.ErrDeadlineExceeded},
		&net.DNSError{Err: "timeout", IsTimeout: true}, &net.DNSError{Err: "no such host", IsNotFound: true},
		netErr{timeout: true}, netErr{timeout: false},
		Permanent(errors.New("invalid")), Permanent(&StatusError{Code: 503}),
		isErr{fusebox.ErrOpen}, isErr{fusebox.ErrTimeout}, isErr{syscall.EPIPE}, isErr{io.ErrUnexpectedEOF},
		isErr{context.Canceled}, isErr{errors.New("other")},
		asErr{&StatusError{Code: 502}}, asErr{&StatusError{Code: 401}},
		asErr{&net.DNSError{IsTimeout: true}}, asErr{netErr{timeout: true}}, asErr{netErr{}},
		asErr{Permanent(&StatusError{Code: 503})}, asErr{fusebox.ErrOpen}, asErr{syscall.ECONNRESET},
		&Error{Attempts: 3, Reason: ErrRetriesExhausted, Err: &StatusError{Code: 503}},
	}
}

// randomTree wraps leaves in up to depth layers of fmt.Errorf's %w (one
// error or several), errors.Join (nil children included), Permanent,
// StatusError, Error (whose Unwrap the walks skip) and asErr.
func randomTree(r *rand.Rand, leaves []error, depth int) error {
	if depth == 0 || r.IntN(3) == 0 {
		return leaves[r.IntN(len(leaves))]
	}
	switch r.IntN(7) {
	case 0:
		return fmt.Errorf("wrap: %w", randomTree(r, leaves, depth-1))
	case 1:
		return fmt.Errorf("two: %w, %w", randomTree(r, leaves, depth-1), randomTree(r, leaves, depth-1))
	case 2:
		errs := make([]error, 1+r.IntN(3))
		for i := range errs {
			if r.IntN(5) > 0 {
				errs[i] = randomTree(r, leaves, depth-1)
			}
		}
		if j := errors.Join(errs...); j != nil {
			return j
		}
		return leaves[0]
	case 3:
		return Permanent(randomTree(r, leaves, depth-1))
	case 4:
		return &StatusError{Code: []int{400, 503}[r.IntN(2)], Err: randomTree(r, leaves, depth-1)}
	case 5:
		reason := []error{ErrRetriesExhausted, context.DeadlineExceeded, nil}[r.IntN(3)]
		return &Error{Attempts: 2, Reason: reason, Err: randomTree(r, leaves, depth-1)}
	default:
		return asErr{randomTree(r, leaves, depth-1)}
	}
}

// TestDefaultRetryableMatchesReference: the one walk gives the answers of
// the errors.Is and errors.As it replaces, on every leaf and on random
// trees of them (order matters: the first status, DNS error or net.Error
// of the tree decides, and a Permanent mark or a rejection anywhere wins).
func TestDefaultRetryableMatchesReference(t *testing.T) {
	leaves := classifyLeaves()
	check := func(err error) {
		t.Helper()
		if got, want := DefaultRetryable(err), referenceRetryable(err); got != want {
			t.Errorf("DefaultRetryable(%v) = %v, want %v (errors.Is/As)", err, got, want)
		}
		if got, want := IsPermanent(err), referenceIsPermanent(err); got != want {
			t.Errorf("IsPermanent(%v) = %v, want %v (errors.As)", err, got, want)
		}
	}
	check(nil)
	for _, e := range leaves {
		check(e)
	}
	r := rand.New(rand.NewPCG(11, 11))
	n := 20000
	if testing.Short() {
		n = 2000
	}
	var retryable int
	for range n {
		err := randomTree(r, leaves, 4)
		check(err)
		if DefaultRetryable(err) {
			retryable++
		}
	}
	// Both answers must be well represented, or the trees test little.
	if retryable < n/10 || retryable > n*9/10 {
		t.Errorf("%d of %d random trees retryable: the corpus is lopsided", retryable, n)
	}
}

var _ net.Error = netErr{}
