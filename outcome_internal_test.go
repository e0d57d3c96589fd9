package fusebox

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// isClosed is an error that matches ErrClosed through an Is method.
type isClosed struct{}

func (isClosed) Error() string   { return "closed, by its Is method" }
func (isClosed) Is(t error) bool { return t == ErrClosed }

// uncomparable is an error type that == cannot compare.
type uncomparable []string

func (u uncomparable) Error() string { return fmt.Sprint([]string(u)) }

// ignoredByDefault walks an error tree once; it must agree with errors.Is
// against each of its targets on every shape of tree.
func TestIgnoredByDefaultMatchesErrorsIs(t *testing.T) {
	plain := errors.New("plain")
	cases := []error{
		plain, ErrOpen, ErrTimeout, context.Canceled, context.DeadlineExceeded,
		fmt.Errorf("a: %w", fmt.Errorf("b: %w", ErrRateLimited)),
		fmt.Errorf("a: %w", plain),
		errors.Join(plain, fmt.Errorf("c: %w", context.Canceled)),
		errors.Join(plain, plain),
		fmt.Errorf("two: %w and %w", plain, ErrBulkheadFull),
		isClosed{}, fmt.Errorf("w: %w", isClosed{}),
		uncomparable{"x"}, fmt.Errorf("w: %w", uncomparable{"y"}),
	}
	for _, e := range cases {
		want := errors.Is(e, context.Canceled) || errors.Is(e, ErrOpen) || errors.Is(e, ErrBulkheadFull) ||
			errors.Is(e, ErrRateLimited) || errors.Is(e, ErrClosed)
		if got := ignoredByDefault(e); got != want {
			t.Errorf("ignoredByDefault(%v) = %v, errors.Is says %v", e, got, want)
		}
	}
}
