package retry_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/retry"
)

// The failure path (issue 11): during an outage most calls fail or are
// rejected, and a failure the policy does not retry must cost it no more
// than a success: no allocation, no timer.

// openRejection is a rejection shaped like the breaker's *OpenError: made
// once, it matches fusebox.ErrOpen with an Is method and unwraps to it.
type openRejection struct{}

func (*openRejection) Error() string             { return "open" }
func (*openRejection) Is(target error) bool      { return target == fusebox.ErrOpen }
func (*openRejection) Unwrap() error             { return fusebox.ErrOpen }
func (*openRejection) RetryAfter() time.Duration { return time.Second }

var errOpenRejection error = &openRejection{}

// rejecting is a policy that rejects every call with its error, as an open
// breaker, a full bulkhead or a rate limiter does, without running it.
type rejecting struct{ err error }

func (r rejecting) Run(context.Context, fusebox.Next) error { return r.err }

// notRetriedCases are failed attempts the policy returns as they are,
// after one attempt: errors the classifier does not retry, marked
// Permanent, and rejections by a policy inside the retry.
func notRetriedCases() []struct {
	name   string
	config retry.Config
	inner  fusebox.Policy // nil: fn is called directly
	err    error
} {
	boom := errors.New("boom")
	never := func(error) bool { return false }
	always := func(error) bool { return true }
	return []struct {
		name   string
		config retry.Config
		inner  fusebox.Policy
		err    error
	}{
		{"default/unknown error", retry.Config{}, nil, boom},
		{"default/wrapped status 400", retry.Config{}, nil, fmt.Errorf("get: %w", &retry.StatusError{Code: 400})},
		{"default/DNS not found", retry.Config{}, nil, &net.DNSError{Err: "no such host", Name: "x.invalid", IsNotFound: true}},
		{"default/permanent", retry.Config{}, nil, retry.Permanent(unavailable)},
		{"default/joined", retry.Config{}, nil, errors.Join(boom, &retry.StatusError{Code: 404})},
		{"default/context canceled", retry.Config{}, nil, context.Canceled},
		{"default/breaker open", retry.Config{}, rejecting{errOpenRejection}, errOpenRejection},
		{"default/bulkhead full", retry.Config{}, rejecting{fusebox.ErrBulkheadFull}, fusebox.ErrBulkheadFull},
		{"default/rate limited", retry.Config{}, rejecting{fusebox.ErrRateLimited}, fusebox.ErrRateLimited},
		{"explicit/says no", retry.Config{Retryable: never}, nil, unavailable},
		{"explicit/permanent", retry.Config{Retryable: always}, nil, retry.Permanent(unavailable)},
		{"explicit/breaker open", retry.Config{Retryable: never}, rejecting{errOpenRejection}, errOpenRejection},
		{"explicit/wrapped", retry.Config{Retryable: never}, nil, fmt.Errorf("get: %w", unavailable)},
	}
}

// TestNotRetriedFailureAllocatesNothing: a failed attempt that is not
// retried, and a rejection by a policy inside the retry, pass through it
// unchanged, after one attempt, with no allocation and no timer, with the
// default classifier and with one of the caller's.
func TestNotRetriedFailureAllocatesNothing(t *testing.T) {
	ctx := context.Background()
	for _, tt := range notRetriedCases() {
		t.Run(tt.name, func(t *testing.T) {
			clk := newInstant()
			c := tt.config
			c.Clock = clk
			c.Budget = mustBudget(t, retry.BudgetConfig{Clock: clk})
			c.MaxElapsed = time.Minute
			p := mustNew(t, c)
			fn := func(context.Context) error { return tt.err }
			var run func() error
			if tt.inner == nil {
				next := fusebox.NextFunc(fn)
				run = func() error { return p.Run(ctx, next) }
			} else {
				pl, err := fusebox.New(p, tt.inner)
				if err != nil {
					t.Fatal(err)
				}
				run = func() error { return pl.Run(ctx, fn) }
			}
			allocs := testing.AllocsPerRun(1000, func() {
				if err := run(); err != tt.err {
					t.Fatalf("err = %v, want %v itself", err, tt.err)
				}
			})
			if allocs != 0 {
				t.Errorf("%v allocations per failed call, want 0", allocs)
			}
			if s := p.Snapshot(); s.Retries != 0 || s.Exhausted != 0 || s.Calls < 1000 {
				t.Errorf("Snapshot = %+v: want calls and no retry", s)
			}
			if clk.made() != 0 {
				t.Errorf("%d timers made, want 0", clk.made())
			}
		})
	}
}

