package bulkhead

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

func TestBulkheadEvents(t *testing.T) {
	clk := newFake()
	rec := newRecorder(t)
	b := mustNew(t, Config{Name: "db", MaxConcurrent: 1, MaxQueue: 1, MaxWait: 5 * time.Second, Clock: clk, Events: rec.bus})
	ev := func(kind fusebox.EventKind, reason string, delay time.Duration, err error) fusebox.Event {
		return fusebox.Event{Kind: kind, Policy: "bulkhead", Name: "db", At: clk.Now(), Reason: reason, Delay: delay, Err: err}
	}
	ctx := context.Background()

	held, err := b.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// TryAcquire never queues: a taken slot is a rejection.
	if _, ok := b.TryAcquire(); ok {
		t.Fatal("TryAcquire took a taken slot")
	}
	rec.expect(ev(fusebox.EventRejected, "bulkhead full", 0, ErrBulkheadFull))

	// Admitted after 2s in the queue.
	w := queue(t, b, ctx)
	clk.BlockUntil(1)
	if err := b.Execute(ctx, func(context.Context) error { return nil }); err != ErrBulkheadFull {
		t.Fatalf("Execute with a full queue: %v", err)
	}
	rec.expect(ev(fusebox.EventRejected, "bulkhead full", 0, ErrBulkheadFull))
	clk.Advance(2 * time.Second)
	held.Release()
	a := <-w
	if a.err != nil {
		t.Fatalf("queued caller: %v", a.err)
	}
	held = a.p
	rec.expect(ev(fusebox.EventQueueWait, "", 2*time.Second, nil))

	// Turned away after MaxWait.
	w = queue(t, b, ctx)
	clk.BlockUntil(1)
	clk.Advance(5 * time.Second)
	if a := <-w; a.err != ErrBulkheadFull {
		t.Fatalf("after MaxWait: %v", a.err)
	}
	rec.expect(ev(fusebox.EventRejected, "queue timeout", 5*time.Second, ErrBulkheadFull))

	// Gone after 1s because its context ended.
	cctx, cancel := context.WithCancel(ctx)
	w = queue(t, b, cctx)
	clk.BlockUntil(1)
	clk.Advance(time.Second)
	cancel()
	if a := <-w; a.err != context.Canceled {
		t.Fatalf("canceled while queued: %v", a.err)
	}
	rec.expect(ev(fusebox.EventQueueWait, "", time.Second, context.Canceled))

	// A call admitted at once publishes nothing.
	held.Release()
	if err := b.Execute(ctx, func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	rec.close()
}

func TestPoolEvents(t *testing.T) {
	clk := newFake()
	rec := newRecorder(t)
	g := newGate()
	p := mustPool(t, PoolConfig{Name: "jobs", Workers: 1, QueueSize: 1, Clock: clk, Events: rec.bus}, g.handle)
	ev := func(reason string, err error) fusebox.Event {
		return fusebox.Event{Kind: fusebox.EventRejected, Policy: "bulkhead", Name: "jobs", At: clk.Now(), Reason: reason, Err: err}
	}
	ctx := context.Background()
	running := submit(p, ctx, 1)
	<-g.started
	queued := submit(p, ctx, 2)
	waitFor(t, "the job to queue", func() bool { return p.Snapshot().Queued == 1 })
	if _, err := p.Submit(ctx, 3); err != ErrBulkheadFull {
		t.Fatalf("Submit to a full pool: %v", err)
	}
	rec.expect(ev("pool full", ErrBulkheadFull))

	closed := make(chan struct{})
	go func() {
		p.Close()
		close(closed)
	}()
	if r := <-queued; r.err != ErrClosed {
		t.Fatalf("queued job at Close: %+v", r)
	}
	rec.expect(ev("closed", ErrClosed))
	if _, err := p.Submit(ctx, 4); err != ErrClosed {
		t.Fatalf("Submit after Close: %v", err)
	}
	rec.expect(ev("closed", ErrClosed))
	close(g.release)
	if r := <-running; r.err != nil {
		t.Fatalf("running job: %+v", r)
	}
	<-closed
	rec.close()
}

func TestEventsWithoutSubscriberAllocateNothing(t *testing.T) {
	ctx := context.Background()
	fn := func(context.Context) error { return nil }
	b := mustNew(t, Config{Name: "db", MaxConcurrent: 4, Events: idleBus()})
	if n := testing.AllocsPerRun(1000, func() { _ = b.Execute(ctx, fn) }); n != 0 {
		t.Errorf("Execute with an idle bus allocates %v times per call", n)
	}
	full := mustNew(t, Config{Name: "db", MaxConcurrent: 1, Events: fusebox.NewEvents()})
	held, _ := full.Acquire(ctx)
	defer held.Release()
	if n := testing.AllocsPerRun(1000, func() { _ = full.Execute(ctx, fn) }); n != 0 {
		t.Errorf("a rejection with a bus nobody listens to allocates %v times per call", n)
	}
}
