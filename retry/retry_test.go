package retry_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/internal/testwait"
	"github.com/fusebox-go/fusebox/retry"
)

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		c    retry.Config
		want string
	}{
		{"negative attempts", retry.Config{MaxAttempts: -1}, "retry: MaxAttempts -1 out of range: want 0 (default 3) or more"},
		{"negative elapsed", retry.Config{MaxElapsed: -time.Second}, "MaxElapsed -1s out of range"},
		{"unknown backoff", retry.Config{Backoff: "linear"}, `Backoff "linear" unknown`},
		{"unknown jitter", retry.Config{Jitter: "half"}, `Jitter "half" unknown`},
		{"jitter with decorrelated", retry.Config{Backoff: retry.BackoffDecorrelated, Jitter: retry.JitterEqual}, `Jitter "equal" not allowed with Backoff "decorrelated"`},
		{"jitter factor above 1", retry.Config{JitterFactor: 1.5}, "JitterFactor 1.5 out of range: want 0 (default 1) up to 1"},
		{"jitter factor negative", retry.Config{JitterFactor: -0.1}, "JitterFactor -0.1 out of range"},
		{"jitter factor NaN", retry.Config{JitterFactor: math.NaN()}, "JitterFactor NaN out of range"},
		{"negative initial", retry.Config{InitialInterval: -time.Millisecond}, "InitialInterval -1ms out of range"},
		{"multiplier below 1", retry.Config{Multiplier: 0.5}, "Multiplier 0.5 out of range"},
		{"multiplier infinite", retry.Config{Multiplier: math.Inf(1)}, "Multiplier +Inf out of range"},
		{"negative max interval", retry.Config{MaxInterval: -1}, "MaxInterval -1ns out of range"},
		{"max below initial", retry.Config{InitialInterval: time.Second, MaxInterval: time.Millisecond}, "MaxInterval 1ms out of range: want 0 (default 10s) or at least InitialInterval (1s)"},
		{"negative max retry-after", retry.Config{MaxRetryAfter: -time.Second}, "MaxRetryAfter -1s out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := retry.New(tt.c)
			if err == nil {
				t.Fatalf("New(%+v) = %v, nil; want an error", tt.c, p)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New error = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestNewAcceptsEdgeValues(t *testing.T) {
	for _, c := range []retry.Config{
		{},
		{MaxAttempts: 1},
		{JitterFactor: 1},
		{Multiplier: 1},
		{InitialInterval: time.Minute}, // MaxInterval 0 means max(10s, InitialInterval)
		{InitialInterval: time.Second, MaxInterval: time.Second},
		{Backoff: retry.BackoffConstant, Jitter: retry.JitterFull},
		{Backoff: retry.BackoffDecorrelated, JitterFactor: 0.5},
	} {
		if _, err := retry.New(c); err != nil {
			t.Errorf("New(%+v): %v", c, err)
		}
	}
}

// TestExponentialWaitsOnFakeClock drives the policy's timers by hand: each
// retry must wait exactly its delay, not a nanosecond less.
func TestExponentialWaitsOnFakeClock(t *testing.T) {
	fake := clock.NewFake(time.Time{})
	p := mustNew(t, retry.Config{
		MaxAttempts:     6,
		InitialInterval: 100 * time.Millisecond,
		MaxInterval:     time.Second,
		Jitter:          retry.JitterNone,
		Clock:           fake,
	})
	var attempts atomic.Int32
	done := async(p, context.Background(), func(context.Context) error {
		attempts.Add(1)
		return unavailable
	})
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, time.Second}
	for i, d := range want {
		testwait.Timers(t, fake, 1, "the retry's wait")
		if got := attempts.Load(); got != int32(i+1) {
			t.Fatalf("before wait %d: %d attempts, want %d", i, got, i+1)
		}
		fake.Advance(d - time.Nanosecond)
		if got := fake.Timers(); got != 1 {
			t.Fatalf("wait %d fired before %v", i, d)
		}
		if got := attempts.Load(); got != int32(i+1) {
			t.Fatalf("retry %d ran before its delay %v", i+1, d)
		}
		fake.Advance(time.Nanosecond)
	}
	err := <-done
	wantIs(t, err, retry.ErrRetriesExhausted, unavailable)
	if got := attempts.Load(); got != 6 {
		t.Errorf("attempts = %d, want 6", got)
	}
	var re *retry.Error
	if !errors.As(err, &re) || re.Attempts != 6 {
		t.Errorf("error %v: want *retry.Error with Attempts 6", err)
	}
	s := p.Snapshot()
	want2 := retry.Snapshot{Calls: 1, Attempts: 6, Retries: 5, Exhausted: 1, RetriesByAttempt: []int64{1, 1, 1, 1, 1}}
	if !reflect.DeepEqual(s, want2) {
		t.Errorf("Snapshot = %+v, want %+v", s, want2)
	}
}

func TestUnjitteredDelaySequences(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name string
		c    retry.Config
		want []time.Duration
	}{
		{"constant", retry.Config{Backoff: retry.BackoffConstant, InitialInterval: 50 * ms, MaxAttempts: 5},
			[]time.Duration{50 * ms, 50 * ms, 50 * ms, 50 * ms}},
		{"exponential x2 capped", retry.Config{Jitter: retry.JitterNone, InitialInterval: 100 * ms, MaxInterval: time.Second, MaxAttempts: 7},
			[]time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, time.Second, time.Second}},
		{"exponential x1.5", retry.Config{Jitter: retry.JitterNone, InitialInterval: 100 * ms, Multiplier: 1.5, MaxAttempts: 4},
			[]time.Duration{100 * ms, 150 * ms, 225 * ms}},
		{"exponential defaults", retry.Config{Jitter: retry.JitterNone, MaxAttempts: 10},
			[]time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, 1600 * ms, 3200 * ms, 6400 * ms, 10 * time.Second, 10 * time.Second}},
		{"constant 1ms, explicit none", retry.Config{Backoff: retry.BackoffConstant, Jitter: retry.JitterNone, InitialInterval: ms, MaxAttempts: 3},
			[]time.Duration{ms, ms}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newInstant()
			var got []time.Duration
			tt.c.Clock = clk
			tt.c.OnRetry = recordDelays(&got)
			p := mustNew(t, tt.c)
			start := clk.Now()
			err := p.Execute(context.Background(), func(context.Context) error { return unavailable })
			wantIs(t, err, retry.ErrRetriesExhausted)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("delays = %v, want %v", got, tt.want)
			}
			var total time.Duration
			for _, d := range tt.want {
				total += d
			}
			if el := clk.Since(start); el != total {
				t.Errorf("elapsed %v, want the sum of the delays %v", el, total)
			}
		})
	}
}

