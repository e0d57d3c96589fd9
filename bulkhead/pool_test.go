package bulkhead

import (
	"context"
	"errors"
	"io"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/internal/testwait"
)

var _ io.Closer = (*Pool[int, int])(nil)

func double(_ context.Context, n int) (int, error) { return 2 * n, nil }

func mustPool[J, R any](t testing.TB, c PoolConfig, h func(context.Context, J) (R, error)) *Pool[J, R] {
	t.Helper()
	p, err := NewPool(c, h)
	if err != nil {
		t.Fatalf("NewPool(%+v): %v", c, err)
	}
	return p
}

// gate is a handler that blocks each job until released, reporting starts.
type gate struct {
	started chan int
	release chan struct{}
	mu      sync.Mutex
	seen    []int
	ctxErrs []error
}

func newGate() *gate {
	return &gate{started: make(chan int, 100), release: make(chan struct{})}
}

func (g *gate) handle(ctx context.Context, n int) (int, error) {
	g.mu.Lock()
	g.seen = append(g.seen, n)
	g.mu.Unlock()
	g.started <- n
	select {
	case <-g.release:
	case <-ctx.Done():
		g.mu.Lock()
		g.ctxErrs = append(g.ctxErrs, ctx.Err())
		g.mu.Unlock()
		return 0, ctx.Err()
	}
	return n * 10, nil
}

func (g *gate) jobs() []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]int(nil), g.seen...)
}

type submitted struct {
	v   int
	err error
}

// submit runs Submit in a goroutine and returns its result channel.
func submit(p *Pool[int, int], ctx context.Context, n int) <-chan submitted {
	ch := make(chan submitted, 1)
	go func() {
		v, err := p.Submit(ctx, n)
		ch <- submitted{v, err}
	}()
	return ch
}

func TestNewPoolValidation(t *testing.T) {
	bad := []struct {
		c     PoolConfig
		field string
	}{
		{PoolConfig{Workers: -1}, "Workers -1 out of range: want 0 (default GOMAXPROCS) to 65536"},
		{PoolConfig{Workers: MaxWorkers + 1}, "Workers 65537 out of range: want 0 (default GOMAXPROCS) to 65536"},
		{PoolConfig{QueueSize: -2}, "QueueSize -2 out of range: want 0 (no queue) to 2147483647"},
		{PoolConfig{QueueSize: int(overLimit)}, "QueueSize " + strconv.Itoa(int(overLimit)) + " out of range"},
	}
	for _, tc := range bad {
		p, err := NewPool(tc.c, double)
		if err == nil || p != nil || !strings.Contains(err.Error(), tc.field) || !strings.HasPrefix(err.Error(), "bulkhead: ") {
			t.Errorf("NewPool(%+v) = %v, %v; want an error naming %q", tc.c, p, err, tc.field)
		}
	}
	if p, err := NewPool[int, int](PoolConfig{}, nil); err == nil || p != nil {
		t.Errorf("NewPool with nil handler: %v, %v", p, err)
	}
	p := mustPool(t, PoolConfig{}, double)
	defer p.Close()
	if s := p.Snapshot(); s.Workers != runtime.GOMAXPROCS(0) || s.QueueSize != 0 {
		t.Errorf("defaults: %+v", s)
	}
}

func TestPoolSubmit(t *testing.T) {
	errOdd := errors.New("odd")
	p := mustPool(t, PoolConfig{Workers: 2, QueueSize: 8}, func(_ context.Context, n int) (string, error) {
		if n%2 == 1 {
			return "partial", errOdd
		}
		return strings.Repeat("x", n), nil
	})
	defer p.Close()
	cases := []struct {
		in   int
		want string
		err  error
	}{{4, "xxxx", nil}, {3, "partial", errOdd}, {0, "", nil}}
	for _, tc := range cases {
		got, err := p.Submit(context.Background(), tc.in)
		if got != tc.want || err != tc.err {
			t.Errorf("Submit(%d) = %q, %v; want %q, %v", tc.in, got, err, tc.want, tc.err)
		}
	}
	if s := p.Snapshot(); s.Submitted != 3 || s.Completed != 3 || s.Busy != 0 || s.Queued != 0 {
		t.Errorf("Snapshot = %+v", s)
	}
}

