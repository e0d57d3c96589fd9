package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/internal/testwait"
)

func newInjector(t testing.TB, c Config) *Injector {
	t.Helper()
	inj, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return inj
}

func TestFaultValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    Fault
		want string // "" means valid
	}{
		{"zero", Fault{}, ""},
		{"everything", Fault{Seed: 1, Latency: LatencyFault{1, time.Second, time.Second}, Error: ErrorFault{Probability: 0.5, Message: "x"},
			Status: StatusFault{Probability: 0.1, Code: 503, Body: "down"}, Reset: ResetFault{Probability: 0.2, AfterBytes: 10}, Blackhole: BlackholeFault{0.01}}, ""},
		{"latency p", Fault{Latency: LatencyFault{Probability: 1.5}}, "chaos: Latency.Probability 1.5 out of range: want 0 to 1"},
		{"error p", Fault{Error: ErrorFault{Probability: -0.1}}, "chaos: Error.Probability -0.1 out of range"},
		{"status p NaN", Fault{Status: StatusFault{Probability: math.NaN()}}, "chaos: Status.Probability NaN out of range"},
		{"reset p", Fault{Reset: ResetFault{Probability: 2}}, "chaos: Reset.Probability 2 out of range"},
		{"blackhole p", Fault{Blackhole: BlackholeFault{Probability: -1}}, "chaos: Blackhole.Probability -1 out of range"},
		{"negative duration", Fault{Latency: LatencyFault{Duration: -time.Second}}, "chaos: Latency.Duration -1s out of range: want 0 or more"},
		{"jitter over duration", Fault{Latency: LatencyFault{Duration: time.Second, Jitter: 2 * time.Second}}, "chaos: Latency.Jitter 2s out of range: want 0 to Latency.Duration (1s)"},
		{"negative jitter", Fault{Latency: LatencyFault{Duration: time.Second, Jitter: -1}}, "chaos: Latency.Jitter -1ns out of range"},
		{"status code", Fault{Status: StatusFault{Code: 99}}, "chaos: Status.Code 99 out of range: want 0 (default 500) or 100 to 599"},
		{"status code high", Fault{Status: StatusFault{Code: 600}}, "chaos: Status.Code 600 out of range"},
		{"after bytes", Fault{Reset: ResetFault{AfterBytes: -1}}, "chaos: Reset.AfterBytes -1 out of range: want 0 or more"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.f.Validate()
			_, newErr := New(Config{Fault: tc.f})
			if tc.want == "" {
				if err != nil || newErr != nil {
					t.Fatalf("Validate: %v, New: %v", err, newErr)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate: %v, want %q", err, tc.want)
			}
			if newErr == nil || newErr.Error() != err.Error() {
				t.Fatalf("New: %v, want %v", newErr, err)
			}
		})
	}
}

func TestSetRejectsBadFaultAndKeepsOld(t *testing.T) {
	inj := newInjector(t, Config{Fault: Fault{Seed: 1, Error: ErrorFault{Probability: 1}}})
	if err := inj.Set(Fault{Error: ErrorFault{Probability: 7}}); err == nil {
		t.Fatal("Set accepted a probability of 7")
	}
	if got := inj.Fault().Error.Probability; got != 1 {
		t.Fatalf("after a rejected Set the fault changed: %v", got)
	}
}

func TestFaultJSON(t *testing.T) {
	in := `{"seed":7,"latency":{"probability":0.5,"duration":1000000,"jitter":500000},
		"error":{"probability":0.1,"message":"boom"},"status":{"probability":0.2,"code":503,"body":"down"},
		"reset":{"probability":0.3,"afterBytes":4},"blackhole":{"probability":0.01}}`
	var f Fault
	if err := json.Unmarshal([]byte(in), &f); err != nil {
		t.Fatal(err)
	}
	want := Fault{Seed: 7, Latency: LatencyFault{0.5, time.Millisecond, 500 * time.Microsecond}, Error: ErrorFault{Probability: 0.1, Message: "boom"},
		Status: StatusFault{0.2, 503, "down"}, Reset: ResetFault{0.3, 4}, Blackhole: BlackholeFault{0.01}}
	if f != want {
		t.Fatalf("decoded %+v, want %+v", f, want)
	}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
}

