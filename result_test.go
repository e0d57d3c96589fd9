package fusebox_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/hedge"
)

var errShardNotFound = errors.New("not found")

// The returned error is one attempt's own error, wrapping a sentinel that a
// later attempt returned bare: ValueFor pairs it with its own attempt's
// value, not with the later attempt's that errors.Is would also match.
func TestValueForPrefersExactErrorOverWrappedSentinel(t *testing.T) {
	var r fusebox.Result[string]
	errA := fmt.Errorf("shard a: %w", errShardNotFound)
	r.Record("a", errA)             // the attempt whose error is returned
	r.Record("b", errShardNotFound) // a later attempt, bare sentinel
	if got := r.ValueFor(errA); got != "a" {
		t.Errorf("ValueFor(attempt a's error) = %q, want %q (attempt b's value paired with attempt a's error)", got, "a")
	}
}

// The same end to end: a hedge whose Classifier calls "not found" a
// success. The first attempt wins with a wrapped not-found; the canceled
// hedge returns the bare sentinel afterwards. Do returns the winner's
// error with the winner's value.
func TestDoPairsWinnerErrorWithWinnerValue(t *testing.T) {
	fake := clock.NewFake(time.Time{})
	h, err := hedge.New(hedge.Config{
		Delay: 10 * time.Millisecond,
		Clock: fake,
		Classifier: func(err error) fusebox.Outcome {
			if err == nil || errors.Is(err, errShardNotFound) {
				return fusebox.Success
			}
			return fusebox.Failure
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	pl, err := fusebox.New(h)
	if err != nil {
		t.Fatal(err)
	}
	errWinner := fmt.Errorf("shard a: %w", errShardNotFound)
	var n atomic.Int32
	firstStarted := make(chan struct{})
	hedgeStarted := make(chan struct{})
	type res struct {
		v   int
		err error
	}
	done := make(chan res, 1)
	go func() {
		v, err := fusebox.Do(context.Background(), pl, func(ctx context.Context) (int, error) {
			if n.Add(1) == 1 {
				close(firstStarted)
				<-hedgeStarted
				return 1, errWinner // wins the race
			}
			close(hedgeStarted)
			<-ctx.Done()               // canceled as the loser ...
			return 2, errShardNotFound // ... with its own answer
		})
		done <- res{v, err}
	}()
	<-firstStarted
	fake.BlockUntil(1)
	fake.Advance(10 * time.Millisecond)
	r := <-done
	if r.err != errWinner {
		t.Fatalf("Do error = %v, want the winner's %v", r.err, errWinner)
	}
	if r.v != 1 {
		t.Errorf("Do = (%d, %q): the loser's value with the winner's error; want (1, %q)", r.v, r.err, errWinner)
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
