package fallback_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/fallback"
	"github.com/fusebox-go/fusebox/internal/testwait"
	"github.com/fusebox-go/fusebox/timeout"
)

func TestNewRejectsNilFunc(t *testing.T) {
	p, err := fallback.New(fallback.Config{})
	if err == nil || p != nil {
		t.Fatalf("New(Config{}) = %v, %v; want an error", p, err)
	}
	if !strings.Contains(err.Error(), "fallback: Func is nil") {
		t.Fatalf("error %q does not name the field", err)
	}
}

var errDep = errors.New("dependency down")

func TestRunDo(t *testing.T) {
	errFB := errors.New("no fallback either")
	tests := []struct {
		name       string
		inner      error
		fn         fallback.Func
		when       func(error) bool
		canceled   bool
		want       int
		wantErrIs  []error
		wantFBRuns int
	}{
		{name: "success needs no fallback", inner: nil, fn: fallback.Static(42), want: 7},
		{name: "failure answered", inner: errDep, fn: fallback.Static(42), want: 42, wantFBRuns: 1},
		{name: "rejection answered", inner: fusebox.ErrOpen, fn: fallback.Static(42), want: 42, wantFBRuns: 1},
		{name: "nil answer is the zero value", inner: errDep, fn: fallback.Static(nil), want: 0, wantFBRuns: 1},
		{name: "fallback sees the error", inner: errDep, want: 99, wantFBRuns: 1,
			fn: func(_ context.Context, err error) (any, error) {
				if err != errDep {
					return nil, errors.New("wrong error")
				}
				return 99, nil
			}},
		{name: "When declines", inner: errDep, fn: fallback.Static(42),
			when: func(err error) bool { return errors.Is(err, fusebox.ErrOpen) }, want: 7, wantErrIs: []error{errDep}},
		{name: "caller canceled", inner: context.Canceled, fn: fallback.Static(42), canceled: true,
			want: 7, wantErrIs: []error{context.Canceled}},
		{name: "fallback fails", inner: errDep, wantFBRuns: 1, want: 7, wantErrIs: []error{errDep, errFB},
			fn: func(context.Context, error) (any, error) { return nil, errFB }},
		{name: "wrong type", inner: errDep, fn: fallback.Static("text"), wantFBRuns: 1, want: 7, wantErrIs: []error{errDep}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var runs atomic.Int32
			fn := tt.fn
			p, err := fallback.New(fallback.Config{
				Func: func(ctx context.Context, err error) (any, error) { runs.Add(1); return fn(ctx, err) },
				When: tt.when,
			})
			if err != nil {
				t.Fatal(err)
			}
			pl, err := fusebox.New(p)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.canceled {
				cancel()
			}
			v, err := fusebox.Do(ctx, pl, func(context.Context) (int, error) { return 7, tt.inner })
			if v != tt.want {
				t.Errorf("value = %d, want %d", v, tt.want)
			}
			if len(tt.wantErrIs) == 0 && err != nil {
				t.Errorf("err = %v, want nil", err)
			}
			for _, target := range tt.wantErrIs {
				if !errors.Is(err, target) {
					t.Errorf("err = %v, want it to match %v", err, target)
				}
			}
			if got := int(runs.Load()); got != tt.wantFBRuns {
				t.Errorf("fallback ran %d times, want %d", got, tt.wantFBRuns)
			}
		})
	}
}

func TestFallbackPanic(t *testing.T) {
	boom := errors.New("boom")
	p, err := fallback.New(fallback.Config{Func: func(context.Context, error) (any, error) { panic(boom) }})
	if err != nil {
		t.Fatal(err)
	}
	err = p.Execute(context.Background(), func(context.Context) error { return errDep })
	var fe *fallback.Error
	var pe *fallback.PanicError
	if !errors.As(err, &fe) || !errors.As(err, &pe) {
		t.Fatalf("err = %v, want *Error holding a *PanicError", err)
	}
	if pe.Value != boom || !strings.Contains(string(pe.Stack), "fallback_test.TestFallbackPanic") {
		t.Fatalf("PanicError value %v, stack:\n%s", pe.Value, pe.Stack)
	}
	if !errors.Is(err, errDep) || !errors.Is(err, boom) {
		t.Fatalf("err = %v: the call's error and the panic value must both be reachable", err)
	}
	if s := p.Snapshot(); s != (fallback.Snapshot{Calls: 1, Failures: 1, Fallbacks: 1, FallbackErrors: 1}) {
		t.Fatalf("Snapshot = %+v", s)
	}
}

