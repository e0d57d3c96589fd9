package fuseboxotel_test

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/fuseboxotel"
)

// TestLatencyHistogram records calls of known durations on a fake clock
// and reads the histogram back, by outcome.
func TestLatencyHistogram(t *testing.T) {
	meter, reader := newMeter(t)
	fake := clock.NewFake(time.Time{})
	lp, err := fuseboxotel.NewLatencyPolicy(meter, "payments", fuseboxotel.WithClock(fake))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := breaker.New(breaker.Config{Name: "b", Clock: fake})
	p, err := fusebox.New(lp, b)
	if err != nil {
		t.Fatal(err)
	}
	sleep := func(d time.Duration, err error) func(context.Context) error {
		return func(context.Context) error { fake.Advance(d); return err }
	}
	_ = p.Run(bg, sleep(250*time.Millisecond, nil))
	_ = p.Run(bg, sleep(50*time.Millisecond, nil))
	_ = p.Run(bg, sleep(2*time.Second, errBoom))
	canceled, cancel := context.WithCancel(bg)
	cancel()
	_ = p.Run(canceled, sleep(time.Second, context.Canceled))
	b.ForceOpen()
	if err := p.Run(bg, sleep(time.Hour, nil)); !errors.Is(err, fusebox.ErrOpen) {
		t.Fatalf("call through a forced-open breaker: %v", err)
	}

	c := collect(t, reader)
	m, _ := c.metric(fuseboxotel.LatencyName)
	if m.Unit != "s" {
		t.Errorf("unit %q, want s", m.Unit)
	}
	tests := []struct {
		outcome string
		count   uint64
		sum     float64
	}{
		{"success", 2, 0.3},
		{"failure", 1, 2},
		{"ignored", 1, 1},
		{"rejected", 1, 0},
	}
	for _, tt := range tests {
		h := c.histogram(fuseboxotel.LatencyName, name("payments"), fuseboxotel.AttrOutcome.String(tt.outcome))
		if h.Count != tt.count || math.Abs(h.Sum-tt.sum) > 1e-9 {
			t.Errorf("%s: count %d sum %v, want count %d sum %v", tt.outcome, h.Count, h.Sum, tt.count, tt.sum)
		}
		if !slices.Equal(h.Bounds, fuseboxotel.DefaultBuckets) {
			t.Errorf("%s: bounds %v, want DefaultBuckets", tt.outcome, h.Bounds)
		}
	}
}

// TestLatencyPanic records a panicking call as a failure and lets the
// panic go on.
func TestLatencyPanic(t *testing.T) {
	meter, reader := newMeter(t)
	lp, _ := fuseboxotel.NewLatencyPolicy(meter, "p", fuseboxotel.WithClock(clock.NewFake(time.Time{})))
	func() {
		defer func() {
			if r := recover(); r != "bang" {
				t.Errorf("recovered %v, want the original panic", r)
			}
		}()
		_ = lp.Execute(bg, func(context.Context) error { panic("bang") })
	}()
	if h := collect(t, reader).histogram(fuseboxotel.LatencyName, fuseboxotel.AttrOutcome.String("failure")); h.Count != 1 {
		t.Fatalf("failure count %d after a panic, want 1", h.Count)
	}
}

// TestLatencyOptions: a classifier and custom buckets.
func TestLatencyOptions(t *testing.T) {
	meter, reader := newMeter(t)
	notFound := errors.New("not found")
	lp, err := fuseboxotel.NewLatencyPolicy(meter, "p",
		fuseboxotel.WithClock(clock.NewFake(time.Time{})),
		fuseboxotel.WithBuckets(0.1, 1),
		fuseboxotel.WithClassifier(func(err error) fusebox.Outcome {
			if errors.Is(err, notFound) {
				return fusebox.Success
			}
			return fusebox.DefaultClassifier(err)
		}),
	)
	if err != nil {
		t.Fatal(err)
	}
	_ = lp.Execute(bg, func(context.Context) error { return notFound })
	h := collect(t, reader).histogram(fuseboxotel.LatencyName, fuseboxotel.AttrOutcome.String("success"))
	if h.Count != 1 {
		t.Errorf("success count %d, want 1 (the classifier's success)", h.Count)
	}
	if !slices.Equal(h.Bounds, []float64{0.1, 1}) {
		t.Errorf("bounds %v, want [0.1 1]", h.Bounds)
	}
}

