package fuseboxotel_test

import (
	"context"
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

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
