package breaker

import (
	"context"
	"testing"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/clock"
)

// The benchmarks use the default coarse clock, as production code does.

func benchBreaker(b *testing.B, c Config) *Breaker {
	b.Helper()
	br, err := New(c)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(clock.Default().Stop)
	b.ReportAllocs()
	return br
}

var benchWindows = []struct {
	name string
	cfg  Config
}{
	{"time", Config{}},
	{"count", Config{Window: CountWindow}},
}

// BenchmarkExecute is the closed state's hot path: admit, run, record a
// success.
func BenchmarkExecute(b *testing.B) {
	ctx := context.Background()
	for _, w := range benchWindows {
		b.Run(w.name, func(b *testing.B) {
			br := benchBreaker(b, w.cfg)
			for b.Loop() {
				_ = br.Execute(ctx, okFn)
			}
		})
		b.Run(w.name+"/parallel", func(b *testing.B) {
			br := benchBreaker(b, w.cfg)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					_ = br.Execute(ctx, okFn)
				}
			})
		})
	}
}

func BenchmarkAllowDone(b *testing.B) {
	for _, w := range benchWindows {
		b.Run(w.name, func(b *testing.B) {
			br := benchBreaker(b, w.cfg)
			for b.Loop() {
				p, _ := br.Allow()
				p.Done(fusebox.Success)
			}
		})
		b.Run(w.name+"/parallel", func(b *testing.B) {
			br := benchBreaker(b, w.cfg)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					p, _ := br.Allow()
					p.Done(fusebox.Success)
				}
			})
		})
	}
}

// BenchmarkRejected is the open state's path: a preallocated error.
func BenchmarkRejected(b *testing.B) {
	ctx := context.Background()
	br := benchBreaker(b, Config{})
	br.Trip()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = br.Execute(ctx, okFn)
		}
	})
}

func BenchmarkDo(b *testing.B) {
	ctx := context.Background()
	fn := func(context.Context) (int, error) { return 1, nil }
	br := benchBreaker(b, Config{})
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, _ = Do(ctx, br, fn)
		}
	})
}

func BenchmarkPipeline(b *testing.B) {
	ctx := context.Background()
	br := benchBreaker(b, Config{})
	p, err := fusebox.New(br)
	if err != nil {
		b.Fatal(err)
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = p.Run(ctx, okFn)
		}
	})
}
