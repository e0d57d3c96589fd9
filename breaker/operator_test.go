package breaker

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/internal/testwait"
)

func TestTripRecoversThroughHalfOpen(t *testing.T) {
	b, clk := mustNew(t, Config{OpenDuration: time.Second, HalfOpenProbes: 1})
	b.Trip()
	if s := b.Snapshot(); s.State != Open || s.Reason != "tripped by operator" || s.RetryAfter != time.Second {
		t.Fatalf("after Trip: %+v, want open for 1s, tripped by operator", s)
	}
	mustReject(t, b)
	clk.Advance(time.Second)
	call(t, b, ok)
	if b.State() != Closed {
		t.Fatalf("state after a successful probe = %v, want closed", b.State())
	}
}

// Trip acts on the automatic states only. The operator states last until
// Reset or another operator command: Trip used to take a forced-open
// breaker to Open, whose duration ends by itself, so it let probes through
// and closed with no Reset.
func TestTripLeavesOperatorStates(t *testing.T) {
	for _, tc := range []struct {
		state State
		set   func(b *Breaker)
	}{
		{ForcedOpen, (*Breaker).ForceOpen},
		{Disabled, (*Breaker).Disable},
		{MetricsOnly, (*Breaker).MetricsOnly},
	} {
		t.Run(tc.state.String(), func(t *testing.T) {
			b, clk := mustNew(t, Config{ConsecutiveFailures: 1, OpenDuration: time.Second, HalfOpenProbes: 1})
			tc.set(b)
			before := b.Snapshot()
			b.Trip()
			if s := b.Snapshot(); s.State != tc.state || s.Transitions != before.Transitions || s.Generation != before.Generation {
				t.Fatalf("Trip in %v: state %v, transitions %d→%d, generation %d→%d; want no change",
					tc.state, s.State, before.Transitions, s.Transitions, before.Generation, s.Generation)
			}
			clk.Advance(time.Hour)
			if tc.state == ForcedOpen {
				mustReject(t, b) // still forced open: no probe, no recovery without Reset
			} else {
				call(t, b, bad)
			}
			if b.State() != tc.state {
				t.Fatalf("an hour after Trip in %v: state %v", tc.state, b.State())
			}
			b.Reset()
			b.Trip() // closed: Trip opens
			if b.State() != Open {
				t.Fatalf("Trip after Reset: state %v, want open", b.State())
			}
		})
	}
}

// Reset of a closed breaker starts a new generation: outcomes of calls
// admitted before it are late, as they would be had the breaker been in
// any other state, instead of landing in the emptied window and tripping
// it at once.
func TestResetOfClosedDropsInFlightOutcomes(t *testing.T) {
	for _, w := range []WindowKind{TimeWindow, CountWindow} {
		t.Run(string(w), func(t *testing.T) {
			events := make(chan Transition, 4)
			b, _ := mustNew(t, Config{Window: w, ConsecutiveFailures: 2, OnStateChange: func(tr Transition) { events <- tr }})
			p1, _ := b.Allow()
			p2, _ := b.Allow()
			gen := b.Snapshot().Generation
			b.Reset()
			p1.Done(bad)
			p2.Done(bad)
			s := b.Snapshot()
			if s.State != Closed || s.LateOutcomes != 2 || s.Calls != 0 || s.ConsecutiveFailures != 0 || s.TotalCalls != 0 {
				t.Errorf("outcomes of calls admitted before Reset: state %v, late %d, window %d/%d, run %d, total %d; want closed, 2 late, nothing counted",
					s.State, s.LateOutcomes, s.Calls, s.Failures, s.ConsecutiveFailures, s.TotalCalls)
			}
			if s.Generation != gen+1 || s.Transitions != 0 {
				t.Errorf("generation %d→%d, transitions %d; want a new generation and no transition", gen, s.Generation, s.Transitions)
			}
			select {
			case tr := <-events:
				t.Errorf("Reset of a closed breaker published %v→%v", tr.From, tr.To)
			default:
			}
			// Calls admitted after the Reset count as usual.
			call(t, b, bad)
			call(t, b, bad)
			if b.State() != Open {
				t.Errorf("two failures after Reset: state %v, want open", b.State())
			}
			testwait.Recv(t, events, "closed→open")
		})
	}
}