// run runs inj.Execute with a function that counts its calls.
func run(ctx context.Context, inj *Injector, calls *atomic.Int64) error {
	return inj.Execute(ctx, func(context.Context) error {
		calls.Add(1)
		return nil
	})
}

func TestPolicyError(t *testing.T) {
	custom := errors.New("disk on fire")
	for _, tc := range []struct {
		name  string
		fault ErrorFault
		check func(error) bool
		text  string
	}{
		{"default", ErrorFault{Probability: 1}, func(err error) bool { return err == ErrInjected }, "chaos: injected fault"},
		{"message", ErrorFault{Probability: 1, Message: "upstream said no"}, func(err error) bool { return errors.Is(err, ErrInjected) }, "upstream said no"},
		{"err", ErrorFault{Probability: 1, Message: "ignored", Err: custom}, func(err error) bool { return err == custom }, "disk on fire"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inj := newInjector(t, Config{Fault: Fault{Seed: 1, Error: tc.fault}})
			var calls atomic.Int64
			err := run(context.Background(), inj, &calls)
			if !tc.check(err) || err.Error() != tc.text {
				t.Fatalf("error %v", err)
			}
			if calls.Load() != 0 {
				t.Fatal("the function ran despite the injected error")
			}
			if s := inj.Snapshot(); s.Errors != 1 || s.Calls != 1 {
				t.Fatalf("Snapshot %+v", s)
			}
		})
	}
}

func TestPolicyLatency(t *testing.T) {
	clk := clock.NewFake(time.Time{})
	inj := newInjector(t, Config{Clock: clk, Fault: Fault{Seed: 1, Latency: LatencyFault{Probability: 1, Duration: 200 * time.Millisecond}}})
	var calls atomic.Int64
	done := make(chan error, 1)
	go func() { done <- run(context.Background(), inj, &calls) }()
	testwait.Timers(t, clk, 1, "the injected latency's timer")
	clk.Advance(199 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("returned before the latency passed: %v", err)
	default:
	}
	if calls.Load() != 0 {
		t.Fatal("the function ran before the latency passed")
	}
	clk.Advance(time.Millisecond)
	if err := <-done; err != nil || calls.Load() != 1 {
		t.Fatalf("after the latency: %v, calls %d", err, calls.Load())
	}
	if s := inj.Snapshot(); s.Delayed != 1 {
		t.Fatalf("Snapshot %+v", s)
	}
}

func TestPolicyLatencyHonorsContext(t *testing.T) {
	clk := clock.NewFake(time.Time{})
	inj := newInjector(t, Config{Clock: clk, Fault: Fault{Seed: 1, Latency: LatencyFault{Probability: 1, Duration: time.Hour}}})
	ctx, cancel := context.WithCancel(context.Background())
	var calls atomic.Int64
	done := make(chan error, 1)
	go func() { done <- run(ctx, inj, &calls) }()
	testwait.Timers(t, clk, 1, "the injected latency's timer")
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) || calls.Load() != 0 {
		t.Fatalf("error %v, calls %d; want context.Canceled and no call", err, calls.Load())
	}
	if n := clk.Timers(); n != 0 {
		t.Fatalf("%d timers left behind", n)
	}
	// Already canceled: no timer at all.
	if err := run(ctx, inj, &calls); !errors.Is(err, context.Canceled) || clk.Timers() != 0 {
		t.Fatalf("error %v, timers %d", err, clk.Timers())
	}
}

func TestPolicyLatencyThenError(t *testing.T) {
	clk := clock.NewFake(time.Time{})
	inj := newInjector(t, Config{Clock: clk, Fault: Fault{Seed: 1,
		Latency: LatencyFault{Probability: 1, Duration: time.Second}, Error: ErrorFault{Probability: 1}}})
	done := make(chan error, 1)
	var calls atomic.Int64
	go func() { done <- run(context.Background(), inj, &calls) }()
	testwait.Timers(t, clk, 1, "the injected latency's timer")
	clk.Advance(time.Second)
	if err := <-done; err != ErrInjected {
		t.Fatalf("error %v, want a slow failure", err)
	}
}

