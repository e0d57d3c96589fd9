package timeout

import (
	"context"
	"errors"
	"strings"
	"sync"
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

// TestCancelKeyFound: the probe learned the context package's cancel-context
// key, so that Value can send every other key straight to the parent. A
// change in the context package that defeats the probe fails here (Value
// then stays correct, on its slow path for every key).
func TestCancelKeyFound(t *testing.T) {
	if cancelKey == nil {
		t.Fatal("cancelKey not found: Value takes the slow path for every key")
	}
	cc, cancel := context.WithCancel(context.Background())
	defer cancel()
	if cc.Value(cancelKey) != cc {
		t.Fatal("a cancel context does not answer cancelKey with itself")
	}
	type key struct{}
	if key := any(key{}); key == cancelKey {
		t.Fatal("cancelKey matches an unrelated key")
	}
}

// TestClockCtxCauseWithoutPolling: a deadline that passed while nobody
// polled or waited is seen by a Value lookup of the cancel-context key
// alone, as context.Cause in Go versions that ask Value before Err needs.
func TestClockCtxCauseWithoutPolling(t *testing.T) {
	fake := clock.NewFake(time.Time{})
	parent, cancelParent := context.WithCancel(context.Background())
	defer cancelParent()
	c := newClockCtx(parent, clock.Cached(fake), fake.Nanotime(), time.Second)
	defer c.release()
	if v := c.Value(cancelKey); v != parent {
		t.Fatalf("live: Value(cancelKey) = %v, want the parent's cancel context", v)
	}
	fake.Advance(time.Second)
	v, _ := c.Value(cancelKey).(context.Context)
	if v == nil || v == parent || context.Cause(v) != ErrTimeout {
		t.Fatalf("past the deadline: Value(cancelKey) = %v, want a context whose cause is ErrTimeout", v)
	}
	if c.Err() != context.DeadlineExceeded {
		t.Fatalf("Err = %v, want DeadlineExceeded", c.Err())
	}
}

// TestClockCtxErrAndDoneAgree: read without a lock, Err still never
// reports an end that Done does not show, nor Done one that Err does not,
// while the context ends under concurrent readers (run with -race).
func TestClockCtxErrAndDoneAgree(t *testing.T) {
	type key struct{}
	parent := context.WithValue(context.Background(), key{}, "v")
	for i := 0; i < 200; i++ {
		fake := clock.NewFake(time.Time{})
		c := newClockCtx(parent, clock.Cached(fake), fake.Nanotime(), time.Second)
		done := c.Done()
		start := make(chan struct{})
		var wg sync.WaitGroup
		for r := 0; r < 2; r++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for {
					if c.Value(key{}) != "v" {
						t.Error("parent value lost")
						return
					}
					err := c.Err()
					select {
					case <-done:
						if c.Err() == nil {
							t.Error("Done closed, Err nil")
						}
						return
					default:
						if err != nil {
							t.Errorf("Err %v before Done closed", err)
							return
						}
					}
					_ = context.Cause(c)
				}
			}()
		}
		close(start)
		if i%2 == 0 {
			fake.Advance(time.Second)
		} else {
			c.release()
		}
		wg.Wait()
		c.release()
		want := []error{context.DeadlineExceeded, context.Canceled}[i%2]
		if c.Err() != want || c.timedOut() != (i%2 == 0) {
			t.Fatalf("round %d: Err %v, timedOut %v; want %v", i, c.Err(), c.timedOut(), want)
		}
	}
}

// TestClockCtxErrWaitsForDone: caught between publishing its error and
// closing Done (end holds mu meanwhile), the context makes Err wait, so
// that whoever sees the error finds Done closed. The stress test above
// rarely lands in that window; this one stops end there.
func TestClockCtxErrWaitsForDone(t *testing.T) {
	fake := clock.NewFake(time.Time{})
	c := newClockCtx(context.Background(), clock.Cached(fake), fake.Nanotime(), time.Second)
	done := c.Done()
	// What end does, stopped before closing done.
	c.mu.Lock()
	c.err = context.Canceled
	c.state.Store(ending)
	got := make(chan error, 1)
	go func() {
		err := c.Err()
		select {
		case <-done:
		default:
			err = errors.New("Err returned before Done closed")
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("Err returned %v while end was closing Done", err)
	case <-time.After(20 * time.Millisecond):
	}
	close(c.done)
	c.state.Store(ended)
	c.mu.Unlock()
	if err := <-got; err != context.Canceled {
		t.Fatalf("Err = %v, want Canceled", err)
	}
	c.release() // stops the timer Done armed
	if fake.Timers() != 0 {
		t.Fatal("timer left pending")
	}
}
