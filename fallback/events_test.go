package fallback_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/fallback"
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
	errFB := errors.New("no fallback either")
	boom := errors.New("boom")
	errDeclined := errors.New("not for the fallback")
	p, err := fallback.New(fallback.Config{
		Name: "profile",
		Func: func(_ context.Context, err error) (any, error) {
			switch {
			case errors.Is(err, fusebox.ErrOpen):
				return nil, errFB
			case errors.Is(err, fusebox.ErrTimeout):
				panic(boom)
			}
			return 42, nil
		},
		When:   func(err error) bool { return err != errDeclined },
		Clock:  fake,
		Events: rec.bus,
	})
	if err != nil {
		t.Fatal(err)
	}
	pl, err := fusebox.New(p)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	failWith := func(err error) func(context.Context) (int, error) {
		return func(context.Context) (int, error) { return 7, err }
	}
	ev := func(reason string, err error) fusebox.Event {
		return fusebox.Event{Kind: fusebox.EventFallback, Policy: "fallback", Name: "profile", At: fake.Now(), Reason: reason, Err: err}
	}

	// No event: a success, an error When declines, the caller's
	// cancellation.
	if v, err := fusebox.Do(ctx, pl, failWith(nil)); v != 7 || err != nil {
		t.Fatalf("success: %v, %v", v, err)
	}
	if _, err := fusebox.Do(ctx, pl, failWith(errDeclined)); err != errDeclined {
		t.Fatalf("declined: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := fusebox.Do(cctx, pl, failWith(context.Canceled)); err != context.Canceled {
		t.Fatalf("canceled: %v", err)
	}

	// Answered.
	fake.Advance(time.Second)
	if v, err := fusebox.Do(ctx, pl, failWith(errDep)); v != 42 || err != nil {
		t.Fatalf("answered: %v, %v", v, err)
	}
	rec.expect(ev("", errDep))

	// The fallback fails, then panics: the event's Err is the *Error Run
	// returns, holding both errors.
	for _, tc := range []struct {
		call, fb error
	}{{fusebox.ErrOpen, errFB}, {fusebox.ErrTimeout, boom}} {
		_, err := fusebox.Do(ctx, pl, failWith(tc.call))
		var fe *fallback.Error
		if !errors.As(err, &fe) {
			t.Fatalf("fallback failed: err = %v, want *Error", err)
		}
		got := rec.expect(ev("fallback failed", tc.fb))
		if got.Err != fe || !errors.Is(got.Err, tc.call) {
			t.Errorf("event Err %v, want the returned *Error %v", got.Err, fe)
		}
	}
	rec.close()
}

func TestEventsWithoutSubscriberAllocateNothing(t *testing.T) {
	p, err := fallback.New(fallback.Config{Func: fallback.Static(nil), Events: idleBus()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ok := fusebox.NextFunc(func(context.Context) error { return nil })
	failed := fusebox.NextFunc(func(context.Context) error { return errDep })
	if n := testing.AllocsPerRun(100, func() { _ = p.Run(ctx, ok) }); n != 0 {
		t.Errorf("success path with an idle bus allocates %v times, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { _ = p.Run(ctx, failed) }); n != 0 {
		t.Errorf("a static fallback with an idle bus allocates %v times, want 0", n)
	}
}
