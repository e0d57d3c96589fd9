package bench

// Circuit-breaker benchmarks: Fusebox's breaker against its peers.
//
// Every library is configured as closely as its model allows to Fusebox's
// defaults: a 10 s rolling window in 1 s buckets, trip at a 50 % failure rate
// over at least 20 calls, 3 half-open probes, and an open duration of an hour
// so that an open breaker stays open for the whole benchmark. Where a peer
// has no such model the difference is stated at its constructor.
//
// Each loop calls the library directly (no adapter interface, no per-call
// closure): the functions passed in are hoisted package-level values, so the
// allocations reported are the library's own. That is also why the serial
// and parallel loops are written out for each library rather than shared:
// a shared loop would reach every library through a function value, an
// indirect call that weighs on paths of 3 to 5 ns. Each loop also checks every
// result, so a breaker that trips in a closed scenario, or admits a call in
// the open one, fails the benchmark instead of measuring the wrong path.
//
// run.sh runs them all with -count 6 -cpu 1,2 and summarises with benchstat;
// docs/BENCHMARKS.md holds a recorded run.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/afex/hystrix-go/hystrix"
	ebreaker "github.com/eapache/go-resiliency/breaker"
	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/sony/gobreaker/v2"
)

// Shared configuration, in each library's own units.
const (
	windowSpan  = 10 * time.Second // rolling window
	bucketSpan  = time.Second      // one bucket of it
	minCalls    = 20               // calls in the window before a rate can trip
	failRate    = 0.5              // trip at this failure rate
	probes      = 3                // half-open probes
	openFor     = time.Hour        // an open breaker stays open for the whole run
	failEvery   = 10               // ClosedMixed10pct: every 10th call fails
	hystrixMax  = 1 << 18          // hystrix MaxConcurrentRequests: never the limit
	hystrixHour = 3600000          // an hour in hystrix's milliseconds
)

var (
	errFail = errors.New("bench: dependency failed")
	ctx     = context.Background()
)

// The protected functions, one pair per signature the libraries take, hoisted
// so that no call in a loop builds a closure.
var (
	okCtx    = func(context.Context) error { return nil }
	failCtx  = func(context.Context) error { return errFail }
	okErr    = func() error { return nil }
	failErr  = func() error { return errFail }
	okGB     = func() (struct{}, error) { return struct{}{}, nil }
	failGB   = func() (struct{}, error) { return struct{}{}, errFail }
	tripRate = func(c gobreaker.Counts) bool {
		return c.Requests >= minCalls && float64(c.TotalFailures) >= failRate*float64(c.Requests)
	}
)

// scenario is what a benchmark measures.
type scenario int

const (
	closedSuccess scenario = iota // every call succeeds through a closed breaker
	closedMixed                   // every 10th call fails; the breaker stays closed
	openReject                    // the breaker is open and rejects every call
)

// fails advances a goroutine's call counter and reports whether this call
// should fail: in the mixed scenario every failEvery-th call does.
func fails(sc scenario, n *int) bool {
	if sc != closedMixed {
		return false
	}
	*n++
	if *n == failEvery {
		*n = 0
		return true
	}
	return false
}

// bad reports whether err is not what the scenario expects: a closed breaker
// returns the function's own result (nil or errFail), an open one anything
// else (its rejection).
func bad(sc scenario, err error) bool {
	if sc == openReject {
		return err == nil || err == errFail
	}
	return err != nil && err != errFail
}

// libraries lists the sub-benchmarks in the order they are reported.
var libraries = []struct {
	name string
	run  func(b *testing.B, sc scenario, parallel bool)
}{
	{"fusebox", benchFusebox},
	{"gobreaker", benchGobreaker},
	{"failsafe", benchFailsafe},
	{"failsafe-exec", benchFailsafeExec},
	{"eapache", benchEapache},
	{"hystrix", benchHystrix},
}

func runScenario(b *testing.B, sc scenario, parallel bool) {
	for _, l := range libraries {
		b.Run(l.name, func(b *testing.B) {
			b.ReportAllocs()
			l.run(b, sc, parallel)
		})
	}
}

func BenchmarkClosedSuccess(b *testing.B)            { runScenario(b, closedSuccess, false) }
func BenchmarkClosedMixed10pct(b *testing.B)         { runScenario(b, closedMixed, false) }
func BenchmarkOpenReject(b *testing.B)               { runScenario(b, openReject, false) }
func BenchmarkClosedSuccessParallel(b *testing.B)    { runScenario(b, closedSuccess, true) }
func BenchmarkClosedMixed10pctParallel(b *testing.B) { runScenario(b, closedMixed, true) }
func BenchmarkOpenRejectParallel(b *testing.B)       { runScenario(b, openReject, true) }