func TestSeedMakesJitterDeterministic(t *testing.T) {
	run := func(seed uint64) []time.Duration {
		var ds []time.Duration
		p := mustNew(t, retry.Config{Seed: seed, MaxAttempts: 8, Clock: newInstant(), OnRetry: recordDelays(&ds)})
		_ = p.Execute(context.Background(), func(context.Context) error { return unavailable })
		return ds
	}
	a, b, c := run(42), run(42), run(43)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("seed 42 gave %v then %v", a, b)
	}
	if fmt.Sprint(a) == fmt.Sprint(c) {
		t.Errorf("seeds 42 and 43 gave the same delays %v", a)
	}
}

func TestSuccessAfterRetry(t *testing.T) {
	clk := newInstant()
	p := mustNew(t, retry.Config{Clock: clk, MaxAttempts: 5})
	fn, calls := failing(2, unavailable)
	if err := p.Execute(context.Background(), fn); err != nil {
		t.Fatalf("Execute = %v, want nil", err)
	}
	if *calls != 3 {
		t.Errorf("calls = %d, want 3", *calls)
	}
	want := retry.Snapshot{Calls: 1, Attempts: 3, Retries: 2, SuccessesAfterRetry: 1, RetriesByAttempt: []int64{1, 1, 0, 0}}
	if s := p.Snapshot(); !reflect.DeepEqual(s, want) {
		t.Errorf("Snapshot = %+v, want %+v", s, want)
	}
}