func TestResetFromEveryState(t *testing.T) {
	setups := map[State]func(t *testing.T, b *Breaker, clk *clock.Fake){
		Closed: func(*testing.T, *Breaker, *clock.Fake) {},
		Open:   func(_ *testing.T, b *Breaker, _ *clock.Fake) { b.Trip() },
		HalfOpen: func(t *testing.T, b *Breaker, clk *clock.Fake) {
			b.Trip()
			clk.Advance(time.Hour)
			call(t, b, ign)
		},
		ForcedOpen:  func(_ *testing.T, b *Breaker, _ *clock.Fake) { b.ForceOpen() },
		Disabled:    func(_ *testing.T, b *Breaker, _ *clock.Fake) { b.Disable() },
		MetricsOnly: func(_ *testing.T, b *Breaker, _ *clock.Fake) { b.MetricsOnly() },
	}
	for _, st := range States {
		t.Run(st.String(), func(t *testing.T) {
			b, clk := mustNew(t, Config{Window: CountWindow, WindowSize: 10, ConsecutiveFailures: 5})
			call(t, b, bad)
			call(t, b, bad)
			setups[st](t, b, clk)
			if b.State() != st {
				t.Fatalf("setup reached %v, want %v", b.State(), st)
			}
			b.Reset()
			s := b.Snapshot()
			if s.State != Closed || s.Calls != 0 || s.Failures != 0 || s.ConsecutiveFailures != 0 {
				t.Errorf("after Reset from %v: state %v calls %d failures %d run %d; want closed with an empty window",
					st, s.State, s.Calls, s.Failures, s.ConsecutiveFailures)
			}
			if s.TotalCalls != 2 || s.TotalFailures != 2 {
				t.Errorf("lifetime totals %d/%d, want 2/2: Reset keeps them", s.TotalCalls, s.TotalFailures)
			}
			// The run starts afresh: 4 failures do not trip, the 5th does.
			for range 4 {
				call(t, b, bad)
			}
			if b.State() != Closed {
				t.Errorf("state after 4 failures = %v, want closed", b.State())
			}
			call(t, b, bad)
			if b.State() != Open {
				t.Errorf("state after 5 failures = %v, want open", b.State())
			}
		})
	}
}

func TestForceOpen(t *testing.T) {
	b, clk := mustNew(t, Config{Name: "x", OpenDuration: time.Second, AutoHalfOpen: true})
	ran := false
	b.ForceOpen()
	for range 3 {
		err := b.Execute(context.Background(), func(context.Context) error { ran = true; return nil })
		var oe *OpenError
		if !errors.Is(err, ErrOpen) || !errors.As(err, &oe) {
			t.Fatalf("Execute while forced open = %v, want an *OpenError matching ErrOpen", err)
		}
		if oe.State != ForcedOpen || oe.RetryAfter() != 0 || oe.Error() != "breaker x: forced-open" {
			t.Errorf("OpenError state %v RetryAfter %v Error %q, want forced-open, 0, %q", oe.State, oe.RetryAfter(), oe.Error(), "breaker x: forced-open")
		}
		clk.Advance(time.Hour)
		if b.State() != ForcedOpen {
			t.Fatalf("state = %v, want forced-open until Reset", b.State())
		}
	}
	if ran {
		t.Error("the function ran while forced open")
	}
	if s := b.Snapshot(); s.RetryAfter != 0 || s.Rejections != 3 {
		t.Errorf("snapshot RetryAfter %v Rejections %d, want 0, 3", s.RetryAfter, s.Rejections)
	}
	b.ForceOpen() // again: no transition
	if s := b.Snapshot(); s.Transitions != 1 {
		t.Errorf("Transitions = %d, want 1: a second ForceOpen changes nothing", s.Transitions)
	}
	b.Reset()
	if err := b.Execute(context.Background(), okFn); err != nil {
		t.Errorf("Execute after Reset = %v, want nil", err)
	}
}

