package ratelimit

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/internal/testwait"
)

const ms = int64(time.Millisecond)

func newFake() *clock.Fake { return clock.NewFake(time.Time{}) }

func mustBucket(t testing.TB, c Config) *Bucket {
	t.Helper()
	b, err := New(c)
	if err != nil {
		t.Fatalf("New(%+v): %v", c, err)
	}
	return b
}

func TestNewValidation(t *testing.T) {
	bad := []struct {
		c    Config
		want string
	}{
		{Config{}, "Rate 0 out of range"},
		{Config{Rate: -1}, "Rate -1 out of range"},
		{Config{Rate: math.NaN()}, "Rate NaN out of range"},
		{Config{Rate: math.Inf(1)}, "Rate +Inf out of range"},
		{Config{Rate: 2e9}, "Rate 2e+09 out of range"},
		{Config{Rate: 1e-12}, "Rate 1e-12 out of range"},
		{Config{Rate: 10, Burst: -1}, "Burst -1 out of range: want 0 (default ceil(Rate) = 10) to"},
		// Burst × token interval must fit 2^62 ns: 4.6e6 tokens at 1/ms
		// (math.MaxInt at 1e9/s, which a 32-bit int cannot exceed).
		{Config{Rate: 0.001, Burst: math.MaxInt32}, "Burst 2147483647 out of range: want 0 (default ceil(Rate) = 1) to 4611686"},
		{Config{Rate: 10, MaxWait: -time.Second}, "MaxWait -1s out of range"},
		{Config{Rate: 10, MaxWait: time.Second}, "MaxWait 1s set without Wait"},
	}
	for _, tc := range bad {
		b, err := New(tc.c)
		if err == nil || b != nil || !strings.HasPrefix(err.Error(), "ratelimit: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, %v; want an error containing %q", tc.c, b, err, tc.want)
		}
	}
	good := []struct {
		c     Config
		burst int
	}{
		{Config{Rate: 10}, 10},
		{Config{Rate: 2.5}, 3},
		{Config{Rate: 0.1}, 1},
		{Config{Rate: 1e9}, 1e9},
		{Config{Rate: 3e-10}, 1},
		{Config{Rate: 5, Burst: 1, Wait: true, MaxWait: time.Second}, 1},
	}
	for _, tc := range good {
		b := mustBucket(t, Config{Rate: tc.c.Rate, Burst: tc.c.Burst, Wait: tc.c.Wait, MaxWait: tc.c.MaxWait, Clock: newFake()})
		if b.Burst() != tc.burst || b.Rate() != tc.c.Rate {
			t.Errorf("New(%+v): rate %v burst %d, want burst %d", tc.c, b.Rate(), b.Burst(), tc.burst)
		}
		if tok := b.Tokens(); tok != float64(tc.burst) {
			t.Errorf("New(%+v): starts with %v tokens, want full", tc.c, tok)
		}
	}
}

func TestBucketSteps(t *testing.T) {
	// 10 tokens per second: one per 100ms; 3 at most.
	b := mustBucket(t, Config{Rate: 10, Burst: 3, Clock: newFake()})
	steps := []struct {
		at   int64 // ms since start
		n    int
		want bool
	}{
		{0, 1, true}, {0, 1, true}, {0, 1, true}, {0, 1, false}, // burst
		{99, 1, false}, {100, 1, true}, {100, 1, false}, // one token per 100ms
		{350, 3, false}, {350, 2, true}, {350, 1, false}, // 2.5 tokens: 2 whole
		{399, 1, false}, {400, 1, true}, {450, 1, false}, // the half token completes at 400
		{5000, 4, false}, {5000, 3, true}, // never more than Burst
		{5000, 0, true}, {5000, -1, false},
	}
	for i, s := range steps {
		if got := b.allowAt(s.at*ms, s.n); got != s.want {
			t.Fatalf("step %d: AllowN(%d) at %dms = %v, want %v", i, s.n, s.at, got, s.want)
		}
	}
	snap := b.Snapshot()
	if snap.Allowed != 7 || snap.Rejected != 9 {
		t.Fatalf("Snapshot = %+v, want 7 allowed, 9 rejected (AllowN(0) counts as neither)", snap)
	}
}