func TestPolicyBlackhole(t *testing.T) {
	inj := newInjector(t, Config{Fault: Fault{Seed: 1, Blackhole: BlackholeFault{Probability: 1},
		Error: ErrorFault{Probability: 1}, Latency: LatencyFault{Probability: 1, Duration: time.Hour}}})
	ctx, cancel := context.WithCancel(context.Background())
	var calls atomic.Int64
	done := make(chan error, 1)
	go func() { done <- run(ctx, inj, &calls) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) || calls.Load() != 0 {
		t.Fatalf("error %v, calls %d", err, calls.Load())
	}
	// Inside a pipeline, the caller's deadline ends it: Ignored, not a
	// dependency failure.
	dctx, dcancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer dcancel()
	err := run(dctx, inj, &calls)
	if !errors.Is(err, context.DeadlineExceeded) || fusebox.Classify(dctx, err, nil) != fusebox.Ignored {
		t.Fatalf("error %v", err)
	}
	if s := inj.Snapshot(); s.Blackholes != 2 || s.Errors != 0 || s.Delayed != 0 {
		t.Fatalf("Snapshot %+v: a blackhole wins over everything", s)
	}
}

func TestPolicyIgnoresHTTPFaults(t *testing.T) {
	inj := newInjector(t, Config{Fault: Fault{Seed: 1, Status: StatusFault{Probability: 1}, Reset: ResetFault{Probability: 1}}})
	var calls atomic.Int64
	for range 10 {
		if err := run(context.Background(), inj, &calls); err != nil {
			t.Fatal(err)
		}
	}
	if s := inj.Snapshot(); calls.Load() != 10 || s.Statuses != 0 || s.Resets != 0 || s.Calls != 10 {
		t.Fatalf("calls %d, Snapshot %+v", calls.Load(), s)
	}
}

func TestDecisionsAreSeeded(t *testing.T) {
	const n = 1000
	count := func(inj *Injector) (int, []bool) {
		hits := make([]bool, n)
		failed := 0
		for i := range n {
			if inj.Execute(context.Background(), func(context.Context) error { return nil }) != nil {
				hits[i] = true
				failed++
			}
		}
		return failed, hits
	}
	f := Fault{Seed: 42, Error: ErrorFault{Probability: 0.3}}
	a, hitsA := count(newInjector(t, Config{Fault: f}))
	b, hitsB := count(newInjector(t, Config{Fault: f}))
	// The exact count this RNG gives seed 42: a regression pin.
	if a != 284 || b != 284 {
		t.Fatalf("p=0.3, seed 42: %d and %d failures, want 284", a, b)
	}
	for i := range hitsA {
		if hitsA[i] != hitsB[i] {
			t.Fatalf("same seed, different decision at call %d", i)
		}
	}
	// Other faults do not change which calls fail.
	f2 := f
	f2.Latency = LatencyFault{Probability: 0.5}
	if c, hitsC := count(newInjector(t, Config{Fault: f2})); c != a || !equal(hitsA, hitsC) {
		t.Fatalf("adding a latency fault changed the error decisions: %d", c)
	}
	// Set starts the sequence over.
	inj := newInjector(t, Config{Fault: f})
	count(inj)
	if err := inj.Set(f); err != nil {
		t.Fatal(err)
	}
	if c, hitsD := count(inj); c != a || !equal(hitsA, hitsD) {
		t.Fatal("Set did not start the decisions over")
	}
	// A different seed makes different decisions.
	f3 := f
	f3.Seed = 43
	if _, hitsE := count(newInjector(t, Config{Fault: f3})); equal(hitsA, hitsE) {
		t.Fatal("seeds 42 and 43 made the same decisions")
	}
	// Seed 0: a random seed, recorded in the snapshot.
	r1 := newInjector(t, Config{Fault: Fault{Error: ErrorFault{Probability: 0.5}}})
	r2 := newInjector(t, Config{Fault: Fault{Error: ErrorFault{Probability: 0.5}}})
	if r1.Snapshot().Seed == r2.Snapshot().Seed || r1.Snapshot().Seed == 0 {
		t.Fatal("seed 0 did not draw random seeds")
	}
}

func equal(a, b []bool) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return len(a) == len(b)
}

