package dashboard

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/clock"
)

func TestBucketBounds(t *testing.T) {
	// Every value maps to a bucket whose representative is within 1/16
	// of it, and buckets grow with values.
	prev := -1
	for _, ns := range []int64{0, 1, 7, 8, 9, 15, 16, 17, 100, 999, 1000, 1023, 1024, 1e5, 123456789, 1e9, 5e9, 60e9, 1 << 36, 1<<37 - 1} {
		i := bucketOf(ns)
		if i < prev {
			t.Fatalf("bucketOf(%d) = %d, below the bucket of a smaller value (%d)", ns, i, prev)
		}
		prev = i
		if i < 0 || i >= numBuckets {
			t.Fatalf("bucketOf(%d) = %d out of [0, %d)", ns, i, numBuckets)
		}
		v := int64(bucketValue(i))
		diff := v - ns
		if diff < 0 {
			diff = -diff
		}
		if diff*16 > ns {
			t.Errorf("bucketValue(bucketOf(%d)) = %d: more than 6.25%% off", ns, v)
		}
	}
	if got := bucketOf(-5); got != 0 {
		t.Errorf("bucketOf(-5) = %d, want 0", got)
	}
	if got := bucketOf(1 << 50); got != numBuckets-1 {
		t.Errorf("bucketOf(2^50) = %d, want the last bucket %d", got, numBuckets-1)
	}
}

func TestHistQuantile(t *testing.T) {
	var h hist
	if q := h.quantile(0.5); q != 0 {
		t.Fatalf("empty quantile = %v, want 0", q)
	}
	// 90 calls of 1ms, 9 of 10ms, 1 of 1s.
	h[bucketOf(int64(time.Millisecond))] += 90
	h[bucketOf(int64(10*time.Millisecond))] += 9
	h[bucketOf(int64(time.Second))] += 1
	near := func(got, want time.Duration) bool { return got >= want*15/16 && got <= want*17/16 }
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, time.Millisecond}, {0.9, time.Millisecond}, {0.95, 10 * time.Millisecond}, {0.99, 10 * time.Millisecond}, {1, time.Second}} {
		if got := h.quantile(c.q); !near(got, c.want) {
			t.Errorf("quantile(%v) = %v, want about %v", c.q, got, c.want)
		}
	}
}

func TestLatencyRun(t *testing.T) {
	clk := clock.NewFake(time.Time{})
	d, err := New(Config{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	l := d.LatencyPolicy("db")
	if d.LatencyPolicy("db") != l {
		t.Fatal("LatencyPolicy returned a new Latency for the same name")
	}
	ctx := context.Background()
	boom := errors.New("boom")
	for i := range 10 {
		err := l.Execute(ctx, func(context.Context) error {
			clk.Advance(time.Duration(i+1) * time.Millisecond)
			if i == 9 {
				return boom
			}
			return nil
		})
		if i == 9 && !errors.Is(err, boom) {
			t.Fatalf("Execute returned %v, want the call's error", err)
		}
	}
	// A canceled caller is not a failure.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_ = l.Execute(cctx, func(ctx context.Context) error { return ctx.Err() })

	// A panic is a failure, and goes on.
	func() {
		defer func() {
			if recover() != "bad" {
				t.Error("the panic did not go on")
			}
		}()
		_ = l.Execute(ctx, func(context.Context) error { panic("bad") })
	}()

	s := l.Snapshot()
	if s.Calls != 12 || s.Failures != 2 {
		t.Fatalf("Snapshot = %+v, want 12 calls, 2 failures", s)
	}
	if s.P50 < 4*time.Millisecond || s.P50 > 6*time.Millisecond {
		t.Errorf("P50 = %v, want about 5ms", s.P50)
	}
	if s.P99 < 9*time.Millisecond || s.P99 > 11*time.Millisecond {
		t.Errorf("P99 = %v, want about 10ms", s.P99)
	}
	if l.Name() != "db" {
		t.Errorf("Name = %q", l.Name())
	}
}

func TestLatencyInPipeline(t *testing.T) {
	d, err := New(Config{Clock: clock.NewFake(time.Time{})})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	l := d.LatencyPolicy("x")
	p, err := fusebox.New(l)
	if err != nil {
		t.Fatal(err)
	}
	v, err := fusebox.Do(context.Background(), p, func(context.Context) (int, error) { return 7, nil })
	if v != 7 || err != nil {
		t.Fatalf("Do = %v, %v", v, err)
	}
	if got := l.Snapshot().Calls; got != 1 {
		t.Fatalf("calls = %d, want 1", got)
	}
}

func TestLatencyZeroAllocs(t *testing.T) {
	d, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	l := d.LatencyPolicy("x")
	ctx := context.Background()
	fn := func(context.Context) error { return nil }
	if n := testing.AllocsPerRun(1000, func() { _ = l.Execute(ctx, fn) }); n != 0 {
		t.Fatalf("Execute allocates %v times per call, want 0", n)
	}
}

func BenchmarkLatency(b *testing.B) {
	d, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	l := d.LatencyPolicy("x")
	ctx := context.Background()
	fn := func(context.Context) error { return nil }
	b.Run("single", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = l.Execute(ctx, fn)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_ = l.Execute(ctx, fn)
			}
		})
	})
}
