package ratelimit

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox"
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
	clk := newFake()
	rec := newRecorder(t)
	ctx := context.Background()
	fn := func(context.Context) error { return nil }
	rejected := func(name, reason string) fusebox.Event {
		return fusebox.Event{Kind: fusebox.EventRejected, Policy: "ratelimit", Name: name, At: clk.Now(), Reason: reason, Err: ErrRateLimited}
	}

	b := mustBucket(t, Config{Name: "bucket", Rate: 1, Burst: 1, Clock: clk, Events: rec.bus})
	if !b.Allow() {
		t.Fatal("Allow on a full bucket: false")
	}
	if b.Allow() {
		t.Fatal("Allow on an empty bucket: true")
	}
	rec.expect(rejected("bucket", "rate limited"))
	if err := b.Execute(ctx, fn); err != ErrRateLimited {
		t.Fatalf("Execute on an empty bucket: %v", err)
	}
	rec.expect(rejected("bucket", "rate limited"))
	if b.AllowN(2) {
		t.Fatal("AllowN beyond Burst: true")
	}
	rec.expect(rejected("bucket", "rate limited"))
	if err := b.WaitN(ctx, 2); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("WaitN beyond Burst: %v", err)
	}
	rec.expect(rejected("bucket", "rate limited"))
	clk.Advance(time.Second)
	if !b.Allow() {
		t.Fatal("Allow after a second: false")
	}

	waiting := mustBucket(t, Config{Name: "waiting", Rate: 1, Burst: 1, Wait: true, MaxWait: 500 * time.Millisecond, Clock: clk, Events: rec.bus})
	if err := waiting.Execute(ctx, fn); err != nil {
		t.Fatal(err)
	}
	if err := waiting.Execute(ctx, fn); err != ErrRateLimited {
		t.Fatalf("Execute with the token beyond MaxWait: %v", err)
	}
	rec.expect(rejected("waiting", "rate limited"))

	w := mustWindow(t, WindowConfig{Name: "window", Limit: 1, Window: time.Second, Clock: clk, Events: rec.bus})
	if !w.Allow() {
		t.Fatal("Window.Allow on an empty window: false")
	}
	if w.Allow() {
		t.Fatal("Window.Allow beyond Limit: true")
	}
	rec.expect(rejected("window", "rate limited"))
	if err := w.Execute(ctx, fn); err != ErrRateLimited {
		t.Fatalf("Window.Execute beyond Limit: %v", err)
	}
	rec.expect(rejected("window", "rate limited"))

	k := mustKeyed(t, KeyedConfig{Name: "keyed", Rate: 1, Burst: 1, Clock: clk, Events: rec.bus})
	if !k.Allow("a") || k.Allow("a") {
		t.Fatal("Keyed.Allow: want one call of key a allowed, the next refused")
	}
	rec.expect(rejected("keyed", "rate limited: key=a"))
	bctx := WithKey(ctx, "b")
	if err := k.Execute(bctx, fn); err != nil {
		t.Fatal(err)
	}
	if err := k.Execute(bctx, fn); err != ErrRateLimited {
		t.Fatalf("Keyed.Execute beyond Burst: %v", err)
	}
	rec.expect(rejected("keyed", "rate limited: key=b"))
	rec.close()
}

func TestEventsWithoutSubscriberAllocateNothing(t *testing.T) {
	ctx := context.Background()
	fn := func(context.Context) error { return nil }
	bus := idleBus()
	b := mustBucket(t, Config{Rate: 1e6, Burst: 1000, Clock: newFake(), Events: bus})
	empty := mustBucket(t, Config{Rate: 1, Burst: 1, Clock: newFake(), Events: bus})
	empty.Allow()
	w := mustWindow(t, WindowConfig{Limit: 1, Clock: newFake(), Events: bus})
	w.Allow()
	k := mustKeyed(t, KeyedConfig{Rate: 1, Burst: 1, Clock: newFake(), Events: bus})
	k.Allow("a")
	checks := map[string]func(){
		"Bucket.Execute":          func() { _ = b.Execute(ctx, fn) },
		"Bucket rejection":        func() { _ = empty.Execute(ctx, fn) },
		"Window rejection":        func() { _ = w.Execute(ctx, fn) },
		"Keyed rejection (Allow)": func() { k.Allow("a") },
	}
	for name, f := range checks {
		if n := testing.AllocsPerRun(500, f); n != 0 {
			t.Errorf("%s with an idle bus allocates %v times per call", name, n)
		}
	}
}
