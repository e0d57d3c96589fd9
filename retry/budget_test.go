package retry_test

import (
	"context"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/retry"
)

func TestNewBudgetRejectsBadConfig(t *testing.T) {
	tests := []struct {
		c    retry.BudgetConfig
		want string
	}{
		{retry.BudgetConfig{Ratio: -0.1}, "retry: Ratio -0.1 out of range: want 0 (default 0.2) or a finite number above 0"},
		{retry.BudgetConfig{Ratio: math.Inf(1)}, "Ratio +Inf out of range"},
		{retry.BudgetConfig{Ratio: math.NaN()}, "Ratio NaN out of range"},
		{retry.BudgetConfig{MinRetriesPerSecond: -2}, "MinRetriesPerSecond -2 out of range: want 0 (default 10), -1 (NoMinRetries) or a finite number above 0"},
		{retry.BudgetConfig{MinRetriesPerSecond: math.NaN()}, "MinRetriesPerSecond NaN out of range"},
		{retry.BudgetConfig{Window: time.Millisecond}, "Window 1ms out of range: want 0 (default 10s) or at least 10ms"},
		{retry.BudgetConfig{Window: -time.Second}, "Window -1s out of range"},
	}
	for _, tt := range tests {
		_, err := retry.NewBudget(tt.c)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewBudget(%+v) error = %v, want it to contain %q", tt.c, err, tt.want)
		}
	}
}

func TestBudgetRatioFloorAndWindow(t *testing.T) {
	fake := clock.NewFake(time.Time{})
	b := mustBudget(t, retry.BudgetConfig{Ratio: 0.5, MinRetriesPerSecond: retry.NoMinRetries, Window: 10 * time.Second, Clock: fake})
	if b.TryWithdraw() {
		t.Fatal("a budget with no requests and no floor allowed a retry")
	}
	for range 10 {
		b.Deposit()
	}
	for i := range 5 {
		if !b.TryWithdraw() {
			t.Fatalf("retry %d of 5 refused with 10 requests at ratio 0.5", i+1)
		}
	}
	if b.TryWithdraw() {
		t.Fatal("a 6th retry was allowed with 10 requests at ratio 0.5")
	}
	want := retry.BudgetSnapshot{Requests: 10, Retries: 5, Allowed: 5, Refused: 2}
	if s := b.Snapshot(); s != want {
		t.Errorf("Snapshot = %+v, want %+v", s, want)
	}
	// Nine tenths of the window later the counts are still there; a full
	// window later they have slid out.
	fake.Advance(9 * time.Second)
	if s := b.Snapshot(); s.Requests != 10 || s.Retries != 5 {
		t.Errorf("after 9s: %+v, want the counts kept", s)
	}
	fake.Advance(time.Second)
	if s := b.Snapshot(); s.Requests != 0 || s.Retries != 0 {
		t.Errorf("after 10s: %+v, want an empty window", s)
	}
	b.Deposit()
	b.Deposit()
	if !b.TryWithdraw() || b.TryWithdraw() {
		t.Error("with 2 fresh requests at 0.5, want exactly one retry allowed")
	}

	// The floor: 2 retries a second over a 10s window allow 20 retries
	// with no request at all.
	fb := mustBudget(t, retry.BudgetConfig{MinRetriesPerSecond: 2, Clock: fake})
	n := 0
	for fb.TryWithdraw() {
		n++
	}
	if n != 20 {
		t.Errorf("floor allowed %d retries, want 20", n)
	}
}

func TestBudgetDefaults(t *testing.T) {
	fake := clock.NewFake(time.Time{})
	b := mustBudget(t, retry.BudgetConfig{Clock: fake})
	for range 100 {
		b.Deposit()
	}
	// 0.2 × 100 + 10/s × 10s = 120.
	if s := b.Snapshot(); s.Allowed != 120 {
		t.Errorf("Allowed = %v, want 120", s.Allowed)
	}
}

