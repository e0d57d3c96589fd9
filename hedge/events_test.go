package hedge_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/hedge"
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
	rec := newRecorder(t)
	// Budget 0.01: the first call may spend the initial burst of 10 hedges,
	// the second call gets none.
	f := newFixture(t, hedge.Config{Name: "search", Delay: 10 * time.Millisecond, MaxHedges: hedge.MaxMaxHedges, Budget: 0.01, Events: rec.bus})
	ev := func(kind fusebox.EventKind, reason string, attempt int, delay time.Duration, err error) fusebox.Event {
		return fusebox.Event{Kind: kind, Policy: "hedge", Name: "search", At: f.fake.Now(), Reason: reason, Attempt: attempt, Delay: delay, Err: err}
	}

	// The last hedge wins; the others wait to be canceled.
	s := newScript(func(ctx context.Context, i int) error {
		if i == hedge.MaxMaxHedges {
			return nil
		}
		<-ctx.Done()
		return ctx.Err()
	})
	ch := f.runAsync(context.Background(), s.fn)
	f.hedgeAfter(s, 10*time.Millisecond)
	rec.expect(ev(fusebox.EventHedge, "", 2, 10*time.Millisecond, nil))
	for n := 2; n <= hedge.MaxMaxHedges; n++ {
		f.fake.Advance(10 * time.Millisecond)
		rec.expect(ev(fusebox.EventHedge, "", n+1, time.Duration(n)*10*time.Millisecond, nil))
	}
	if err := <-ch; err != nil {
		t.Fatalf("first call: %v", err)
	}

	// The budget is spent: the second call's hedge is refused.
	release := make(chan struct{})
	s = newScript(func(ctx context.Context, i int) error {
		<-release
		return nil
	})
	ch = f.runAsync(context.Background(), s.fn)
	f.hedgeAfter(s, 10*time.Millisecond)
	rec.expect(ev(fusebox.EventRejected, "hedge budget exhausted", 2, 10*time.Millisecond, fusebox.ErrBudgetExhausted))
	close(release)
	if err := <-ch; err != nil {
		t.Fatalf("second call: %v", err)
	}
	if got := f.p.Snapshot(); got.Hedges != hedge.MaxMaxHedges || got.BudgetDenials != 1 {
		t.Fatalf("Snapshot = %+v", got)
	}
	rec.close()
}

// TestEventsWithoutSubscriberAllocateNothing: a bus nobody listens to adds
// no allocation to the documented cost of the fast path.
func TestEventsWithoutSubscriberAllocateNothing(t *testing.T) {
	ctx := context.Background()
	next := fusebox.NextFunc(func(context.Context) error { return nil })
	plain, err := hedge.New(hedge.Config{Delay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	withBus, err := hedge.New(hedge.Config{Delay: time.Hour, Events: idleBus()})
	if err != nil {
		t.Fatal(err)
	}
	want := testing.AllocsPerRun(200, func() { _ = plain.Run(ctx, next) })
	if n := testing.AllocsPerRun(200, func() { _ = withBus.Run(ctx, next) }); n != want {
		t.Fatalf("fast path with an idle bus allocates %v times, without a bus %v", n, want)
	}
}
