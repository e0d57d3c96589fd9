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
	"runtime"
	"sync"
	"sync/atomic"
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

// The paired benchmarks: on a busy machine, sub-benchmarks that run one
// after the other see different machines, and their samples scatter by
// ±40 % or more, far more than the difference to measure. These
// alternate: one live context of each kind, and the lookups run in
// batches of pairedBatch, one batch through each context in turn (the
// first one changing from round to round), each batch timed on its own.
// Every context sees the same moments of the run, so the ratios of their
// times per lookup hold even when the machine's speed does not.
//
// BenchmarkContextValuePaired looks up in one goroutine;
// BenchmarkContextValuePairedParallel in GOMAXPROCS goroutines that
// start each batch together (a barrier, not timed), so that they share
// the context being measured as RunParallel's goroutines do. Each
// reports, per context, its median batch's time per lookup
// (<ctx>-ns/lookup), and its ratio to WithTimeout's (<ctx>/WithTimeout):
// the measurement of issue 11's target, NewContext/WithTimeout <= 1.
// b.N is the number of lookups through each context; ns/op is per lookup
// through all four, barriers included.
//
//	go test -run '^$' -bench 'ContextValuePaired' -count 10 -cpu 1,2 . > paired.txt
//	go run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da paired.txt

const pairedBatch = 1024

// lookups looks the span up n times through ctx; the same code for every
// context, so that they differ only in their Value.
//
//go:noinline
func lookups(ctx context.Context, n int) bool {
	ok := true
	for range n {
		if ctx.Value(spanKey) != theSpan {
			ok = false
		}
	}
	return ok
}

// withAllContexts runs f with one live context of each of ctxValueKinds,
// in that order.
func withAllContexts(b *testing.B, parent context.Context, f func([]context.Context)) {
	var ctxs []context.Context
	var nest func(i int)
	nest = func(i int) {
		if i == len(ctxValueKinds) {
			f(ctxs)
			return
		}
		withCallContext(b, ctxValueKinds[i], parent, func(ctx context.Context) {
			ctxs = append(ctxs, ctx)
			nest(i + 1)
		})
	}
	nest(0)
}

// barrier holds goroutines until n of them wait, then lets them all go;
// it can be used again at once.
type barrier struct {
	mu      sync.Mutex
	cond    sync.Cond
	n, wait int
	gen     uint64
}

func newBarrier(n int) *barrier {
	br := &barrier{n: n}
	br.cond.L = &br.mu
	return br
}

func (br *barrier) await() {
	if br.n == 1 {
		return
	}
	br.mu.Lock()
	gen := br.gen
	if br.wait++; br.wait == br.n {
		br.wait = 0
		br.gen++
		br.cond.Broadcast()
	} else {
		for gen == br.gen {
			br.cond.Wait()
		}
	}
	br.mu.Unlock()
}

func runPaired(b *testing.B, goroutines int) {
	parent, cancel := valueParent()
	defer cancel()
	withAllContexts(b, parent, func(ctxs []context.Context) {
		rounds := max(1, (b.N+pairedBatch-1)/pairedBatch)
		// spent[k] holds the time of every batch through ctxs[k], of
		// every goroutine: goroutine w's round r at w*rounds+r.
		spent := make([][]time.Duration, len(ctxs))
		for k := range spent {
			spent[k] = make([]time.Duration, goroutines*rounds)
		}
		br := newBarrier(goroutines)
		var failed atomic.Bool
		var wg sync.WaitGroup
		b.ReportAllocs()
		b.ResetTimer()
		for w := range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for r := range rounds {
					for i := range ctxs {
						k := (i + r) % len(ctxs)
						br.await()
						t0 := time.Now()
						if !lookups(ctxs[k], pairedBatch) {
							failed.Store(true) // go on: the others wait at the barrier
						}
						spent[k][w*rounds+r] = time.Since(t0)
					}
				}
			}()
		}
		wg.Wait()
		b.StopTimer()
		if failed.Load() {
			b.Fatal("span not found")
		}
		perLookup := make([]float64, len(ctxs))
		for k, d := range spent {
			perLookup[k] = float64(median(d).Nanoseconds()) / pairedBatch
			b.ReportMetric(perLookup[k], ctxValueKinds[k]+"-ns/lookup")
		}
		for k := 1; k < len(ctxs); k++ {
			b.ReportMetric(perLookup[k]/perLookup[0], ctxValueKinds[k]+"/"+ctxValueKinds[0])
		}
	})
}

func BenchmarkContextValuePaired(b *testing.B) { runPaired(b, 1) }

func BenchmarkContextValuePairedParallel(b *testing.B) {
	runPaired(b, runtime.GOMAXPROCS(0))
}