// TestBudgetBoundsAmplification runs a service through a total outage: every
// attempt fails, and each call would make 5 attempts without a budget. With
// a shared budget (ratio 0.2, floor 1/s over 10s), retries must stay within
// 20% of requests plus the floor.
func TestBudgetBoundsAmplification(t *testing.T) {
	const (
		calls    = 3000
		interval = 10 * time.Millisecond // 100 calls a second, for 30s
		ratio    = 0.2
		floor    = 1.0
		window   = 10 * time.Second
	)
	run := func(budget bool) retry.Snapshot {
		clk := newInstant()
		c := retry.Config{Clock: clk, MaxAttempts: 5, Backoff: retry.BackoffConstant, InitialInterval: time.Millisecond}
		if budget {
			c.Budget = mustBudget(t, retry.BudgetConfig{Ratio: ratio, MinRetriesPerSecond: floor, Window: window, Clock: clk})
		}
		p := mustNew(t, c)
		for range calls {
			start := clk.Now()
			_ = p.Execute(context.Background(), func(context.Context) error { return unavailable })
			if d := interval - clk.Since(start); d > 0 {
				clk.Advance(d)
			}
		}
		return p.Snapshot()
	}

	without := run(false)
	if without.Retries != 4*calls {
		t.Fatalf("without a budget: %d retries, want %d", without.Retries, 4*calls)
	}
	s := run(true)
	duration := time.Duration(calls) * interval
	// Each window allows ratio × its requests + floor × window; the run
	// spans duration/window windows, plus one for the sliding edge.
	limit := ratio*float64(calls) + floor*window.Seconds()*(duration.Seconds()/window.Seconds()+1)
	amp := float64(s.Attempts) / float64(s.Calls)
	t.Logf("without budget: %d attempts for %d calls (x%.2f); with budget: %d retries for %d calls (x%.3f), %d refused, limit %.0f retries",
		without.Attempts, without.Calls, float64(without.Attempts)/float64(without.Calls), s.Retries, s.Calls, amp, s.BudgetRejections, limit)
	if float64(s.Retries) > limit {
		t.Errorf("%d retries for %d requests: above the budget's %.0f", s.Retries, s.Calls, limit)
	}
	if amp > 1+ratio+0.05 {
		t.Errorf("load amplification x%.3f, want at most x%.2f", amp, 1+ratio+0.05)
	}
	// The budget must not be needlessly stingy either: it should allow at
	// least the ratio's share.
	if float64(s.Retries) < ratio*float64(calls)*0.9 {
		t.Errorf("%d retries, want at least 90%% of %.0f", s.Retries, ratio*float64(calls))
	}
	if s.BudgetRejections == 0 || s.BudgetRejections != s.Calls-s.Exhausted {
		t.Errorf("Snapshot %+v: every call not exhausted must have been refused by the budget", s)
	}
}

// TestBudgetConcurrent hammers a budget from many goroutines at a fixed
// instant: no overdraft.
func TestBudgetConcurrent(t *testing.T) {
	fake := clock.NewFake(time.Time{})
	b := mustBudget(t, retry.BudgetConfig{Ratio: 0.25, MinRetriesPerSecond: 1, Window: 10 * time.Second, Clock: fake})
	var wg sync.WaitGroup
	var granted atomic.Int64
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				b.Deposit()
				for range 3 {
					if b.TryWithdraw() {
						granted.Add(1)
					}
				}
			}
		}()
	}
	wg.Wait()
	// 1600 requests × 0.25 + 1/s × 10s = 410.
	s := b.Snapshot()
	if s.Requests != 1600 || s.Retries != granted.Load() {
		t.Errorf("Snapshot %+v, granted %d", s, granted.Load())
	}
	if granted.Load() > 410 {
		t.Errorf("granted %d retries, want at most 410", granted.Load())
	}
	if granted.Load() < 350 {
		t.Errorf("granted %d retries, want close to 410", granted.Load())
	}
}