func TestInnerPanicPassesThrough(t *testing.T) {
	p, err := fallback.New(fallback.Config{Func: fallback.Static(nil)})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if r := recover(); r != "inner" {
			t.Fatalf("recovered %v, want the inner panic", r)
		}
	}()
	_ = p.Execute(context.Background(), func(context.Context) error { panic("inner") })
}

func TestExecute(t *testing.T) {
	p, err := fallback.New(fallback.Config{Func: fallback.Static(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Execute(context.Background(), func(context.Context) error { return errDep }); err != nil {
		t.Fatalf("nil fallback with Execute: %v", err)
	}
	p, _ = fallback.New(fallback.Config{Func: fallback.Static(1)})
	err = p.Execute(context.Background(), func(context.Context) error { return errDep })
	if !errors.Is(err, errDep) || !strings.Contains(err.Error(), "fusebox.Do") {
		t.Fatalf("value fallback with Execute: err = %v, want the SetResult error", err)
	}
}

func TestChain(t *testing.T) {
	e1, e3 := errors.New("first"), errors.New("third")
	var order []string
	step := func(name string, v any, err error) fallback.Func {
		return func(context.Context, error) (any, error) {
			order = append(order, name)
			return v, err
		}
	}
	panicky := func(context.Context, error) (any, error) { order = append(order, "panic"); panic("x") }

	order = nil
	v, err := fallback.Chain(step("a", nil, e1), nil, panicky, step("c", "ok", nil), step("d", "late", nil))(context.Background(), errDep)
	if err != nil || v != "ok" || strings.Join(order, ",") != "a,panic,c" {
		t.Fatalf("Chain = %v, %v after %v; want ok from c", v, err, order)
	}

	order = nil
	_, err = fallback.Chain(step("a", nil, e1), panicky, step("c", nil, e3))(context.Background(), errDep)
	var pe *fallback.PanicError
	if !errors.Is(err, e1) || !errors.Is(err, e3) || !errors.As(err, &pe) || len(order) != 3 {
		t.Fatalf("all failing: err = %v after %v", err, order)
	}

	if _, err := fallback.Chain()(context.Background(), errDep); err != errDep {
		t.Fatalf("empty Chain: err = %v, want the call's error", err)
	}
}

// TestOverTimeout: the fallback answers for the timeout inside it, and the
// fallback's value reaches fusebox.Do.
func TestOverTimeout(t *testing.T) {
	fake := clock.NewFake(time.Time{})
	to, err := timeout.New(timeout.Config{Timeout: time.Second, Clock: fake})
	if err != nil {
		t.Fatal(err)
	}
	var seen error
	fb, err := fallback.New(fallback.Config{Func: func(_ context.Context, err error) (any, error) {
		seen = err
		return "cached", nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	pl, err := fusebox.New(fb, to)
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		v   string
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := fusebox.Do(context.Background(), pl, func(ctx context.Context) (string, error) {
			<-ctx.Done()
			return "partial", ctx.Err()
		})
		done <- result{v, err}
	}()
	testwait.Timers(t, fake, 1, "the timeout's timer")
	fake.Advance(time.Second)
	if r := testwait.Recv(t, done, "the call"); r.err != nil || r.v != "cached" {
		t.Fatalf("Do = %q, %v; want the fallback's value", r.v, r.err)
	}
	if !errors.Is(seen, fusebox.ErrTimeout) {
		t.Fatalf("fallback saw %v, want ErrTimeout", seen)
	}
}

func TestRunSuccessAllocatesNothing(t *testing.T) {
	p, err := fallback.New(fallback.Config{Func: fallback.Static(1)})
	if err != nil {
		t.Fatal(err)
	}
	next := fusebox.NextFunc(func(context.Context) error { return nil })
	ctx := context.Background()
	if n := testing.AllocsPerRun(100, func() { _ = p.Run(ctx, next) }); n != 0 {
		t.Fatalf("success path allocates %v times, want 0", n)
	}
}

func BenchmarkRun(b *testing.B) {
	p, err := fallback.New(fallback.Config{Func: fallback.Static(nil)})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	ok := fusebox.NextFunc(func(context.Context) error { return nil })
	fail := fusebox.NextFunc(func(context.Context) error { return io.EOF })
	b.Run("success", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = p.Run(ctx, ok)
		}
	})
	b.Run("success-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_ = p.Run(ctx, ok)
			}
		})
	})
	b.Run("fallback", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = p.Run(ctx, fail)
		}
	})
}
