package hedge_test

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
	"github.com/fusebox-go/fusebox/internal/testwait"
)

// errNotFound is a definite answer: the Classifier of notFoundPipeline
// calls it a success.
var errNotFound = errors.New("not found")

// notFoundPipeline is a pipeline of one hedge (delay 10ms on a fake clock)
// whose Classifier calls errNotFound a success.
func notFoundPipeline(t *testing.T) (*fusebox.Pipeline, *clock.Fake) {
	t.Helper()
	fake := clock.NewFake(time.Time{})
	h, err := hedge.New(hedge.Config{
		Delay: 10 * time.Millisecond,
		Clock: fake,
		Classifier: func(err error) fusebox.Outcome {
			if err == nil || errors.Is(err, errNotFound) {
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
	return pl, fake
}

// hedgedDo runs fn through pl with Do, waits until fn's first attempt has
// closed started, moves fake past the hedge delay so that a hedge starts,
// and returns what Do returned.
func hedgedDo(t *testing.T, pl *fusebox.Pipeline, fake *clock.Fake, started <-chan struct{}, fn func(context.Context) (int, error)) (int, error) {
	t.Helper()
	type res struct {
		v   int
		err error
	}
	done := make(chan res, 1)
	go func() {
		v, err := fusebox.Do(context.Background(), pl, fn)
		done <- res{v, err}
	}()
	testwait.Recv(t, started, "the first attempt")
	testwait.Timers(t, fake, 1, "the hedge's timer")
	fake.Advance(10 * time.Millisecond)
	r := testwait.Recv(t, done, "the hedged call")
	return r.v, r.err
}

// With a Classifier that calls an error a Success (a "not found" answer is
// a good answer), the hedge ends the race on that attempt and cancels the
// others. The canceled loser returns, and records its value, after the
// winner: Do must still return the winner's value with the winner's error.
func TestDoGetsWinnerValueWhenClassifierCallsErrorSuccess(t *testing.T) {
	pl, fake := notFoundPipeline(t)
	var n atomic.Int32
	started := make(chan struct{})
	v, err := hedgedDo(t, pl, fake, started, func(ctx context.Context) (int, error) {
		if n.Add(1) == 1 { // the slow first attempt
			close(started)
			<-ctx.Done()
			return -1, ctx.Err()
		}
		return 42, errNotFound // the hedge: a definite answer
	})
	if !errors.Is(err, errNotFound) {
		t.Fatalf("Do error = %v, want the winning hedge's %v", err, errNotFound)
	}
	if v != 42 {
		t.Errorf("Do value = %d, want 42, the winning hedge's value", v)
	}
}

// The first attempt wins with an error its Classifier calls a Success; the
// losing hedge, canceled, still returns a nil error afterwards. Run returns
// the winner's error, so Do must return the winner's value with it, not
// the loser's later success.
func TestDoValueMatchesWinnerWhenLoserLaterSucceeds(t *testing.T) {
	pl, fake := notFoundPipeline(t)
	var n atomic.Int32
	firstStarted := make(chan struct{})
	hedgeStarted := make(chan struct{})
	v, err := hedgedDo(t, pl, fake, firstStarted, func(ctx context.Context) (int, error) {
		if n.Add(1) == 1 {
			close(firstStarted)
			<-hedgeStarted
			return 1, errNotFound // wins the race
		}
		close(hedgeStarted)
		<-ctx.Done()  // canceled as the loser ...
		return 2, nil // ... but its answer was already there
	})
	if !errors.Is(err, errNotFound) {
		t.Fatalf("Do error = %v, want the winner's %v", err, errNotFound)
	}
	if v != 1 {
		t.Errorf("Do = (%d, %v): the value is the losing hedge's (2, nil), the error the winner's; want (1, %v)", v, err, errNotFound)
	}
}

// The first attempt wins with its own error wrapping errNotFound; the
// canceled hedge returns the bare sentinel afterwards, which errors.Is
// also matches. Do returns the winner's error with the winner's value.
func TestDoPairsWinnerErrorWithWinnerValue(t *testing.T) {
	pl, fake := notFoundPipeline(t)
	errWinner := fmt.Errorf("shard a: %w", errNotFound)
	var n atomic.Int32
	firstStarted := make(chan struct{})
	hedgeStarted := make(chan struct{})
	v, err := hedgedDo(t, pl, fake, firstStarted, func(ctx context.Context) (int, error) {
		if n.Add(1) == 1 {
			close(firstStarted)
			<-hedgeStarted
			return 1, errWinner // wins the race
		}
		close(hedgeStarted)
		<-ctx.Done()          // canceled as the loser ...
		return 2, errNotFound // ... with its own answer
	})
	if err != errWinner {
		t.Fatalf("Do error = %v, want the winner's %v", err, errWinner)
	}
	if v != 1 {
		t.Errorf("Do = (%d, %q): the loser's value with the winner's error; want (1, %q)", v, err, errWinner)
	}
}

// A Classifier that panics while judging the first attempt (user code,
// like the function) ends the race as a panicking attempt does: the
// attempt's context, derived from the caller's, is canceled (no
// registration left in a long-lived parent), and the hedge timer is
// stopped, so no hedge of a call that has returned is ever launched.
func TestClassifierPanicEndsTheRace(t *testing.T) {
	errBoom := errors.New("boom")
	fake := clock.NewFake(time.Time{})
	var hedges atomic.Int32
	var panicked atomic.Bool
	h, err := hedge.New(hedge.Config{
		Delay:   10 * time.Millisecond,
		Clock:   fake,
		OnHedge: func(int) { hedges.Add(1) },
		Classifier: func(err error) fusebox.Outcome {
			if errors.Is(err, errBoom) && panicked.CompareAndSwap(false, true) {
				panic("classifier blew up") // once: a late hedge must not crash the test binary
			}
			return fusebox.DefaultClassifier(err)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	parent, cancel := context.WithCancel(context.Background())
	defer cancel()
	var attemptCtx context.Context
	func() {
		defer func() {
			if r := recover(); r != "classifier blew up" {
				t.Fatalf("recovered %v, want the classifier's panic", r)
			}
		}()
		_ = h.Execute(parent, func(ctx context.Context) error {
			attemptCtx = ctx
			return errBoom
		})
	}()
	var problems []string
	if attemptCtx.Err() == nil {
		problems = append(problems, "the first attempt's context is still alive (registered in the caller's context) after Run panicked out")
	}
	if n := fake.Timers(); n != 0 {
		problems = append(problems, "the hedge timer is still armed after Run panicked out")
	}
	fake.Advance(10 * time.Millisecond) // OnHedge runs inside Advance
	if hedges.Load() != 0 {
		problems = append(problems, "a hedge started after Run had returned")
	}
	for _, p := range problems {
		t.Error(p)
	}
}