func TestDisable(t *testing.T) {
	for _, w := range []WindowKind{TimeWindow, CountWindow} {
		t.Run(string(w), func(t *testing.T) {
			b, _ := mustNew(t, Config{Window: w, ConsecutiveFailures: 1, MinimumCalls: 1, FailureRate: 0.1})
			call(t, b, ok)
			before := b.Snapshot()
			b.Disable()
			if b.State() != Disabled {
				t.Fatalf("state = %v, want disabled", b.State())
			}
			runs := 0
			for range 50 {
				if err := b.Execute(context.Background(), func(context.Context) error { runs++; return errBoom }); err != errBoom {
					t.Fatalf("Execute while disabled = %v, want the function's error", err)
				}
				call(t, b, bad)
				if _, err := Do(context.Background(), b, func(context.Context) (int, error) { return 0, errBoom }); err != errBoom {
					t.Fatalf("Do while disabled = %v, want the function's error", err)
				}
			}
			if runs != 50 {
				t.Errorf("function ran %d times, want 50", runs)
			}
			after := b.Snapshot()
			if after.State != Disabled || after.Calls != before.Calls || after.Failures != before.Failures ||
				after.TotalCalls != before.TotalCalls || after.TotalFailures != before.TotalFailures ||
				after.ConsecutiveFailures != 0 || after.Rejections != 0 || after.LateOutcomes != 0 {
				t.Errorf("disabled breaker recorded something: before %+v after %+v", before, after)
			}
			b.Reset()
			call(t, b, bad)
			if b.State() != Open {
				t.Errorf("after Reset a failure left %v, want open", b.State())
			}
		})
	}
}

func TestMetricsOnly(t *testing.T) {
	for _, w := range []WindowKind{TimeWindow, CountWindow} {
		t.Run(string(w), func(t *testing.T) {
			b, _ := mustNew(t, Config{
				Window: w, ConsecutiveFailures: 3, MinimumCalls: 1, FailureRate: 0.1,
				SlowCallRate: 0.1, SlowCallDuration: time.Nanosecond,
			})
			call(t, b, ok)
			b.MetricsOnly()
			for range 60 {
				if err := b.Execute(context.Background(), failFn); err != errBoom {
					t.Fatalf("Execute in metrics-only = %v, want the function's error", err)
				}
			}
			s := b.Snapshot()
			if s.State != MetricsOnly {
				t.Fatalf("state = %v, want metrics-only", s.State)
			}
			if s.Calls != 61 || s.Failures != 60 || s.ConsecutiveFailures != 60 || s.TotalFailures != 60 {
				t.Errorf("calls %d failures %d run %d total failures %d, want 61, 60, 60, 60", s.Calls, s.Failures, s.ConsecutiveFailures, s.TotalFailures)
			}
			if s.FailureRate < 0.98 {
				t.Errorf("FailureRate = %v, want 60/61", s.FailureRate)
			}
			// Back to closed: the window is emptied, so the breaker judges
			// afresh.
			b.Reset()
			if s := b.Snapshot(); s.Calls != 0 {
				t.Errorf("calls after Reset = %d, want 0", s.Calls)
			}
		})
	}
}

// Switching a closed breaker to metrics-only or disabled keeps its window;
// switching back to closed empties it.
func TestModeSwitchKeepsWindow(t *testing.T) {
	b, _ := mustNew(t, Config{Window: CountWindow, ConsecutiveFailures: 10})
	call(t, b, bad)
	call(t, b, ok)
	b.MetricsOnly()
	if s := b.Snapshot(); s.Calls != 2 || s.Failures != 1 {
		t.Errorf("metrics-only from closed: window %d/%d, want 2/1", s.Calls, s.Failures)
	}
	b.Disable()
	if s := b.Snapshot(); s.Calls != 2 || s.Failures != 1 {
		t.Errorf("disabled from metrics-only: window %d/%d, want 2/1", s.Calls, s.Failures)
	}
}