// refBucket is a plain token bucket in integer form: credit is the
// nanoseconds' worth of tokens saved, at most burst×interval.
type refBucket struct {
	credit, last, interval, capacity int64
}

func (r *refBucket) allow(now int64, n int) bool {
	if now > r.last {
		r.credit = min(r.capacity, r.credit+now-r.last)
		r.last = now
	}
	cost := int64(n) * r.interval
	if n < 0 || cost > r.credit {
		return n == 0
	}
	r.credit -= cost
	return true
}

// TestBucketMatchesReference drives the GCRA bucket and a reference token
// bucket with the same random calls.
func TestBucketMatchesReference(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 1))
		rate := []float64{1, 8, 1000, 0.5}[seed%4]
		burst := 1 + rng.IntN(6)
		b := mustBucket(t, Config{Rate: rate, Burst: burst, Clock: newFake()})
		ref := &refBucket{interval: b.g.interval, capacity: b.g.tau, credit: b.g.tau}
		now := int64(0)
		for i := range 2000 {
			now += rng.Int64N(2 * b.g.interval)
			n := rng.IntN(burst + 2)
			want := ref.allow(now, n)
			if got := b.allowAt(now, n); got != want {
				t.Fatalf("seed %d, call %d: AllowN(%d) at %v = %v, reference says %v", seed, i, n, time.Duration(now), got, want)
			}
			if got, want := b.g.tokens(b.tat.Load(), now), float64(ref.credit)/float64(ref.interval); math.Abs(got-want) > 1e-9 {
				t.Fatalf("seed %d, call %d: %v tokens, reference has %v", seed, i, got, want)
			}
		}
	}
}

func TestBucketTokens(t *testing.T) {
	clk := newFake()
	b := mustBucket(t, Config{Rate: 4, Burst: 4, Clock: clk})
	b.AllowN(3)
	if got := b.Tokens(); got != 1 {
		t.Fatalf("Tokens = %v, want 1", got)
	}
	clk.Advance(125 * time.Millisecond)
	if got := b.Tokens(); got != 1.5 {
		t.Fatalf("Tokens = %v, want 1.5", got)
	}
	r := b.ReserveN(3)
	if !r.OK || r.Delay != 375*time.Millisecond {
		t.Fatalf("ReserveN(3) = %+v, want OK after 375ms", r)
	}
	if got := b.Tokens(); got != -1.5 {
		t.Fatalf("Tokens after reserving ahead = %v, want -1.5", got)
	}
}

func TestReserveAndCancel(t *testing.T) {
	const sec = int64(time.Second)
	b := mustBucket(t, Config{Rate: 1, Burst: 2, Clock: newFake()})
	r1 := b.reserveAt(0, 2, -1)
	if !r1.OK || r1.Delay != 0 {
		t.Fatalf("first reservation %+v, want OK at once", r1)
	}
	r2 := b.reserveAt(0, 1, -1)
	if !r2.OK || r2.Delay != time.Second {
		t.Fatalf("second reservation %+v, want OK after 1s", r2)
	}
	// Cancelled before its time: the token comes back.
	r2.cancelAt(sec / 2)
	if got := b.g.tokens(b.tat.Load(), sec/2); got != 0.5 {
		t.Fatalf("tokens after cancel = %v, want 0.5", got)
	}
	r2.cancelAt(sec / 2) // a second Cancel does nothing
	if got := b.g.tokens(b.tat.Load(), sec/2); got != 0.5 {
		t.Fatalf("tokens after a second cancel = %v, want 0.5", got)
	}
	// Cancelled after its time to act: nothing comes back.
	r1.cancelAt(sec)
	if got := b.g.tokens(b.tat.Load(), sec); got != 1 {
		t.Fatalf("tokens after a late cancel = %v, want 1", got)
	}
	// A reservation followed by another gives back only what was not
	// taken after it.
	r3 := b.reserveAt(sec, 2, -1) // 1 token now, 1 in a second
	r4 := b.reserveAt(sec, 1, -1)
	if r3.Delay != time.Second || r4.Delay != 2*time.Second {
		t.Fatalf("delays %v, %v", r3.Delay, r4.Delay)
	}
	before := b.tat.Load()
	r3.cancelAt(sec)
	if b.tat.Load() != before-b.g.interval {
		t.Fatalf("cancel gave back %v, want one token's worth", time.Duration(before-b.tat.Load()))
	}
	// Beyond Burst: never OK; maxDelay: not OK and nothing taken.
	if r := b.ReserveN(3); r.OK {
		t.Fatalf("ReserveN beyond Burst: %+v", r)
	}
	before = b.tat.Load()
	if r := b.reserveAt(sec, 1, int64(time.Second)); r.OK || r.Delay != 2*time.Second || b.tat.Load() != before {
		t.Fatalf("reservation beyond maxDelay: %+v", r)
	}
	var zero Reservation
	zero.Cancel()
}

