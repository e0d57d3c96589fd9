package hedge_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/hedge"
	"github.com/fusebox-go/fusebox/internal/testwait"
	"github.com/fusebox-go/fusebox/timeout"
)

func TestNewValidates(t *testing.T) {
	tests := []struct {
		cfg     hedge.Config
		wantErr string
	}{
		{cfg: hedge.Config{}},
		{cfg: hedge.Config{Delay: time.Millisecond, MaxHedges: 10, Budget: 3}},
		{cfg: hedge.Config{Percentile: 0.99, MinDelay: time.Millisecond}},
		{cfg: hedge.Config{Delay: -1}, wantErr: "hedge: Delay -1ns out of range: want 0 (adaptive) or more"},
		{cfg: hedge.Config{Percentile: 1}, wantErr: "hedge: Percentile 1 out of range: want 0 (default 0.95) or in (0, 1)"},
		{cfg: hedge.Config{Percentile: -0.5}, wantErr: "hedge: Percentile -0.5 out of range: want 0 (default 0.95) or in (0, 1)"},
		{cfg: hedge.Config{Percentile: math.NaN()}, wantErr: "hedge: Percentile NaN out of range: want 0 (default 0.95) or in (0, 1)"},
		{cfg: hedge.Config{MinDelay: -time.Second}, wantErr: "hedge: MinDelay -1s out of range: want 0 (default 10ms) or more"},
		{cfg: hedge.Config{Delay: time.Second, Percentile: 0.9}, wantErr: "hedge: Percentile 0.9 set with a fixed Delay 1s: want one of them"},
		{cfg: hedge.Config{Delay: time.Second, MinDelay: time.Millisecond},
			wantErr: "hedge: MinDelay 1ms set with a fixed Delay 1s: MinDelay applies only to the adaptive delay (Delay 0)"},
		{cfg: hedge.Config{MaxHedges: -1}, wantErr: "hedge: MaxHedges -1 out of range: want 0 (default 1) to 10"},
		{cfg: hedge.Config{MaxHedges: 11}, wantErr: "hedge: MaxHedges 11 out of range: want 0 (default 1) to 10"},
		{cfg: hedge.Config{Budget: -0.1}, wantErr: "hedge: Budget -0.1 out of range: want 0 (default 0.1) or more"},
		{cfg: hedge.Config{Budget: math.Inf(1)}, wantErr: "hedge: Budget +Inf out of range: want 0 (default 0.1) or more"},
	}
	for _, tt := range tests {
		p, err := hedge.New(tt.cfg)
		if tt.wantErr == "" {
			if err != nil || p == nil {
				t.Errorf("New(%+v) = %v", tt.cfg, err)
			}
			continue
		}
		if err == nil || err.Error() != tt.wantErr || p != nil {
			t.Errorf("New(%+v) error = %v, want %q", tt.cfg, err, tt.wantErr)
		}
	}
	p, _ := hedge.New(hedge.Config{})
	if p.Delay() != hedge.DefaultMinDelay {
		t.Errorf("adaptive Delay() before any sample = %v, want DefaultMinDelay", p.Delay())
	}
}

// script is the function under the policy: each attempt takes the next
// number (0 is the caller's own attempt), reports it on started, and does
// what do says.
type script struct {
	n       atomic.Int32
	started chan int
	do      func(ctx context.Context, attempt int) error
}

func newScript(do func(ctx context.Context, attempt int) error) *script {
	return &script{started: make(chan int, 16), do: do}
}

func (s *script) fn(ctx context.Context) error {
	i := int(s.n.Add(1) - 1)
	s.started <- i
	return s.do(ctx, i)
}

type fixture struct {
	t      testing.TB
	p      *hedge.Policy
	fake   *clock.Fake
	hedges []int
	mu     sync.Mutex
}

func newFixture(t *testing.T, cfg hedge.Config) *fixture {
	t.Helper()
	f := &fixture{t: t, fake: clock.NewFake(time.Time{})}
	cfg.Clock = f.fake
	cfg.OnHedge = func(n int) {
		f.mu.Lock()
		f.hedges = append(f.hedges, n)
		f.mu.Unlock()
	}
	p, err := hedge.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.p = p
	return f
}

func (f *fixture) onHedge() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.hedges)
}