func TestNonRetryableErrorReturnedUnchanged(t *testing.T) {
	boom := errors.New("boom")
	badRequest := &retry.StatusError{Code: 400}
	for _, e := range []error{boom, badRequest, retry.Permanent(unavailable)} {
		p := mustNew(t, retry.Config{Clock: newInstant()})
		fn, calls := failing(10, e)
		if err := p.Execute(context.Background(), fn); err != e {
			t.Errorf("Execute = %v, want %v itself", err, e)
		}
		if *calls != 1 {
			t.Errorf("%v: %d attempts, want 1", e, *calls)
		}
	}
}

func TestCustomRetryable(t *testing.T) {
	boom := errors.New("boom")
	p := mustNew(t, retry.Config{Clock: newInstant(), Retryable: func(err error) bool { return errors.Is(err, boom) }})
	fn, calls := failing(1, boom)
	if err := p.Execute(context.Background(), fn); err != nil || *calls != 2 {
		t.Errorf("Execute = %v after %d calls, want nil after 2", err, *calls)
	}
	fn, calls = failing(1, unavailable) // retryable by default, not by this classifier
	if err := p.Execute(context.Background(), fn); err != unavailable || *calls != 1 {
		t.Errorf("Execute = %v after %d calls, want %v after 1", err, *calls, unavailable)
	}
}

func TestPermanentWinsOverRetryable(t *testing.T) {
	p := mustNew(t, retry.Config{Clock: newInstant(), Retryable: func(error) bool { return true }})
	inner := errors.New("invalid argument")
	fn, calls := failing(5, retry.Permanent(inner))
	err := p.Execute(context.Background(), fn)
	if *calls != 1 {
		t.Errorf("%d attempts, want 1", *calls)
	}
	wantIs(t, err, inner)
	if !retry.IsPermanent(err) || err.Error() != inner.Error() {
		t.Errorf("err = %q (permanent %v), want the permanent %q", err, retry.IsPermanent(err), inner)
	}
	if retry.Permanent(nil) != nil {
		t.Error("Permanent(nil) != nil")
	}
	if pp := retry.Permanent(err); pp != err {
		t.Error("Permanent of a permanent error wrapped it again")
	}
	if retry.IsPermanent(inner) {
		t.Error("IsPermanent(unmarked) = true")
	}
}

// TestDeadlineAwareGiveUp: with 250ms left, the first retry (after 100ms)
// fits, the second (after a further 200ms) would start past the deadline, so
// the policy gives up at once instead of sleeping.
func TestDeadlineAwareGiveUp(t *testing.T) {
	clk := newInstant()
	p := mustNew(t, retry.Config{Clock: clk, Jitter: retry.JitterNone, MaxAttempts: 10})
	start := clk.Now()
	ctx := deadlineCtx{context.Background(), start.Add(250 * time.Millisecond)}
	fn, calls := failing(100, unavailable)
	err := p.Execute(ctx, fn)
	wantIs(t, err, retry.ErrRetriesExhausted, unavailable)
	if *calls != 2 {
		t.Errorf("%d attempts, want 2", *calls)
	}
	if el := clk.Since(start); el != 100*time.Millisecond {
		t.Errorf("slept %v, want only the first retry's 100ms", el)
	}
	if clk.made() != 1 {
		t.Errorf("%d timers made, want 1", clk.made())
	}

	// A retry that would start exactly at the deadline is not made either.
	clk2 := newInstant()
	p2 := mustNew(t, retry.Config{Clock: clk2, Jitter: retry.JitterNone})
	ctx2 := deadlineCtx{context.Background(), clk2.Now().Add(100 * time.Millisecond)}
	fn, calls = failing(100, unavailable)
	wantIs(t, p2.Execute(ctx2, fn), retry.ErrRetriesExhausted)
	if *calls != 1 || clk2.made() != 0 {
		t.Errorf("%d attempts and %d timers, want 1 and 0", *calls, clk2.made())
	}
}