// report fails the benchmark from any goroutine (RunParallel bodies may not
// call b.Fatal) and tells the loop to stop.
func report(b *testing.B, failed *atomic.Bool, lib string, sc scenario, err error) {
	if failed.CompareAndSwap(false, true) {
		b.Errorf("%s: unexpected result %v in scenario %d", lib, err, sc)
	}
}

// --- Fusebox ---

// newFusebox is the default configuration (time window of 10 s in 10
// buckets, failure rate 0.5 over 20 calls, coarse clock) with an hour-long
// open duration.
func newFusebox(b *testing.B) *breaker.Breaker {
	cb, err := breaker.New(breaker.Config{Name: "bench", OpenDuration: openFor})
	if err != nil {
		b.Fatal(err)
	}
	return cb
}

func benchFusebox(b *testing.B, sc scenario, parallel bool) {
	cb := newFusebox(b)
	if sc == openReject {
		cb.Trip()
		if err := cb.Execute(ctx, okCtx); !errors.Is(err, breaker.ErrOpen) {
			b.Fatalf("fusebox: tripped breaker returned %v", err)
		}
	}
	var failed atomic.Bool
	b.ResetTimer()
	if !parallel {
		n := 0
		for i := 0; i < b.N; i++ {
			fn := okCtx
			if fails(sc, &n) {
				fn = failCtx
			}
			if err := cb.Execute(ctx, fn); bad(sc, err) {
				report(b, &failed, "fusebox", sc, err)
				return
			}
		}
		return
	}
	b.RunParallel(func(pb *testing.PB) {
		n := 0
		for pb.Next() {
			fn := okCtx
			if fails(sc, &n) {
				fn = failCtx
			}
			if err := cb.Execute(ctx, fn); bad(sc, err) {
				report(b, &failed, "fusebox", sc, err)
				return
			}
		}
	})
}

// --- sony/gobreaker v2 ---

// newGobreaker uses gobreaker's rolling window (Interval 10 s in BucketPeriod
// 1 s buckets) and a ReadyToTrip of 50 % failures over at least 20 requests.
func newGobreaker() *gobreaker.CircuitBreaker[struct{}] {
	return gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
		Name:         "bench",
		MaxRequests:  probes,
		Interval:     windowSpan,
		BucketPeriod: bucketSpan,
		Timeout:      openFor,
		ReadyToTrip:  tripRate,
	})
}

func benchGobreaker(b *testing.B, sc scenario, parallel bool) {
	cb := newGobreaker()
	if sc == openReject {
		for range minCalls {
			_, _ = cb.Execute(failGB)
		}
		if _, err := cb.Execute(okGB); !errors.Is(err, gobreaker.ErrOpenState) {
			b.Fatalf("gobreaker: tripped breaker returned %v", err)
		}
	}
	var failed atomic.Bool
	b.ResetTimer()
	if !parallel {
		n := 0
		for i := 0; i < b.N; i++ {
			fn := okGB
			if fails(sc, &n) {
				fn = failGB
			}
			if _, err := cb.Execute(fn); bad(sc, err) {
				report(b, &failed, "gobreaker", sc, err)
				return
			}
		}
		return
	}
	b.RunParallel(func(pb *testing.PB) {
		n := 0
		for pb.Next() {
			fn := okGB
			if fails(sc, &n) {
				fn = failGB
			}
			if _, err := cb.Execute(fn); bad(sc, err) {
				report(b, &failed, "gobreaker", sc, err)
				return
			}
		}
	})
}

// --- failsafe-go ---

// newFailsafe is failsafe's time-based rate threshold: 50 % over at least 20
// executions in a 10 s window (which failsafe divides into 10 slices).
func newFailsafe() circuitbreaker.CircuitBreaker[any] {
	return circuitbreaker.NewBuilder[any]().
		WithFailureRateThreshold(failRate, minCalls, windowSpan).
		WithSuccessThreshold(probes).
		WithDelay(openFor).
		Build()
}

func openFailsafe(b *testing.B, cb circuitbreaker.CircuitBreaker[any]) {
	cb.Open()
	if cb.TryAcquirePermit() {
		b.Fatal("failsafe: opened breaker granted a permit")
	}
}