func (f *fixture) runAsync(ctx context.Context, fn func(context.Context) error) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- f.p.Execute(ctx, fn) }()
	return ch
}

// hedgeAfter waits for the caller's attempt and its timer, then moves the
// clock by d. It must be called from the test's goroutine.
func (f *fixture) hedgeAfter(s *script, d time.Duration) {
	f.t.Helper()
	if got := testwait.Recv(f.t, s.started, "the caller's attempt"); got != 0 {
		f.t.Fatalf("attempt %d started first, want the caller's (0)", got)
	}
	testwait.Timers(f.t, f.fake, 1, "the hedge's timer")
	f.fake.Advance(d)
}

var errDep = errors.New("dependency failed")

func TestFastPathNoHedge(t *testing.T) {
	f := newFixture(t, hedge.Config{Delay: 100 * time.Millisecond})
	s := newScript(func(context.Context, int) error { return nil })
	if err := f.p.Execute(context.Background(), s.fn); err != nil {
		t.Fatal(err)
	}
	if n := f.fake.Timers(); n != 0 {
		t.Fatalf("%d timers pending after the call", n)
	}
	f.fake.Advance(time.Second)
	if s.n.Load() != 1 || len(f.onHedge()) != 0 {
		t.Fatalf("%d attempts, hedges %v: want no hedge", s.n.Load(), f.onHedge())
	}
	if got := f.p.Snapshot(); got != (hedge.Snapshot{Calls: 1, Delay: 100 * time.Millisecond}) {
		t.Fatalf("Snapshot = %+v", got)
	}
}

func TestHedgeWins(t *testing.T) {
	f := newFixture(t, hedge.Config{Delay: 100 * time.Millisecond})
	var loserCause atomic.Pointer[error]
	s := newScript(func(ctx context.Context, i int) error {
		if i == 0 {
			<-ctx.Done()
			cause := context.Cause(ctx)
			loserCause.Store(&cause)
			return ctx.Err()
		}
		return nil
	})
	ch := f.runAsync(context.Background(), s.fn)
	f.hedgeAfter(s, 100*time.Millisecond)
	if err := <-ch; err != nil {
		t.Fatalf("err = %v, want the hedge's success", err)
	}
	if c := loserCause.Load(); c == nil || *c != hedge.ErrLost {
		t.Fatalf("the slow attempt was not canceled with ErrLost: %v", c)
	}
	if got := f.onHedge(); !slices.Equal(got, []int{1}) {
		t.Fatalf("OnHedge calls = %v, want [1]", got)
	}
	if got := f.p.Snapshot(); got.Calls != 1 || got.Hedges != 1 || got.HedgeWins != 1 {
		t.Fatalf("Snapshot = %+v", got)
	}
}

func TestFirstAttemptWinsAfterHedge(t *testing.T) {
	f := newFixture(t, hedge.Config{Delay: 100 * time.Millisecond})
	release := make(chan struct{})
	hedgeCanceled := make(chan struct{})
	s := newScript(func(ctx context.Context, i int) error {
		if i == 0 {
			<-release
			return nil
		}
		<-ctx.Done()
		close(hedgeCanceled)
		return ctx.Err()
	})
	ch := f.runAsync(context.Background(), s.fn)
	f.hedgeAfter(s, 100*time.Millisecond)
	<-s.started // the hedge is running
	close(release)
	if err := <-ch; err != nil {
		t.Fatalf("err = %v", err)
	}
	select {
	case <-hedgeCanceled: // Run returned only after the hedge did
	default:
		t.Fatal("Run returned before the losing hedge returned")
	}
	if got := f.p.Snapshot(); got.Hedges != 1 || got.HedgeWins != 0 {
		t.Fatalf("Snapshot = %+v", got)
	}
}