func TestMaxElapsed(t *testing.T) {
	clk := newInstant()
	p := mustNew(t, retry.Config{Clock: clk, Jitter: retry.JitterNone, MaxAttempts: 10, MaxElapsed: 700 * time.Millisecond})
	start := clk.Now()
	attempt := 0
	err := p.Execute(context.Background(), func(context.Context) error {
		attempt++
		clk.Advance(10 * time.Millisecond) // each attempt takes 10ms
		return unavailable
	})
	// Attempts start at 0, 110, 320, 730(>700: not made).
	wantIs(t, err, retry.ErrRetriesExhausted, unavailable)
	if attempt != 3 {
		t.Errorf("%d attempts, want 3", attempt)
	}
	if el := clk.Since(start); el != 330*time.Millisecond {
		t.Errorf("elapsed %v, want 330ms", el)
	}
	if s := p.Snapshot(); s.Exhausted != 1 {
		t.Errorf("Exhausted = %d, want 1", s.Exhausted)
	}
}

func TestCancelWhileWaiting(t *testing.T) {
	fake := clock.NewFake(time.Time{})
	p := mustNew(t, retry.Config{Clock: fake})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := async(p, ctx, func(context.Context) error { return unavailable })
	testwait.Timers(t, fake, 1, "the retry's wait")
	cancel()
	var err error
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after the context was canceled")
	}
	wantIs(t, err, context.Canceled, unavailable)
	wantNotIs(t, err, retry.ErrRetriesExhausted, retry.ErrBudgetExhausted)
	if o := fusebox.Classify(ctx, err, nil); o != fusebox.Ignored {
		t.Errorf("Classify = %v, want ignored", o)
	}
	if n := fake.Timers(); n != 0 {
		t.Errorf("%d timers left pending, want 0", n)
	}
	if s := p.Snapshot(); s.Calls != 1 || s.Attempts != 1 || s.Retries != 0 || s.Exhausted != 0 {
		t.Errorf("Snapshot = %+v, want 1 call, 1 attempt and nothing else", s)
	}
}

func TestCallerContextEndedDuringAttempt(t *testing.T) {
	// The caller's own deadline: DeadlineExceeded is retryable when an inner
	// deadline produced it, never when it is the caller's.
	ctx, cancel := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancel()
	p := mustNew(t, retry.Config{Clock: newInstant()})
	fn := func(ctx context.Context) error { return ctx.Err() }
	if err := p.Execute(ctx, fn); err != context.DeadlineExceeded {
		t.Errorf("Execute = %v, want the caller's context.DeadlineExceeded unchanged", err)
	}

	// Canceled in the middle of an attempt that fails with a retryable error.
	ctx2, cancel2 := context.WithCancel(context.Background())
	calls := 0
	err := p.Execute(ctx2, func(context.Context) error {
		calls++
		cancel2()
		return unavailable
	})
	if err != unavailable || calls != 1 {
		t.Errorf("Execute = %v after %d attempts, want %v after 1", err, calls, unavailable)
	}
	if s := p.Snapshot(); s.Retries != 0 || s.Exhausted != 0 {
		t.Errorf("Snapshot = %+v, want no retries and nothing exhausted", s)
	}
}

// withRetryAfter is a user error type that asks for a delay.
type withRetryAfter struct{ d time.Duration }

func (e withRetryAfter) Error() string             { return "slow down" }
func (e withRetryAfter) RetryAfter() time.Duration { return e.d }