func TestWait(t *testing.T) {
	// Fake time starts at the real time so that contexts with deadlines
	// (real time) mean the same to the bucket.
	clk := clock.NewFake(time.Now())
	b := mustBucket(t, Config{Rate: 1.0 / 3600, Burst: 1, Clock: clk}) // one per hour
	ctx := context.Background()
	if err := b.Wait(ctx); err != nil {
		t.Fatalf("Wait on a full bucket: %v", err)
	}

	// The next token is an hour away: a 30-minute deadline fails at once,
	// taking nothing.
	short, cancel := context.WithDeadline(ctx, clk.Now().Add(30*time.Minute))
	defer cancel()
	if err := b.Wait(short); err != ErrRateLimited {
		t.Fatalf("Wait past the deadline: %v, want ErrRateLimited", err)
	}
	if tok := b.Tokens(); tok != 0 {
		t.Fatalf("a failed Wait took tokens: %v left", tok)
	}

	// A long enough deadline waits for the token.
	long, cancel2 := context.WithDeadline(ctx, clk.Now().Add(2*time.Hour))
	defer cancel2()
	done := make(chan error, 1)
	go func() { done <- b.Wait(long) }()
	testwait.Timers(t, clk, 1, "Wait's timer for the token")
	clk.Advance(time.Hour - time.Second)
	select {
	case err := <-done:
		t.Fatalf("Wait returned early: %v", err)
	default:
	}
	clk.Advance(time.Second)
	if err := <-done; err != nil {
		t.Fatalf("Wait: %v", err)
	}

	// Canceled while waiting: the context's error, and the token back.
	cctx, cancel3 := context.WithCancel(ctx)
	go func() { done <- b.Wait(cctx) }()
	testwait.Timers(t, clk, 1, "Wait's timer for the token")
	cancel3()
	if err := <-done; err != context.Canceled {
		t.Fatalf("canceled Wait: %v", err)
	}
	if tok := b.Tokens(); tok != 0 {
		t.Fatalf("canceled Wait kept its token: %v tokens", tok)
	}
	if clk.Timers() != 0 {
		t.Fatalf("%d timers left", clk.Timers())
	}
	if err := b.WaitN(ctx, 2); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("WaitN beyond Burst: %v", err)
	}
	if err := b.Wait(cctx); err != context.Canceled {
		t.Fatalf("Wait with a done context: %v", err)
	}
}

func TestRunRejects(t *testing.T) {
	b := mustBucket(t, Config{Rate: 1, Burst: 2, Clock: newFake()})
	p, err := fusebox.New(b)
	if err != nil {
		t.Fatal(err)
	}
	ran := 0
	fn := func(context.Context) error { ran++; return nil }
	for range 2 {
		if err := p.Run(context.Background(), fn); err != nil {
			t.Fatalf("Run: %v", err)
		}
	}
	err = p.Run(context.Background(), fn)
	if err != ErrRateLimited || !errors.Is(err, fusebox.ErrRateLimited) {
		t.Fatalf("Run on an empty bucket: %v", err)
	}
	if ran != 2 {
		t.Fatalf("fn ran %d times, want 2", ran)
	}
	errDep := errors.New("dependency")
	b2 := mustBucket(t, Config{Rate: 1, Clock: newFake()})
	if err := b2.Execute(context.Background(), func(context.Context) error { return errDep }); err != errDep {
		t.Fatalf("Execute: %v, want the function's error", err)
	}
}