func TestMaxHedges(t *testing.T) {
	for _, stepwise := range []bool{true, false} {
		name := map[bool]string{true: "one delay at a time", false: "one Advance"}[stepwise]
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, hedge.Config{Delay: 10 * time.Millisecond, MaxHedges: 3, Budget: 3})
			s := newScript(func(ctx context.Context, i int) error {
				if i == 3 {
					return nil
				}
				<-ctx.Done()
				return ctx.Err()
			})
			ch := f.runAsync(context.Background(), s.fn)
			if stepwise {
				f.hedgeAfter(s, 10*time.Millisecond)
				f.fake.Advance(10 * time.Millisecond)
				f.fake.Advance(10 * time.Millisecond)
			} else {
				f.hedgeAfter(s, 30*time.Millisecond)
			}
			if err := <-ch; err != nil {
				t.Fatalf("err = %v", err)
			}
			f.fake.Advance(time.Second) // no fourth hedge
			if got := f.onHedge(); !slices.Equal(got, []int{1, 2, 3}) {
				t.Fatalf("OnHedge calls = %v, want [1 2 3]", got)
			}
			if got := f.p.Snapshot(); got.Hedges != 3 || got.HedgeWins != 1 || s.n.Load() != 4 {
				t.Fatalf("Snapshot = %+v after %d attempts", got, s.n.Load())
			}
		})
	}
}

func TestAllFailReturnsLastError(t *testing.T) {
	f := newFixture(t, hedge.Config{Delay: 10 * time.Millisecond})
	errFirst, errHedge := errors.New("first attempt"), errors.New("hedge")
	release := make(chan struct{})
	hedgeDone := make(chan struct{})
	s := newScript(func(ctx context.Context, i int) error {
		if i == 0 {
			<-release
			return errFirst
		}
		defer close(hedgeDone)
		return errHedge
	})
	ch := f.runAsync(context.Background(), s.fn)
	f.hedgeAfter(s, 10*time.Millisecond)
	// The hedge fails first, while the first attempt is still running.
	// Its function returning is not enough: the policy records the
	// result after that, in the hedge's goroutine, and the first attempt,
	// released at once, could have its result recorded before (1 run in
	// 1,000 under the race detector on a busy machine).
	testwait.Recv(t, hedgeDone, "the hedge to fail")
	hedgesEnded(t)
	close(release)
	if err := testwait.Recv(t, ch, "the call"); err != errFirst {
		t.Fatalf("err = %v, want the last attempt's error", err)
	}
}

// hedgesEnded waits until no hedge goroutine is left in the process: each
// has recorded its attempt's result and returned. Nothing the policy
// exposes changes when a hedge that lost records its failure, so the
// goroutines' stacks are read, as goleak does.
func hedgesEnded(t *testing.T) {
	t.Helper()
	testwait.Eventually(t, "the hedge goroutines to record their results and end", func() bool {
		buf := make([]byte, 64<<10)
		for {
			n := runtime.Stack(buf, true)
			if n < len(buf) {
				return !bytes.Contains(buf[:n], []byte("hedge.(*race).hedge("))
			}
			buf = make([]byte, 2*len(buf))
		}
	})
}

func TestFailureBeforeDelayDoesNotHedge(t *testing.T) {
	f := newFixture(t, hedge.Config{Delay: 10 * time.Millisecond})
	s := newScript(func(context.Context, int) error { return errDep })
	if err := f.p.Execute(context.Background(), s.fn); err != errDep {
		t.Fatalf("err = %v", err)
	}
	f.fake.Advance(time.Second)
	if s.n.Load() != 1 || f.p.Snapshot().Hedges != 0 {
		t.Fatal("a failed call was hedged: hedging is not retrying")
	}
}

func TestClassifierDecidesTheWinner(t *testing.T) {
	errNotFound := errors.New("not found")
	f := newFixture(t, hedge.Config{
		Delay: 10 * time.Millisecond,
		Classifier: func(err error) fusebox.Outcome {
			if err == nil || errors.Is(err, errNotFound) {
				return fusebox.Success
			}
			return fusebox.Failure
		},
	})
	s := newScript(func(ctx context.Context, i int) error {
		if i == 0 {
			<-ctx.Done()
			return ctx.Err()
		}
		return errNotFound
	})
	ch := f.runAsync(context.Background(), s.fn)
	f.hedgeAfter(s, 10*time.Millisecond)
	if err := <-ch; err != errNotFound {
		t.Fatalf("err = %v, want the winning not-found", err)
	}
	if f.p.Snapshot().HedgeWins != 1 {
		t.Fatal("the hedge answering a Success error did not win")
	}
}

