package fuseboxprom_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/fuseboxprom"
)

// stepClock is a clock whose every Nanotime reading is step later than the
// one before: each timed call takes exactly step.
type stepClock struct {
	clock.Clock
	step int64
	now  atomic.Int64
}

func (c *stepClock) Nanotime() int64 { return c.now.Add(c.step) }

func TestLatency(t *testing.T) {
	clk := &stepClock{Clock: clock.NewFake(time.Time{}), step: int64(30 * time.Millisecond)}
	col := newCollector(t, fuseboxprom.Config{LatencyBuckets: []float64{0.01, 0.05, 0.1}, Clock: clk})
	lat := col.NewLatencyPolicy("payments")
	if again := col.NewLatencyPolicy("payments"); again != lat {
		t.Fatal("NewLatencyPolicy with the same name made a second policy")
	}
	p, err := fusebox.New(lat)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := p.Run(context.Background(), ok); err != nil {
			t.Fatal(err)
		}
	}
	if err := lat.Execute(context.Background(), fail); err != errBoom {
		t.Fatalf("Execute returned %v, want the function's error", err)
	}
	lat.Observe(2 * time.Second)
	func() {
		defer func() { _ = recover() }()
		_ = lat.Execute(context.Background(), func(context.Context) error { panic("boom") })
	}()
	const want = `
# HELP fusebox_call_duration_seconds Duration of calls timed by a latency policy, in seconds.
# TYPE fusebox_call_duration_seconds histogram
fusebox_call_duration_seconds_bucket{key="",name="payments",le="0.01"} 0
fusebox_call_duration_seconds_bucket{key="",name="payments",le="0.05"} 5
fusebox_call_duration_seconds_bucket{key="",name="payments",le="0.1"} 5
fusebox_call_duration_seconds_bucket{key="",name="payments",le="+Inf"} 6
fusebox_call_duration_seconds_sum{key="",name="payments"} 2.15
fusebox_call_duration_seconds_count{key="",name="payments"} 6
`
	if err := testutil.CollectAndCompare(col, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}

	// The native buckets are there too: 30 ms lies in one bucket of
	// schema 3 (factor 2^(1/8) ≈ 1.09, the largest not above 1.1).
	reg := prometheus.NewRegistry()
	if err := col.Register(reg); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var h *dto.Histogram
	for _, mf := range mfs {
		if mf.GetName() == "fusebox_call_duration_seconds" {
			h = mf.GetMetric()[0].GetHistogram()
		}
	}
	if h == nil {
		t.Fatal("no histogram gathered")
	}
	if got := h.GetSchema(); got != 3 {
		t.Errorf("native schema %d, want 3", got)
	}
	var native int64
	for _, d := range h.GetPositiveDelta() {
		native += d // deltas: the first is the first bucket's count
		if native == 5 {
			break
		}
	}
	if native != 5 {
		t.Errorf("native buckets %v do not hold the five 30 ms calls in one bucket", h.GetPositiveDelta())
	}
}

func TestLatencyAllocs(t *testing.T) {
	clk := &stepClock{Clock: clock.NewFake(time.Time{}), step: int64(time.Millisecond)}
	col := newCollector(t, fuseboxprom.Config{Clock: clk})
	lat := col.NewLatencyPolicy("x")
	ctx := context.Background()
	_ = lat.Execute(ctx, ok) // creates the native bucket
	if n := testing.AllocsPerRun(1000, func() { _ = lat.Execute(ctx, ok) }); n != 0 {
		t.Fatalf("%v allocations per call, want 0", n)
	}
}

func BenchmarkLatency(b *testing.B) {
	col := newCollector(b, fuseboxprom.Config{})
	lat := col.NewLatencyPolicy("x")
	ctx := context.Background()
	b.Run("single", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = lat.Execute(ctx, ok)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_ = lat.Execute(ctx, ok)
			}
		})
	})
}

// BenchmarkCollect measures a scrape of 100 breakers.
func BenchmarkCollect(b *testing.B) {
	col := newCollector(b, fuseboxprom.Config{})
	for i := range 100 {
		mustAdd(b, col, "b"+string(rune('0'+i/10))+string(rune('0'+i%10)), openBreaker(b, "b"))
	}
	b.ReportAllocs()
	for b.Loop() {
		ch := make(chan prometheus.Metric, 2000)
		col.Collect(ch)
	}
}
