package timeout

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox/clock"
)

func TestClockCtxAfterFunc(t *testing.T) {
	fake := clock.NewFake(time.Time{})
	c := newClockCtx(context.Background(), clock.Cached(fake), fake.Nanotime(), time.Second)
	defer c.release()

	ran := make(chan string, 3)
	stopA := c.AfterFunc(func() { ran <- "a" })
	c.AfterFunc(func() { ran <- "b" })
	if !stopA() {
		t.Fatal("stop of a pending AfterFunc returned false")
	}
	if stopA() {
		t.Fatal("second stop returned true")
	}
	fake.Advance(time.Second)
	if got := <-ran; got != "b" || len(ran) != 0 {
		t.Fatalf("ran %q (+%d more), want only b", got, len(ran))
	}
	// Registered after the end: runs at once, in its own goroutine.
	stop := c.AfterFunc(func() { ran <- "late" })
	if got := <-ran; got != "late" {
		t.Fatalf("ran %q, want late", got)
	}
	if stop() {
		t.Fatal("stop after the end returned true")
	}
	if !c.timedOut() || c.Err() != context.DeadlineExceeded || context.Cause(c) != ErrTimeout {
		t.Fatalf("after the timer: timedOut %v, Err %v, Cause %v", c.timedOut(), c.Err(), context.Cause(c))
	}
	if !strings.HasPrefix(c.String(), "timeout.clockCtx(") {
		t.Fatalf("String() = %q", c.String())
	}
}

func TestClockCtxParentEnds(t *testing.T) {
	fake := clock.NewFake(time.Time{})
	type key struct{}
	parent, cancel := context.WithCancelCause(context.WithValue(context.Background(), key{}, 1))
	c := newClockCtx(parent, clock.Cached(fake), fake.Nanotime(), time.Second)
	defer c.release()
	if c.Value(key{}) != 1 {
		t.Fatal("parent value not visible")
	}
	errMine := errors.New("caller's cause")
	cancel(errMine)
	<-c.Done()
	if c.timedOut() || c.Err() != context.Canceled || context.Cause(c) != errMine {
		t.Fatalf("Err = %v, Cause = %v, timedOut %v; want the parent's cancellation", c.Err(), context.Cause(c), c.timedOut())
	}
	c.release()
	if fake.Timers() != 0 {
		t.Fatal("release left the timer pending")
	}
}

// TestClockCtxLazy: nothing is armed until someone waits, yet a context
// nobody waits on still reports its deadline once it has passed.
func TestClockCtxLazy(t *testing.T) {
	fake := clock.NewFake(time.Time{})
	c := newClockCtx(context.Background(), clock.Cached(fake), fake.Nanotime(), time.Second)
	defer c.release()
	if c.Err() != nil || fake.Timers() != 0 {
		t.Fatalf("fresh: Err %v, %d timers; want nil and none armed", c.Err(), fake.Timers())
	}
	if d, ok := c.Deadline(); !ok || !d.Equal(fake.Now().Add(time.Second)) {
		t.Fatalf("Deadline = %v, %v; want now+1s", d, ok)
	}
	fake.Advance(time.Second)
	if c.Err() != context.DeadlineExceeded || context.Cause(c) != ErrTimeout || !c.timedOut() {
		t.Fatalf("past the deadline without a waiter: Err %v, Cause %v", c.Err(), context.Cause(c))
	}
	select {
	case <-c.Done():
	default:
		t.Fatal("Done asked after the end is not closed")
	}
	// A waiter arms the timer, which the clock then fires.
	w := newClockCtx(context.Background(), clock.Cached(fake), fake.Nanotime(), time.Second)
	defer w.release()
	done := w.Done()
	if fake.Timers() != 1 {
		t.Fatalf("after Done: %d timers, want 1", fake.Timers())
	}
	fake.Advance(time.Second)
	<-done
	if w.Err() != context.DeadlineExceeded {
		t.Fatalf("Err = %v", w.Err())
	}
}