func TestRunWaits(t *testing.T) {
	clk := newFake()
	b := mustBucket(t, Config{Rate: 10, Burst: 1, Wait: true, MaxWait: 150 * time.Millisecond, Clock: clk})
	ctx := context.Background()
	fn := func(context.Context) error { return nil }
	if err := b.Execute(ctx, fn); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- b.Execute(ctx, fn) }() // waits 100ms
	testwait.Timers(t, clk, 1, "the waiting call's timer")
	// Another call would wait 200ms, beyond MaxWait: rejected at once.
	if err := b.Execute(ctx, fn); err != ErrRateLimited {
		t.Fatalf("Execute beyond MaxWait: %v", err)
	}
	clk.Advance(100 * time.Millisecond)
	if err := <-done; err != nil {
		t.Fatalf("waiting Execute: %v", err)
	}
	if s := b.Snapshot(); s.Allowed != 2 || s.Rejected != 1 {
		t.Fatalf("Snapshot = %+v", s)
	}
}

func TestBucketAllocatesNothing(t *testing.T) {
	b := mustBucket(t, Config{Rate: 1e6, Burst: 1000, Clock: newFake()})
	ctx := context.Background()
	fn := func(context.Context) error { return nil }
	checks := map[string]func(){
		"Allow":   func() { b.Allow() },
		"AllowN":  func() { b.AllowN(2) },
		"Execute": func() { _ = b.Execute(ctx, fn) },
		"Reserve": func() { r := b.Reserve(); r.Cancel() },
		"Tokens":  func() { b.Tokens() },
	}
	for name, f := range checks {
		if n := testing.AllocsPerRun(500, f); n != 0 {
			t.Errorf("%s allocates %v times per call", name, n)
		}
	}
	empty := mustBucket(t, Config{Rate: 1, Burst: 1, Clock: newFake()})
	empty.Allow()
	if n := testing.AllocsPerRun(500, func() { _ = empty.Execute(ctx, fn) }); n != 0 {
		t.Errorf("a rejection allocates %v times per call", n)
	}
	waiter := mustBucket(t, Config{Rate: 1e6, Burst: 1000, Wait: true, Clock: newFake()})
	if n := testing.AllocsPerRun(500, func() { _ = waiter.Execute(ctx, fn) }); n != 0 {
		t.Errorf("a waiting Run with a token at hand allocates %v times per call", n)
	}
}

// hammer runs goroutines that call try until stop, counting successes per
// index, while drive moves the clock.
func hammer(goroutines int, try func(g, i int) (idx int, ok bool), counts []atomic.Int64, drive func()) {
	var stop atomic.Bool
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				if idx, ok := try(g, i); ok {
					counts[idx].Add(1)
				} else {
					runtime.Gosched()
				}
			}
		}()
	}
	drive()
	stop.Store(true)
	wg.Wait()
}

// TestBucketAccuracyUnderContention: 16 goroutines take tokens as fast as
// they can while time moves in 10ms steps over 5s. They may get at most
// Rate×P + Burst tokens, and since they keep trying, nearly that many.
func TestBucketAccuracyUnderContention(t *testing.T) {
	const (
		rate   = 1000.0
		burst  = 20
		period = 5 * time.Second
		step   = 10 * time.Millisecond
	)
	clk := newFake()
	b := mustBucket(t, Config{Rate: rate, Burst: burst, Clock: clk})
	counts := make([]atomic.Int64, 1)
	drained := func() bool { return b.Tokens() < 1 }
	hammer(16, func(int, int) (int, bool) { return 0, b.Allow() }, counts, func() {
		for elapsed := time.Duration(0); elapsed < period; elapsed += step {
			testwait.Spin(t, "the bucket to drain", drained)
			clk.Advance(step)
		}
		testwait.Spin(t, "the bucket to drain", drained)
	})
	got := counts[0].Load()
	upper := int64(rate*period.Seconds()) + burst
	if got > upper || float64(got) < 0.9*rate*period.Seconds() {
		t.Fatalf("granted %d tokens over %v; want at most %d and at least 90%% of %v", got, period, upper, rate*period.Seconds())
	}
	if s := b.Snapshot(); s.Allowed != uint64(got) {
		t.Fatalf("Snapshot.Allowed = %d, counted %d", s.Allowed, got)
	}
}

