//go:build perpcompare

package bench

// The per-P decision: the per-P counters of an earlier breaker against the
// plain atomics of the current one, in one process, interleaved. perp.sh
// makes the earlier packages (bench/internal/perp) and runs this file; see
// docs/BENCHMARKS.md, "Per-P counters".

import (
	"testing"

	perp "github.com/fusebox-go/fusebox/bench/internal/perp/breaker"
	"github.com/fusebox-go/fusebox/breaker"
)

// perpConfig is the breaker of breaker_test.go's scenarios: a 10 s window
// in 10 buckets, a 50 % failure rate over at least 20 calls, open for an
// hour.
func perpConfig() (perp.Config, breaker.Config) {
	return perp.Config{OpenDuration: openFor}, breaker.Config{OpenDuration: openFor}
}

// BenchmarkPerPClosedSuccessParallel: successful calls from every P into one
// closed breaker: the time window's success counter under contention.
func BenchmarkPerPClosedSuccessParallel(b *testing.B) {
	oc, nc := perpConfig()
	b.Run("impl=perP", func(b *testing.B) {
		cb, err := perp.New(oc)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if cb.Execute(ctx, okCtx) != nil {
					b.Error("closed breaker refused a call")
					return
				}
			}
		})
	})
	b.Run("impl=atomic", func(b *testing.B) {
		cb, err := breaker.New(nc)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if cb.Execute(ctx, okCtx) != nil {
					b.Error("closed breaker refused a call")
					return
				}
			}
		})
	})
}

// BenchmarkPerPOpenRejectParallel: rejections from every P by one open
// breaker: the rejection counter under contention.
func BenchmarkPerPOpenRejectParallel(b *testing.B) {
	oc, nc := perpConfig()
	b.Run("impl=perP", func(b *testing.B) {
		cb, err := perp.New(oc)
		if err != nil {
			b.Fatal(err)
		}
		cb.Trip()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if cb.Execute(ctx, okCtx) == nil {
					b.Error("open breaker admitted a call")
					return
				}
			}
		})
		if cb.Snapshot().Rejections == 0 {
			b.Error("no rejection counted")
		}
	})
	b.Run("impl=atomic", func(b *testing.B) {
		cb, err := breaker.New(nc)
		if err != nil {
			b.Fatal(err)
		}
		cb.Trip()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if cb.Execute(ctx, okCtx) == nil {
					b.Error("open breaker admitted a call")
					return
				}
			}
		})
		if cb.Snapshot().Rejections == 0 {
			b.Error("no rejection counted")
		}
	})
}

// BenchmarkPerPOpenReject and BenchmarkPerPClosedSuccess: the same on one
// goroutine, where per-P counters have nothing to win.
func BenchmarkPerPOpenReject(b *testing.B) {
	oc, nc := perpConfig()
	b.Run("impl=perP", func(b *testing.B) {
		cb, _ := perp.New(oc)
		cb.Trip()
		for b.Loop() {
			if cb.Execute(ctx, okCtx) == nil {
				b.Fatal("open breaker admitted a call")
			}
		}
	})
	b.Run("impl=atomic", func(b *testing.B) {
		cb, _ := breaker.New(nc)
		cb.Trip()
		for b.Loop() {
			if cb.Execute(ctx, okCtx) == nil {
				b.Fatal("open breaker admitted a call")
			}
		}
	})
}

func BenchmarkPerPClosedSuccess(b *testing.B) {
	oc, nc := perpConfig()
	b.Run("impl=perP", func(b *testing.B) {
		cb, _ := perp.New(oc)
		for b.Loop() {
			if cb.Execute(ctx, okCtx) != nil {
				b.Fatal("closed breaker refused a call")
			}
		}
	})
	b.Run("impl=atomic", func(b *testing.B) {
		cb, _ := breaker.New(nc)
		for b.Loop() {
			if cb.Execute(ctx, okCtx) != nil {
				b.Fatal("closed breaker refused a call")
			}
		}
	})
}