func TestCallerCancellation(t *testing.T) {
	f := newFixture(t, hedge.Config{Delay: 10 * time.Millisecond, MaxHedges: 2, Budget: 2})
	s := newScript(func(ctx context.Context, i int) error {
		<-ctx.Done()
		return ctx.Err()
	})
	ctx, cancel := context.WithCancel(context.Background())
	ch := f.runAsync(ctx, s.fn)
	f.hedgeAfter(s, 10*time.Millisecond)
	<-s.started // hedge 1 running
	cancel()
	err := <-ch
	if err != context.Canceled || fusebox.Classify(ctx, err, nil) != fusebox.Ignored {
		t.Fatalf("err = %v, want the caller's context.Canceled", err)
	}
	f.fake.Advance(time.Second)
	if got := f.p.Snapshot().Hedges; got != 1 {
		t.Fatalf("%d hedges, want 1: no hedge after the caller gave up", got)
	}
}

func TestBudgetDenies(t *testing.T) {
	// Budget 0.01: the initial burst of 10 hedges, then 0.01 per call.
	f := newFixture(t, hedge.Config{Delay: 10 * time.Millisecond, Budget: 0.01})
	for call := range 11 {
		release := make(chan struct{})
		s := newScript(func(ctx context.Context, i int) error {
			if i == 0 {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-release:
					return nil
				}
			}
			return nil
		})
		ch := f.runAsync(context.Background(), s.fn)
		f.hedgeAfter(s, 10*time.Millisecond)
		if call == 10 {
			close(release) // no hedge to win: let the first attempt finish
		}
		if err := <-ch; err != nil {
			t.Fatalf("call %d: %v", call, err)
		}
	}
	got := f.p.Snapshot()
	if got.Hedges != 10 || got.BudgetDenials != 1 || got.HedgeWins != 10 {
		t.Fatalf("Snapshot = %+v, want 10 hedges then a denial", got)
	}
}

func TestHedgePanicReraised(t *testing.T) {
	f := newFixture(t, hedge.Config{Delay: 10 * time.Millisecond})
	var firstReturned atomic.Bool
	s := newScript(func(ctx context.Context, i int) error {
		if i == 0 {
			<-ctx.Done()
			firstReturned.Store(true)
			return ctx.Err()
		}
		panic("hedge blew up")
	})
	ch := make(chan any, 1)
	go func() {
		defer func() { ch <- recover() }()
		_ = f.p.Execute(context.Background(), s.fn)
	}()
	f.hedgeAfter(s, 10*time.Millisecond)
	r := <-ch
	pe, ok := r.(*hedge.PanicError)
	if !ok || pe.Value != "hedge blew up" || !strings.Contains(string(pe.Stack), "hedge_test") {
		t.Fatalf("recovered %v, want a *PanicError with the hedge's value and stack", r)
	}
	if !firstReturned.Load() {
		t.Fatal("the panic was re-raised before the other attempt was canceled and returned")
	}
}

func TestFirstAttemptPanicWaitsForHedges(t *testing.T) {
	f := newFixture(t, hedge.Config{Delay: 10 * time.Millisecond})
	var hedgeReturned atomic.Bool
	hedgeRunning := make(chan struct{})
	s := newScript(func(ctx context.Context, i int) error {
		if i == 0 {
			<-hedgeRunning
			panic("first blew up")
		}
		close(hedgeRunning)
		<-ctx.Done()
		hedgeReturned.Store(true)
		return ctx.Err()
	})
	ch := make(chan any, 1)
	go func() {
		defer func() { ch <- recover() }()
		_ = f.p.Execute(context.Background(), s.fn)
	}()
	f.hedgeAfter(s, 10*time.Millisecond)
	if r := <-ch; r != "first blew up" {
		t.Fatalf("recovered %v, want the original panic value", r)
	}
	if !hedgeReturned.Load() {
		t.Fatal("the panic left Run before the hedge returned")
	}
	if n := f.fake.Timers(); n != 0 {
		t.Fatalf("%d timers pending after the panic", n)
	}
}