// failsafeCall is the permit form: TryAcquirePermit, then RecordSuccess for
// a nil error (as Fusebox skips its classifier for nil) or RecordError,
// which classifies the error by the breaker's failure configuration.
func failsafeCall(cb circuitbreaker.CircuitBreaker[any], fn func() error) error {
	if !cb.TryAcquirePermit() {
		return circuitbreaker.ErrOpen
	}
	err := fn()
	if err == nil {
		cb.RecordSuccess()
	} else {
		cb.RecordError(err)
	}
	return err
}

func benchFailsafe(b *testing.B, sc scenario, parallel bool) {
	cb := newFailsafe()
	if sc == openReject {
		openFailsafe(b, cb)
	}
	var failed atomic.Bool
	b.ResetTimer()
	if !parallel {
		n := 0
		for i := 0; i < b.N; i++ {
			fn := okErr
			if fails(sc, &n) {
				fn = failErr
			}
			if err := failsafeCall(cb, fn); bad(sc, err) {
				report(b, &failed, "failsafe", sc, err)
				return
			}
		}
		return
	}
	b.RunParallel(func(pb *testing.PB) {
		n := 0
		for pb.Next() {
			fn := okErr
			if fails(sc, &n) {
				fn = failErr
			}
			if err := failsafeCall(cb, fn); bad(sc, err) {
				report(b, &failed, "failsafe", sc, err)
				return
			}
		}
	})
}

// benchFailsafeExec runs the same breaker through failsafe's executor,
// failsafe.With(cb).Run, built once outside the loop.
func benchFailsafeExec(b *testing.B, sc scenario, parallel bool) {
	cb := newFailsafe()
	if sc == openReject {
		openFailsafe(b, cb)
	}
	exec := failsafe.With[any](cb)
	if sc == openReject {
		if err := exec.Run(okErr); !errors.Is(err, circuitbreaker.ErrOpen) {
			b.Fatalf("failsafe-exec: opened breaker returned %v", err)
		}
	}
	var failed atomic.Bool
	b.ResetTimer()
	if !parallel {
		n := 0
		for i := 0; i < b.N; i++ {
			fn := okErr
			if fails(sc, &n) {
				fn = failErr
			}
			if err := exec.Run(fn); bad(sc, err) {
				report(b, &failed, "failsafe-exec", sc, err)
				return
			}
		}
		return
	}
	b.RunParallel(func(pb *testing.PB) {
		n := 0
		for pb.Next() {
			fn := okErr
			if fails(sc, &n) {
				fn = failErr
			}
			if err := exec.Run(fn); bad(sc, err) {
				report(b, &failed, "failsafe-exec", sc, err)
				return
			}
		}
	})
}

// --- eapache/go-resiliency ---

// newEapache: eapache's breaker has no rate or window. It opens after
// errorThreshold errors with no error-free gap of the timeout between them,
// and the same timeout is its open duration, so with an hour-long timeout
// the spaced failures of ClosedMixed10pct accumulate forever. The closed
// scenarios therefore get an unreachable threshold; the open scenario trips
// it with 5 errors in a row.
func newEapache(sc scenario) *ebreaker.Breaker {
	if sc == openReject {
		return ebreaker.New(5, probes, openFor)
	}
	return ebreaker.New(math.MaxInt, probes, openFor)
}

func benchEapache(b *testing.B, sc scenario, parallel bool) {
	cb := newEapache(sc)
	if sc == openReject {
		for range 5 {
			_ = cb.Run(failErr)
		}
		if err := cb.Run(okErr); !errors.Is(err, ebreaker.ErrBreakerOpen) {
			b.Fatalf("eapache: tripped breaker returned %v", err)
		}
	}
	var failed atomic.Bool
	b.ResetTimer()
	if !parallel {
		n := 0
		for i := 0; i < b.N; i++ {
			fn := okErr
			if fails(sc, &n) {
				fn = failErr
			}
			if err := cb.Run(fn); bad(sc, err) {
				report(b, &failed, "eapache", sc, err)
				return
			}
		}
		return
	}
	b.RunParallel(func(pb *testing.PB) {
		n := 0
		for pb.Next() {
			fn := okErr
			if fails(sc, &n) {
				fn = failErr
			}
			if err := cb.Run(fn); bad(sc, err) {
				report(b, &failed, "eapache", sc, err)
				return
			}
		}
	})
}

// --- afex/hystrix-go ---

