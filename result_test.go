package fusebox_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/fusebox-go/fusebox"
)

var errShardNotFound = errors.New("not found")

// The returned error is one attempt's own error, wrapping a sentinel that a
// later attempt returned bare: ValueFor pairs it with its own attempt's
// value, not with the later attempt's that errors.Is would also match.
// (hedge's TestDoPairsWinnerErrorWithWinnerValue shows it end to end.)
func TestValueForPrefersExactErrorOverWrappedSentinel(t *testing.T) {
	var r fusebox.Result[string]
	errA := fmt.Errorf("shard a: %w", errShardNotFound)
	r.Record("a", errA)             // the attempt whose error is returned
	r.Record("b", errShardNotFound) // a later attempt, bare sentinel
	if got := r.ValueFor(errA); got != "a" {
		t.Errorf("ValueFor(attempt a's error) = %q, want %q (attempt b's value paired with attempt a's error)", got, "a")
	}
}

// listErr is a legal but non-comparable error type (a slice), like
// several multi-error packages' types.
type listErr []error

func (e listErr) Error() string { return fmt.Sprint([]error(e)) }

// errors.Is never matches a non-comparable target that has no Is method,
// not even against itself: ValueFor still finds the attempt whose error
// err is, by identity.
func TestValueForNonComparableError(t *testing.T) {
	var r fusebox.Result[string]
	errA := listErr{errors.New("x"), errors.New("y")}
	r.Record("a", errA)
	r.Record("b", errors.New("other attempt"))
	if got := r.ValueFor(errA); got != "a" {
		t.Errorf("ValueFor(attempt a's error) = %q, want %q", got, "a")
	}
}