func TestAdaptiveDelay(t *testing.T) {
	f := newFixture(t, hedge.Config{Percentile: 0.5, MinDelay: 5 * time.Millisecond, Budget: 1})
	// Every call takes 40ms of fake time; past the 5ms delay a hedge
	// starts, which waits to be canceled.
	s := newScript(func(ctx context.Context, i int) error {
		if i%2 == 1 { // the hedge of each call
			<-ctx.Done()
			return ctx.Err()
		}
		f.fake.Advance(40 * time.Millisecond)
		return nil
	})
	for call := range 32 {
		s.n.Store(0)
		if err := f.p.Execute(context.Background(), s.fn); err != nil {
			t.Fatal(err)
		}
		for len(s.started) > 0 {
			<-s.started
		}
		if call < 31 && f.p.Delay() != 5*time.Millisecond {
			t.Fatalf("call %d: delay %v before enough samples", call, f.p.Delay())
		}
	}
	if got := f.p.Snapshot(); got.Delay != 40*time.Millisecond || got.Hedges != 32 {
		t.Fatalf("Snapshot = %+v, want the median latency 40ms as delay", got)
	}
}

func TestInPipelineDoGetsWinnerValue(t *testing.T) {
	f := newFixture(t, hedge.Config{Delay: 10 * time.Millisecond})
	pl, err := fusebox.New(f.p)
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int32
	started := make(chan struct{}, 2)
	type res struct {
		v   string
		err error
	}
	ch := make(chan res, 1)
	go func() {
		v, err := fusebox.Do(context.Background(), pl, func(ctx context.Context) (string, error) {
			i := n.Add(1) - 1
			started <- struct{}{}
			if i == 0 {
				<-ctx.Done()
				return "slow", ctx.Err()
			}
			return "fast", nil
		})
		ch <- res{v, err}
	}()
	<-started
	testwait.Timers(t, f.fake, 1, "the hedge's timer")
	f.fake.Advance(10 * time.Millisecond)
	if r := <-ch; r.err != nil || r.v != "fast" {
		t.Fatalf("Do = %q, %v; want the hedge's value", r.v, r.err)
	}
}

// TestFastPathAllocations pins the documented cost of a call that finishes
// before the delay, on the default clock: the race and its timer callback,
// the attempts' context and its cancel function, the runtime timer.
func TestFastPathAllocations(t *testing.T) {
	p, err := hedge.New(hedge.Config{Delay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	next := fusebox.NextFunc(func(context.Context) error { return nil })
	if n := testing.AllocsPerRun(200, func() { _ = p.Run(ctx, next) }); n > 5 {
		t.Fatalf("fast path allocates %v times, want at most 5", n)
	}
}

func BenchmarkRun(b *testing.B) {
	ctx := context.Background()
	next := fusebox.NextFunc(func(context.Context) error { return nil })
	for _, tc := range []struct {
		name string
		cfg  hedge.Config
	}{
		{"fixed", hedge.Config{Delay: time.Hour}},
		{"adaptive", hedge.Config{MinDelay: time.Hour}},
	} {
		p, err := hedge.New(tc.cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = p.Run(ctx, next)
			}
		})
		b.Run(tc.name+"-parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					_ = p.Run(ctx, next)
				}
			})
		})
	}
}

// TestUnderTimeout: a timeout outside the hedge bounds every attempt; both
// policies follow the same fake clock.
func TestUnderTimeout(t *testing.T) {
	f := newFixture(t, hedge.Config{Delay: 100 * time.Millisecond})
	to, err := timeout.New(timeout.Config{Timeout: time.Second, Clock: f.fake})
	if err != nil {
		t.Fatal(err)
	}
	pl, err := fusebox.New(to, f.p)
	if err != nil {
		t.Fatal(err)
	}
	s := newScript(func(ctx context.Context, i int) error {
		<-ctx.Done()
		return ctx.Err()
	})
	ch := make(chan error, 1)
	go func() { ch <- pl.Run(context.Background(), s.fn) }()
	<-s.started
	testwait.Timers(t, f.fake, 2, "the timeout's timer and the hedge's")
	f.fake.Advance(100 * time.Millisecond)
	<-s.started // the hedge runs
	f.fake.Advance(900 * time.Millisecond)
	err = <-ch
	if !errors.Is(err, fusebox.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if got := f.p.Snapshot(); got.Hedges != 1 || got.HedgeWins != 0 {
		t.Fatalf("Snapshot = %+v", got)
	}
	if n := f.fake.Timers(); n != 0 {
		t.Fatalf("%d timers pending", n)
	}
}