// newHystrix configures the hystrix command of a benchmark: 50 % errors
// over at least 20 requests in hystrix's fixed 10 s rolling window, and a
// one-hour timeout and sleep window so neither fires. Every hystrix.Do
// starts two goroutines and a timer, and returns before the first of them
// has given its concurrency ticket back, so under load the tickets in use
// far outnumber the callers: 10,000 was seen to run out on this 2-core
// machine, hence 2^18 (a 2 MiB ticket channel per command). Hystrix keeps
// its circuits, and their goroutines, in a global registry by name, so each
// benchmark reuses one command across its runs (for the open scenario it
// stays open, for the closed ones its window stays under the threshold).
func newHystrix(b *testing.B, sc scenario, parallel bool) (string, *hystrix.CircuitBreaker) {
	name := fmt.Sprintf("bench-%d-%t", sc, parallel)
	hystrix.ConfigureCommand(name, hystrix.CommandConfig{
		Timeout:                hystrixHour,
		MaxConcurrentRequests:  hystrixMax,
		RequestVolumeThreshold: minCalls,
		SleepWindow:            hystrixHour,
		ErrorPercentThreshold:  int(failRate * 100),
	})
	c, _, err := hystrix.GetCircuit(name)
	if err != nil {
		b.Fatal(err)
	}
	return name, c
}

// tripHystrix fails calls until the circuit opens. Hystrix has no public
// trip, and its metrics are aggregated asynchronously, so this polls.
func tripHystrix(b *testing.B, name string, c *hystrix.CircuitBreaker) {
	deadline := time.Now().Add(10 * time.Second)
	for !c.IsOpen() {
		if time.Now().After(deadline) {
			b.Fatal("hystrix: circuit did not open")
		}
		for range minCalls {
			_ = hystrix.Do(name, failErr, nil)
		}
		time.Sleep(time.Millisecond)
	}
	if err := hystrix.Do(name, okErr, nil); !errors.Is(err, hystrix.ErrCircuitOpen) {
		b.Fatalf("hystrix: tripped circuit returned %v", err)
	}
}

// settle waits, with the timer stopped, until no more than base goroutines
// are left: hystrix hands each call's metrics to a background goroutine
// that fans them out to further goroutines, and that tail must not run into
// the next benchmark's time.
func settle(b *testing.B, base int) {
	b.StopTimer()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	b.StartTimer()
}

func benchHystrix(b *testing.B, sc scenario, parallel bool) {
	name, c := newHystrix(b, sc, parallel)
	base := runtime.NumGoroutine()
	if sc == openReject {
		tripHystrix(b, name, c)
		settle(b, base)
	}
	defer settle(b, base)
	var failed atomic.Bool
	b.ResetTimer()
	if !parallel {
		n := 0
		for i := 0; i < b.N; i++ {
			fn := okErr
			if fails(sc, &n) {
				fn = failErr
			}
			if err := hystrix.Do(name, fn, nil); bad(sc, err) {
				report(b, &failed, "hystrix", sc, err)
				return
			}
		}
		return
	}
	b.RunParallel(func(pb *testing.PB) {
		n := 0
		for pb.Next() {
			fn := okErr
			if fails(sc, &n) {
				fn = failErr
			}
			if err := hystrix.Do(name, fn, nil); bad(sc, err) {
				report(b, &failed, "hystrix", sc, err)
				return
			}
		}
	})
}

// --- Memory per breaker ---

// sink keeps constructed breakers from being optimised away.
var sink any

// BenchmarkBreakerMemory reports the heap a live breaker holds
// (B/breaker: the HeapAlloc growth over 10,000 breakers kept alive, divided
// by 10,000) and, per op, the cost of constructing one. hystrix is left out:
// its circuits live in a global registry and each starts goroutines.
func BenchmarkBreakerMemory(b *testing.B) {
	b.Run("fusebox", func(b *testing.B) {
		benchMemory(b, func() any {
			cb, err := breaker.New(breaker.Config{})
			if err != nil {
				panic(err)
			}
			return cb
		})
	})
	b.Run("gobreaker", func(b *testing.B) {
		benchMemory(b, func() any { return newGobreaker() })
	})
	b.Run("failsafe", func(b *testing.B) {
		benchMemory(b, func() any { return newFailsafe() })
	})
	b.Run("eapache", func(b *testing.B) {
		benchMemory(b, func() any { return newEapache(closedSuccess) })
	})
}

func benchMemory(b *testing.B, mk func() any) {
	b.ReportAllocs()
	const n = 10000
	sink = mk() // one-time costs (the shared coarse clock) out of the count
	keep := make([]any, n)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range keep {
		keep[i] = mk()
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(keep)
	perBreaker := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / n
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sink = mk()
	}
	b.ReportMetric(perBreaker, "B/breaker")
}
