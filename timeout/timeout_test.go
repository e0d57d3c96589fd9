package timeout_test

import (
	"context"
	"errors"
	"io"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/internal/testwait"
	"github.com/fusebox-go/fusebox/timeout"
)

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name    string
		cfg     timeout.Config
		want    time.Duration
		wantErr string
	}{
		{name: "zero means default", cfg: timeout.Config{}, want: timeout.DefaultTimeout},
		{name: "explicit", cfg: timeout.Config{Timeout: 250 * time.Millisecond}, want: 250 * time.Millisecond},
		{name: "negative", cfg: timeout.Config{Timeout: -time.Second},
			wantErr: "timeout: Timeout -1s out of range: want 0 (default 1s) or more"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := timeout.New(tt.cfg)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("New error = %v, want %q", err, tt.wantErr)
				}
				if p != nil {
					t.Fatal("New returned a policy with an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Timeout() != tt.want {
				t.Fatalf("Timeout() = %v, want %v", p.Timeout(), tt.want)
			}
		})
	}
}

func newFake(t *testing.T, d time.Duration) (*timeout.Policy, *clock.Fake) {
	t.Helper()
	fake := clock.NewFake(time.Time{})
	p, err := timeout.New(timeout.Config{Timeout: d, Clock: fake})
	if err != nil {
		t.Fatal(err)
	}
	return p, fake
}

// runAsync runs p.Execute in a goroutine and returns a channel with its error.
func runAsync(ctx context.Context, p *timeout.Policy, fn func(context.Context) error) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- p.Execute(ctx, fn) }()
	return ch
}

func waitOnCtx(ctx context.Context) error {
	<-ctx.Done()
	return ctx.Err()
}

func TestFakeClockTimeoutFires(t *testing.T) {
	p, fake := newFake(t, 2*time.Second)
	start := fake.Now()
	var (
		gotErr, gotCause error
		gotDeadline      time.Time
	)
	ch := runAsync(context.Background(), p, func(ctx context.Context) error {
		gotDeadline, _ = ctx.Deadline()
		<-ctx.Done()
		gotErr, gotCause = ctx.Err(), context.Cause(ctx)
		return ctx.Err()
	})
	testwait.Timers(t, fake, 1, "the call's deadline timer")
	fake.Advance(2*time.Second - 1)
	select {
	case err := <-ch:
		t.Fatalf("returned before the deadline: %v", err)
	default:
	}
	fake.Advance(1)
	err := <-ch

	if !errors.Is(err, timeout.ErrTimeout) || !errors.Is(err, fusebox.ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v: the function's error is not reachable", err)
	}
	var te *timeout.Error
	if !errors.As(err, &te) || te.Timeout != 2*time.Second {
		t.Fatalf("errors.As(*Error) = %+v", te)
	}
	if got := fusebox.Classify(context.Background(), err, nil); got != fusebox.Failure {
		t.Fatalf("Classify = %v, want failure", got)
	}
	if gotErr != context.DeadlineExceeded || gotCause != timeout.ErrTimeout {
		t.Fatalf("inside fn: Err = %v, Cause = %v", gotErr, gotCause)
	}
	if want := start.Add(2 * time.Second); !gotDeadline.Equal(want) {
		t.Fatalf("Deadline = %v, want %v", gotDeadline, want)
	}
	if got := fake.Timers(); got != 0 {
		t.Fatalf("%d timers left pending", got)
	}
	if s := p.Snapshot(); s.Calls != 1 || s.Timeouts != 1 || s.Timeout != 2*time.Second {
		t.Fatalf("Snapshot = %+v", s)
	}
}

