package bench

// ctx.Value through a protected call (issue 11): a value set a few levels up
// the caller's context (a tracing span, say) looked up through the context
// a call runs with, for each way Fusebox makes that context, against
// context.WithTimeout's. Every ctx.Value inside a protected call (tracing,
// auth, logging) pays for that lookup.
//
// Each benchmark has a sub-benchmark per context, named ctx=<kind> so that
// benchstat -col /ctx sets each against WithTimeout:
//
//   - WithTimeout: context.WithTimeout(parent, time.Minute), the baseline.
//   - NewContext: timeout.NewContext(parent, time.Minute, nil), what
//     fuseboxhttp's Deadline middleware gives a handler.
//   - Pipeline: the context a call gets inside a pipeline of bulkhead +
//     breaker + retry + timeout (newFuseboxPipeline): the timeout policy's.
//   - PipelineHedge: the same pipeline with a hedge inside the timeout: the
//     hedge attempt's context (a cancel context over the timeout's), one
//     level more than the others, for information.
//
// The lookups run inside the call, while the contexts are live, and the
// parallel ones share one context among the goroutines, as the goroutines
// a handler starts share its request's. Each lookup checks its result.
//
//	go test -run '^$' -bench 'ContextValue' -count 10 -cpu 1,2 . > ctxvalue.txt
//	go run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da -col /ctx ctxvalue.txt
//
// -count runs the ten samples of a sub-benchmark back to back; on a busy
// machine, ten invocations with -count 1 interleave the contexts instead
// (docs/BENCHMARKS.md, "ctx.Value through a protected call").

import (
	"context"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/bulkhead"
	"github.com/fusebox-go/fusebox/hedge"
	"github.com/fusebox-go/fusebox/retry"
	"github.com/fusebox-go/fusebox/timeout"
)

// ctxKey is a context key of the kind tracing libraries use (OpenTelemetry's
// is an int type too).
type ctxKey int

const (
	spanKey ctxKey = iota // what the benchmarks look up
	authKey
	requestIDKey
)

type span struct{ id uint64 }

var theSpan = &span{id: 1}

// valueParent is a request's context: the span set first, then other
// values and a cancel context (the connection's) above it, so that the
// lookup walks a few levels, as it does in a server.
func valueParent() (context.Context, context.CancelFunc) {
	ctx := context.WithValue(context.Background(), spanKey, theSpan)
	ctx = context.WithValue(ctx, authKey, "user")
	ctx, cancel := context.WithCancel(ctx)
	ctx = context.WithValue(ctx, requestIDKey, 42)
	return ctx, cancel
}

// withCallContext runs f with the context each sub-benchmark looks up
// through, and ends that context afterwards.
func withCallContext(b *testing.B, kind string, parent context.Context, f func(context.Context)) {
	switch kind {
	case "WithTimeout":
		ctx, cancel := context.WithTimeout(parent, time.Minute)
		defer cancel()
		f(ctx)
	case "NewContext":
		ctx, cancel := timeout.NewContext(parent, time.Minute, nil)
		defer cancel()
		f(ctx)
	case "Pipeline", "PipelineHedge":
		p := newFuseboxPipeline(b)
		if kind == "PipelineHedge" {
			p = newHedgedPipeline(b)
		}
		err := p.Run(parent, func(ctx context.Context) error {
			f(ctx)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	default:
		b.Fatalf("unknown context kind %q", kind)
	}
}

// newHedgedPipeline is newFuseboxPipeline's bulkhead + breaker + retry +
// timeout with a hedge inside the timeout, whose hour-long delay never
// starts a second attempt.
func newHedgedPipeline(b *testing.B) *fusebox.Pipeline {
	bh, err := bulkhead.New(bulkhead.Config{MaxConcurrent: 1000})
	if err != nil {
		b.Fatal(err)
	}
	br, err := breaker.New(breaker.Config{Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	rt, err := retry.New(retry.Config{MaxAttempts: 3})
	if err != nil {
		b.Fatal(err)
	}
	to, err := timeout.New(timeout.Config{Timeout: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	h, err := hedge.New(hedge.Config{Delay: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	p, err := fusebox.New(bh, br, rt, to, h)
	if err != nil {
		b.Fatal(err)
	}
	return p
}

var ctxValueKinds = []string{"WithTimeout", "NewContext", "Pipeline", "PipelineHedge"}

func BenchmarkContextValue(b *testing.B) {
	parent, cancel := valueParent()
	defer cancel()
	for _, kind := range ctxValueKinds {
		b.Run("ctx="+kind, func(b *testing.B) {
			withCallContext(b, kind, parent, func(ctx context.Context) {
				b.ReportAllocs()
				for b.Loop() {
					if ctx.Value(spanKey) != theSpan {
						b.Fatal("span not found")
					}
				}
			})
		})
	}
}

func BenchmarkContextValueParallel(b *testing.B) {
	parent, cancel := valueParent()
	defer cancel()
	for _, kind := range ctxValueKinds {
		b.Run("ctx="+kind, func(b *testing.B) {
			withCallContext(b, kind, parent, func(ctx context.Context) {
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if ctx.Value(spanKey) != theSpan {
							b.Error("span not found")
							return
						}
					}
				})
			})
		})
	}
}
