package bench

import (
	"context"
	"testing"
	"time"

	"github.com/failsafe-go/failsafe-go"
	fsbulkhead "github.com/failsafe-go/failsafe-go/bulkhead"
	fscircuit "github.com/failsafe-go/failsafe-go/circuitbreaker"
	fsretry "github.com/failsafe-go/failsafe-go/retrypolicy"
	fstimeout "github.com/failsafe-go/failsafe-go/timeout"
	"golang.org/x/time/rate"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/bulkhead"
	"github.com/fusebox-go/fusebox/ratelimit"
	"github.com/fusebox-go/fusebox/retry"
	"github.com/fusebox-go/fusebox/timeout"
)

// The pipeline scenario: bulkhead + breaker + retry + per-call timeout
// around a call that succeeds, built once, run many times. The allocation
// budget is what context.WithTimeout allocates by itself, measured here
// too (BenchmarkPipeline/context.WithTimeout).

func newFuseboxPipeline(tb testing.TB) *fusebox.Pipeline {
	bh, err := bulkhead.New(bulkhead.Config{MaxConcurrent: 1000})
	if err != nil {
		tb.Fatal(err)
	}
	br, err := breaker.New(breaker.Config{Name: "bench"})
	if err != nil {
		tb.Fatal(err)
	}
	rt, err := retry.New(retry.Config{MaxAttempts: 3})
	if err != nil {
		tb.Fatal(err)
	}
	to, err := timeout.New(timeout.Config{Timeout: time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	p, err := fusebox.New(bh, br, rt, to)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func newFailsafePipeline() failsafe.Executor[any] {
	bh := fsbulkhead.New[any](1000)
	cb := fscircuit.NewBuilder[any]().WithFailureRateThreshold(0.5, 20, 10*time.Second).Build()
	rp := fsretry.NewBuilder[any]().WithMaxAttempts(3).Build()
	to := fstimeout.New[any](time.Second)
	// failsafe composes outermost first, like fusebox.New.
	return failsafe.With[any](bh, cb, rp, to)
}

func pipeOK(context.Context) error { return nil }
func pipeOKPlain() error           { return nil }

func BenchmarkPipeline(b *testing.B) {
	ctx := context.Background()
	b.Run("fusebox", func(b *testing.B) {
		p := newFuseboxPipeline(b)
		b.ReportAllocs()
		for b.Loop() {
			if err := p.Run(ctx, pipeOK); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("failsafe", func(b *testing.B) {
		exec := newFailsafePipeline()
		b.ReportAllocs()
		for b.Loop() {
			if err := exec.Run(pipeOKPlain); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("context.WithTimeout", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c, cancel := context.WithTimeout(ctx, time.Second)
			_ = pipeOK(c)
			cancel()
		}
	})
}

func BenchmarkPipelineParallel(b *testing.B) {
	ctx := context.Background()
	b.Run("fusebox", func(b *testing.B) {
		p := newFuseboxPipeline(b)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := p.Run(ctx, pipeOK); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("failsafe", func(b *testing.B) {
		exec := newFailsafePipeline()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := exec.Run(pipeOKPlain); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// The token bucket against golang.org/x/time/rate, both with a rate high
// enough that every call is admitted, so the admit path is measured.
const bucketRate = 1e9

func BenchmarkTokenBucket(b *testing.B) {
	b.Run("fusebox", func(b *testing.B) {
		tb, err := ratelimit.New(ratelimit.Config{Rate: bucketRate, Burst: 1 << 30})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			tb.Allow()
		}
	})
	b.Run("x-time-rate", func(b *testing.B) {
		l := rate.NewLimiter(rate.Limit(bucketRate), 1<<30)
		b.ReportAllocs()
		for b.Loop() {
			l.Allow()
		}
	})
}

func BenchmarkTokenBucketParallel(b *testing.B) {
	b.Run("fusebox", func(b *testing.B) {
		tb, err := ratelimit.New(ratelimit.Config{Rate: bucketRate, Burst: 1 << 30})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				tb.Allow()
			}
		})
	})
	b.Run("x-time-rate", func(b *testing.B) {
		l := rate.NewLimiter(rate.Limit(bucketRate), 1<<30)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				l.Allow()
			}
		})
	})
}

// TestPipelineAllocsWithinContextWithTimeout pins the allocation target:
// the fusebox pipeline allocates no more than context.WithTimeout alone.
func TestPipelineAllocsWithinContextWithTimeout(t *testing.T) {
	ctx := context.Background()
	p := newFuseboxPipeline(t)
	pipeline := testing.AllocsPerRun(2000, func() { _ = p.Run(ctx, pipeOK) })
	withTimeout := testing.AllocsPerRun(2000, func() {
		c, cancel := context.WithTimeout(ctx, time.Second)
		_ = pipeOK(c)
		cancel()
	})
	t.Logf("pipeline %v allocs/op, context.WithTimeout %v", pipeline, withTimeout)
	if pipeline > withTimeout {
		t.Fatalf("pipeline allocates %v per call, more than context.WithTimeout's %v", pipeline, withTimeout)
	}
}
