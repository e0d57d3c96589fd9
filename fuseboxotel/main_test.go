package fuseboxotel_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"

	"github.com/fusebox-go/fusebox/fuseboxotel"
)

// TestMain fails the package's tests if a goroutine outlives them: every
// test shuts its providers down and closes its subscriptions.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newMeter returns a meter of an SDK provider with a manual reader, shut
// down when the test ends.
func newMeter(t testing.TB) (metric.Meter, *sdkmetric.ManualReader) {
	t.Helper()
	r := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	return mp.Meter(fuseboxotel.ScopeName), r
}

// newTracer returns a tracer of an SDK provider whose spans a recorder
// keeps, shut down when the test ends.
func newTracer(t testing.TB) (trace.Tracer, *tracetest.SpanRecorder) {
	t.Helper()
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp.Tracer(fuseboxotel.ScopeName), sr
}

// collection is one collection of a manual reader.
type collection struct {
	t  testing.TB
	rm metricdata.ResourceMetrics
}

func collect(t testing.TB, r *sdkmetric.ManualReader) collection {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("Collect: %v", err)
	}
	return collection{t: t, rm: rm}
}

// metric returns the metric named name, or ok false.
func (c collection) metric(name string) (metricdata.Metrics, bool) {
	for _, sm := range c.rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m, true
			}
		}
	}
	return metricdata.Metrics{}, false
}

// has reports whether a point's attributes hold every kv of want.
func has(set attribute.Set, want []attribute.KeyValue) bool {
	for _, kv := range want {
		v, ok := set.Value(kv.Key)
		if !ok || v != kv.Value {
			return false
		}
	}
	return true
}

// points returns the int64 points (sums and gauges) of name whose
// attributes hold want, and fails the test when name has none.
func (c collection) ints(name string, want ...attribute.KeyValue) []metricdata.DataPoint[int64] {
	c.t.Helper()
	m, ok := c.metric(name)
	if !ok {
		c.t.Fatalf("no metric %s", name)
	}
	var all []metricdata.DataPoint[int64]
	switch d := m.Data.(type) {
	case metricdata.Sum[int64]:
		all = d.DataPoints
	case metricdata.Gauge[int64]:
		all = d.DataPoints
	default:
		c.t.Fatalf("metric %s is a %T, want int64 data", name, m.Data)
	}
	var out []metricdata.DataPoint[int64]
	for _, p := range all {
		if has(p.Attributes, want) {
			out = append(out, p)
		}
	}
	return out
}

// int returns the value of the one int64 point of name whose attributes
// hold want.
func (c collection) int(name string, want ...attribute.KeyValue) int64 {
	c.t.Helper()
	ps := c.ints(name, want...)
	if len(ps) != 1 {
		c.t.Fatalf("%s%v: %d points, want 1: %+v", name, want, len(ps), ps)
	}
	return ps[0].Value
}

// float returns the value of the one float64 point of name whose
// attributes hold want.
func (c collection) float(name string, want ...attribute.KeyValue) float64 {
	c.t.Helper()
	m, ok := c.metric(name)
	if !ok {
		c.t.Fatalf("no metric %s", name)
	}
	var all []metricdata.DataPoint[float64]
	switch d := m.Data.(type) {
	case metricdata.Sum[float64]:
		all = d.DataPoints
	case metricdata.Gauge[float64]:
		all = d.DataPoints
	default:
		c.t.Fatalf("metric %s is a %T, want float64 data", name, m.Data)
	}
	var out []metricdata.DataPoint[float64]
	for _, p := range all {
		if has(p.Attributes, want) {
			out = append(out, p)
		}
	}
	if len(out) != 1 {
		c.t.Fatalf("%s%v: %d points, want 1: %+v", name, want, len(out), out)
	}
	return out[0].Value
}

// histogram returns the one histogram point of name whose attributes hold
// want.
func (c collection) histogram(name string, want ...attribute.KeyValue) metricdata.HistogramDataPoint[float64] {
	c.t.Helper()
	m, ok := c.metric(name)
	if !ok {
		c.t.Fatalf("no metric %s", name)
	}
	h, ok := m.Data.(metricdata.Histogram[float64])
	if !ok {
		c.t.Fatalf("metric %s is a %T, want a float64 histogram", name, m.Data)
	}
	var out []metricdata.HistogramDataPoint[float64]
	for _, p := range h.DataPoints {
		if has(p.Attributes, want) {
			out = append(out, p)
		}
	}
	if len(out) != 1 {
		c.t.Fatalf("%s%v: %d points, want 1", name, want, len(out))
	}
	return out[0]
}
