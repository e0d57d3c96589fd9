package bulkhead

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/internal/testwait"
)

func newFake() *clock.Fake { return clock.NewFake(time.Time{}) }

func mustNew(t testing.TB, c Config) *Bulkhead {
	t.Helper()
	b, err := New(c)
	if err != nil {
		t.Fatalf("New(%+v): %v", c, err)
	}
	return b
}

func TestNewValidation(t *testing.T) {
	bad := []struct {
		c     Config
		field string
	}{
		{Config{MaxConcurrent: -1}, "MaxConcurrent -1 out of range"},
		{Config{MaxConcurrent: int(overLimit)}, "MaxConcurrent"},
		{Config{MaxQueue: -1}, "MaxQueue -1 out of range"},
		{Config{MaxQueue: int(overLimit)}, "MaxQueue"},
		{Config{MaxWait: -time.Second}, "MaxWait -1s out of range"},
	}
	for _, tc := range bad {
		b, err := New(tc.c)
		if err == nil || b != nil {
			t.Errorf("New(%+v) = %v, %v; want an error", tc.c, b, err)
			continue
		}
		if !strings.HasPrefix(err.Error(), "bulkhead: ") || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("New(%+v) error %q; want it to name %q", tc.c, err, tc.field)
		}
	}

	good := []struct {
		c             Config
		max, maxQueue int
	}{
		{Config{}, DefaultMaxConcurrent, 0},
		{Config{MaxConcurrent: 1, MaxQueue: 5, MaxWait: time.Second}, 1, 5},
		{Config{MaxConcurrent: MaxLimit, MaxQueue: MaxLimit}, MaxLimit, MaxLimit},
	}
	for _, tc := range good {
		s := mustNew(t, tc.c).Snapshot()
		if s.MaxConcurrent != tc.max || s.MaxQueue != tc.maxQueue {
			t.Errorf("New(%+v): limits %d/%d, want %d/%d", tc.c, s.MaxConcurrent, s.MaxQueue, tc.max, tc.maxQueue)
		}
	}
}

func TestRejectsAtOnceWithoutQueue(t *testing.T) {
	b := mustNew(t, Config{MaxConcurrent: 2, Clock: newFake()})
	ctx := context.Background()
	p1, err1 := b.Acquire(ctx)
	p2, err2 := b.Acquire(ctx)
	if err1 != nil || err2 != nil {
		t.Fatalf("Acquire: %v, %v", err1, err2)
	}
	if _, err := b.Acquire(ctx); err != ErrBulkheadFull {
		t.Fatalf("third Acquire: %v, want ErrBulkheadFull", err)
	}
	if err := b.Execute(ctx, func(context.Context) error { t.Error("ran while full"); return nil }); !errors.Is(err, fusebox.ErrBulkheadFull) {
		t.Fatalf("Execute while full: %v", err)
	}
	p1.Release()
	p3, err := b.Acquire(ctx)
	if err != nil {
		t.Fatalf("Acquire after release: %v", err)
	}
	p2.Release()
	p3.Release()
	s := b.Snapshot()
	want := Snapshot{MaxConcurrent: 2, Admitted: 3, Rejected: 2}
	if s != want {
		t.Fatalf("Snapshot = %+v, want %+v", s, want)
	}
}

func TestPermitReleaseIsIdempotent(t *testing.T) {
	b := mustNew(t, Config{MaxConcurrent: 2})
	p1, _ := b.Acquire(context.Background())
	p2, _ := b.Acquire(context.Background())
	p1.Release()
	p1.Release() // must not free p2's slot
	if got := b.Snapshot().InFlight; got != 1 {
		t.Fatalf("InFlight after double release = %d, want 1", got)
	}
	var zero Permit
	zero.Release()
	p2.Release()
	if got := b.Snapshot().InFlight; got != 0 {
		t.Fatalf("InFlight = %d, want 0", got)
	}
}

