package clock_test

import (
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/internal/testwait"
)

func TestNewCoarse(t *testing.T) {
	tests := []struct {
		name       string
		base       clock.Clock
		resolution time.Duration
		wantErr    []string // substrings of the error; nil for success
		wantRes    time.Duration
	}{
		{"negative", nil, -5 * time.Millisecond, []string{"clock:", "resolution", "-5ms", "negative", "default 1ms"}, 0},
		{"minus one ns", clock.Real(), -1, []string{"-1ns"}, 0},
		{"zero means default", nil, 0, nil, clock.DefaultResolution},
		{"explicit", clock.Real(), 7 * time.Millisecond, nil, 7 * time.Millisecond},
		{"one ns", clock.Real(), 1, nil, 1},
		{"fake base", clock.NewFake(time.Time{}), 0, nil, clock.DefaultResolution},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := clock.NewCoarse(tt.base, tt.resolution)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("NewCoarse(%v) = %v, nil; want an error", tt.resolution, c)
				}
				if c != nil {
					t.Errorf("NewCoarse returned a clock with the error %q", err)
				}
				for _, sub := range tt.wantErr {
					if !strings.Contains(err.Error(), sub) {
						t.Errorf("error %q does not contain %q", err, sub)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("NewCoarse(%v): %v", tt.resolution, err)
			}
			if got := c.Resolution(); got != tt.wantRes {
				t.Errorf("Resolution() = %v, want %v", got, tt.wantRes)
			}
			if c.Running() {
				t.Error("Running() = true before the first read")
			}
		})
	}
}

