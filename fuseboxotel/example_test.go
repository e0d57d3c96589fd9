package fuseboxotel_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/fuseboxotel"
	"github.com/fusebox-go/fusebox/retry"
)

// A breaker's state and counters, read by a metric reader at collection
// time.
func ExampleNewMetrics() {
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer provider.Shutdown(context.Background())
	meter := provider.Meter(fuseboxotel.ScopeName)

	b, _ := breaker.New(breaker.Config{Name: "payments", ConsecutiveFailures: 2})
	m, err := fuseboxotel.NewMetrics(meter, fuseboxotel.Watch("", b))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()

	for range 3 {
		_ = b.Execute(context.Background(), func(context.Context) error { return errors.New("unavailable") })
	}

	var rm metricdata.ResourceMetrics
	_ = reader.Collect(context.Background(), &rm)
	for _, sm := range rm.ScopeMetrics {
		for _, mt := range sm.Metrics {
			switch mt.Name {
			case "fusebox.breaker.state", "fusebox.breaker.calls", "fusebox.breaker.rejections":
				var lines []string
				var pts []metricdata.DataPoint[int64]
				switch d := mt.Data.(type) {
				case metricdata.Gauge[int64]:
					pts = d.DataPoints
				case metricdata.Sum[int64]:
					pts = d.DataPoints
				}
				for _, p := range pts {
					if p.Value == 0 {
						continue
					}
					lines = append(lines, fmt.Sprintf("%s{%s} %d", mt.Name, labels(p.Attributes), p.Value))
				}
				sort.Strings(lines)
				for _, l := range lines {
					fmt.Println(l)
				}
			}
		}
	}
	// Output:
	// fusebox.breaker.state{fusebox.policy.name=payments fusebox.state=open} 1
	// fusebox.breaker.calls{fusebox.outcome=failure fusebox.policy.name=payments} 2
	// fusebox.breaker.rejections{fusebox.policy.name=payments} 1
}

// labels renders an attribute set as sorted key=value pairs.
func labels(s attribute.Set) string {
	out := ""
	for i, kv := range s.ToSlice() {
		if i > 0 {
			out += " "
		}
		out += string(kv.Key) + "=" + kv.Value.String()
	}
	return out
}

// Each call's duration, by outcome, in a histogram.
func ExampleNewLatencyPolicy() {
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer provider.Shutdown(context.Background())

	fake := clock.NewFake(time.Time{}) // a real program leaves the clock out
	latency, _ := fuseboxotel.NewLatencyPolicy(provider.Meter(fuseboxotel.ScopeName), "payments", fuseboxotel.WithClock(fake))
	b, _ := breaker.New(breaker.Config{Name: "payments"})
	p, _ := fusebox.New(latency, b)

	_ = p.Run(context.Background(), func(context.Context) error { fake.Advance(120 * time.Millisecond); return nil })
	b.ForceOpen()
	_ = p.Run(context.Background(), func(context.Context) error { return nil })

	var rm metricdata.ResourceMetrics
	_ = reader.Collect(context.Background(), &rm)
	h := rm.ScopeMetrics[0].Metrics[0]
	var lines []string
	for _, dp := range h.Data.(metricdata.Histogram[float64]).DataPoints {
		o, _ := dp.Attributes.Value(fuseboxotel.AttrOutcome)
		lines = append(lines, fmt.Sprintf("%s %s: %d call(s), %.3f %s", h.Name, o.AsString(), dp.Count, dp.Sum, h.Unit))
	}
	sort.Strings(lines)
	for _, l := range lines {
		fmt.Println(l)
	}
	// Output:
	// fusebox.call.duration rejected: 1 call(s), 0.000 s
	// fusebox.call.duration success: 1 call(s), 0.120 s
}

// A span per attempt under a retry, and what the retry did on the call's
// span.
func ExampleNewTracingPolicy() {
	recorder := tracetest.NewSpanRecorder()
	provider := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(recorder))
	defer provider.Shutdown(context.Background())
	tracer := provider.Tracer(fuseboxotel.ScopeName)

	fake := clock.NewFake(time.Time{}) // a real program leaves the clock out
	rp, _ := retry.New(retry.Config{MaxAttempts: 3, Backoff: retry.BackoffConstant, InitialInterval: time.Second, Retryable: func(error) bool { return true }, Clock: fake})
	tp, _ := fuseboxotel.NewTracingPolicy(tracer, "payments")
	p, _ := fusebox.New(tp, rp, tp.Attempt())

	ctx, span := tracer.Start(context.Background(), "checkout")
	done := make(chan error)
	go func() {
		done <- p.Run(ctx, func(context.Context) error { return errors.New("unavailable") })
	}()
	// The retry's two waits of a second, on the fake clock: one step of
	// exactly a second each (a longer step could fire the next wait too),
	// once the retry waits (a test bounds the wait).
	waitCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for range 2 {
		if err := fake.BlockUntilContext(waitCtx, 1); err != nil {
			panic(err)
		}
		fake.Advance(time.Second)
	}
	<-done
	span.End()

	for _, s := range recorder.Ended() {
		attempt, _ := attributeOf(s.Attributes(), fuseboxotel.AttrAttempt)
		outcome, _ := attributeOf(s.Attributes(), fuseboxotel.AttrOutcome)
		fmt.Printf("span %q attempt=%s outcome=%s\n", s.Name(), attempt, outcome)
		for _, e := range s.Events() {
			if e.Name != "exception" {
				n, _ := attributeOf(e.Attributes, fuseboxotel.AttrAttempt)
				fmt.Printf("  event %s after %s attempts\n", e.Name, n)
			}
		}
	}
	// Output:
	// span "payments attempt" attempt=1 outcome=failure
	// span "payments attempt" attempt=2 outcome=failure
	// span "payments attempt" attempt=3 outcome=failure
	// span "checkout" attempt= outcome=
	//   event fusebox.retries_exhausted after 3 attempts
}

func attributeOf(kvs []attribute.KeyValue, k attribute.Key) (string, bool) {
	for _, kv := range kvs {
		if kv.Key == k {
			return kv.Value.String(), true
		}
	}
	return "", false
}

// Transitions counted from an events bus.
func ExampleCountEvents() {
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer provider.Shutdown(context.Background())

	bus := fusebox.NewEvents()
	sub, _ := fuseboxotel.CountEvents(provider.Meter(fuseboxotel.ScopeName), bus, 0)
	b, _ := breaker.New(breaker.Config{Name: "payments", Events: bus})
	b.Trip()
	b.Reset()
	bus.Close() // in a program: at shutdown
	sub.Close()

	var rm metricdata.ResourceMetrics
	_ = reader.Collect(context.Background(), &rm)
	var lines []string
	for _, dp := range rm.ScopeMetrics[0].Metrics[0].Data.(metricdata.Sum[int64]).DataPoints {
		from, _ := dp.Attributes.Value(fuseboxotel.AttrStateFrom)
		to, _ := dp.Attributes.Value(fuseboxotel.AttrStateTo)
		lines = append(lines, fmt.Sprintf("%s -> %s: %d", from.AsString(), to.AsString(), dp.Value))
	}
	sort.Strings(lines)
	for _, l := range lines {
		fmt.Println(l)
	}
	// Output:
	// closed -> open: 1
	// open -> closed: 1
}
