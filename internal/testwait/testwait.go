// Package testwait holds the waiting helpers the project's tests share:
// each waits for something another goroutine does and fails the test after
// a generous limit instead of hanging, and none delays a passing test.
package testwait

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"
)

// Limit is how long a helper waits before it fails the test.
const Limit = 10 * time.Second

// Recv receives one value from ch.
func Recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(Limit):
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}

// Within runs fn and fails the test if it does not return: a guard that
// turns a deadlock into a failure.
func Within(t testing.TB, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(Limit):
		t.Fatalf("%s did not return within %v (deadlock?)", what, Limit)
	}
}

// Eventually polls cond every millisecond until it holds: for states
// reached through I/O or real time.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// Spin yields until cond holds: for states other goroutines reach without
// waiting on any clock (queueing, finishing).
func Spin(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
	}
}

// TimerWaiter is what Timers waits on: *clock.Fake (an interface, so that
// the clock package's own tests may use this package).
type TimerWaiter interface {
	BlockUntilContext(ctx context.Context, n int) error
}

// Timers waits until at least n timers are pending on a fake clock: the
// goroutines under test have armed what the test is about to fire. It
// fails the test, naming what, if they have not within Limit. Like the
// other helpers it must be called from the test's goroutine; a helper
// goroutine uses TimersErr.
func Timers(t testing.TB, c TimerWaiter, n int, what string) {
	t.Helper()
	if err := TimersErr(c, n, what); err != nil {
		t.Fatal(err)
	}
}

// TimersErr is Timers for a goroutine other than the test's: it returns
// the failure instead of failing the test.
func TimersErr(c TimerWaiter, n int, what string) error {
	ctx, cancel := context.WithTimeout(context.Background(), Limit)
	defer cancel()
	if err := c.BlockUntilContext(ctx, n); err != nil {
		return fmt.Errorf("timed out after %v waiting for %s: %w", Limit, what, err)
	}
	return nil
}
