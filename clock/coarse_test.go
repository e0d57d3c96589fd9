package clock_test

import (
	"slices"
	"strings"
	"sync"
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
	defer c.Stop()
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

// TestCoarseTracksRealBase checks that readings are monotonic, never ahead of
// the base, and typically within a few resolutions behind it. The bound on
// the median lag, not the maximum, keeps the test stable on a loaded machine
// where the refresh goroutine may miss a tick or two.
func TestCoarseTracksRealBase(t *testing.T) {
	const res = 2 * time.Millisecond
	base := clock.Real()
	c, err := clock.NewCoarse(base, res)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()

	var lags []time.Duration
	prev := int64(-1 << 63)
	first := c.Nanotime()
	for range 100 {
		b0 := base.Nanotime()
		v := c.Nanotime()
		b1 := base.Nanotime()
		if v < prev {
			t.Fatalf("Coarse went backwards: %d after %d", v, prev)
		}
		prev = v
		if v > b1 {
			t.Fatalf("Coarse reading %d ahead of the base's later reading %d", v, b1)
		}
		lags = append(lags, time.Duration(b0-v))
		time.Sleep(res / 2)
	}
	slices.Sort(lags)
	if med := lags[len(lags)/2]; med > 3*res {
		t.Errorf("median lag behind the base = %v, want at most 3 resolutions (%v); lags %v", med, 3*res, lags)
	}
	if max := lags[len(lags)-1]; max > 500*time.Millisecond {
		t.Errorf("maximum lag = %v: the refresh goroutine stalled", max)
	}
	if prev-first < int64(50*time.Millisecond) {
		t.Errorf("Coarse advanced only %v over 100 sleeps of %v", time.Duration(prev-first), res/2)
	}
}

func TestCoarseLifecycle(t *testing.T) {
	c, err := clock.NewCoarse(clock.Real(), time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	c.Stop() // before any read: no goroutine, must not block
	if c.Running() {
		t.Fatal("Running() = true before the first read")
	}
	_ = c.Now() // not a Nanotime read: starts nothing
	if c.Running() {
		t.Fatal("Now() started the refresh goroutine")
	}

	r1 := c.Nanotime()
	if !c.Running() {
		t.Fatal("Running() = false after the first Nanotime")
	}
	c.Stop()
	if c.Running() {
		t.Fatal("Running() = true after Stop")
	}
	testwait.Within(t, "a second Stop", c.Stop)

	time.Sleep(2 * time.Millisecond)
	r2 := c.Nanotime()
	if !c.Running() {
		t.Fatal("Running() = false after a read following Stop: the clock did not restart")
	}
	if r2 <= r1 {
		t.Fatalf("reading after restart %d not after the one before Stop %d", r2, r1)
	}
	c.Stop()
}

// TestCoarseStopsWhenIdle: after some refreshes without a reader the
// goroutine exits by itself, and the next read starts it again.
func TestCoarseStopsWhenIdle(t *testing.T) {
	c, err := clock.NewCoarse(clock.Real(), time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	for round := range 2 {
		_ = c.Nanotime()
		if !c.Running() {
			t.Fatalf("round %d: Running() = false right after a read", round)
		}
		// 50 idle refreshes of 1ms: well under a second even when loaded.
		deadline := time.Now().Add(5 * time.Second)
		for c.Running() {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: still running 5s after the last read", round)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// TestCoarseKeepsRunningWhileRead: a clock read at least once per refresh
// must not stop by itself.
func TestCoarseKeepsRunningWhileRead(t *testing.T) {
	c, err := clock.NewCoarse(clock.Real(), 5*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	end := time.Now().Add(400 * time.Millisecond) // 80 refreshes > 50 idle ones
	prev := c.Nanotime()
	for time.Now().Before(end) {
		v := c.Nanotime()
		if !c.Running() {
			t.Fatal("stopped while being read")
		}
		if v < prev {
			t.Fatalf("went backwards: %d after %d", v, prev)
		}
		prev = v
		time.Sleep(time.Millisecond)
	}
}

func TestCoarseNanotimeAllocs(t *testing.T) {
	c, err := clock.NewCoarse(clock.Real(), time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	_ = c.Nanotime() // the start allocates the goroutine; AllocsPerRun warms up too
	if n := testing.AllocsPerRun(1000, func() { _ = c.Nanotime() }); n != 0 {
		t.Errorf("Coarse.Nanotime allocates %v times per call, want 0", n)
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

// TestCoarseConcurrent: readers on many goroutines, while another keeps
// stopping the clock (so reads keep restarting it), each see a monotonic
// reading; run with -race.
func TestCoarseConcurrent(t *testing.T) {
	c, err := clock.NewCoarse(clock.Real(), 100*time.Microsecond)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	stop := make(chan struct{})
	var stopper sync.WaitGroup
	stopper.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
				c.Stop()
				time.Sleep(200 * time.Microsecond)
			}
		}
	})
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
				_ = c.Running()
			}
		})
	}
	readers.Wait()
	close(stop)
	stopper.Wait()
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
	d.Stop() // leave no goroutine behind for goleak
}

func BenchmarkCoarseNanotime(b *testing.B) {
	c, err := clock.NewCoarse(clock.Real(), 0)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Stop()
	benchNanotime(b, c)
}

func BenchmarkRealNanotime(b *testing.B) {
	benchNanotime(b, clock.Real())
}

var sink int64

func benchNanotime(b *testing.B, c clock.Clock) {
	b.Run("single", func(b *testing.B) {
		b.ReportAllocs()
		var s int64
		for b.Loop() {
			s += c.Nanotime()
		}
		sink = s
	})
	b.Run("parallel", func(b *testing.B) {
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