func TestTryAcquire(t *testing.T) {
	b := mustNew(t, Config{MaxConcurrent: 1, MaxQueue: 1})
	p, ok := b.TryAcquire()
	if !ok {
		t.Fatal("TryAcquire on an empty bulkhead failed")
	}
	if _, ok := b.TryAcquire(); ok {
		t.Fatal("TryAcquire on a full bulkhead succeeded")
	}
	p.Release()
	if s := b.Snapshot(); s.InFlight != 0 || s.Admitted != 1 || s.Rejected != 1 {
		t.Fatalf("Snapshot = %+v", s)
	}
}

// queue starts a goroutine that acquires and reports on the returned channel
// once it has its result, and waits until it is queued.
func queue(t *testing.T, b *Bulkhead, ctx context.Context) <-chan acquired {
	t.Helper()
	before := b.Snapshot().Queued
	ch := make(chan acquired, 1)
	go func() {
		p, err := b.Acquire(ctx)
		ch <- acquired{p, err}
	}()
	testwait.Spin(t, "the caller to queue", func() bool { return b.Snapshot().Queued == before+1 })
	return ch
}

type acquired struct {
	p   Permit
	err error
}

func TestFIFOHandoff(t *testing.T) {
	b := mustNew(t, Config{MaxConcurrent: 1, MaxQueue: 3, Clock: newFake()})
	ctx := context.Background()
	held, _ := b.Acquire(ctx)
	waiters := []<-chan acquired{queue(t, b, ctx), queue(t, b, ctx), queue(t, b, ctx)}

	if _, err := b.Acquire(ctx); err != ErrBulkheadFull {
		t.Fatalf("Acquire with a full queue: %v, want ErrBulkheadFull", err)
	}
	for i, w := range waiters {
		held.Release()
		// The slot went to the oldest waiter in the same step: a
		// newcomer cannot take it, even before that waiter runs.
		if _, ok := b.TryAcquire(); ok {
			t.Fatalf("a newcomer took the slot released for waiter %d", i)
		}
		for j, other := range waiters[i+1:] {
			select {
			case <-other:
				t.Fatalf("waiter %d admitted before waiter %d", i+1+j, i)
			default:
			}
		}
		a := <-w
		if a.err != nil {
			t.Fatalf("waiter %d: %v", i, a.err)
		}
		held = a.p
	}
	held.Release()
	s := b.Snapshot()
	if s.InFlight != 0 || s.Queued != 0 || s.Admitted != 4 || s.AdmittedFromQueue != 3 || s.Rejected != 4 {
		t.Fatalf("Snapshot = %+v", s)
	}
}

func TestMaxWait(t *testing.T) {
	clk := newFake()
	b := mustNew(t, Config{MaxConcurrent: 1, MaxQueue: 1, MaxWait: time.Second, Clock: clk})
	held, _ := b.Acquire(context.Background())
	defer held.Release()
	w := queue(t, b, context.Background())
	testwait.Timers(t, clk, 1, "the queued caller's MaxWait timer")
	clk.Advance(999 * time.Millisecond)
	select {
	case a := <-w:
		t.Fatalf("left the queue before MaxWait: %v", a.err)
	default:
	}
	clk.Advance(time.Millisecond)
	a := <-w
	if a.err != ErrBulkheadFull {
		t.Fatalf("after MaxWait: %v, want ErrBulkheadFull", a.err)
	}
	s := b.Snapshot()
	if s.Queued != 0 || s.QueueTimeouts != 1 || s.QueueWait != time.Second || s.InFlight != 1 {
		t.Fatalf("Snapshot = %+v", s)
	}
	if clk.Timers() != 0 {
		t.Fatalf("%d timers left pending", clk.Timers())
	}
}

func TestQueuedAdmissionStopsTimer(t *testing.T) {
	clk := newFake()
	b := mustNew(t, Config{MaxConcurrent: 1, MaxQueue: 1, MaxWait: time.Minute, Clock: clk})
	held, _ := b.Acquire(context.Background())
	w := queue(t, b, context.Background())
	testwait.Timers(t, clk, 1, "the queued caller's MaxWait timer")
	clk.Advance(3 * time.Second)
	held.Release()
	a := <-w
	if a.err != nil {
		t.Fatalf("queued Acquire: %v", a.err)
	}
	a.p.Release()
	if n := clk.Timers(); n != 0 {
		t.Fatalf("%d timers pending after admission", n)
	}
	if s := b.Snapshot(); s.QueueWait != 3*time.Second || s.AdmittedFromQueue != 1 {
		t.Fatalf("Snapshot = %+v", s)
	}
}