// TestBudgetExactAcrossStampWrap runs a budget across the wrap of its
// 32-bit period stamp. The bucket index was once the stamp mod 10, which
// jumps where the stamp wraps (2^32 is not a multiple of 10): period 2^32
// (stamp 0) landed in the bucket of period 2^32-6, still inside the window,
// restarted it and forgot its retries, so the budget granted up to twice
// Ratio × requests. Every grant is checked against a true count of the
// window, and the snapshot against the truth at the end.
func TestBudgetExactAcrossStampWrap(t *testing.T) {
	fake := clock.NewFake(time.Time{})
	const ratio = 0.2
	// A 10ms window: 1ms periods, so the stamp wraps after 49.7 days.
	b := mustBudget(t, retry.BudgetConfig{Ratio: ratio, MinRetriesPerSecond: retry.NoMinRetries, Window: 10 * time.Millisecond, Clock: fake})

	type counts struct{ req, ret int }
	truth := map[int64]*counts{} // by period
	period := func() int64 { return fake.Nanotime() / int64(time.Millisecond) }
	at := func() *counts {
		c := truth[period()]
		if c == nil {
			c = &counts{}
			truth[period()] = c
		}
		return c
	}
	window := func() (req, ret int) {
		for p := period() - 9; p <= period(); p++ {
			if c := truth[p]; c != nil {
				req, ret = req+c.req, ret+c.ret
			}
		}
		return req, ret
	}
	deposit := func(n int) {
		for range n {
			b.Deposit()
			at().req++
		}
	}
	withdraw := func(n int) {
		for range n {
			if !b.TryWithdraw() {
				continue
			}
			at().ret++
			if req, ret := window(); float64(ret) > ratio*float64(req) {
				t.Fatalf("at period 2^32%+d the window holds %d retries for %d requests: more than %v × requests", period()-1<<32, ret, req, ratio)
			}
		}
	}

	// Run steadily for the 50 periods up to the wrap, so every bucket is in use.
	fake.Advance(time.Duration(1<<32-50) * time.Millisecond)
	for period() < 1<<32-7 {
		deposit(10)
		withdraw(1)
		fake.Advance(time.Millisecond)
	}
	deposit(100)                   // period 2^32-7
	fake.Advance(time.Millisecond) // period 2^32-6
	withdraw(15)                   // uses up the 20 the window allows
	fake.Advance(6 * time.Millisecond)
	withdraw(40) // period 2^32, stamp 0: must not forget period 2^32-6
	req, ret := window()
	if s := b.Snapshot(); s.Requests != int64(req) || s.Retries != int64(ret) {
		t.Errorf("Snapshot at period 2^32 = %+v, want %d requests and %d retries, the true counts of the window", s, req, ret)
	}
}

// TestBudgetStaleBucketRestarts: a bucket left untouched for nearly 2^32
// periods holds a stamp a little above the current one, as if a newer
// period had written it. It must be restarted, not counted into, or the
// period's counts vanish from the window.
func TestBudgetStaleBucketRestarts(t *testing.T) {
	fake := clock.NewFake(time.Time{})
	b := mustBudget(t, retry.BudgetConfig{Ratio: 0.2, MinRetriesPerSecond: retry.NoMinRetries, Window: 10 * time.Millisecond, Clock: fake})
	fake.Advance(100 * time.Millisecond) // period 100, bucket 0
	for range 10 {
		b.Deposit()
	}
	// Period 2^32+94, bucket 0 again, stamp 94: the bucket's stamp 100 is 6 ahead.
	fake.Advance((1<<32 - 6) * time.Millisecond)
	for range 10 {
		b.Deposit()
	}
	granted := 0
	for range 5 {
		if b.TryWithdraw() {
			granted++
		}
	}
	if s := b.Snapshot(); s.Requests != 10 || s.Retries != 2 || granted != 2 {
		t.Errorf("Snapshot = %+v, %d retries granted; want 10 requests, 2 retries granted and counted", s, granted)
	}
}

func BenchmarkBudgetDeposit(b *testing.B) {
	bg := mustBudget(b, retry.BudgetConfig{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			bg.Deposit()
		}
	})
}
