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
	c := newClockCtx(context.Background(), fake, fake.Now().Add(time.Second), time.Second)
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
	c := newClockCtx(parent, fake, fake.Now().Add(time.Second), time.Second)
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