func TestRetryAfterHonored(t *testing.T) {
	retryable := func(error) bool { return true }
	tests := []struct {
		name string
		c    retry.Config
		err  error
		want time.Duration
	}{
		{"longer than backoff", retry.Config{}, &retry.StatusError{Code: 503, Wait: 2 * time.Second}, 2 * time.Second},
		{"shorter than backoff", retry.Config{}, &retry.StatusError{Code: 429, Wait: 50 * time.Millisecond}, 100 * time.Millisecond},
		{"capped by default 30s", retry.Config{}, &retry.StatusError{Code: 503, Wait: 5 * time.Minute}, 30 * time.Second},
		{"capped by MaxRetryAfter", retry.Config{MaxRetryAfter: 3 * time.Second}, &retry.StatusError{Code: 503, Wait: time.Minute}, 3 * time.Second},
		{"ignored", retry.Config{IgnoreRetryAfter: true}, &retry.StatusError{Code: 503, Wait: 2 * time.Second}, 100 * time.Millisecond},
		{"any error in the chain", retry.Config{Retryable: retryable}, fmt.Errorf("call: %w", withRetryAfter{4 * time.Second}), 4 * time.Second},
		{"zero hint", retry.Config{}, &retry.StatusError{Code: 503}, 100 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []time.Duration
			tt.c.Clock = newInstant()
			tt.c.Jitter = retry.JitterNone
			tt.c.MaxAttempts = 2
			tt.c.OnRetry = recordDelays(&got)
			p := mustNew(t, tt.c)
			fn, _ := failing(1, tt.err)
			if err := p.Execute(context.Background(), fn); err != nil {
				t.Fatalf("Execute = %v", err)
			}
			if len(got) != 1 || got[0] != tt.want {
				t.Errorf("delays = %v, want [%v]", got, tt.want)
			}
		})
	}
}

func TestRetryAfterPastDeadlineGivesUp(t *testing.T) {
	clk := newInstant()
	p := mustNew(t, retry.Config{Clock: clk})
	ctx := deadlineCtx{context.Background(), clk.Now().Add(time.Second)}
	fn, calls := failing(1, &retry.StatusError{Code: 503, Wait: 5 * time.Second})
	wantIs(t, p.Execute(ctx, fn), retry.ErrRetriesExhausted)
	if *calls != 1 || clk.made() != 0 {
		t.Errorf("%d attempts, %d timers; want 1 and 0", *calls, clk.made())
	}
}

// TestHugeDelayGivesUp: a delay as long as a time.Duration goes (a huge
// Retry-After with no cap of the policy's own, or a huge backoff) must make
// the policy give up at once when MaxElapsed or the caller's deadline
// cannot accommodate it. elapsed+delay > MaxElapsed once overflowed, let
// the check pass, and the policy slept for 292 years.
func TestHugeDelayGivesUp(t *testing.T) {
	huge := &retry.StatusError{Code: 503, Wait: math.MaxInt64}
	tests := []struct {
		name     string
		cfg      retry.Config
		err      error
		deadline bool // the caller's context ends in an hour
	}{
		{"Retry-After past MaxElapsed", retry.Config{MaxElapsed: time.Second, MaxRetryAfter: math.MaxInt64}, huge, false},
		{"constant backoff past MaxElapsed", retry.Config{MaxElapsed: time.Second, Backoff: retry.BackoffConstant, InitialInterval: math.MaxInt64}, unavailable, false},
		{"jittered backoff past MaxElapsed", retry.Config{MaxElapsed: time.Second, InitialInterval: math.MaxInt64 / 2, MaxInterval: math.MaxInt64, Jitter: retry.JitterEqual, Seed: 1}, unavailable, false},
		{"Retry-After past the deadline", retry.Config{MaxRetryAfter: math.MaxInt64}, huge, true},
		{"backoff past the deadline", retry.Config{Backoff: retry.BackoffConstant, InitialInterval: math.MaxInt64}, unavailable, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newInstant()
			tt.cfg.Clock = clk
			p := mustNew(t, tt.cfg)
			ctx := context.Background()
			if tt.deadline {
				ctx = deadlineCtx{ctx, clk.Now().Add(time.Hour)}
			}
			start, attempts := clk.Now(), 0
			err := p.Execute(ctx, func(context.Context) error {
				attempts++
				clk.Advance(time.Millisecond) // some time has elapsed
				return tt.err
			})
			wantIs(t, err, retry.ErrRetriesExhausted, tt.err)
			if attempts != 1 || clk.made() != 0 {
				t.Errorf("%d attempts, %d timers; want 1 and 0: the call took %v", attempts, clk.made(), clk.Since(start))
			}
		})
	}
}