func TestProbabilitiesWithinBounds(t *testing.T) {
	// Over 1000 calls, for many seeds and probabilities, the hit count
	// stays within 4.5 standard deviations of n·p (a false alarm about
	// once in 150000 cases).
	const n = 1000
	for _, prob := range []float64{0, 0.01, 0.3, 0.5, 0.9, 1} {
		sd := math.Sqrt(n * prob * (1 - prob))
		for seed := uint64(1); seed <= 20; seed++ {
			for _, tc := range []struct {
				f   Fault
				act action
			}{
				{Fault{Seed: seed, Error: ErrorFault{Probability: prob}}, actError},
				{Fault{Seed: seed, Status: StatusFault{Probability: prob}}, actStatus},
				{Fault{Seed: seed, Reset: ResetFault{Probability: prob}}, actReset},
				{Fault{Seed: seed, Blackhole: BlackholeFault{Probability: prob}}, actBlackhole},
			} {
				p, err := newPlan(tc.f)
				if err != nil {
					t.Fatal(err)
				}
				hits := 0
				for i := range uint64(n) {
					if p.decide(i, true).act == tc.act {
						hits++
					}
				}
				if math.Abs(float64(hits)-n*prob) > 4.5*sd {
					t.Fatalf("p=%v seed %d action %d: %d hits of %d", prob, seed, tc.act, hits, n)
				}
			}
		}
	}
}

func TestPrecedence(t *testing.T) {
	p, _ := newPlan(Fault{Seed: 9, Status: StatusFault{Probability: 0.5}, Reset: ResetFault{Probability: 0.5}, Error: ErrorFault{Probability: 0.5}})
	var got [5]int
	for i := range uint64(4000) {
		got[p.decide(i, true).act]++
	}
	// Reset ~50%, Status ~25%, Error ~12.5%, none ~12.5%.
	for _, c := range []struct {
		act  action
		want float64
	}{{actReset, 2000}, {actStatus, 1000}, {actError, 500}, {actNone, 500}} {
		if math.Abs(float64(got[c.act])-c.want) > 150 {
			t.Fatalf("counts %v, want about reset 2000, status 1000, error 500, none 500", got)
		}
	}
}

func TestLatencyJitter(t *testing.T) {
	p, _ := newPlan(Fault{Seed: 3, Latency: LatencyFault{Probability: 1, Duration: 100 * time.Millisecond, Jitter: 50 * time.Millisecond}})
	lo, hi := time.Hour, time.Duration(0)
	var sum time.Duration
	for i := range uint64(2000) {
		d := p.decide(i, false).delay
		lo, hi, sum = min(lo, d), max(hi, d), sum+d
	}
	if lo < 50*time.Millisecond || hi > 150*time.Millisecond {
		t.Fatalf("delays in [%v, %v], want within [50ms, 150ms]", lo, hi)
	}
	if lo > 55*time.Millisecond || hi < 145*time.Millisecond {
		t.Fatalf("delays in [%v, %v]: the jitter does not spread them", lo, hi)
	}
	if mean := sum / 2000; mean < 97*time.Millisecond || mean > 103*time.Millisecond {
		t.Fatalf("mean delay %v, want about 100ms", mean)
	}
	// Fixed latency without jitter.
	p, _ = newPlan(Fault{Seed: 3, Latency: LatencyFault{Probability: 1, Duration: 100 * time.Millisecond}})
	if d := p.decide(5, false).delay; d != 100*time.Millisecond {
		t.Fatalf("delay %v, want 100ms", d)
	}
}

func TestDisableEnableAndSwitching(t *testing.T) {
	inj := newInjector(t, Config{Disabled: true, Fault: Fault{Seed: 1, Error: ErrorFault{Probability: 1}}})
	var calls atomic.Int64
	if err := run(context.Background(), inj, &calls); err != nil || inj.Enabled() {
		t.Fatalf("disabled injector: %v", err)
	}
	inj.Enable()
	if err := run(context.Background(), inj, &calls); err != ErrInjected {
		t.Fatalf("enabled: %v", err)
	}
	inj.Disable()
	if err := run(context.Background(), inj, &calls); err != nil {
		t.Fatalf("disabled again: %v", err)
	}
	inj.Enable()
	if err := inj.Set(Fault{}); err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), inj, &calls); err != nil {
		t.Fatalf("after Set(Fault{}): %v", err)
	}
	if s := inj.Snapshot(); s.Calls != 2 || s.Errors != 1 || !s.Enabled || calls.Load() != 3 {
		t.Fatalf("Snapshot %+v, calls %d: a disabled injector draws nothing", s, calls.Load())
	}
}