// TestLatencyBucketsPerMeter: every LatencyPolicy of a meter records into
// the meter's one LatencyName histogram, which keeps the first policy's
// buckets. A second policy asking for other buckets silently got the
// first's; now NewLatencyPolicy refuses it, naming both. The same buckets,
// another meter, or a no-op meter are fine.
func TestLatencyBucketsPerMeter(t *testing.T) {
	r := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))
	defer func() { _ = mp.Shutdown(bg) }()
	meter := mp.Meter(fuseboxotel.ScopeName)
	fake := clock.NewFake(time.Time{})
	if _, err := fuseboxotel.NewLatencyPolicy(meter, "default", fuseboxotel.WithClock(fake)); err != nil {
		t.Fatal(err)
	}
	custom := []float64{0.5, 1, 2}
	_, err := fuseboxotel.NewLatencyPolicy(meter, "custom", fuseboxotel.WithClock(fake), fuseboxotel.WithBuckets(custom...))
	if err == nil {
		t.Fatal("a second policy of the meter with other buckets: no error, yet it records with the first's buckets")
	}
	for _, want := range []string{`"custom"`, "[0.5 1 2]", `"default"`, "[0.005 0.01 ", "per meter"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	same, err := fuseboxotel.NewLatencyPolicy(meter, "same", fuseboxotel.WithClock(fake), fuseboxotel.WithBuckets(fuseboxotel.DefaultBuckets...))
	if err != nil {
		t.Fatalf("a second policy with the same buckets: %v", err)
	}
	_ = same.Execute(bg, ok)
	// Another instrumentation scope is another meter, with its own
	// histogram.
	other, err := fuseboxotel.NewLatencyPolicy(mp.Meter("other"), "custom", fuseboxotel.WithClock(fake), fuseboxotel.WithBuckets(custom...))
	if err != nil {
		t.Fatalf("another meter with other buckets: %v", err)
	}
	_ = other.Execute(bg, ok)
	var rm metricdata.ResourceMetrics
	if err := r.Collect(bg, &rm); err != nil {
		t.Fatal(err)
	}
	bounds := map[string][]float64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if h, isHist := m.Data.(metricdata.Histogram[float64]); isHist && m.Name == fuseboxotel.LatencyName {
				for _, p := range h.DataPoints {
					pname, _ := p.Attributes.Value(fuseboxotel.AttrPolicyName)
					bounds[sm.Scope.Name+"/"+pname.AsString()] = p.Bounds
				}
			}
		}
	}
	if got := bounds[fuseboxotel.ScopeName+"/same"]; !slices.Equal(got, fuseboxotel.DefaultBuckets) {
		t.Errorf("bounds of policy same: %v, want DefaultBuckets", got)
	}
	if got := bounds["other/custom"]; !slices.Equal(got, custom) {
		t.Errorf("bounds of policy custom of meter other: %v, want %v", got, custom)
	}
	// A no-op meter records nothing: any buckets will do.
	noopMeter := noop.NewMeterProvider().Meter("x")
	for _, b := range [][]float64{{1}, {2}} {
		if _, err := fuseboxotel.NewLatencyPolicy(noopMeter, "p", fuseboxotel.WithBuckets(b...)); err != nil {
			t.Errorf("no-op meter, buckets %v: %v", b, err)
		}
	}
}

func TestNewLatencyPolicyErrors(t *testing.T) {
	meter, _ := newMeter(t)
	tests := []struct {
		name  string
		meter bool
		pname string
		opts  []fuseboxotel.Option
	}{
		{"nil meter", false, "p", nil},
		{"empty name", true, "", nil},
		{"decreasing buckets", true, "p", []fuseboxotel.Option{fuseboxotel.WithBuckets(1, 0.5)}},
		{"equal buckets", true, "p", []fuseboxotel.Option{fuseboxotel.WithBuckets(1, 1)}},
		{"negative bucket", true, "p", []fuseboxotel.Option{fuseboxotel.WithBuckets(-1, 1)}},
		{"NaN bucket", true, "p", []fuseboxotel.Option{fuseboxotel.WithBuckets(math.NaN())}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := meter
			if !tt.meter {
				m = nil
			}
			if _, err := fuseboxotel.NewLatencyPolicy(m, tt.pname, tt.opts...); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

// TestLatencyAllocs: recording allocates nothing, with the no-op meter
// (the policy's own share) and with the SDK: the attribute sets are built
// once.
func TestLatencyAllocs(t *testing.T) {
	sdkMeter, _ := newMeter(t)
	for _, m := range []struct {
		name  string
		meter metric.Meter
	}{{"noop", noop.NewMeterProvider().Meter("x")}, {"sdk", sdkMeter}} {
		lp, err := fuseboxotel.NewLatencyPolicy(m.meter, "p")
		if err != nil {
			t.Fatal(err)
		}
		next := fusebox.NextFunc(ok)
		if n := testing.AllocsPerRun(100, func() { _ = lp.Run(bg, next) }); n != 0 {
			t.Errorf("%s: %v allocations per call, want 0", m.name, n)
		}
	}
}