func TestPoolQueueFull(t *testing.T) {
	for _, queueSize := range []int{0, 2} {
		g := newGate()
		p := mustPool(t, PoolConfig{Workers: 1, QueueSize: queueSize}, g.handle)
		ctx := context.Background()
		running := submit(p, ctx, 1)
		<-g.started
		var queued []<-chan submitted
		for i := range queueSize {
			queued = append(queued, submit(p, ctx, 2+i))
			testwait.Spin(t, "the job to queue", func() bool { return p.Snapshot().Queued == i+1 })
		}
		if _, err := p.Submit(ctx, 99); err != ErrBulkheadFull {
			t.Fatalf("QueueSize %d: Submit to a full pool: %v, want ErrBulkheadFull", queueSize, err)
		}
		close(g.release)
		if r := <-running; r.v != 10 || r.err != nil {
			t.Fatalf("running job: %+v", r)
		}
		for i, q := range queued {
			if r := <-q; r.v != (2+i)*10 || r.err != nil {
				t.Fatalf("queued job %d: %+v", i, r)
			}
		}
		// FIFO: jobs ran in submission order.
		want := []int{1}
		for i := range queueSize {
			want = append(want, 2+i)
		}
		if got := g.jobs(); !equalInts(got, want) {
			t.Fatalf("jobs ran in order %v, want %v", got, want)
		}
		if s := p.Snapshot(); s.Rejected != 1 || s.Submitted != uint64(1+queueSize) {
			t.Fatalf("Snapshot = %+v", s)
		}
		p.Close()
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestPoolWithdrawsQueuedJob(t *testing.T) {
	g := newGate()
	p := mustPool(t, PoolConfig{Workers: 1, QueueSize: 2}, g.handle)
	defer p.Close()
	running := submit(p, context.Background(), 1)
	<-g.started
	ctx, cancel := context.WithCancel(context.Background())
	withdrawn := submit(p, ctx, 2)
	testwait.Spin(t, "the job to queue", func() bool { return p.Snapshot().Queued == 1 })
	cancel()
	if r := <-withdrawn; r.err != context.Canceled {
		t.Fatalf("withdrawn job: %+v, want context.Canceled", r)
	}
	if q := p.Snapshot().Queued; q != 0 {
		t.Fatalf("Queued = %d after withdrawal", q)
	}
	close(g.release)
	<-running
	if r, err := p.Submit(context.Background(), 3); r != 30 || err != nil {
		t.Fatalf("Submit after withdrawal = %v, %v", r, err)
	}
	if got := g.jobs(); !equalInts(got, []int{1, 3}) {
		t.Fatalf("jobs run: %v; the withdrawn job must not run", got)
	}
	if s := p.Snapshot(); s.Withdrawn != 1 || s.Completed != 2 {
		t.Fatalf("Snapshot = %+v", s)
	}
}

func TestPoolCallerLeavesRunningJob(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	var sawErr atomic.Value
	p := mustPool(t, PoolConfig{Workers: 1}, func(ctx context.Context, n int) (int, error) {
		close(started)
		<-release // a handler that notices its context late
		sawErr.Store(ctx.Err())
		return n, nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	res := submit(p, ctx, 1)
	<-started
	cancel()
	if r := <-res; r.err != context.Canceled {
		t.Fatalf("Submit: %+v, want context.Canceled", r)
	}
	if s := p.Snapshot(); s.Abandoned != 1 || s.Busy != 1 {
		t.Fatalf("Snapshot = %+v", s)
	}
	close(release)
	p.Close() // waits for the handler
	if err, _ := sawErr.Load().(error); err != context.Canceled {
		t.Fatalf("handler saw %v, want its context canceled", err)
	}
	if s := p.Snapshot(); s.Completed != 1 || s.Busy != 0 {
		t.Fatalf("Snapshot = %+v", s)
	}
}

func TestPoolPanic(t *testing.T) {
	errInner := errors.New("inner")
	p := mustPool(t, PoolConfig{Workers: 1}, func(_ context.Context, n int) (int, error) {
		switch n {
		case 1:
			panic("boom")
		case 2:
			panic(errInner)
		}
		return n, nil
	})
	defer p.Close()
	v, err := p.Submit(context.Background(), 1)
	var pe *PanicError
	if !errors.As(err, &pe) || pe.Value != "boom" || v != 0 {
		t.Fatalf("Submit(panic) = %v, %v; want a *PanicError", v, err)
	}
	if !strings.Contains(string(pe.Stack), "pool_test.go") || !strings.Contains(pe.Error(), "boom") {
		t.Fatalf("PanicError lacks the panic site: %q\n%s", pe.Error(), pe.Stack)
	}
	if _, err := p.Submit(context.Background(), 2); !errors.Is(err, errInner) {
		t.Fatalf("Submit(panic with error) = %v; want it to wrap the panic value", err)
	}
	// The single worker survived both panics.
	if v, err := p.Submit(context.Background(), 7); v != 7 || err != nil {
		t.Fatalf("Submit after panics = %v, %v", v, err)
	}
	if s := p.Snapshot(); s.Panics != 2 || s.Workers != 1 {
		t.Fatalf("Snapshot = %+v", s)
	}
}

func TestPoolGoexit(t *testing.T) {
	p := mustPool(t, PoolConfig{Workers: 1}, func(_ context.Context, n int) (int, error) {
		if n == 0 {
			runtime.Goexit()
		}
		return n, nil
	})
	defer p.Close()
	if _, err := p.Submit(context.Background(), 0); err != errGoexit {
		t.Fatalf("Submit(Goexit) = %v", err)
	}
	if v, err := p.Submit(context.Background(), 5); v != 5 || err != nil {
		t.Fatalf("Submit after Goexit = %v, %v; the worker must be replaced", v, err)
	}
}

func TestPoolClose(t *testing.T) {
	g := newGate()
	p := mustPool(t, PoolConfig{Workers: 1, QueueSize: 2}, g.handle)
	ctx := context.Background()
	running := submit(p, ctx, 1)
	<-g.started
	q1 := submit(p, ctx, 2)
	testwait.Spin(t, "the job to queue", func() bool { return p.Snapshot().Queued == 1 })
	q2 := submit(p, ctx, 3)
	testwait.Spin(t, "the job to queue", func() bool { return p.Snapshot().Queued == 2 })

	closed := make(chan struct{})
	go func() {
		p.Close()
		close(closed)
	}()
	// Queued jobs are failed at once; Close still waits for the running one.
	for _, q := range []<-chan submitted{q1, q2} {
		if r := <-q; r.err != ErrClosed || !errors.Is(r.err, fusebox.ErrClosed) {
			t.Fatalf("queued job at Close: %+v, want ErrClosed", r)
		}
	}
	select {
	case <-closed:
		t.Fatal("Close returned while a job was running")
	default:
	}
	if _, err := p.Submit(ctx, 4); err != ErrClosed {
		t.Fatalf("Submit after Close: %v", err)
	}
	close(g.release)
	if r := <-running; r.v != 10 || r.err != nil {
		t.Fatalf("running job at Close: %+v; want it to finish", r)
	}
	<-closed
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if got := g.jobs(); !equalInts(got, []int{1}) {
		t.Fatalf("jobs run: %v", got)
	}
	if s := p.Snapshot(); !s.Closed || s.Queued != 0 || s.Busy != 0 {
		t.Fatalf("Snapshot = %+v", s)
	}
}

// TestPoolCloseUnderLoad closes a pool while many callers submit: every
// caller must get an answer. Each caller submits until it gets ErrClosed,
// so Close always comes while they submit.
func TestPoolCloseUnderLoad(t *testing.T) {
	p := mustPool(t, PoolConfig{Workers: 3, QueueSize: 4}, func(ctx context.Context, n int) (int, error) {
		runtime.Gosched()
		return n, nil
	})
	var submits, ok, full, closed atomic.Int64
	var wg sync.WaitGroup
	for g := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				submits.Add(1)
				v, err := p.Submit(context.Background(), g*1000000+i)
				switch {
				case err == nil && v == g*1000000+i:
					ok.Add(1)
				case err == ErrBulkheadFull:
					full.Add(1)
				case err == ErrClosed:
					closed.Add(1)
					return
				default:
					t.Errorf("Submit = %v, %v", v, err)
					return
				}
			}
		}()
	}
	testwait.Spin(t, "some jobs to finish", func() bool { return ok.Load() > 50 })
	p.Close()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("a caller was stranded by Close")
	}
	s := p.Snapshot()
	if ok.Load()+full.Load()+closed.Load() != submits.Load() || closed.Load() != 12 {
		t.Fatalf("%d submits: ok %d, full %d, closed %d", submits.Load(), ok.Load(), full.Load(), closed.Load())
	}
	if s.Completed != uint64(ok.Load()) || s.Rejected != uint64(full.Load()) {
		t.Fatalf("Snapshot = %+v; ok %d, full %d", s, ok.Load(), full.Load())
	}
}

func BenchmarkPoolSubmit(b *testing.B) {
	p, _ := NewPool(PoolConfig{Workers: 4, QueueSize: 1024}, double)
	defer p.Close()
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, _ = p.Submit(ctx, 1)
		}
	})
}