// TestLastAttemptAllocatesOnlyItsError: with MaxAttempts 1, a retryable
// failure ends the call at once with the documented *Error matching
// ErrRetriesExhausted. That error is the one allocation: the
// classification costs none.
func TestLastAttemptAllocatesOnlyItsError(t *testing.T) {
	ctx := context.Background()
	for _, c := range []retry.Config{
		{MaxAttempts: 1},
		{MaxAttempts: 1, Retryable: func(error) bool { return true }},
	} {
		c.Clock = newInstant()
		p := mustNew(t, c)
		next := fusebox.NextFunc(func(context.Context) error { return unavailable })
		allocs := testing.AllocsPerRun(1000, func() {
			// A type assertion, not errors.As, whose target would escape.
			err := p.Run(ctx, next)
			if re, ok := err.(*retry.Error); !ok || re.Reason != retry.ErrRetriesExhausted || re.Err != unavailable || re.Attempts != 1 {
				t.Fatalf("err = %v, want the *retry.Error of 1 attempt exhausted on %v", err, unavailable)
			}
		})
		if allocs != 1 {
			t.Errorf("custom classifier %v: %v allocations per exhausted call, want 1, the *Error", c.Retryable != nil, allocs)
		}
	}
}

// TestClassifiersAllocateNothing: DefaultRetryable and IsPermanent walk an
// error's tree without allocating, whatever they answer, unless an error
// in the tree has an As method.
func TestClassifiersAllocateNothing(t *testing.T) {
	errs := []error{
		errors.New("boom"),
		unavailable,
		fmt.Errorf("get: %w", &retry.StatusError{Code: 400}),
		fmt.Errorf("get: %w", fusebox.ErrTimeout),
		&net.OpError{Op: "read", Net: "tcp", Err: &net.DNSError{Err: "timeout", IsTimeout: true}},
		errors.Join(errors.New("a"), fmt.Errorf("b: %w", context.DeadlineExceeded)),
		retry.Permanent(unavailable),
		errOpenRejection,
		&retry.Error{Attempts: 3, Reason: retry.ErrRetriesExhausted, Err: unavailable},
	}
	for _, err := range errs {
		if n := testing.AllocsPerRun(100, func() { _ = retry.DefaultRetryable(err) }); n != 0 {
			t.Errorf("DefaultRetryable(%v): %v allocations, want 0", err, n)
		}
		if n := testing.AllocsPerRun(100, func() { _ = retry.IsPermanent(err) }); n != 0 {
			t.Errorf("IsPermanent(%v): %v allocations, want 0", err, n)
		}
	}
}

func BenchmarkDefaultRetryable(b *testing.B) {
	for _, tt := range []struct {
		name string
		err  error
	}{
		{"unknown", errors.New("boom")},
		{"wrapped-status", fmt.Errorf("get: %w", &retry.StatusError{Code: 400})},
		{"rejection", errOpenRejection},
		{"permanent", retry.Permanent(unavailable)},
		{"refused", &net.OpError{Op: "dial", Net: "tcp", Err: fmt.Errorf("connect: %w", context.DeadlineExceeded)}},
	} {
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = retry.DefaultRetryable(tt.err)
			}
		})
	}
}