// highRates are rates whose token interval is a few nanoseconds and not a
// whole number of them, where rounding the interval matters most.
var highRates = []float64{9.9e8, 6.7e8, 2.9e8, 1.5e8, 1e9 / 7, 3.3e7}

// checkNeverOverRate sweeps a bucket of rate and burst, made full at 0,
// through every nanosecond of 30µs, taking every token it grants. It must
// grant at most rate×period+burst, and at least what Config.Rate documents:
// 1e9/ceil(1e9/rate) per second.
func checkNeverOverRate(t *testing.T, rate float64, burst int, allow func(now int64) bool) {
	t.Helper()
	const period = 30 * time.Microsecond
	granted := 0
	for now := int64(0); now <= int64(period); now++ {
		for allow(now) {
			granted++
		}
	}
	upper := rate*period.Seconds() + float64(burst)
	lower := 1e9/math.Ceil(1e9/rate)*period.Seconds() + float64(burst) - 1
	if float64(granted) > upper || float64(granted) < lower {
		t.Errorf("Rate %v, Burst %d: %d tokens granted in %v; want at most rate×period+burst = %.1f and at least %.1f", rate, burst, granted, period, upper, lower)
	}
}

// TestBucketNeverOverRateAtHighRates: the token interval was once rounded
// to the nearest nanosecond, so at 6.7e8/s (1.49ns, rounded to 1) the
// bucket granted 49% more than rate×period+burst.
func TestBucketNeverOverRateAtHighRates(t *testing.T) {
	for _, rate := range highRates {
		for _, burst := range []int{1, 5} {
			b := mustBucket(t, Config{Rate: rate, Burst: burst, Clock: newFake()})
			checkNeverOverRate(t, rate, burst, func(now int64) bool { return b.allowAt(now, 1) })
		}
	}
}

// TestTokenInterval pins the rounding Config.Rate documents: up, to the
// next whole nanosecond, except when 1e9/Rate is a whole number (even
// one that the division 1e9/Rate rounds past, as with 1e9/29).
func TestTokenInterval(t *testing.T) {
	tests := []struct {
		rate     float64
		interval int64
	}{
		{1e9, 1}, {9.9e8, 2}, {6.7e8, 2}, {5e8, 2}, {2.9e8, 4}, {1e8, 10},
		{1e9 / 7, 7}, {1e9 / 3, 3}, {1e9 / 29, 29}, {3.3e7, 31}, {1e6, 1000}, {999_999, 1001}, {1, 1e9},
	}
	for _, tt := range tests {
		g, err := newGCRA(tt.rate, 1)
		if err != nil {
			t.Fatal(err)
		}
		if g.interval != tt.interval {
			t.Errorf("Rate %v: interval %dns, want %dns", tt.rate, g.interval, tt.interval)
		}
	}
}

func BenchmarkBucketAllow(b *testing.B) {
	bk, _ := New(Config{Rate: 1e9, Burst: 1e9})
	b.Run("single", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			bk.Allow()
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				bk.Allow()
			}
		})
	})
	b.Run("rejected", func(b *testing.B) {
		empty, _ := New(Config{Rate: 1e-9, Burst: 1})
		empty.Allow()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				empty.Allow()
			}
		})
	})
}

func BenchmarkBucketExecute(b *testing.B) {
	bk, _ := New(Config{Rate: 1e9, Burst: 1e9})
	ctx := context.Background()
	fn := func(context.Context) error { return nil }
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = bk.Execute(ctx, fn)
		}
	})
}
