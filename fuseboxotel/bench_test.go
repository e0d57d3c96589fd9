package fuseboxotel_test

import (
	"testing"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/fuseboxotel"
)

// BenchmarkLatencyPolicy is a call's cost of the latency histogram, with
// the SDK and with the no-op meter (the policy's own share).
func BenchmarkLatencyPolicy(b *testing.B) {
	sdkMeter, _ := newMeter(b)
	for _, bm := range []struct {
		name  string
		meter metric.Meter
	}{{"sdk", sdkMeter}, {"noop", noop.NewMeterProvider().Meter("x")}} {
		lp, err := fuseboxotel.NewLatencyPolicy(bm.meter, "bench")
		if err != nil {
			b.Fatal(err)
		}
		next := fusebox.NextFunc(ok)
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = lp.Run(bg, next)
			}
		})
		b.Run(bm.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					_ = lp.Run(bg, next)
				}
			})
		})
	}
}

// BenchmarkTracingPolicy is a call's cost of the tracing policies, without
// a span (the fast path) and with a recorded parent span (an attempt span
// per call).
func BenchmarkTracingPolicy(b *testing.B) {
	// A provider without processors: spans are recorded, then dropped.
	provider := sdktrace.NewTracerProvider()
	defer provider.Shutdown(bg)
	tracer := provider.Tracer(fuseboxotel.ScopeName)
	tp, _ := fuseboxotel.NewTracingPolicy(tracer, "bench")
	p, _ := fusebox.New(tp, tp.Attempt())
	b.Run("nospan", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = p.Run(bg, ok)
		}
	})
	b.Run("nospan/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_ = p.Run(bg, ok)
			}
		})
	})
	ctx, span := tracer.Start(bg, "parent")
	defer span.End()
	b.Run("span", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = p.Run(ctx, ok)
		}
	})
}