func TestOnRetry(t *testing.T) {
	var got []retry.Attempt
	p := mustNew(t, retry.Config{
		Clock:   newInstant(),
		Jitter:  retry.JitterNone,
		OnRetry: func(a retry.Attempt) { got = append(got, a) },
	})
	e1, e2 := &retry.StatusError{Code: 502}, &retry.StatusError{Code: 504}
	i := 0
	_ = p.Execute(context.Background(), func(context.Context) error {
		i++
		return []error{e1, e2, nil}[i-1]
	})
	want := []retry.Attempt{{Number: 1, Delay: 100 * time.Millisecond, Err: e1}, {Number: 2, Delay: 200 * time.Millisecond, Err: e2}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("OnRetry got %v, want %v", got, want)
	}
}

// TestOnRetryHoldsNoLock re-enters the policy from its own hook, drawing from
// the seeded jitter source and reading its snapshot: any lock held around
// the hook would deadlock.
func TestOnRetryHoldsNoLock(t *testing.T) {
	var p *retry.Policy
	nested := 0
	p = mustNew(t, retry.Config{
		Clock: newInstant(),
		Seed:  7,
		OnRetry: func(a retry.Attempt) {
			_ = p.Snapshot()
			if nested++; nested == 1 {
				fn, _ := failing(1, unavailable)
				if err := p.Execute(context.Background(), fn); err != nil {
					t.Errorf("nested Execute = %v", err)
				}
			}
		},
	})
	fn, _ := failing(1, unavailable)
	if err := p.Execute(context.Background(), fn); err != nil {
		t.Fatalf("Execute = %v", err)
	}
	if nested != 2 {
		t.Errorf("hook ran %d times, want 2", nested)
	}
}

func TestPanicPropagatesAndLeavesNothingBehind(t *testing.T) {
	fake := clock.NewFake(time.Time{})
	budget := mustBudget(t, retry.BudgetConfig{Clock: fake})
	p := mustNew(t, retry.Config{Clock: fake, Budget: budget})
	attempt := 0
	done := make(chan any)
	go func() {
		defer func() { done <- recover() }()
		_ = p.Execute(context.Background(), func(context.Context) error {
			if attempt++; attempt == 2 {
				panic("boom")
			}
			return unavailable
		})
	}()
	testwait.Timers(t, fake, 1, "the retry's wait")
	fake.Advance(time.Second)
	if r := <-done; r != "boom" {
		t.Fatalf("recovered %v, want the original panic value", r)
	}
	if n := fake.Timers(); n != 0 {
		t.Errorf("%d timers pending after the panic, want 0", n)
	}
	if s := p.Snapshot(); s.Attempts != 2 || s.Retries != 1 {
		t.Errorf("Snapshot = %+v, want 2 attempts, 1 retry", s)
	}
	// The policy still works.
	if err := p.Execute(context.Background(), func(context.Context) error { return nil }); err != nil {
		t.Errorf("Execute after the panic = %v", err)
	}
}

// countingPolicy counts the calls that pass through it.
type countingPolicy struct{ n atomic.Int64 }

func (c *countingPolicy) Run(ctx context.Context, next fusebox.Next) error {
	c.n.Add(1)
	return next.Run(ctx)
}

