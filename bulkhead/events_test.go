package bulkhead

import (
	"context"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/internal/eventtest"
	"github.com/fusebox-go/fusebox/internal/testwait"
)

func TestBulkheadEvents(t *testing.T) {
	clk := newFake()
	rec := eventtest.New(t)
	b := mustNew(t, Config{Name: "db", MaxConcurrent: 1, MaxQueue: 1, MaxWait: 5 * time.Second, Clock: clk, Events: rec.Bus})
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
	rec.Expect(ev(fusebox.EventRejected, "bulkhead full", 0, ErrBulkheadFull))

	// Admitted after 2s in the queue.
	w := queue(t, b, ctx)
	testwait.Timers(t, clk, 1, "the queued caller's MaxWait timer")
	if err := b.Execute(ctx, func(context.Context) error { return nil }); err != ErrBulkheadFull {
		t.Fatalf("Execute with a full queue: %v", err)
	}
	rec.Expect(ev(fusebox.EventRejected, "bulkhead full", 0, ErrBulkheadFull))
	clk.Advance(2 * time.Second)
	held.Release()
	a := <-w
	if a.err != nil {
		t.Fatalf("queued caller: %v", a.err)
	}
	held = a.p
	rec.Expect(ev(fusebox.EventQueueWait, "", 2*time.Second, nil))

	// Turned away after MaxWait.
	w = queue(t, b, ctx)
	testwait.Timers(t, clk, 1, "the queued caller's MaxWait timer")
	clk.Advance(5 * time.Second)
	if a := <-w; a.err != ErrBulkheadFull {
		t.Fatalf("after MaxWait: %v", a.err)
	}
	rec.Expect(ev(fusebox.EventRejected, "queue timeout", 5*time.Second, ErrBulkheadFull))

	// Gone after 1s because its context ended.
	cctx, cancel := context.WithCancel(ctx)
	w = queue(t, b, cctx)
	testwait.Timers(t, clk, 1, "the queued caller's MaxWait timer")
	clk.Advance(time.Second)
	cancel()
	if a := <-w; a.err != context.Canceled {
		t.Fatalf("canceled while queued: %v", a.err)
	}
	rec.Expect(ev(fusebox.EventQueueWait, "", time.Second, context.Canceled))

	// A call admitted at once publishes nothing.
	held.Release()
	if err := b.Execute(ctx, func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	rec.Close()
}

func TestPoolEvents(t *testing.T) {
	clk := newFake()
	rec := eventtest.New(t)
	g := newGate()
	p := mustPool(t, PoolConfig{Name: "jobs", Workers: 1, QueueSize: 1, Clock: clk, Events: rec.Bus}, g.handle)
	ev := func(reason string, err error) fusebox.Event {
		return fusebox.Event{Kind: fusebox.EventRejected, Policy: "bulkhead", Name: "jobs", At: clk.Now(), Reason: reason, Err: err}
	}
	ctx := context.Background()
	running := submit(p, ctx, 1)
	<-g.started
	queued := submit(p, ctx, 2)
	testwait.Spin(t, "the job to queue", func() bool { return p.Snapshot().Queued == 1 })
	if _, err := p.Submit(ctx, 3); err != ErrBulkheadFull {
		t.Fatalf("Submit to a full pool: %v", err)
	}
	rec.Expect(ev("pool full", ErrBulkheadFull))

	closed := make(chan struct{})
	go func() {
		p.Close()
		close(closed)
	}()
	if r := <-queued; r.err != ErrClosed {
		t.Fatalf("queued job at Close: %+v", r)
	}
	rec.Expect(ev("closed", ErrClosed))
	if _, err := p.Submit(ctx, 4); err != ErrClosed {
		t.Fatalf("Submit after Close: %v", err)
	}
	rec.Expect(ev("closed", ErrClosed))
	close(g.release)
	if r := <-running; r.err != nil {
		t.Fatalf("running job: %+v", r)
	}
	<-closed
	rec.Close()
}

func TestEventsWithoutSubscriberAllocateNothing(t *testing.T) {
	ctx := context.Background()
	fn := func(context.Context) error { return nil }
	b := mustNew(t, Config{Name: "db", MaxConcurrent: 4, Events: eventtest.IdleBus()})
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