func TestClassifier(t *testing.T) {
	live := context.Background()
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancel2()
	wrappedCanceled := errors.Join(errBoom, context.Canceled)
	errNotFound := errors.New("not found")
	errBadInput := errors.New("bad input")
	custom := func(err error) fusebox.Outcome {
		switch {
		case err == nil:
			return fusebox.Success
		case errors.Is(err, errNotFound):
			return fusebox.Success // a 404 says the dependency is healthy
		case errors.Is(err, errBadInput):
			return fusebox.Ignored
		}
		return fusebox.Failure
	}
	tests := []struct {
		name       string
		classifier fusebox.Classifier
		ctx        context.Context
		err        error
		want       fusebox.Outcome
	}{
		{"default: nil", nil, live, nil, fusebox.Success},
		{"default: error", nil, live, errBoom, fusebox.Failure},
		{"default: context.Canceled", nil, live, context.Canceled, fusebox.Ignored},
		{"default: wrapped context.Canceled", nil, live, wrappedCanceled, fusebox.Ignored},
		{"default: DeadlineExceeded, live caller", nil, live, context.DeadlineExceeded, fusebox.Failure},
		{"default: DeadlineExceeded, caller past its deadline", nil, expired, context.DeadlineExceeded, fusebox.Ignored},
		{"default: any error, caller canceled", nil, canceled, errBoom, fusebox.Ignored},
		{"default: nil, caller canceled", nil, canceled, nil, fusebox.Success},
		{"custom: nil", custom, live, nil, fusebox.Success},
		{"custom: not found is a success", custom, live, errNotFound, fusebox.Success},
		{"custom: bad input is ignored", custom, live, errBadInput, fusebox.Ignored},
		{"custom: other", custom, live, errBoom, fusebox.Failure},
		{"custom: cannot override caller cancellation", custom, canceled, errBoom, fusebox.Ignored},
		{"custom: cannot override caller deadline", custom, expired, context.DeadlineExceeded, fusebox.Ignored},
		{"custom: nil can be a failure", func(error) fusebox.Outcome { return fusebox.Failure }, live, nil, fusebox.Failure},
	}
	type path struct {
		name string
		run  func(b *Breaker, ctx context.Context, err error)
	}
	paths := []path{
		{"Execute", func(b *Breaker, ctx context.Context, err error) {
			_ = b.Execute(ctx, func(context.Context) error { return err })
		}},
		{"Do", func(b *Breaker, ctx context.Context, err error) {
			_, _ = Do(ctx, b, func(context.Context) (string, error) { return "", err })
		}},
		{"Run", func(b *Breaker, ctx context.Context, err error) {
			_ = b.Run(ctx, fusebox.NextFunc(func(context.Context) error { return err }))
		}},
		{"Allow+Classify", func(b *Breaker, ctx context.Context, err error) {
			p, aerr := b.Allow()
			if aerr != nil {
				panic(aerr)
			}
			p.Done(b.Classify(ctx, err))
		}},
	}
	for _, tt := range tests {
		for _, w := range []WindowKind{TimeWindow, CountWindow} {
			for _, p := range paths {
				t.Run(tt.name+"/"+string(w)+"/"+p.name, func(t *testing.T) {
					b, _ := mustNew(t, Config{Window: w, Classifier: tt.classifier, ConsecutiveFailures: 100})
					if got := b.Classify(tt.ctx, tt.err); got != tt.want {
						t.Errorf("Classify = %v, want %v", got, tt.want)
					}
					p.run(b, tt.ctx, tt.err)
					s := b.Snapshot()
					var want [4]uint64 // calls, failures, ignored, run
					switch tt.want {
					case fusebox.Success:
						want = [4]uint64{1, 0, 0, 0}
					case fusebox.Failure:
						want = [4]uint64{1, 1, 0, 1}
					case fusebox.Ignored:
						want = [4]uint64{0, 0, 1, 0}
					}
					got := [4]uint64{s.Calls, s.Failures, s.Ignored, s.ConsecutiveFailures}
					if got != want {
						t.Errorf("calls/failures/ignored/run = %v, want %v", got, want)
					}
					if s.TotalCalls != want[0] || s.TotalFailures != want[1] || s.TotalIgnored != want[2] {
						t.Errorf("totals %d/%d/%d, want %v", s.TotalCalls, s.TotalFailures, s.TotalIgnored, want[:3])
					}
				})
			}
		}
	}
}