func TestInPipeline(t *testing.T) {
	outer, inner := &countingPolicy{}, &countingPolicy{}
	p := mustNew(t, retry.Config{Clock: newInstant(), MaxAttempts: 4})
	pl, err := fusebox.New(outer, p, inner)
	if err != nil {
		t.Fatal(err)
	}
	attempt := 0
	v, err := fusebox.Do(context.Background(), pl, func(context.Context) (int, error) {
		attempt++
		if attempt < 3 {
			return -attempt, unavailable
		}
		return 42, nil
	})
	if err != nil || v != 42 {
		t.Errorf("Do = %v, %v; want 42, nil", v, err)
	}
	if outer.n.Load() != 1 || inner.n.Load() != 3 {
		t.Errorf("outer saw %d calls, inner %d; want 1 and 3", outer.n.Load(), inner.n.Load())
	}

	err = pl.Run(context.Background(), func(context.Context) error { return unavailable })
	wantIs(t, err, retry.ErrRetriesExhausted, unavailable)
	if inner.n.Load() != 7 {
		t.Errorf("inner saw %d calls, want 7", inner.n.Load())
	}
	// An outer retry does not retry an inner one's exhaustion.
	outerRetry := mustNew(t, retry.Config{Clock: newInstant()})
	pl2, _ := fusebox.New(outerRetry, p)
	calls := 0
	err = pl2.Run(context.Background(), func(context.Context) error { calls++; return unavailable })
	wantIs(t, err, retry.ErrRetriesExhausted)
	if calls != 4 {
		t.Errorf("nested retries made %d attempts, want 4 (no amplification)", calls)
	}
}

func okFn(context.Context) error { return nil }

func TestFirstAttemptSuccessIsFree(t *testing.T) {
	clk := newInstant()
	budget := mustBudget(t, retry.BudgetConfig{Clock: clock.NewFake(time.Time{})})
	for _, c := range []retry.Config{
		{Clock: clk},
		{Clock: clk, Seed: 1, MaxElapsed: time.Second},
		{Clock: clk, Budget: budget},
	} {
		p := mustNew(t, c)
		ctx := context.Background()
		next := fusebox.NextFunc(okFn)
		allocs := testing.AllocsPerRun(1000, func() {
			if err := p.Run(ctx, next); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%+v: %v allocations per successful call, want 0", c, allocs)
		}
		if s := p.Snapshot(); s.Retries != 0 || s.Calls < 1000 {
			t.Errorf("Snapshot = %+v", s)
		}
	}
	if clk.made() != 0 {
		t.Errorf("%d timers made for successful calls, want 0", clk.made())
	}
}

func TestConcurrentCalls(t *testing.T) {
	clk := newInstant()
	p := mustNew(t, retry.Config{Clock: clk, Seed: 3, MaxAttempts: 3})
	const goroutines, perG = 8, 50
	var wg sync.WaitGroup
	var ok, exhausted atomic.Int64
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perG {
				fn, _ := failing((g+i)%4, unavailable) // 0..3 failures
				if err := p.Execute(context.Background(), fn); err == nil {
					ok.Add(1)
				} else if errors.Is(err, retry.ErrRetriesExhausted) {
					exhausted.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	s := p.Snapshot()
	// Per goroutine, failures cycle 0,1,2,3: 0/1/2 succeed after 0/1/2
	// retries, 3 exhausts after 2 retries.
	if s.Calls != goroutines*perG || ok.Load()+exhausted.Load() != s.Calls {
		t.Errorf("Snapshot %+v, ok %d exhausted %d", s, ok.Load(), exhausted.Load())
	}
	if s.Exhausted != exhausted.Load() || s.Attempts != s.Calls+s.Retries {
		t.Errorf("Snapshot %+v inconsistent with %d exhausted", s, exhausted.Load())
	}
}

func TestErrorMessage(t *testing.T) {
	tests := []struct {
		e    *retry.Error
		want string
	}{
		{&retry.Error{Attempts: 3, Reason: retry.ErrRetriesExhausted, Err: unavailable}, "retry: retries exhausted after 3 attempts: status 503"},
		{&retry.Error{Attempts: 1, Reason: retry.ErrBudgetExhausted, Err: unavailable}, "retry: retry budget exhausted after 1 attempt: status 503"},
		{&retry.Error{Attempts: 2, Reason: context.Canceled, Err: unavailable}, "retry: stopped waiting to retry (context canceled) after 2 attempts: status 503"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func BenchmarkExecuteSuccess(b *testing.B) {
	p := mustNew(b, retry.Config{})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_ = p.Execute(ctx, okFn)
	}
}

func BenchmarkExecuteSuccessParallel(b *testing.B) {
	p := mustNew(b, retry.Config{})
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = p.Execute(ctx, okFn)
		}
	})
}

func BenchmarkExecuteSuccessWithBudget(b *testing.B) {
	p := mustNew(b, retry.Config{Budget: mustBudget(b, retry.BudgetConfig{})})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_ = p.Execute(ctx, okFn)
	}
}

func BenchmarkExecuteSuccessWithBudgetParallel(b *testing.B) {
	p := mustNew(b, retry.Config{Budget: mustBudget(b, retry.BudgetConfig{})})
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = p.Execute(ctx, okFn)
		}
	})
}

