package timeout_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/internal/eventtest"
	"github.com/fusebox-go/fusebox/internal/testwait"
	"github.com/fusebox-go/fusebox/timeout"
)

func TestEvents(t *testing.T) {
	fake := clock.NewFake(time.Time{})
	rec := eventtest.New(t)
	p, err := timeout.New(timeout.Config{Name: "rpc", Timeout: 2 * time.Second, Clock: fake, Events: rec.Bus})
	if err != nil {
		t.Fatal(err)
	}

	// A call that finishes in time, and one whose caller gives up, publish
	// nothing.
	if err := p.Execute(context.Background(), func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(context.Background())
	ch := runAsync(cctx, p, waitOnCtx)
	testwait.Timers(t, fake, 1, "the call's deadline timer")
	cancel()
	if err := <-ch; err != context.Canceled {
		t.Fatalf("canceled call: %v", err)
	}

	ch = runAsync(context.Background(), p, waitOnCtx)
	testwait.Timers(t, fake, 1, "the call's deadline timer")
	fake.Advance(2 * time.Second)
	if err := <-ch; !errors.Is(err, timeout.ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	rec.Expect(fusebox.Event{Kind: fusebox.EventTimeout, Policy: "timeout", Name: "rpc", At: fake.Now(), Delay: 2 * time.Second, Err: context.DeadlineExceeded})
	rec.Close()
}

func TestEventsRealClock(t *testing.T) {
	rec := eventtest.New(t)
	p, err := timeout.New(timeout.Config{Name: "real", Timeout: time.Millisecond, Events: rec.Bus})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Execute(context.Background(), waitOnCtx); !errors.Is(err, timeout.ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	rec.Expect(fusebox.Event{Kind: fusebox.EventTimeout, Policy: "timeout", Name: "real", Delay: time.Millisecond, Err: context.DeadlineExceeded})
	rec.Close()
}

func TestEventsWithoutSubscriberAllocateNothing(t *testing.T) {
	fn := func(context.Context) error { return nil }
	plain, err := timeout.New(timeout.Config{Timeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	withBus, err := timeout.New(timeout.Config{Timeout: time.Hour, Events: eventtest.IdleBus()})
	if err != nil {
		t.Fatal(err)
	}
	// The caller's deadline governs: no allocation at all.
	dctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if n := testing.AllocsPerRun(100, func() { _ = withBus.Execute(dctx, fn) }); n != 0 {
		t.Errorf("caller-deadline path with an idle bus allocates %v times, want 0", n)
	}
	// The policy's deadline: the bus adds nothing to the context's cost.
	ctx := context.Background()
	want := testing.AllocsPerRun(100, func() { _ = plain.Execute(ctx, fn) })
	if n := testing.AllocsPerRun(100, func() { _ = withBus.Execute(ctx, fn) }); n != want {
		t.Errorf("Run with an idle bus allocates %v times, without a bus %v", n, want)
	}
}