func TestSwitchingUnderLoad(t *testing.T) {
	inj := newInjector(t, Config{Fault: Fault{Seed: 1}})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				err := inj.Execute(context.Background(), func(context.Context) error { return nil })
				if err != nil && err != ErrInjected {
					t.Errorf("unexpected error %v", err)
					return
				}
			}
		})
	}
	for i := range 200 {
		_ = inj.Set(Fault{Seed: uint64(i + 1), Error: ErrorFault{Probability: float64(i%3) / 2}})
		if i%7 == 0 {
			inj.Disable()
		} else {
			inj.Enable()
		}
	}
	close(stop)
	wg.Wait()
}

func TestInPipeline(t *testing.T) {
	clk := clock.NewFake(time.Time{})
	b, err := breaker.New(breaker.Config{Clock: clk, ConsecutiveFailures: 3})
	if err != nil {
		t.Fatal(err)
	}
	inj := newInjector(t, Config{Clock: clk, Fault: Fault{Seed: 1, Error: ErrorFault{Probability: 1}}})
	p, err := fusebox.New(b, inj)
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int64
	fn := func(context.Context) error { calls.Add(1); return nil }
	for range 3 {
		if err := p.Run(context.Background(), fn); err != ErrInjected {
			t.Fatalf("error %v", err)
		}
	}
	if b.State() != breaker.Open {
		t.Fatalf("breaker %v after three injected failures, want open", b.State())
	}
	// Heal the dependency; the breaker recovers after its open duration.
	inj.Disable()
	clk.Advance(time.Minute)
	for range 3 {
		if err := p.Run(context.Background(), fn); err != nil {
			t.Fatal(err)
		}
	}
	if b.State() != breaker.Closed || calls.Load() != 3 {
		t.Fatalf("breaker %v, calls %d", b.State(), calls.Load())
	}
	// Do[T] through the injector.
	v, err := fusebox.Do(context.Background(), p, func(context.Context) (string, error) { return "ok", nil })
	if v != "ok" || err != nil {
		t.Fatalf("Do: %q, %v", v, err)
	}
}

func TestRunAllocatesNothing(t *testing.T) {
	fn := fusebox.NextFunc(func(context.Context) error { return nil })
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		c    Config
	}{
		{"no fault", Config{}},
		{"disabled", Config{Disabled: true, Fault: Fault{Error: ErrorFault{Probability: 1}}}},
		{"miss", Config{Fault: Fault{Seed: 1, Error: ErrorFault{Probability: 0.5}, Latency: LatencyFault{Probability: 0.5}}}},
		{"error", Config{Fault: Fault{Seed: 1, Error: ErrorFault{Probability: 1, Message: "x"}}}},
	} {
		inj := newInjector(t, tc.c)
		if n := testing.AllocsPerRun(1000, func() { _ = inj.Run(ctx, fn) }); n != 0 {
			t.Errorf("%s: %v allocs per Run, want 0", tc.name, n)
		}
	}
}

func TestNilInjectorPassesThrough(t *testing.T) {
	var inj *Injector
	var calls atomic.Int64
	if err := run(context.Background(), inj, &calls); err != nil || calls.Load() != 1 {
		t.Fatalf("nil injector: %v, calls %d", err, calls.Load())
	}
}

func BenchmarkRun(b *testing.B) {
	fn := fusebox.NextFunc(func(context.Context) error { return nil })
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		c    Config
	}{
		{"disabled", Config{Disabled: true}},
		{"miss", Config{Fault: Fault{Seed: 1, Error: ErrorFault{Probability: 0.001}}}},
	} {
		inj := newInjector(b, bc.c)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = inj.Run(ctx, fn)
			}
		})
		b.Run(bc.name+"-parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					_ = inj.Run(ctx, fn)
				}
			})
		})
	}
}