func TestEventsPublishRetriesAndBudgetRejections(t *testing.T) {
	fake := clock.NewFake(time.Time{})
	bus := fusebox.NewEvents()
	got := make(chan fusebox.Event, 16)
	bus.Subscribe(func(ev fusebox.Event) { got <- ev }, 16)
	defer bus.Close()
	p, err := retry.New(retry.Config{Name: "payments", MaxAttempts: 2, Backoff: retry.BackoffConstant, InitialInterval: time.Second, Clock: fake, Events: bus, Retryable: func(error) bool { return true }})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- p.Execute(context.Background(), func(context.Context) error { return errors.New("503") })
	}()
	testwait.Timers(t, fake, 1, "the retry's wait")
	fake.Advance(time.Second)
	if err := <-done; !errors.Is(err, retry.ErrRetriesExhausted) {
		t.Fatalf("err = %v, want retries exhausted", err)
	}
	ev := <-got
	if ev.Kind != fusebox.EventRetry || ev.Policy != "retry" || ev.Name != "payments" || ev.Attempt != 2 || ev.Delay != time.Second || ev.Err == nil {
		t.Fatalf("event = %+v, want a retry event for attempt 2 after 1s", ev)
	}
}

func TestSnapshotRetriesByAttempt(t *testing.T) {
	p, err := retry.New(retry.Config{MaxAttempts: 4, Backoff: retry.BackoffConstant, InitialInterval: time.Nanosecond, Clock: clock.Real(), Retryable: func(error) bool { return true }})
	if err != nil {
		t.Fatal(err)
	}
	failures := []int{0, 1, 3, 3} // attempts failing before success (3 = never succeeds)
	for _, f := range failures {
		n := 0
		_ = p.Execute(context.Background(), func(context.Context) error {
			n++
			if n <= f {
				return errors.New("503")
			}
			return nil
		})
	}
	s := p.Snapshot()
	// Second attempts: calls 2, 3, 4; third: 3, 4; fourth: 3, 4.
	if want := []int64{3, 2, 2}; !slices.Equal(s.RetriesByAttempt, want) {
		t.Fatalf("RetriesByAttempt = %v, want %v", s.RetriesByAttempt, want)
	}
	if s.Retries != 7 {
		t.Fatalf("Retries = %d, want 7", s.Retries)
	}
	many, _ := retry.New(retry.Config{MaxAttempts: 1000})
	if got := len(many.Snapshot().RetriesByAttempt); got != 16 {
		t.Fatalf("with 1000 attempts RetriesByAttempt has %d entries, want 16", got)
	}
}
