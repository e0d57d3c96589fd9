package ratelimit

import (
	"context"
	"math/big"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/internal/testwait"
)

func mustWindow(t testing.TB, c WindowConfig) *Window {
	t.Helper()
	w, err := NewWindow(c)
	if err != nil {
		t.Fatalf("NewWindow(%+v): %v", c, err)
	}
	return w
}

func TestNewWindowValidation(t *testing.T) {
	bad := []struct {
		c    WindowConfig
		want string
	}{
		{WindowConfig{}, "Limit 0 out of range: want 1 to"},
		{WindowConfig{Limit: -5}, "Limit -5 out of range"},
		{WindowConfig{Limit: 1, Window: -time.Second}, "Window -1s out of range: want 0 (default 1s) or more"},
	}
	for _, tc := range bad {
		w, err := NewWindow(tc.c)
		if err == nil || w != nil || !strings.HasPrefix(err.Error(), "ratelimit: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewWindow(%+v) = %v, %v; want an error containing %q", tc.c, w, err, tc.want)
		}
	}
	w := mustWindow(t, WindowConfig{Limit: 3, Clock: newFake()})
	if w.Width() != DefaultWindow || w.Limit() != 3 {
		t.Errorf("defaults: limit %d, window %v", w.Limit(), w.Width())
	}
}

func TestWindowSteps(t *testing.T) {
	w := mustWindow(t, WindowConfig{Limit: 10, Window: time.Second, Clock: newFake()})
	steps := []struct {
		at      int64 // ms
		allowed int   // how many calls in a row are allowed at that time
	}{
		{0, 10},    // a full window
		{999, 0},   // still the same window
		{1000, 0},  // the previous window's 10 still count in full
		{1500, 5},  // half of them count: room for 5
		{1800, 3},  // 5 + 10×0.2 = 7: room for 3
		{2000, 2},  // previous 8 count in full: room for 2
		{2250, 2},  // 2 + 8×0.75 = 8
		{5000, 10}, // two idle windows: nothing counts
	}
	for _, s := range steps {
		n := 0
		for w.allowAt(s.at * ms) {
			n++
			if n > 100 {
				break
			}
		}
		if n != s.allowed {
			t.Fatalf("at %dms: allowed %d calls, want %d", s.at, n, s.allowed)
		}
	}
	snap := w.Snapshot()
	if snap.Allowed != 32 || snap.Rejected != 8 {
		t.Fatalf("Snapshot = %+v", snap)
	}
}

func TestWindowStartBeforeOrigin(t *testing.T) {
	w := mustWindow(t, WindowConfig{Limit: 1, Window: time.Second, Clock: newFake()})
	cases := map[int64]int64{0: 0, 1500 * ms: 1000 * ms, -1: -1000 * ms, -1000 * ms: -1000 * ms, -1001 * ms: -2000 * ms}
	for now, want := range cases {
		if got := w.windowStart(now); got != want {
			t.Errorf("windowStart(%d) = %d, want %d", now, got, want)
		}
	}
}

// refWindow is the sliding-window estimate computed naively: a count per
// fixed window, and exact rational arithmetic.
type refWindow struct {
	limit, width int64
	counts       map[int64]int64
}

func (r *refWindow) allow(now int64) bool {
	idx := now / r.width
	elapsed := now - idx*r.width
	est := new(big.Rat).SetFrac64(r.counts[idx-1]*(r.width-elapsed), r.width)
	est.Add(est, big.NewRat(r.counts[idx]+1, 1))
	if est.Cmp(big.NewRat(r.limit, 1)) > 0 {
		return false
	}
	r.counts[idx]++
	return true
}

func TestWindowMatchesReference(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 2))
		limit := 1 + rng.IntN(20)
		width := int64(time.Duration(1+rng.IntN(1000)) * time.Millisecond)
		w := mustWindow(t, WindowConfig{Limit: limit, Window: time.Duration(width), Clock: newFake()})
		ref := &refWindow{limit: int64(limit), width: width, counts: map[int64]int64{}}
		now := int64(0)
		for i := range 3000 {
			now += rng.Int64N(width / int64(limit) * 2)
			if rng.IntN(50) == 0 {
				now += rng.Int64N(3 * width) // an idle spell
			}
			if got, want := w.allowAt(now), ref.allow(now); got != want {
				t.Fatalf("seed %d, call %d at %v (limit %d per %v): Allow = %v, reference says %v", seed, i, time.Duration(now), limit, time.Duration(width), got, want)
			}
		}
	}
}