// Ignored calls count only in Ignored: not as calls, not in the run, not in
// the rates, and do not break a run of failures.
func TestIgnoredCountsOnlyAsIgnored(t *testing.T) {
	b, _ := mustNew(t, Config{Window: CountWindow, WindowSize: 10, MinimumCalls: 3, FailureRate: 0.5, ConsecutiveFailures: 3})
	call(t, b, bad)
	for range 20 {
		call(t, b, ign)
	}
	call(t, b, bad)
	s := b.Snapshot()
	if s.Calls != 2 || s.Failures != 2 || s.Ignored != 20 || s.ConsecutiveFailures != 2 || s.FailureRate != 1 || s.TotalIgnored != 20 {
		t.Fatalf("snapshot %+v, want 2 calls, 2 failures, 20 ignored, run 2", s)
	}
	if s.State != Closed {
		t.Fatalf("state %v, want closed: ignored calls are not calls for MinimumCalls", s.State)
	}
	call(t, b, bad)
	if b.State() != Open {
		t.Fatalf("state %v, want open after a run of 3", b.State())
	}
}

// Issue 2: "Ignored outcomes release permits and count nowhere except their
// own counter"; Snapshot: "Total counts cover the breaker's life". Probes
// are judged outside the window, but they are calls: each one that is not
// late counts in the lifetime totals, and only there.
func TestProbeOutcomesCountInLifetimeTotals(t *testing.T) {
	for _, w := range []WindowKind{TimeWindow, CountWindow} {
		t.Run(string(w), func(t *testing.T) {
			b, clk := mustNew(t, Config{
				Window: w, ConsecutiveFailures: 1, OpenDuration: time.Second, HalfOpenProbes: 1,
				SlowCallRate: 1, SlowCallDuration: time.Minute, MinimumCalls: 100,
			})
			b.Trip()
			clk.Advance(time.Second)
			call(t, b, ign) // an ignored probe
			call(t, b, bad) // a failed probe: re-open
			s := b.Snapshot()
			if s.TotalIgnored != 1 || s.TotalCalls != 1 || s.TotalFailures != 1 || s.TotalSlowCalls != 0 {
				t.Errorf("after an ignored and a failed probe: totals calls/failures/slow/ignored %d/%d/%d/%d, want 1/1/0/1",
					s.TotalCalls, s.TotalFailures, s.TotalSlowCalls, s.TotalIgnored)
			}
			clk.Advance(time.Second)
			p, err := b.Allow()
			if err != nil {
				t.Fatal(err)
			}
			clk.Advance(time.Minute)
			p.Done(ok) // a slow probe: re-open
			clk.Advance(time.Second)
			late, _ := b.Allow()
			b.Trip()
			late.Done(ok) // late: counts nowhere but LateOutcomes
			clk.Advance(time.Second)
			call(t, b, ok) // a successful probe: close
			s = b.Snapshot()
			if s.State != Closed || s.TotalCalls != 3 || s.TotalFailures != 1 || s.TotalSlowCalls != 1 || s.TotalIgnored != 1 || s.LateOutcomes != 1 {
				t.Errorf("state %v, totals calls/failures/slow/ignored %d/%d/%d/%d, late %d; want closed, 3/1/1/1, 1",
					s.State, s.TotalCalls, s.TotalFailures, s.TotalSlowCalls, s.TotalIgnored, s.LateOutcomes)
			}
			if s.Calls != 0 || s.Failures != 0 || s.SlowCalls != 0 || s.Ignored != 0 {
				t.Errorf("window %d/%d/%d/%d, want empty: probes count in the totals only", s.Calls, s.Failures, s.SlowCalls, s.Ignored)
			}
		})
	}
}

