package timeout_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/timeout"
)

// NewContext ends at its deadline on the fake clock, with the cause
// ErrTimeout, and arms its timer only once someone waits on Done.
func TestNewContextDeadline(t *testing.T) {
	fake := clock.NewFake(time.Time{})
	ctx, cancel := timeout.NewContext(context.Background(), time.Second, fake)
	defer cancel()

	dl, ok := ctx.Deadline()
	if want := fake.Now().Add(time.Second); !ok || !dl.Equal(want) {
		t.Fatalf("Deadline = %v, %v; want %v, true", dl, ok, want)
	}
	if n := fake.Timers(); n != 0 {
		t.Fatalf("%d timers before anyone waits, want 0", n)
	}
	if err := ctx.Err(); err != nil {
		t.Fatalf("Err before the deadline = %v", err)
	}
	done := ctx.Done()
	if n := fake.Timers(); n != 1 {
		t.Fatalf("%d timers once Done was asked for, want 1", n)
	}
	fake.Advance(999 * time.Millisecond)
	select {
	case <-done:
		t.Fatal("Done closed before the deadline")
	default:
	}
	fake.Advance(time.Millisecond)
	select {
	case <-done:
	default:
		t.Fatal("Done still open at the deadline")
	}
	if ctx.Err() != context.DeadlineExceeded || !errors.Is(context.Cause(ctx), timeout.ErrTimeout) {
		t.Fatalf("after the deadline: Err %v, Cause %v; want DeadlineExceeded, ErrTimeout", ctx.Err(), context.Cause(ctx))
	}
}

// A context that is only polled ends at its deadline too, without a timer.
func TestNewContextPolled(t *testing.T) {
	fake := clock.NewFake(time.Time{})
	ctx, cancel := timeout.NewContext(context.Background(), 50*time.Millisecond, fake)
	defer cancel()
	fake.Advance(50 * time.Millisecond)
	if ctx.Err() != context.DeadlineExceeded {
		t.Fatalf("Err past the deadline = %v, want DeadlineExceeded", ctx.Err())
	}
	if n := fake.Timers(); n != 0 {
		t.Fatalf("%d timers for a polled context, want 0", n)
	}
}

// cancel ends the context with Canceled and stops its timer; contexts
// derived from it end with it.
func TestNewContextCancel(t *testing.T) {
	fake := clock.NewFake(time.Time{})
	ctx, cancel := timeout.NewContext(context.Background(), time.Minute, fake)
	child, stopChild := context.WithCancel(ctx)
	defer stopChild()
	if n := fake.Timers(); n != 1 {
		t.Fatalf("%d timers once a child was derived, want 1", n)
	}
	cancel()
	<-child.Done()
	if ctx.Err() != context.Canceled || child.Err() != context.Canceled {
		t.Fatalf("after cancel: Err %v, child's %v; want Canceled for both", ctx.Err(), child.Err())
	}
	if n := fake.Timers(); n != 0 {
		t.Fatalf("%d timers after cancel, want 0", n)
	}
}

// The parent's end ends the context, with the parent's error.
func TestNewContextParentEnds(t *testing.T) {
	fake := clock.NewFake(time.Time{})
	parent, cancelParent := context.WithCancelCause(context.Background())
	ctx, cancel := timeout.NewContext(parent, time.Minute, fake)
	defer cancel()
	done := ctx.Done()
	boom := errors.New("client went away")
	cancelParent(boom)
	<-done
	if ctx.Err() != context.Canceled || !errors.Is(context.Cause(ctx), boom) {
		t.Fatalf("after the parent ended: Err %v, Cause %v; want Canceled, the parent's cause", ctx.Err(), context.Cause(ctx))
	}
}

// An earlier deadline of the parent stays.
func TestNewContextKeepsEarlierParentDeadline(t *testing.T) {
	fake := clock.NewFake(time.Time{})
	parent, cancelParent := context.WithDeadline(context.Background(), fake.Now().Add(time.Second))
	defer cancelParent()
	ctx, cancel := timeout.NewContext(parent, time.Minute, fake)
	defer cancel()
	pdl, _ := parent.Deadline()
	if dl, ok := ctx.Deadline(); !ok || !dl.Equal(pdl) {
		t.Fatalf("Deadline = %v, %v; want the parent's %v", dl, ok, pdl)
	}
}

// NewContext with math.MaxInt64 once wrapped its deadline negative and
// ended at once; the deadline saturates instead (see TestHugeTimeoutSaturates).
func TestNewContextHugeTimeoutSaturates(t *testing.T) {
	fake := clock.NewFake(time.Time{})
	fake.Advance(time.Second)
	ctx, cancel := timeout.NewContext(context.Background(), math.MaxInt64, fake)
	checkFarDeadline(t, ctx, fake)
	cancel()
	if ctx.Err() != context.Canceled {
		t.Fatalf("Err after cancel = %v, want Canceled", ctx.Err())
	}
}

// Hold sees only the policies' contexts, not NewContext's: its cancel
// ends it at once, as context.WithTimeout's does.
func TestNewContextIsNotHeld(t *testing.T) {
	ctx, cancel := timeout.NewContext(context.Background(), time.Minute, nil)
	if release := fusebox.Hold(ctx); release != nil {
		release()
		t.Fatal("Hold found a NewContext context, want nil")
	}
	cancel()
	if ctx.Err() != context.Canceled {
		t.Fatalf("Err after cancel = %v, want Canceled", ctx.Err())
	}
}

// TestValueAllocatesNothing: a lookup through NewContext's context and
// through the one a Policy gives its call allocates nothing, whether the
// key is the caller's, fusebox.HoldKey, or the one context.Cause asks for.
func TestValueAllocatesNothing(t *testing.T) {
	type key struct{}
	parent, cancelParent := context.WithCancel(context.WithValue(context.Background(), key{}, "v"))
	defer cancelParent()
	check := func(name string, ctx context.Context) {
		t.Helper()
		lookups := map[string]func(){
			"caller's key": func() {
				if ctx.Value(key{}) != "v" {
					t.Fatal("caller's value not found")
				}
			},
			"HoldKey": func() { _ = ctx.Value(fusebox.HoldKey{}) },
			"Cause":   func() { _ = context.Cause(ctx) },
		}
		for what, f := range lookups {
			if n := testing.AllocsPerRun(1000, f); n != 0 {
				t.Errorf("%s: Value (%s) allocates %v times, want 0", name, what, n)
			}
		}
	}
	ctx, cancel := timeout.NewContext(parent, time.Minute, nil)
	check("NewContext", ctx)
	cancel()
	check("NewContext, canceled", ctx)

	p, err := timeout.New(timeout.Config{Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Execute(parent, func(ctx context.Context) error {
		check("Policy", ctx)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
