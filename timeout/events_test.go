package timeout_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/timeout"
)

// recorder subscribes to a bus of its own and hands each event over on a
// channel, so that a test waits for deliveries instead of sleeping.
type recorder struct {
	t   *testing.T
	bus *fusebox.Events
	ch  chan fusebox.Event
}

func newRecorder(t *testing.T) *recorder {
	r := &recorder{t: t, bus: fusebox.NewEvents(), ch: make(chan fusebox.Event, 1024)}
	r.bus.Subscribe(func(e fusebox.Event) { r.ch <- e }, 1024)
	t.Cleanup(r.bus.Close)
	return r
}

// expect waits for the next event and checks its Kind, Policy, Name,
// Reason, Attempt and Delay against want's, its Err against want.Err with
// errors.Is (nil wants nil), and its At against want.At when that is set.
func (r *recorder) expect(want fusebox.Event) fusebox.Event {
	r.t.Helper()
	var got fusebox.Event
	select {
	case got = <-r.ch:
	case <-time.After(10 * time.Second):
		r.t.Fatalf("no event delivered; want %v", want)
	}
	if got.Kind != want.Kind || got.Policy != want.Policy || got.Name != want.Name ||
		got.Reason != want.Reason || got.Attempt != want.Attempt || got.Delay != want.Delay {
		r.t.Errorf("event %q, want %q", got, want)
	}
	if (want.Err == nil) != (got.Err == nil) || want.Err != nil && !errors.Is(got.Err, want.Err) {
		r.t.Errorf("event %q: Err %v, want %v", got, got.Err, want.Err)
	}
	if !want.At.IsZero() && !got.At.Equal(want.At) {
		r.t.Errorf("event %q: At %v, want %v", got, got.At, want.At)
	}
	return got
}

// close closes the bus, which delivers whatever is still buffered, and
// fails the test if any event came that was not expected.
func (r *recorder) close() {
	r.t.Helper()
	r.bus.Close()
	for {
		select {
		case e := <-r.ch:
			r.t.Errorf("unexpected event %q", e)
		default:
			return
		}
	}
}

// idleBus returns a bus nobody listens to any more: it had a subscriber,
// now closed.
func idleBus() *fusebox.Events {
	bus := fusebox.NewEvents()
	bus.Subscribe(func(fusebox.Event) {}, 1).Close()
	return bus
}

func TestEvents(t *testing.T) {
	fake := clock.NewFake(time.Time{})
	rec := newRecorder(t)
	p, err := timeout.New(timeout.Config{Name: "rpc", Timeout: 2 * time.Second, Clock: fake, Events: rec.bus})
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
	fake.BlockUntil(1)
	cancel()
	if err := <-ch; err != context.Canceled {
		t.Fatalf("canceled call: %v", err)
	}

	ch = runAsync(context.Background(), p, waitOnCtx)
	fake.BlockUntil(1)
	fake.Advance(2 * time.Second)
	if err := <-ch; !errors.Is(err, timeout.ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	rec.expect(fusebox.Event{Kind: fusebox.EventTimeout, Policy: "timeout", Name: "rpc", At: fake.Now(), Delay: 2 * time.Second, Err: context.DeadlineExceeded})
	rec.close()
}

func TestEventsRealClock(t *testing.T) {
	rec := newRecorder(t)
	p, err := timeout.New(timeout.Config{Name: "real", Timeout: time.Millisecond, Events: rec.bus})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Execute(context.Background(), waitOnCtx); !errors.Is(err, timeout.ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	rec.expect(fusebox.Event{Kind: fusebox.EventTimeout, Policy: "timeout", Name: "real", Delay: time.Millisecond, Err: context.DeadlineExceeded})
	rec.close()
}

func TestEventsWithoutSubscriberAllocateNothing(t *testing.T) {
	fn := func(context.Context) error { return nil }
	plain, err := timeout.New(timeout.Config{Timeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	withBus, err := timeout.New(timeout.Config{Timeout: time.Hour, Events: idleBus()})
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