type panicPath struct {
	name string
	run  func(b *Breaker, v any) error
}

var panicPaths = []panicPath{
	{"Execute", func(b *Breaker, v any) error {
		return b.Execute(context.Background(), func(context.Context) error { panic(v) })
	}},
	{"Do", func(b *Breaker, v any) error {
		_, err := Do(context.Background(), b, func(context.Context) (int, error) { panic(v) })
		return err
	}},
	{"Run", func(b *Breaker, v any) error {
		return b.Run(context.Background(), fusebox.NextFunc(func(context.Context) error { panic(v) }))
	}},
	{"Pipeline", func(b *Breaker, v any) error {
		p, err := fusebox.New(b)
		if err != nil {
			panic(err)
		}
		return p.Run(context.Background(), func(context.Context) error { panic(v) })
	}},
}

// recovered runs f and returns what it panicked with, or nil.
func recovered(f func()) (v any) {
	defer func() { v = recover() }()
	f()
	return nil
}

// callPanicking runs one panicking call and returns what was recovered.
func callPanicking(p panicPath, b *Breaker, v any) (recovered any, err error) {
	defer func() { recovered = recover() }()
	err = p.run(b, v)
	return nil, err
}

func TestPanicRecordedAsFailureAndReraised(t *testing.T) {
	type payload struct{ n int }
	for _, p := range panicPaths {
		for _, cfg := range []Config{
			{ConsecutiveFailures: 2},                                        // hot path
			{Window: CountWindow, ConsecutiveFailures: 2},                   // count window
			{ConsecutiveFailures: 2, SlowCallRate: 1},                       // timed: through a Permit
			{ConsecutiveFailures: 2, Classifier: fusebox.DefaultClassifier}, // classified: through a Permit
		} {
			t.Run(p.name, func(t *testing.T) {
				b, _ := mustNew(t, cfg)
				v := &payload{7}
				got, _ := callPanicking(p, b, v)
				if got != v {
					t.Fatalf("recovered %v, want the original panic value", got)
				}
				if s := b.Snapshot(); s.Failures != 1 || s.ConsecutiveFailures != 1 || s.State != Closed {
					t.Fatalf("after one panic: %+v, want one failure", s)
				}
				if got, _ := callPanicking(p, b, "again"); got != "again" {
					t.Fatalf("recovered %v, want again", got)
				}
				if b.State() != Open {
					t.Fatalf("state after two panics = %v, want open", b.State())
				}
			})
		}
	}
}

// 1000 panicking probes, each re-opening the breaker, leave no slot taken:
// the breaker still recovers with successful probes.
func TestPanickingProbesReleaseSlots(t *testing.T) {
	for _, p := range panicPaths {
		t.Run(p.name, func(t *testing.T) {
			b, clk := mustNew(t, Config{ConsecutiveFailures: 1, OpenDuration: time.Second, HalfOpenProbes: 2, HalfOpenMaxWait: time.Hour})
			b.Trip()
			for i := range 1000 {
				clk.Advance(time.Second)
				if got, _ := callPanicking(p, b, i); got != i {
					t.Fatalf("probe %d: recovered %v", i, got)
				}
				if b.State() != Open {
					t.Fatalf("probe %d: state %v, want open", i, b.State())
				}
			}
			if s := b.Snapshot(); s.FailedProbes != 1000 || s.ReclaimedProbes != 0 {
				t.Fatalf("FailedProbes %d ReclaimedProbes %d, want 1000, 0", s.FailedProbes, s.ReclaimedProbes)
			}
			clk.Advance(time.Second)
			p1, err1 := b.Allow()
			p2, err2 := b.Allow()
			if err1 != nil || err2 != nil {
				t.Fatalf("both probe slots should be free: %v, %v", err1, err2)
			}
			mustReject(t, b)
			p1.Done(ok)
			p2.Done(ok)
			if b.State() != Closed {
				t.Fatalf("state after two successful probes = %v, want closed", b.State())
			}
		})
	}
}