func TestCanceledWhileQueued(t *testing.T) {
	b := mustNew(t, Config{MaxConcurrent: 1, MaxQueue: 2, Clock: newFake()})
	held, _ := b.Acquire(context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	first := queue(t, b, ctx)
	second := queue(t, b, context.Background())
	cancel()
	a := <-first
	if a.err != context.Canceled {
		t.Fatalf("canceled waiter: %v, want context.Canceled", a.err)
	}
	if got := fusebox.Classify(ctx, a.err, nil); got != fusebox.Ignored {
		t.Fatalf("Classify(canceled waiter) = %v, want ignored", got)
	}
	// The canceled waiter left the queue: the slot goes to the next one.
	held.Release()
	a = <-second
	if a.err != nil {
		t.Fatalf("second waiter: %v", a.err)
	}
	a.p.Release()
	if s := b.Snapshot(); s.Canceled != 1 || s.Queued != 0 || s.InFlight != 0 {
		t.Fatalf("Snapshot = %+v", s)
	}
}

func TestDoneContextDoesNotQueue(t *testing.T) {
	b := mustNew(t, Config{MaxConcurrent: 1, MaxQueue: 1})
	held, _ := b.Acquire(context.Background())
	defer held.Release()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.Acquire(ctx); err != context.Canceled {
		t.Fatalf("Acquire with a done context on a full bulkhead: %v", err)
	}
	if q := b.Snapshot().Queued; q != 0 {
		t.Fatalf("Queued = %d", q)
	}
}

// TestWaitEndsAsSlotArrives races the end of a wait (MaxWait or
// cancellation) against the handover of a slot: whichever wins, no slot may
// be lost or leaked.
func TestWaitEndsAsSlotArrives(t *testing.T) {
	for i := range 100 {
		clk := newFake()
		b := mustNew(t, Config{MaxConcurrent: 1, MaxQueue: 1, MaxWait: time.Second, Clock: clk})
		held, _ := b.Acquire(context.Background())
		ctx, cancel := context.WithCancel(context.Background())
		w := queue(t, b, ctx)
		testwait.Timers(t, clk, 1, "the queued caller's MaxWait timer")
		if i%2 == 0 {
			clk.Advance(time.Second)
		} else {
			cancel()
		}
		held.Release()
		a := <-w
		switch {
		case a.err == nil:
			a.p.Release()
		case a.err == ErrBulkheadFull && i%2 == 0, a.err == context.Canceled && i%2 == 1:
		default:
			t.Fatalf("round %d: %v", i, a.err)
		}
		cancel()
		if s := b.Snapshot(); s.InFlight != 0 || s.Queued != 0 {
			t.Fatalf("round %d: Snapshot = %+v", i, s)
		}
		if _, ok := b.TryAcquire(); !ok {
			t.Fatalf("round %d: slot lost", i)
		}
	}
}

func TestPanicReleasesSlot(t *testing.T) {
	b := mustNew(t, Config{MaxConcurrent: 1})
	func() {
		defer func() {
			if v := recover(); v != "boom" {
				t.Fatalf("recovered %v, want the original panic", v)
			}
		}()
		_ = b.Execute(context.Background(), func(context.Context) error { panic("boom") })
	}()
	if got := b.Snapshot().InFlight; got != 0 {
		t.Fatalf("InFlight after panic = %d", got)
	}
	if err := b.Execute(context.Background(), func(context.Context) error { return nil }); err != nil {
		t.Fatalf("Execute after panic: %v", err)
	}
}

func TestPipeline(t *testing.T) {
	b := mustNew(t, Config{MaxConcurrent: 1})
	p, err := fusebox.New(b)
	if err != nil {
		t.Fatal(err)
	}
	errDep := errors.New("dependency down")
	ctx := context.Background()
	err = p.Run(ctx, func(ctx context.Context) error {
		// Inside the pipeline, the only slot is taken.
		if err := p.Run(ctx, func(context.Context) error { return nil }); err != ErrBulkheadFull {
			t.Errorf("nested Run: %v, want ErrBulkheadFull", err)
		}
		return errDep
	})
	if err != errDep {
		t.Fatalf("Run: %v, want the function's error", err)
	}
	v, err := fusebox.Do(ctx, p, func(context.Context) (int, error) { return 42, nil })
	if v != 42 || err != nil {
		t.Fatalf("Do = %v, %v", v, err)
	}
	if s := b.Snapshot(); s.Admitted != 2 || s.Rejected != 1 || s.InFlight != 0 {
		t.Fatalf("Snapshot = %+v", s)
	}
}

func TestAdmitPathAllocatesNothing(t *testing.T) {
	b := mustNew(t, Config{MaxConcurrent: 4, MaxQueue: 4})
	ctx := context.Background()
	fn := func(context.Context) error { return nil }
	if n := testing.AllocsPerRun(1000, func() { _ = b.Execute(ctx, fn) }); n != 0 {
		t.Errorf("Execute allocates %v times per call", n)
	}
	if n := testing.AllocsPerRun(1000, func() {
		p, _ := b.Acquire(ctx)
		p.Release()
	}); n != 0 {
		t.Errorf("Acquire+Release allocates %v times per call", n)
	}
	full := mustNew(t, Config{MaxConcurrent: 1})
	held, _ := full.Acquire(ctx)
	defer held.Release()
	if n := testing.AllocsPerRun(1000, func() { _ = full.Execute(ctx, fn) }); n != 0 {
		t.Errorf("a rejection allocates %v times per call", n)
	}
}

// TestConcurrencyBound hammers a bulkhead from many goroutines, some of
// them canceling while queued, and checks the bound and the books.
func TestConcurrencyBound(t *testing.T) {
	const (
		limit      = 3
		goroutines = 16
		calls      = 300
	)
	b := mustNew(t, Config{MaxConcurrent: limit, MaxQueue: goroutines})
	var running, peak, ran atomic.Int64
	var canceled atomic.Int64
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range calls {
				ctx, cancel := context.WithCancel(context.Background())
				if (g+i)%7 == 0 {
					cancel() // some callers give up while (or before) queueing
				} else if (g+i)%5 == 0 {
					go cancel()
				}
				err := b.Execute(ctx, func(context.Context) error {
					n := running.Add(1)
					for {
						p := peak.Load()
						if n <= p || peak.CompareAndSwap(p, n) {
							break
						}
					}
					runtime.Gosched()
					running.Add(-1)
					ran.Add(1)
					return nil
				})
				switch err {
				case nil:
				case context.Canceled:
					canceled.Add(1)
				default:
					t.Errorf("Execute: %v", err)
				}
				cancel()
			}
		}()
	}
	wg.Wait()
	if p := peak.Load(); p > limit || p < 1 {
		t.Fatalf("peak concurrency %d, want 1..%d", p, limit)
	}
	s := b.Snapshot()
	if s.InFlight != 0 || s.Queued != 0 {
		t.Fatalf("Snapshot after the storm = %+v", s)
	}
	if s.Admitted != uint64(ran.Load()) || ran.Load()+canceled.Load() != goroutines*calls {
		t.Fatalf("admitted %d, ran %d, canceled %d of %d", s.Admitted, ran.Load(), canceled.Load(), goroutines*calls)
	}
}

func BenchmarkBulkheadExecute(b *testing.B) {
	bh, _ := New(Config{MaxConcurrent: 1 << 20})
	ctx := context.Background()
	fn := func(context.Context) error { return nil }
	b.Run("single", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = bh.Execute(ctx, fn)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_ = bh.Execute(ctx, fn)
			}
		})
	})
}

func BenchmarkBulkheadAcquire(b *testing.B) {
	bh, _ := New(Config{MaxConcurrent: 1 << 20})
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p, _ := bh.Acquire(ctx)
			p.Release()
		}
	})
}

// overLimit is MaxLimit+1 as a variable: on a 32-bit platform the constant
// overflows int, and the conversion wraps it to a negative count, which
// must be refused all the same.
var overLimit int64 = MaxLimit + 1
