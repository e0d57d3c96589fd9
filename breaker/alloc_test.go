package breaker

import (
	"context"
	"errors"
	"runtime"
	"testing"

	"github.com/fusebox-go/fusebox"
)

func TestZeroAllocs(t *testing.T) {
	ctx := context.Background()
	intFn := func(context.Context) (int, error) { return 1, nil }
	tests := []struct {
		name  string
		cfg   Config
		setup func(b *Breaker)
		call  func(t *testing.T, b *Breaker)
	}{
		{"Execute success, time window", Config{}, nil, func(t *testing.T, b *Breaker) {
			if err := b.Execute(ctx, okFn); err != nil {
				t.Fatal(err)
			}
		}},
		{"Execute success, count window", Config{Window: CountWindow}, nil, func(t *testing.T, b *Breaker) {
			if err := b.Execute(ctx, okFn); err != nil {
				t.Fatal(err)
			}
		}},
		{"Execute failure below the threshold", Config{Window: CountWindow, ConsecutiveFailures: 1 << 30}, nil, func(t *testing.T, b *Breaker) {
			if err := b.Execute(ctx, failFn); err != errBoom {
				t.Fatal(err)
			}
		}},
		{"Execute success, slow calls tracked", Config{SlowCallRate: 0.5}, nil, func(t *testing.T, b *Breaker) {
			if err := b.Execute(ctx, okFn); err != nil {
				t.Fatal(err)
			}
		}},
		{"Execute success, custom classifier", Config{Classifier: fusebox.DefaultClassifier}, nil, func(t *testing.T, b *Breaker) {
			if err := b.Execute(ctx, okFn); err != nil {
				t.Fatal(err)
			}
		}},
		{"Allow+Done, time window", Config{}, nil, func(t *testing.T, b *Breaker) {
			p, err := b.Allow()
			if err != nil {
				t.Fatal(err)
			}
			p.Done(fusebox.Success)
		}},
		{"Allow+Done, count window", Config{Window: CountWindow}, nil, func(t *testing.T, b *Breaker) {
			p, err := b.Allow()
			if err != nil {
				t.Fatal(err)
			}
			p.Done(fusebox.Success)
		}},
		{"Execute rejected while open", Config{}, (*Breaker).Trip, func(t *testing.T, b *Breaker) {
			if err := b.Execute(ctx, okFn); !errors.Is(err, ErrOpen) {
				t.Fatal(err)
			}
		}},
		{"Execute rejected while forced open", Config{}, (*Breaker).ForceOpen, func(t *testing.T, b *Breaker) {
			if err := b.Execute(ctx, okFn); !errors.Is(err, ErrOpen) {
				t.Fatal(err)
			}
		}},
		{"Do[int] success", Config{}, nil, func(t *testing.T, b *Breaker) {
			if v, err := Do(ctx, b, intFn); v != 1 || err != nil {
				t.Fatal(v, err)
			}
		}},
		{"Do[int] rejected", Config{}, (*Breaker).Trip, func(t *testing.T, b *Breaker) {
			if _, err := Do(ctx, b, intFn); !errors.Is(err, ErrOpen) {
				t.Fatal(err)
			}
		}},
		{"Run success", Config{}, nil, func(t *testing.T, b *Breaker) {
			if err := b.Run(ctx, fusebox.NextFunc(okFn)); err != nil {
				t.Fatal(err)
			}
		}},
		{"Execute disabled", Config{}, (*Breaker).Disable, func(t *testing.T, b *Breaker) {
			if err := b.Execute(ctx, okFn); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, _ := mustNew(t, tt.cfg)
			if tt.setup != nil {
				tt.setup(b)
			}
			tt.call(t, b) // warm up: lazily made errors and the like
			if n := testing.AllocsPerRun(1000, func() { tt.call(t, b) }); n != 0 {
				t.Errorf("%v allocations per call, want 0", n)
			}
		})
	}
}

// A pipeline around the breaker adds no allocation either.
func TestZeroAllocsPipeline(t *testing.T) {
	b, _ := mustNew(t, Config{})
	p, err := fusebox.New(b)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if n := testing.AllocsPerRun(1000, func() { _ = p.Run(ctx, okFn) }); n != 0 {
		t.Errorf("pipeline Run: %v allocations per call, want 0", n)
	}
}

// Bytes per breaker with a zero Config (time window, 10 buckets). The lead
// aims at a kibibyte at most.
func TestMemoryPerBreaker(t *testing.T) {
	const n = 1000
	clk := newFake()
	bs := make([]*Breaker, n)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range bs {
		b, err := New(Config{Clock: clk})
		if err != nil {
			t.Fatal(err)
		}
		bs[i] = b
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / n
	runtime.KeepAlive(bs)
	t.Logf("%d bytes per breaker with Config{} (time window, %d buckets)", per, DefaultWindowBuckets)
	if per > 1024 {
		t.Errorf("%d bytes per breaker, want at most 1024", per)
	}

	// For information: what a first opening adds (the open error; the
	// rejection counter is a word of the breaker, whatever GOMAXPROCS).
	runtime.GC()
	runtime.ReadMemStats(&before)
	for _, b := range bs {
		b.Trip()
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	t.Logf("a first Trip adds %d bytes per breaker (GOMAXPROCS %d)",
		(int64(after.HeapAlloc)-int64(before.HeapAlloc))/n, runtime.GOMAXPROCS(0))
	runtime.KeepAlive(bs)
}