// A Classifier is user code too. Execute, Run and Do used to mark the call
// finished before classifying it, so a panicking Classifier skipped the
// deferred Done: the permit was never done and, in half-open, the probe
// slot stayed taken until HalfOpenMaxWait. Now the panic releases the
// permit as a failure and continues.
func TestClassifierPanicReleasesPermit(t *testing.T) {
	paths := []struct {
		name string
		run  func(b *Breaker) error
	}{
		{"Execute", func(b *Breaker) error { return b.Execute(context.Background(), failFn) }},
		{"Do", func(b *Breaker) error {
			_, err := Do(context.Background(), b, func(context.Context) (int, error) { return 0, errBoom })
			return err
		}},
		{"Run", func(b *Breaker) error { return b.Run(context.Background(), fusebox.NextFunc(failFn)) }},
		{"Pipeline", func(b *Breaker) error {
			p, err := fusebox.New(b)
			if err != nil {
				panic(err)
			}
			return p.Run(context.Background(), failFn)
		}},
	}
	classify := func(err error) fusebox.Outcome {
		if err != nil {
			panic("classifier")
		}
		return fusebox.Success
	}
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			b, clk := mustNew(t, Config{ConsecutiveFailures: 1, OpenDuration: time.Second, HalfOpenProbes: 1,
				HalfOpenMaxWait: time.Hour, Classifier: classify})
			b.Trip()
			clk.Advance(time.Second)
			if got := recovered(func() { _ = p.run(b) }); got != "classifier" {
				t.Fatalf("recovered %v, want the classifier's panic", got)
			}
			if s := b.Snapshot(); s.State != Open || s.FailedProbes != 1 || s.TotalFailures != 1 {
				t.Fatalf("after a panicking classifier: state %v, FailedProbes %d, TotalFailures %d; want open, 1, 1 (a failed probe)",
					s.State, s.FailedProbes, s.TotalFailures)
			}
			clk.Advance(time.Second)
			call(t, b, ok) // the slot is free: the next probe closes the breaker
			if b.State() != Closed {
				t.Fatalf("state %v after a successful probe, want closed", b.State())
			}
			// In the closed state too, through a Permit: the panic is a failure.
			if got := recovered(func() { _ = p.run(b) }); got != "classifier" {
				t.Fatalf("closed: recovered %v, want the classifier's panic", got)
			}
			if b.State() != Open {
				t.Errorf("closed: state %v after a panicking classifier, want open (one failure trips)", b.State())
			}
		})
	}
}

// Generation numbers: outcomes of permits issued before a transition are
// late and change nothing.
func TestLateOutcomes(t *testing.T) {
	for _, w := range []WindowKind{TimeWindow, CountWindow} {
		t.Run(string(w), func(t *testing.T) {
			b, clk := mustNew(t, Config{Window: w, ConsecutiveFailures: 2, OpenDuration: time.Second, HalfOpenProbes: 1})
			early, _ := b.Allow()
			earlier, _ := b.Allow()
			call(t, b, bad)
			call(t, b, bad) // open
			before := b.Snapshot()
			early.Done(ok)
			after := b.Snapshot()
			if after.LateOutcomes != 1 || after.Calls != before.Calls || after.Failures != before.Failures ||
				after.ConsecutiveFailures != before.ConsecutiveFailures || after.TotalCalls != before.TotalCalls {
				t.Fatalf("late success changed counts: before %+v after %+v", before, after)
			}
			clk.Advance(time.Second)
			call(t, b, ok) // closed again
			if b.State() != Closed {
				t.Fatalf("state %v, want closed", b.State())
			}
			earlier.Done(bad)
			earlier.Done(bad) // twice: counted once
			s := b.Snapshot()
			if s.LateOutcomes != 2 || s.Calls != 0 || s.ConsecutiveFailures != 0 || s.State != Closed {
				t.Fatalf("late failure after re-close: %+v, want 2 late, empty window", s)
			}
			// Done twice on a current permit records once.
			p, _ := b.Allow()
			p.Done(bad)
			p.Done(bad)
			if s := b.Snapshot(); s.Calls != 1 || s.Failures != 1 || s.State != Closed {
				t.Fatalf("double Done: %+v, want 1 call, 1 failure, closed", s)
			}
			// A permit never done records nothing.
			_, _ = b.Allow()
			if s := b.Snapshot(); s.Calls != 1 {
				t.Fatalf("never-done permit: calls %d, want 1", s.Calls)
			}
		})
	}
}