func TestFakeClockDerivedContexts(t *testing.T) {
	p, fake := newFake(t, time.Second)
	type key struct{}
	parent := context.WithValue(context.Background(), key{}, "v")
	type seen struct {
		err, cause error
		afterFunc  bool
	}
	ch := make(chan seen, 1)
	done := runAsync(parent, p, func(ctx context.Context) error {
		if ctx.Value(key{}) != "v" {
			t.Error("the caller's context values are not visible")
		}
		child, cancel := context.WithCancel(ctx)
		defer cancel()
		ran := make(chan struct{})
		context.AfterFunc(ctx, func() { close(ran) })
		<-child.Done()
		<-ran
		ch <- seen{child.Err(), context.Cause(child), true}
		return child.Err()
	})
	testwait.Timers(t, fake, 1, "the call's deadline timer")
	fake.Advance(time.Second)
	if err := <-done; !errors.Is(err, timeout.ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	s := <-ch
	if s.err != context.DeadlineExceeded || s.cause != timeout.ErrTimeout || !s.afterFunc {
		t.Fatalf("derived context: %+v", s)
	}
}

func TestFinishesBeforeDeadline(t *testing.T) {
	p, fake := newFake(t, time.Second)
	if err := p.Execute(context.Background(), func(ctx context.Context) error {
		fake.Advance(999 * time.Millisecond)
		if ctx.Err() != nil {
			t.Errorf("ctx ended early: %v", ctx.Err())
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n := fake.Timers(); n != 0 {
		t.Fatalf("%d timers left pending", n)
	}
	// An error that is not a timeout comes back unchanged.
	if err := p.Execute(context.Background(), func(context.Context) error { return io.EOF }); err != io.EOF {
		t.Fatalf("err = %v, want io.EOF unchanged", err)
	}
	if s := p.Snapshot(); s.Calls != 2 || s.Timeouts != 0 {
		t.Fatalf("Snapshot = %+v", s)
	}
}

func TestPastDeadline(t *testing.T) {
	tests := []struct {
		name    string
		ret     error
		wantNil bool
	}{
		// A function that ignored its context and finished its work: the
		// result stands.
		{name: "success stands", ret: nil, wantNil: true},
		// Any error after the policy's deadline is a timeout, the
		// function's error kept inside.
		{name: "other error", ret: io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, fake := newFake(t, time.Second)
			err := p.Execute(context.Background(), func(ctx context.Context) error {
				fake.Advance(5 * time.Second)
				if ctx.Err() != context.DeadlineExceeded {
					t.Errorf("ctx.Err() = %v after the deadline", ctx.Err())
				}
				return tt.ret
			})
			if tt.wantNil {
				if err != nil {
					t.Fatalf("err = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, timeout.ErrTimeout) || !errors.Is(err, tt.ret) {
				t.Fatalf("err = %v, want ErrTimeout wrapping %v", err, tt.ret)
			}
		})
	}
}

func TestCallerCancellationIsNotATimeout(t *testing.T) {
	for _, tc := range []struct {
		name string
		clk  clock.Clock
	}{
		{"fake clock", clock.NewFake(time.Time{})},
		{"real clock", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := timeout.New(timeout.Config{Timeout: time.Hour, Clock: tc.clk})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancelCause(context.Background())
			callerErr := errors.New("caller gave up")
			var cause error
			ch := runAsync(ctx, p, func(ctx context.Context) error {
				<-ctx.Done()
				cause = context.Cause(ctx)
				return ctx.Err()
			})
			cancel(callerErr)
			err = <-ch
			if err != context.Canceled {
				t.Fatalf("err = %v, want the caller's context.Canceled unchanged", err)
			}
			if cause != callerErr {
				t.Fatalf("Cause inside fn = %v, want the caller's cause", cause)
			}
			if got := fusebox.Classify(ctx, err, nil); got != fusebox.Ignored {
				t.Fatalf("Classify = %v, want ignored", got)
			}
			if s := p.Snapshot(); s.Timeouts != 0 {
				t.Fatalf("Snapshot = %+v, want no timeout", s)
			}
		})
	}
}

func TestCallerAlreadyCanceled(t *testing.T) {
	p, _ := newFake(t, time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := p.Execute(ctx, func(ctx context.Context) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		default:
			return errors.New("ctx not done at the start")
		}
	})
	if err != context.Canceled {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestCallerDeadlineGoverns(t *testing.T) {
	p, err := timeout.New(timeout.Config{Timeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(time.Minute))
	defer cancel()
	var got context.Context
	if err := p.Execute(ctx, func(c context.Context) error { got = c; return nil }); err != nil {
		t.Fatal(err)
	}
	if got != ctx {
		t.Fatal("the caller's earlier deadline did not govern: a context was derived")
	}
	allocs := testing.AllocsPerRun(100, func() {
		_ = p.Execute(ctx, func(context.Context) error { return nil })
	})
	if allocs != 0 {
		t.Fatalf("caller-deadline path allocates %v times, want 0", allocs)
	}

	// A later caller deadline does not govern: the policy's applies.
	late, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(2*time.Hour))
	defer cancel2()
	if err := p.Execute(late, func(c context.Context) error {
		d, _ := c.Deadline()
		if c == late || time.Until(d) > time.Hour {
			t.Errorf("policy deadline not applied: deadline in %v", time.Until(d))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestCallerDeadlineFires: the caller's own deadline is the caller's error,
// not ErrTimeout, even though it is a context.DeadlineExceeded too.
func TestCallerDeadlineFires(t *testing.T) {
	p, err := timeout.New(timeout.Config{Timeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	err = p.Execute(ctx, waitOnCtx)
	if err != context.DeadlineExceeded || errors.Is(err, timeout.ErrTimeout) {
		t.Fatalf("err = %v, want the caller's DeadlineExceeded unchanged", err)
	}
	if got := fusebox.Classify(ctx, err, nil); got != fusebox.Ignored {
		t.Fatalf("Classify = %v, want ignored", got)
	}
}

func TestRealClockTimeout(t *testing.T) {
	// A nanosecond timeout has passed by the time the function looks: the
	// real-clock path without sleeping.
	for _, clk := range []clock.Clock{nil, clock.Real(), clock.Default()} {
		p, err := timeout.New(timeout.Config{Timeout: time.Nanosecond, Clock: clk})
		if err != nil {
			t.Fatal(err)
		}
		var cause error
		err = p.Execute(context.Background(), func(ctx context.Context) error {
			<-ctx.Done()
			cause = context.Cause(ctx)
			return ctx.Err()
		})
		if !errors.Is(err, timeout.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("clock %T: err = %v, want ErrTimeout wrapping DeadlineExceeded", clk, err)
		}
		if cause != timeout.ErrTimeout {
			t.Fatalf("clock %T: Cause = %v, want ErrTimeout", clk, cause)
		}
	}
}

// A Timeout of math.MaxInt64, the natural way to say "practically never",
// once wrapped Nanotime()+Timeout negative and timed every call out at once.
// The deadline saturates instead: the call runs with a live context whose
// Deadline is about 292 years ahead, and no timer is armed for it.
func TestHugeTimeoutSaturates(t *testing.T) {
	p, fake := newFake(t, math.MaxInt64)
	fake.Advance(time.Second) // a clock past 0, as Real's always is
	dependency := errors.New("dependency error")
	err := p.Execute(context.Background(), func(ctx context.Context) error {
		checkFarDeadline(t, ctx, fake)
		return dependency
	})
	if err != dependency {
		t.Fatalf("Execute = %v, want the function's error unchanged", err)
	}
	if s := p.Snapshot(); s.Timeouts != 0 {
		t.Fatalf("Snapshot = %+v, want no timeouts", s)
	}
}

// checkFarDeadline checks that ctx, made with a timeout of math.MaxInt64
// on fake, is live, reports a deadline about 292 years ahead, arms no timer
// when waited on, and stays live a long fake time later.
func checkFarDeadline(t *testing.T, ctx context.Context, fake *clock.Fake) {
	t.Helper()
	if err := ctx.Err(); err != nil {
		t.Fatalf("ctx.Err() = %v at once, want nil", err)
	}
	const years290 = 290 * 365 * 24 * time.Hour
	if dl, ok := ctx.Deadline(); !ok || dl.Sub(fake.Now()) < years290 || dl.Year() > fake.Now().Year()+293 {
		t.Fatalf("Deadline = %v, %v at %v; want about 292 years ahead, true", dl, ok, fake.Now())
	}
	child, cancel := context.WithCancel(ctx)
	defer cancel()
	done := ctx.Done()
	if n := fake.Timers(); n != 0 {
		t.Fatalf("%d timers armed for a deadline that cannot come, want 0", n)
	}
	fake.Advance(100 * 365 * 24 * time.Hour)
	select {
	case <-done:
		t.Fatalf("ctx ended 100 years in: %v", ctx.Err())
	case <-child.Done():
		t.Fatalf("child ended 100 years in: %v", child.Err())
	default:
	}
	if err := ctx.Err(); err != nil {
		t.Fatalf("ctx.Err() = %v 100 years in, want nil", err)
	}
}

func TestPanicReleasesTimer(t *testing.T) {
	p, fake := newFake(t, time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var inner context.Context
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Fatalf("recovered %v, want the original panic", r)
			}
		}()
		_ = p.Execute(ctx, func(c context.Context) error {
			inner = c
			panic("boom")
		})
	}()
	if n := fake.Timers(); n != 0 {
		t.Fatalf("%d timers left pending after a panic", n)
	}
	if inner.Err() != context.Canceled {
		t.Fatalf("derived context not released: Err = %v", inner.Err())
	}
}

func TestConcurrentTimeouts(t *testing.T) {
	p, fake := newFake(t, time.Second)
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() { errs <- p.Execute(context.Background(), waitOnCtx) })
	}
	testwait.Timers(t, fake, n, "every call's deadline timer")
	fake.Advance(time.Second)
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, timeout.ErrTimeout) {
			t.Fatalf("err = %v, want ErrTimeout", err)
		}
	}
	if s := p.Snapshot(); s.Calls != n || s.Timeouts != n {
		t.Fatalf("Snapshot = %+v", s)
	}
}

func TestInPipeline(t *testing.T) {
	p, fake := newFake(t, time.Second)
	pl, err := fusebox.New(p)
	if err != nil {
		t.Fatal(err)
	}
	v, err := fusebox.Do(context.Background(), pl, func(ctx context.Context) (string, error) {
		return "ok", nil
	})
	if err != nil || v != "ok" {
		t.Fatalf("Do = %q, %v", v, err)
	}
	ch := make(chan error, 1)
	go func() {
		_, err := fusebox.Do(context.Background(), pl, func(ctx context.Context) (string, error) {
			<-ctx.Done()
			return "", ctx.Err()
		})
		ch <- err
	}()
	testwait.Timers(t, fake, 1, "the call's deadline timer")
	fake.Advance(time.Second)
	if err := <-ch; !errors.Is(err, fusebox.ErrTimeout) {
		t.Fatalf("Do err = %v, want ErrTimeout", err)
	}
}

func BenchmarkRun(b *testing.B) {
	p, err := timeout.New(timeout.Config{Timeout: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	next := fusebox.NextFunc(func(context.Context) error { return nil })
	ctx := context.Background()
	b.Run("single", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = p.Run(ctx, next)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_ = p.Run(ctx, next)
			}
		})
	})
	b.Run("caller-deadline", func(b *testing.B) {
		dctx, cancel := context.WithTimeout(ctx, time.Millisecond)
		defer cancel()
		b.ReportAllocs()
		for b.Loop() {
			_ = p.Run(dctx, next)
		}
	})
	b.Run("context.WithTimeout", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c, cancel := context.WithTimeout(ctx, time.Second)
			_ = next.Run(c)
			cancel()
		}
	})
}