func TestNewCoarseNilBaseIsReal(t *testing.T) {
	c, err := clock.NewCoarse(nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	now := c.Now()
	if now.Before(before) || now.Sub(before) > time.Minute {
		t.Fatalf("Now() = %v, want the real time (about %v)", now, before)
	}
	if n, r := c.Nanotime(), clock.Real().Nanotime(); n > r {
		t.Fatalf("Nanotime() = %d ahead of the real clock's %d", n, r)
	}
}

// TestCoarseFakeBasePassthrough: over a Fake, Coarse reads the fake directly
// (no goroutine, no lag), and its timers are the fake's.
func TestCoarseFakeBasePassthrough(t *testing.T) {
	f := clock.NewFake(time.Time{})
	c, err := clock.NewCoarse(f, time.Hour) // a resolution that would show any caching
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []time.Duration{0, 1, time.Millisecond, 3 * time.Hour} {
		f.Advance(step)
		if got, want := c.Nanotime(), f.Nanotime(); got != want {
			t.Errorf("after Advance(%v): Coarse.Nanotime() = %d, want the fake's %d", step, got, want)
		}
		if got, want := c.Now(), f.Now(); !got.Equal(want) {
			t.Errorf("after Advance(%v): Coarse.Now() = %v, want %v", step, got, want)
		}
	}
	f.Set(epoch.Add(-time.Second))
	if got := c.Nanotime(); got != int64(-time.Second) {
		t.Errorf("after a backwards Set: Nanotime() = %d, want %d", got, int64(-time.Second))
	}
	if c.Running() {
		t.Error("Running() = true over a Fake base, want no goroutine")
	}

	var ran bool
	c.AfterFunc(time.Second, func() { ran = true })
	tm := c.NewTimer(2 * time.Second)
	if n := f.Timers(); n != 2 {
		t.Fatalf("fake Timers() = %d, want 2: Coarse timers must be the base's", n)
	}
	f.Advance(2 * time.Second)
	if !ran {
		t.Error("Coarse.AfterFunc did not run on the fake's Advance")
	}
	select {
	case <-tm.C():
	default:
		t.Error("Coarse.NewTimer did not fire on the fake's Advance")
	}
	c.Stop() // a no-op, and must not block
}

// TestCoarseTracksRealBase: over the real clock every reading is taken during
// the call: no earlier than the base's reading before it, no later than the
// base's reading after it, and monotonic. Readers sleep between readings, so
// the calls land at all phases of the scheduler's work.
func TestCoarseTracksRealBase(t *testing.T) {
	base := clock.Real()
	for _, res := range []time.Duration{0, time.Nanosecond, time.Hour} {
		c, err := clock.NewCoarse(base, res)
		if err != nil {
			t.Fatal(err)
		}
		prev := int64(-1 << 63)
		for range 50 {
			b0 := base.Nanotime()
			v := c.Nanotime()
			b1 := base.Nanotime()
			if v < prev {
				t.Fatalf("resolution %v: went backwards: %d after %d", res, v, prev)
			}
			if v < b0 || v > b1 {
				t.Fatalf("resolution %v: reading %d outside the base's readings around the call, %d and %d", res, v, b0, b1)
			}
			prev = v
			time.Sleep(100 * time.Microsecond)
		}
	}
}

// TestCoarseRunsNoGoroutine: Nanotime starts nothing, so there is nothing for
// Running to report or for Stop to end, before or after reads, and Stop may
// be called any number of times.
func TestCoarseRunsNoGoroutine(t *testing.T) {
	before := runtime.NumGoroutine()
	c, err := clock.NewCoarse(clock.Real(), time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	c.Stop()
	r1 := c.Nanotime()
	_ = clock.Default().Nanotime()
	if c.Running() || clock.Default().Running() {
		t.Fatal("Running() = true after a read")
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after reads, %d before: a read started one", n, before)
	}
	testwait.Within(t, "Stop", c.Stop)
	testwait.Within(t, "a second Stop", c.Stop)
	time.Sleep(time.Millisecond)
	if r2 := c.Nanotime(); r2 <= r1 {
		t.Fatalf("reading after Stop and a sleep %d not after the one before %d", r2, r1)
	}
}

func TestCoarseNanotimeAllocs(t *testing.T) {
	c, err := clock.NewCoarse(clock.Real(), time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*clock.Coarse{"NewCoarse": c, "Default": clock.Default(), "Cached(custom)": clock.Cached(stepClock{Fake: clock.NewFake(time.Time{})})} {
		if n := testing.AllocsPerRun(1000, func() { _ = c.Nanotime() }); n != 0 {
			t.Errorf("%s: Coarse.Nanotime allocates %v times per call, want 0", name, n)
		}
	}
	f := clock.NewFake(time.Time{})
	cf, err := clock.NewCoarse(f, 0)
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(1000, func() { _ = cf.Nanotime() }); n != 0 {
		t.Errorf("Coarse.Nanotime over a Fake allocates %v times per call, want 0", n)
	}
}

// TestCoarseConcurrent: readers on many goroutines each see a monotonic
// reading; run with -race.
func TestCoarseConcurrent(t *testing.T) {
	c, err := clock.NewCoarse(clock.Real(), 100*time.Microsecond)
	if err != nil {
		t.Fatal(err)
	}
	var readers sync.WaitGroup
	for range 8 {
		readers.Go(func() {
			prev := c.Nanotime()
			for range 20000 {
				v := c.Nanotime()
				if v < prev {
					t.Errorf("went backwards: %d after %d", v, prev)
					return
				}
				prev = v
			}
		})
	}
	readers.Wait()
}

func TestDefault(t *testing.T) {
	d := clock.Default()
	if d != clock.Default() {
		t.Fatal("Default() returned two different clocks")
	}
	if d.Resolution() != clock.DefaultResolution {
		t.Errorf("Default().Resolution() = %v, want %v", d.Resolution(), clock.DefaultResolution)
	}
	if n, r := d.Nanotime(), clock.Real().Nanotime(); n > r {
		t.Errorf("Default().Nanotime() = %d ahead of the real clock's %d", n, r)
	}
}

// BenchmarkNanotime compares, in one run, the readings a hot path can take:
//
//   - Coarse: Coarse.Nanotime over the real clock, a direct call that reads
//     the monotonic clock;
//   - refreshed: the earlier Coarse clock's hot path (refreshed below), an
//     atomic load of a reading a goroutine refreshes every millisecond, kept
//     to show what the bound on the lag costs;
//   - timeNow: time.Now, what a limiter calling the time package pays.
func BenchmarkNanotime(b *testing.B) {
	c, err := clock.NewCoarse(nil, 0)
	if err != nil {
		b.Fatal(err)
	}
	r := startRefreshed(clock.DefaultResolution)
	defer r.stop()
	b.Run("Coarse/single", func(b *testing.B) {
		b.ReportAllocs()
		var s int64
		for b.Loop() {
			s += c.Nanotime()
		}
		sink = s
	})
	b.Run("Coarse/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			var s int64
			for pb.Next() {
				s += c.Nanotime()
			}
			if s == 42 {
				sink = s
			}
		})
	})
	b.Run("refreshed/single", func(b *testing.B) {
		b.ReportAllocs()
		var s int64
		for b.Loop() {
			s += r.Nanotime()
		}
		sink = s
	})
	b.Run("refreshed/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			var s int64
			for pb.Next() {
				s += r.Nanotime()
			}
			if s == 42 {
				sink = s
			}
		})
	})
	b.Run("timeNow/single", func(b *testing.B) {
		b.ReportAllocs()
		var s int64
		for b.Loop() {
			s += time.Now().UnixNano()
		}
		sink = s
	})
	b.Run("timeNow/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			var s int64
			for pb.Next() {
				s += time.Now().UnixNano()
			}
			if s == 42 {
				sink = s
			}
		})
	})
}