func TestWindowRun(t *testing.T) {
	clk := newFake()
	w := mustWindow(t, WindowConfig{Limit: 2, Window: time.Minute, Clock: clk})
	p, err := fusebox.New(w)
	if err != nil {
		t.Fatal(err)
	}
	ran := 0
	fn := func(context.Context) error { ran++; return nil }
	for i, want := range []error{nil, nil, ErrRateLimited} {
		if err := p.Run(context.Background(), fn); err != want {
			t.Fatalf("call %d: %v, want %v", i, err, want)
		}
	}
	if ran != 2 {
		t.Fatalf("ran %d times", ran)
	}
	clk.Advance(90 * time.Second) // half of the previous window counts
	if err := w.Execute(context.Background(), fn); err != nil {
		t.Fatalf("Execute: %v", err)
	}
	if s := w.Snapshot(); s.Estimate != 2 || s.Allowed != 3 || s.Rejected != 1 {
		t.Fatalf("Snapshot = %+v", s)
	}
}

func TestWindowAllocatesNothing(t *testing.T) {
	w := mustWindow(t, WindowConfig{Limit: 1 << 30, Clock: newFake()})
	fn := func(context.Context) error { return nil }
	if n := testing.AllocsPerRun(1000, func() { w.Allow() }); n != 0 {
		t.Errorf("Allow allocates %v times per call", n)
	}
	if n := testing.AllocsPerRun(1000, func() { _ = w.Execute(context.Background(), fn) }); n != 0 {
		t.Errorf("Execute allocates %v times per call", n)
	}
}

// TestWindowAccuracyUnderContention: 16 goroutines call Allow as fast as
// they can while time moves in 10ms steps over 5 windows. No fixed window
// may admit more than Limit, and since they keep trying, the sliding
// estimate lets nearly Limit through per window.
func TestWindowAccuracyUnderContention(t *testing.T) {
	const (
		limit  = 200
		width  = time.Second
		period = 5 * time.Second
		step   = 10 * time.Millisecond
	)
	clk := newFake()
	w := mustWindow(t, WindowConfig{Limit: limit, Window: width, Clock: clk})
	counts := make([]atomic.Int64, 1)
	perWindow := make([]atomic.Int64, int(period/width)+1)
	full := func() bool {
		now := clk.Nanotime()
		s := w.cur.Load()
		c := s.count.Load()
		return s.start == w.windowStart(now) && c&sealed == 0 && !w.fits(s.prev, c, now-s.start)
	}
	hammer(16, func(int, int) (int, bool) {
		now := clk.Nanotime()
		if w.allowAt(now) {
			perWindow[now/int64(width)].Add(1)
			return 0, true
		}
		return 0, false
	}, counts, func() {
		for elapsed := time.Duration(0); elapsed < period; elapsed += step {
			testwait.Spin(t, "the window to fill", full)
			clk.Advance(step)
		}
	})
	for i := range perWindow {
		if n := perWindow[i].Load(); n > limit {
			t.Fatalf("window %d admitted %d calls, limit %d", i, n, limit)
		}
	}
	// The last Advance reaches the start of one more window, which may
	// admit a few calls before the goroutines stop: hence + limit.
	got := counts[0].Load()
	ideal := float64(limit) * float64(period/width)
	if float64(got) > ideal+limit || float64(got) < 0.9*ideal {
		t.Fatalf("admitted %d calls over %v; want at most %v and at least 90%% of %v", got, period, ideal+limit, ideal)
	}
}

func BenchmarkWindowAllow(b *testing.B) {
	w, _ := NewWindow(WindowConfig{Limit: 1 << 30, Window: time.Hour}) // never the limit; fits a 32-bit int
	b.Run("single", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			w.Allow()
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				w.Allow()
			}
		})
	})
}