// A zero Permit and a Disabled breaker's permits are inert.
func TestInertPermits(t *testing.T) {
	var p Permit
	p.Done(bad) // must not panic
	b, _ := mustNew(t, Config{})
	b.Disable()
	q, err := b.Allow()
	if err != nil {
		t.Fatal(err)
	}
	q.Done(bad)
	if s := b.Snapshot(); s.TotalCalls != 0 || s.LateOutcomes != 0 {
		t.Fatalf("disabled permit recorded: %+v", s)
	}
}

func TestPipeline(t *testing.T) {
	b, clk := mustNew(t, Config{Name: "dep", ConsecutiveFailures: 2, OpenDuration: time.Second, HalfOpenProbes: 1})
	p, err := fusebox.New(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background(), okFn); err != nil {
		t.Fatalf("Run = %v", err)
	}
	v, err := fusebox.Do(context.Background(), p, func(context.Context) (int, error) { return 42, nil })
	if v != 42 || err != nil {
		t.Fatalf("Do = %v, %v, want 42, nil", v, err)
	}
	for range 2 {
		if err := p.Run(context.Background(), failFn); err != errBoom {
			t.Fatalf("Run = %v, want boom", err)
		}
	}
	ran := false
	err = p.Run(context.Background(), func(context.Context) error { ran = true; return nil })
	var oe *OpenError
	if !errors.Is(err, fusebox.ErrOpen) || !errors.As(err, &oe) || oe.Name != "dep" || ran {
		t.Fatalf("Run on an open breaker = %v (ran %v), want ErrOpen without running", err, ran)
	}
	_, err = fusebox.Do(context.Background(), p, func(context.Context) (int, error) { return 1, nil })
	if !errors.Is(err, fusebox.ErrOpen) {
		t.Fatalf("Do on an open breaker = %v, want ErrOpen", err)
	}
	clk.Advance(time.Second)
	if err := p.Run(context.Background(), okFn); err != nil || b.State() != Closed {
		t.Fatalf("probe through the pipeline: %v, state %v; want nil, closed", err, b.State())
	}
	s := b.Snapshot()
	if s.TotalCalls != 5 || s.Rejections != 2 {
		t.Errorf("TotalCalls %d Rejections %d, want 5 (4 closed, 1 probe), 2", s.TotalCalls, s.Rejections)
	}
	// A caller cancellation through the pipeline is ignored.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = p.Run(ctx, func(ctx context.Context) error { return ctx.Err() })
	if s := b.Snapshot(); s.Ignored != 1 || s.Failures != 0 {
		t.Errorf("canceled call: ignored %d failures %d, want 1, 0", s.Ignored, s.Failures)
	}
}

// A breaker nested with another policy sees the inner policy's result.
func TestPipelineNested(t *testing.T) {
	outer, _ := mustNew(t, Config{Name: "outer", ConsecutiveFailures: 1})
	inner, _ := mustNew(t, Config{Name: "inner", ConsecutiveFailures: 1})
	p, err := fusebox.New(outer, inner)
	if err != nil {
		t.Fatal(err)
	}
	_ = p.Run(context.Background(), failFn)
	if outer.State() != Open || inner.State() != Open {
		t.Fatalf("states %v/%v, want open/open", outer.State(), inner.State())
	}
	outer.Reset()
	err = p.Run(context.Background(), okFn)
	var oe *OpenError
	if !errors.As(err, &oe) || oe.Name != "inner" {
		t.Fatalf("Run = %v, want the inner breaker's rejection", err)
	}
}