var sink int64

// refreshed is the hot path of the Coarse clock of earlier versions, for
// BenchmarkNanotime: a reading a goroutine refreshes every resolution, read
// with one atomic load while the clock is marked read, and a compare-and-swap
// to mark it read again after each refresh (which told that goroutine it was
// still needed). It lags without bound when the goroutine cannot run.
type refreshed struct {
	now   atomic.Int64
	state atomic.Int32 // refreshedIdle or refreshedRead
	quit  chan struct{}
	done  chan struct{}
}

const (
	refreshedIdle int32 = iota + 1
	refreshedRead
)

func startRefreshed(resolution time.Duration) *refreshed {
	r := &refreshed{quit: make(chan struct{}), done: make(chan struct{})}
	base := clock.Real()
	r.now.Store(base.Nanotime())
	r.state.Store(refreshedRead)
	go func() {
		defer close(r.done)
		t := time.NewTicker(resolution)
		defer t.Stop()
		for {
			select {
			case <-r.quit:
				return
			case <-t.C:
			}
			r.now.Store(base.Nanotime())
			r.state.CompareAndSwap(refreshedRead, refreshedIdle)
		}
	}()
	return r
}

func (r *refreshed) Nanotime() int64 {
	if r.state.Load() == refreshedRead {
		return r.now.Load()
	}
	r.state.CompareAndSwap(refreshedIdle, refreshedRead)
	return r.now.Load()
}

func (r *refreshed) stop() {
	close(r.quit)
	<-r.done
}

func TestCachedPicksTheDirectReader(t *testing.T) {
	if clock.Cached(nil) != clock.Default() || clock.Cached(clock.Real()) != clock.Default() {
		t.Fatal("Cached(nil) and Cached(Real()) should be the default coarse clock")
	}
	c, err := clock.NewCoarse(nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if clock.Cached(c) != c {
		t.Fatal("Cached(*Coarse) should be the clock itself")
	}
	f := clock.NewFake(time.Time{})
	cf := clock.Cached(f)
	if cf != clock.Cached(f) {
		t.Fatal("Cached(fake) should be the same Coarse every time")
	}
	f.Advance(time.Second)
	if got := cf.Nanotime(); got != int64(time.Second) {
		t.Fatalf("Cached(fake).Nanotime() = %v after Advance(1s), want 1s: it must read the fake directly", got)
	}
	custom := stepClock{Fake: f}
	if got := clock.Cached(custom).Nanotime(); got != f.Nanotime()+7 {
		t.Fatalf("Cached(custom).Nanotime() = %d, want the custom clock's own reading %d", got, f.Nanotime()+7)
	}
}

// stepClock is a custom Clock whose readings differ from its base's.
type stepClock struct{ *clock.Fake }

func (s stepClock) Nanotime() int64 { return s.Fake.Nanotime() + 7 }
