package breaker

import (
	"errors"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/internal/testwait"
)

// env is what the steps of a transition table act on.
type env struct {
	t    *testing.T
	b    *Breaker
	clk  *clock.Fake
	held map[string]*Permit
}

// step is one action of a transition table and the state it must leave.
type step struct {
	desc string
	do   func(e *env)
	want State
}

func run(t *testing.T, c Config, steps []step) *env {
	t.Helper()
	b, clk := mustNew(t, c)
	e := &env{t: t, b: b, clk: clk, held: map[string]*Permit{}}
	for i, s := range steps {
		s.do(e)
		if t.Failed() {
			t.Fatalf("step %d (%s) failed", i, s.desc)
		}
		if got := b.State(); got != s.want {
			t.Fatalf("step %d (%s): state %v, want %v (snapshot %+v)", i, s.desc, got, s.want, b.Snapshot())
		}
	}
	return e
}

var (
	ok  = fusebox.Success
	bad = fusebox.Failure
	ign = fusebox.Ignored
)

// do makes n calls with outcome o.
func do(n int, o fusebox.Outcome, want State) step {
	return step{desc: strconv.Itoa(n) + " × " + o.String(), want: want, do: func(e *env) {
		for range n {
			call(e.t, e.b, o)
		}
	}}
}

// timed makes one call that takes d and ends with outcome o.
func timed(d time.Duration, o fusebox.Outcome, want State) step {
	return step{desc: o.String() + " taking " + d.String(), want: want, do: func(e *env) {
		p, err := e.b.Allow()
		if err != nil {
			e.t.Fatalf("Allow: %v", err)
		}
		e.clk.Advance(d)
		p.Done(o)
	}}
}

func advance(d time.Duration, want State) step {
	return step{desc: "advance " + d.String(), want: want, do: func(e *env) { e.clk.Advance(d) }}
}

func reject(want State) step {
	return step{desc: "rejected", want: want, do: func(e *env) { mustReject(e.t, e.b) }}
}

// hold takes a permit and keeps it under name.
func hold(name string, want State) step {
	return step{desc: "hold " + name, want: want, do: func(e *env) {
		p, err := e.b.Allow()
		if err != nil {
			e.t.Fatalf("Allow for %s: %v", name, err)
		}
		e.held[name] = &p
	}}
}

// finish reports the outcome of a held permit.
func finish(name string, o fusebox.Outcome, want State) step {
	return step{desc: "finish " + name + " " + o.String(), want: want, do: func(e *env) {
		p := e.held[name]
		if p == nil {
			e.t.Fatalf("no permit %s", name)
		}
		p.Done(o)
	}}
}

// check runs f on a snapshot; the state must stay want.
func check(desc string, want State, f func(t *testing.T, s Snapshot)) step {
	return step{desc: desc, want: want, do: func(e *env) { f(e.t, e.b.Snapshot()) }}
}

// counts checks the window's calls and failures.
func counts(calls, failures uint64, want State) step {
	return check("window counts", want, func(t *testing.T, s Snapshot) {
		t.Helper()
		if s.Calls != calls || s.Failures != failures {
			t.Errorf("window calls/failures = %d/%d, want %d/%d", s.Calls, s.Failures, calls, failures)
		}
	})
}

func reason(r string, want State) step {
	return check("reason "+r, want, func(t *testing.T, s Snapshot) {
		if s.Reason != r {
			t.Errorf("Reason = %q, want %q", s.Reason, r)
		}
	})
}

func op(name string, f func(b *Breaker), want State) step {
	return step{desc: name, want: want, do: func(e *env) { f(e.b) }}
}

func TestTransitionTables(t *testing.T) {
	const (
		C  = Closed
		O  = Open
		H  = HalfOpen
		s1 = time.Second
	)
	count := func(size, min int) Config {
		return Config{Window: CountWindow, WindowSize: size, MinimumCalls: min}
	}
	withFR := func(c Config, r float64) Config { c.FailureRate = r; return c }
	halfOpen := func(probes, successes int) Config {
		return Config{ConsecutiveFailures: 1, OpenDuration: s1, HalfOpenProbes: probes, HalfOpenSuccesses: successes}
	}
	cat := func(parts ...[]step) []step {
		var all []step
		for _, p := range parts {
			all = append(all, p...)
		}
		return all
	}
	toHalfOpen := []step{do(1, bad, O), advance(s1, O)}

	tests := []struct {
		name  string
		cfg   Config
		steps []step
	}{
		{"consecutive failures, count window", Config{Window: CountWindow, ConsecutiveFailures: 3}, []step{
			do(2, bad, C), do(1, ok, C), // a success resets the run
			do(2, bad, C), do(1, ign, C), // an ignored call does not
			check("run of 2", C, func(t *testing.T, s Snapshot) {
				if s.ConsecutiveFailures != 2 {
					t.Errorf("ConsecutiveFailures = %d, want 2", s.ConsecutiveFailures)
				}
			}),
			do(1, bad, O), reason("consecutive failures", O),
		}},
		{"consecutive failures, time window", Config{ConsecutiveFailures: 3}, []step{
			do(2, bad, C), do(1, ok, C), do(2, bad, C), advance(time.Hour, C), do(1, bad, O),
		}},
		{"consecutive failures need no minimum calls", Config{ConsecutiveFailures: 1, MinimumCalls: 1000}, []step{
			do(1, bad, O),
		}},
		{"failure rate, count window, boundary is >=", withFR(count(10, 4), 0.5), []step{
			do(2, ok, C), do(1, bad, C), // 3 calls: below the minimum
			do(1, ok, C), counts(4, 1, C), do(1, bad, C), // 2/5 = 0.4
			do(1, bad, O), counts(6, 3, O), reason("failure rate", O), // 3/6 = 0.5
		}},
		{"failure rate, count window slides", withFR(count(4, 4), 0.75), []step{
			do(2, bad, C), do(2, ok, C), // 2/4
			do(2, ok, C), counts(4, 0, C), // both failures slid out
			do(2, bad, C), counts(4, 2, C), do(1, bad, O), counts(4, 3, O),
		}},
		// A rate condition completed by a success trips at once, not at
		// the next failure: the success that brings the window up to
		// MinimumCalls, or the first call of a new bucket, judges.
		{"failure rate reached by a success, time window", Config{}, []step{
			do(10, bad, C), do(9, ok, C), counts(19, 10, C), // below the minimum of 20
			do(1, ok, O), counts(20, 10, O), reason("failure rate", O),
		}},
		{"failure rate reached by a success, count window", withFR(count(4, 4), 0.5), []step{
			do(1, bad, C), do(1, ok, C), do(1, bad, C), do(1, ok, O), counts(4, 2, O), reason("failure rate", O),
		}},
		{"slow-call rate reached by a fast call, time window", Config{MinimumCalls: 4, SlowCallRate: 0.5, SlowCallDuration: s1}, []step{
			timed(s1, ok, C), timed(s1, ok, C), do(1, ok, C), do(1, ok, O), reason("slow-call rate", O),
		}},
		{"slow-call rate reached by a fast call, count window", Config{
			Window: CountWindow, WindowSize: 4, MinimumCalls: 4, SlowCallRate: 0.5, SlowCallDuration: s1,
		}, []step{
			timed(s1, ok, C), timed(s1, ok, C), do(1, ok, C), do(1, ok, O), reason("slow-call rate", O),
		}},
		{"failure rate reached as old successes expire", Config{WindowDuration: 4 * s1, WindowBuckets: 4, MinimumCalls: 2, FailureRate: 0.5}, []step{
			do(3, ok, C), advance(3*s1, C), do(2, bad, C), counts(5, 2, C), // 0.4
			advance(s1, C), counts(2, 2, C), // the successes left the window; no call judged it yet
			do(1, ok, O), counts(3, 2, O), reason("failure rate", O), // the first call of the new bucket judges: 2/3
		}},
		{"failure rate, time window, old failures expire", Config{MinimumCalls: 4, FailureRate: 0.5}, []step{
			do(3, bad, C), counts(3, 3, C), // below the minimum
			advance(5*s1, C), counts(3, 3, C), // still in the window
			advance(5*s1, C), counts(0, 0, C), // idle buckets read empty
			do(2, ok, C), do(1, bad, C), counts(3, 1, C), // with the old failures this would be 6 calls, 4 failures
			do(1, bad, O), counts(4, 2, O),
		}},
		{"failure rate, time window, bucket by bucket", Config{WindowDuration: 4 * s1, WindowBuckets: 4, MinimumCalls: 2, FailureRate: 0.6}, []step{
			do(1, bad, C), advance(s1, C), do(1, ok, C), advance(s1, C), do(1, ok, C), counts(3, 1, C),
			advance(2*s1, C), counts(2, 0, C), // the first bucket left the window
			do(1, bad, C), counts(3, 1, C), do(2, bad, O), counts(5, 3, O),
		}},
		{"minimum calls guard, count window", withFR(count(10, 5), 0.5), []step{
			do(4, bad, C), counts(4, 4, C), do(1, bad, O),
		}},
		{"minimum calls guard, time window", Config{MinimumCalls: 5, FailureRate: 1}, []step{
			do(4, bad, C), do(1, bad, O),
		}},
		{"minimum calls ignores ignored calls", withFR(count(10, 3), 0.5), []step{
			do(2, bad, C), do(5, ign, C), counts(2, 2, C), do(1, bad, O),
		}},
		{"default minimum of a small count window is its size", Config{Window: CountWindow, WindowSize: 5}, []step{
			do(4, bad, C), do(1, bad, O),
		}},
		{"slow-call rate: slow successes and failures, threshold boundary", Config{
			Window: CountWindow, WindowSize: 10, MinimumCalls: 4, SlowCallRate: 0.5, SlowCallDuration: s1,
		}, []step{
			do(2, ok, C), timed(s1, ok, C), // 3 calls, 1 slow (exactly the threshold is slow)
			timed(s1-1, ok, C), // just under: not slow
			check("1 slow of 4", C, func(t *testing.T, s Snapshot) {
				if s.Calls != 4 || s.SlowCalls != 1 || s.SlowCallRate != 0.25 {
					t.Errorf("calls/slow/rate = %d/%d/%v, want 4/1/0.25", s.Calls, s.SlowCalls, s.SlowCallRate)
				}
			}),
			timed(2*s1, bad, C), // a slow failure: 2/5 (failure rate is off)
			timed(s1, ok, O),    // 3/6 = 0.5
			reason("slow-call rate", O),
		}},
		{"slow-call rate, time window", Config{MinimumCalls: 2, SlowCallRate: 1, SlowCallDuration: 100 * time.Millisecond}, []step{
			timed(100*time.Millisecond, ok, C), timed(time.Second, ok, O),
		}},
		{"fast failures do not trip a slow-call rate", Config{MinimumCalls: 2, SlowCallRate: 0.5, SlowCallDuration: s1}, []step{
			do(10, bad, C),
		}},
		{"open rejects until the open duration ends, then lazily half-opens", Config{ConsecutiveFailures: 1, OpenDuration: 5 * s1}, []step{
			do(1, bad, O), reject(O), advance(5*s1-1, O), reject(O),
			advance(1, O), advance(time.Hour, O), // no call, no timer: still reads Open
			hold("probe", H), reason("open duration ended", H),
		}},
		{"auto half-open by timer", Config{ConsecutiveFailures: 1, OpenDuration: 5 * s1, AutoHalfOpen: true}, []step{
			do(1, bad, O), advance(5*s1-1, O), advance(1, H), do(3, ok, C),
		}},
		{"half-open admits exactly the probes", halfOpen(2, 0), cat(toHalfOpen, []step{
			hold("a", H), hold("b", H), reject(H), reject(H),
			check("two in flight", H, func(t *testing.T, s Snapshot) {
				if s.ProbesInFlight != 2 {
					t.Errorf("ProbesInFlight = %d, want 2", s.ProbesInFlight)
				}
			}),
			finish("a", ok, H), hold("c", H), reject(H),
			finish("b", ok, C), reason("probes succeeded", C),
			finish("c", ok, C), // a probe finishing after the close is late
			check("late probe", C, func(t *testing.T, s Snapshot) {
				if s.LateOutcomes != 1 || s.Calls != 0 {
					t.Errorf("LateOutcomes/Calls = %d/%d, want 1/0", s.LateOutcomes, s.Calls)
				}
			}),
		})},
		{"half-open rejection says retry now", halfOpen(1, 0), cat(toHalfOpen, []step{
			hold("a", H),
			step{desc: "RetryAfter 0", want: H, do: func(e *env) {
				oe := mustReject(e.t, e.b)
				if oe.State != HalfOpen || oe.RetryAfter() != 0 {
					e.t.Errorf("OpenError state/RetryAfter = %v/%v, want half-open/0", oe.State, oe.RetryAfter())
				}
			}},
		})},
		{"more successes than probes close as slots free", halfOpen(1, 3), cat(toHalfOpen, []step{
			hold("a", H), reject(H), finish("a", ok, H), do(1, ok, H),
			check("2 successes", H, func(t *testing.T, s Snapshot) {
				if s.ProbeSuccesses != 2 {
					t.Errorf("ProbeSuccesses = %d, want 2", s.ProbeSuccesses)
				}
			}),
			do(1, ok, C),
		})},
		{"fewer successes than probes", halfOpen(3, 1), cat(toHalfOpen, []step{
			hold("a", H), hold("b", H), finish("b", ok, C),
		})},
		{"a failed probe re-opens", halfOpen(3, 0), cat(toHalfOpen, []step{
			hold("a", H), do(2, ok, H), finish("a", bad, O), reason("probe failed", O),
			check("failed probe counted", O, func(t *testing.T, s Snapshot) {
				if s.FailedProbes != 1 || s.ProbeSuccesses != 0 {
					t.Errorf("FailedProbes/ProbeSuccesses = %d/%d, want 1/0", s.FailedProbes, s.ProbeSuccesses)
				}
			}),
			reject(O), advance(s1, O), do(3, ok, C), // successes start from zero again
		})},
		{"a slow probe re-opens", Config{
			ConsecutiveFailures: 1, SlowCallRate: 1, SlowCallDuration: s1, OpenDuration: s1, HalfOpenProbes: 1,
		}, cat(toHalfOpen, []step{
			timed(s1-1, ok, C), do(1, bad, O), advance(s1, O),
			timed(s1, ok, O), reason("probe slow", O),
		})},
		{"a slow probe counts as a success without a slow-call rate", halfOpen(1, 1), cat(toHalfOpen, []step{
			timed(time.Hour, ok, C),
		})},
		{"an ignored probe frees its slot", halfOpen(1, 1), cat(toHalfOpen, []step{
			hold("a", H), reject(H), finish("a", ign, H),
			check("nothing counted", H, func(t *testing.T, s Snapshot) {
				if s.ProbeSuccesses != 0 || s.ProbesInFlight != 0 || s.FailedProbes != 0 {
					t.Errorf("snapshot %+v, want no probe counted", s)
				}
			}),
			do(1, ok, C),
		})},
		{"a stuck probe's slot is reclaimed after HalfOpenMaxWait", Config{
			ConsecutiveFailures: 1, OpenDuration: s1, HalfOpenProbes: 1, HalfOpenMaxWait: 10 * s1,
		}, cat(toHalfOpen, []step{
			hold("stuck", H), advance(10*s1-1, H), reject(H), advance(1, H),
			hold("fresh", H), reject(H),
			check("reclaimed", H, func(t *testing.T, s Snapshot) {
				if s.ReclaimedProbes != 1 || s.ProbesInFlight != 1 {
					t.Errorf("ReclaimedProbes/ProbesInFlight = %d/%d, want 1/1", s.ReclaimedProbes, s.ProbesInFlight)
				}
			}),
			finish("stuck", bad, H), // late: it no longer owns the slot
			check("late", H, func(t *testing.T, s Snapshot) {
				if s.LateOutcomes != 1 || s.FailedProbes != 0 {
					t.Errorf("LateOutcomes/FailedProbes = %d/%d, want 1/0", s.LateOutcomes, s.FailedProbes)
				}
			}),
			reject(H), finish("fresh", ok, C),
		})},
		{"a stuck probe from an earlier half-open state is late", Config{
			ConsecutiveFailures: 1, OpenDuration: s1, HalfOpenProbes: 1, HalfOpenMaxWait: time.Hour,
		}, cat(toHalfOpen, []step{
			hold("old", H), op("Trip", (*Breaker).Trip, O), advance(s1, O),
			hold("new", H), finish("old", ok, H), finish("new", ok, C),
			check("one late", C, func(t *testing.T, s Snapshot) {
				if s.LateOutcomes != 1 {
					t.Errorf("LateOutcomes = %d, want 1", s.LateOutcomes)
				}
			}),
		})},
		{"closing empties the window and the run", Config{Window: CountWindow, WindowSize: 10, ConsecutiveFailures: 3, OpenDuration: s1, HalfOpenProbes: 1}, []step{
			do(2, ok, C), do(3, bad, O), counts(5, 3, O), advance(s1, O), do(1, ok, C), counts(0, 0, C),
			do(2, bad, C), do(1, bad, O),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { run(t, tt.cfg, tt.steps) })
	}
}

func TestOpenErrorRetryAfter(t *testing.T) {
	b, clk := mustNew(t, Config{Name: "db", ConsecutiveFailures: 1, OpenDuration: 10 * time.Second})
	call(t, b, bad)
	ctxErr := b.Execute(t.Context(), okFn)
	if !errors.Is(ctxErr, ErrOpen) || !errors.Is(ctxErr, fusebox.ErrOpen) {
		t.Fatalf("Execute on an open breaker = %v, want ErrOpen", ctxErr)
	}
	var oe *OpenError
	if !errors.As(ctxErr, &oe) {
		t.Fatalf("Execute error %T is not an *OpenError", ctxErr)
	}
	if oe.Name != "db" || oe.State != Open {
		t.Errorf("OpenError = %+v, want name db, state open", oe)
	}
	if got, want := oe.Error(), "breaker db: open"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if errors.Unwrap(oe) != fusebox.ErrOpen {
		t.Errorf("Unwrap = %v, want fusebox.ErrOpen", errors.Unwrap(oe))
	}
	prev := oe.RetryAfter()
	if prev != 10*time.Second {
		t.Errorf("RetryAfter right after opening = %v, want 10s", prev)
	}
	for i := range 9 {
		clk.Advance(time.Second)
		got := mustReject(t, b).RetryAfter()
		if got >= prev || got != time.Duration(9-i)*time.Second {
			t.Errorf("after %ds: RetryAfter = %v, want %v (previous %v)", i+1, got, time.Duration(9-i)*time.Second, prev)
		}
		if s := b.Snapshot(); s.RetryAfter != got {
			t.Errorf("Snapshot.RetryAfter = %v, want %v", s.RetryAfter, got)
		}
		prev = got
	}
	clk.Advance(2 * time.Second)
	if got := oe.RetryAfter(); got != 0 {
		t.Errorf("RetryAfter past the open duration = %v, want 0", got)
	}
	if s := b.Snapshot(); s.Rejections != 10 {
		t.Errorf("Rejections = %d, want 10", s.Rejections)
	}
	// The error of an unnamed breaker.
	b2, _ := mustNew(t, Config{ConsecutiveFailures: 1})
	call(t, b2, bad)
	if got := mustReject(t, b2).Error(); got != "breaker: open" {
		t.Errorf("unnamed Error() = %q, want %q", got, "breaker: open")
	}
}

// The open duration grows by OpenBackoff with each re-open after a failed
// probe, is capped by MaxOpenDuration, and starts afresh after a close.
func TestOpenBackoff(t *testing.T) {
	b, clk := mustNew(t, Config{
		ConsecutiveFailures: 1, OpenDuration: time.Second, OpenBackoff: 2, MaxOpenDuration: 5 * time.Second, HalfOpenProbes: 1,
	})
	wantDurations := []time.Duration{1, 2, 4, 5, 5, 5}
	call(t, b, bad)
	for i, w := range wantDurations {
		w *= time.Second
		s := b.Snapshot()
		if s.State != Open || s.OpenDuration != w || s.RetryAfter != w || s.ConsecutiveOpens != i+1 {
			t.Fatalf("opening %d: state %v, OpenDuration %v, RetryAfter %v, ConsecutiveOpens %d; want open, %v, %v, %d",
				i+1, s.State, s.OpenDuration, s.RetryAfter, s.ConsecutiveOpens, w, w, i+1)
		}
		clk.Advance(w - 1)
		mustReject(t, b)
		clk.Advance(1)
		if i < len(wantDurations)-1 {
			call(t, b, bad) // the probe fails: re-open
		}
	}
	call(t, b, ok)
	if b.State() != Closed {
		t.Fatalf("state after a successful probe = %v, want closed", b.State())
	}
	call(t, b, bad)
	if s := b.Snapshot(); s.OpenDuration != time.Second || s.ConsecutiveOpens != 1 {
		t.Errorf("after closing: OpenDuration %v, ConsecutiveOpens %d, want 1s, 1", s.OpenDuration, s.ConsecutiveOpens)
	}
	// A manual trip of an open breaker starts the backoff afresh too.
	clk.Advance(time.Second)
	call(t, b, bad) // 2s
	b.Trip()
	if s := b.Snapshot(); s.OpenDuration != time.Second {
		t.Errorf("Trip of an open breaker: OpenDuration %v, want 1s", s.OpenDuration)
	}
}

// Without MaxOpenDuration the open duration stays constant.
func TestOpenDurationConstantWithoutMax(t *testing.T) {
	b, clk := mustNew(t, Config{ConsecutiveFailures: 1, OpenDuration: time.Second, OpenBackoff: 3})
	call(t, b, bad)
	for range 5 {
		if d := b.Snapshot().OpenDuration; d != time.Second {
			t.Fatalf("OpenDuration = %v, want 1s", d)
		}
		clk.Advance(time.Second)
		call(t, b, bad)
	}
}

// Jitter shortens each opening, never lengthens it: every open duration is
// in [d×(1−OpenJitter), d], d the backed-off duration capped at
// MaxOpenDuration, so none exceeds the cap.
func TestOpenJitterBounds(t *testing.T) {
	for _, tc := range []struct {
		name   string
		open   time.Duration
		max    time.Duration
		jitter float64
	}{
		{"growing, capped", time.Second, 20 * time.Second, 0.3},
		{"constant", 10 * time.Second, 0, 0.2},
		{"full jitter", time.Second, 8 * time.Second, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, clk := mustNew(t, Config{
				ConsecutiveFailures: 1, OpenDuration: tc.open, MaxOpenDuration: tc.max,
				OpenBackoff: 2, OpenJitter: tc.jitter, HalfOpenProbes: 1,
			})
			maxOpen := tc.max
			if maxOpen == 0 {
				maxOpen = tc.open
			}
			below := 0
			lo, hi := time.Duration(math.MaxInt64), time.Duration(0)
			const cycles = 40
			for c := range cycles {
				call(t, b, bad) // open from closed
				for k := 0; k < 8; k++ {
					base := float64(tc.open) * math.Pow(2, float64(k))
					if tc.max == 0 {
						base = float64(tc.open)
					}
					d := math.Min(base, float64(maxOpen))
					got := b.Snapshot().OpenDuration
					low := math.Max(d*(1-tc.jitter), 1)
					if float64(got) < math.Floor(low)-1 || float64(got) > d {
						t.Fatalf("cycle %d opening %d: duration %v outside [%v, %v]", c, k, got, time.Duration(low), time.Duration(d))
					}
					if k == 0 {
						lo, hi = min(lo, got), max(hi, got)
						if got < tc.open {
							below++
						}
					}
					clk.Advance(got)
					call(t, b, bad) // the probe fails: re-open, longer
				}
				clk.Advance(b.Snapshot().OpenDuration)
				call(t, b, ok) // close; the backoff resets
				if b.State() != Closed {
					t.Fatalf("state %v, want closed", b.State())
				}
			}
			if lo == hi {
				t.Errorf("jitter %v: every first opening lasted %v; want spread", tc.jitter, lo)
			}
			if below == 0 {
				t.Errorf("no opening shorter than %v in %d", tc.open, cycles)
			}
		})
	}
}

// Jitter applied before the cap was clamped away: with MaxOpenDuration
// defaulting to OpenDuration, every draw above the middle lasted exactly
// the cap, so half the openings of a constant-duration breaker, and half of
// a fleet's once the backoff reached the cap, were in lockstep. Drawn below
// the cap, an opening lasts exactly the cap about never.
func TestOpenJitterNotClampedToLockstep(t *testing.T) {
	const n = 200
	t.Run("constant duration", func(t *testing.T) {
		b, _ := mustNew(t, Config{ConsecutiveFailures: 1, OpenDuration: 10 * time.Second, OpenJitter: 0.2})
		same := 0
		for range n {
			b.Trip()
			if d := b.Snapshot().OpenDuration; d == 10*time.Second {
				same++
			} else if d < 8*time.Second || d > 10*time.Second {
				t.Fatalf("open duration %v outside [8s, 10s]", d)
			}
			b.Reset()
		}
		if same > n/10 {
			t.Errorf("%d of %d openings lasted exactly 10s: the jitter is clamped away", same, n)
		}
	})
	t.Run("backoff at the cap", func(t *testing.T) {
		b, clk := mustNew(t, Config{ConsecutiveFailures: 1, OpenDuration: time.Second, MaxOpenDuration: 8 * time.Second,
			OpenBackoff: 2, OpenJitter: 0.2, HalfOpenProbes: 1})
		call(t, b, bad)
		same, total := 0, 0
		for k := range n {
			d := b.Snapshot().OpenDuration
			if d > 8*time.Second {
				t.Fatalf("opening %d lasted %v, beyond MaxOpenDuration 8s", k, d)
			}
			if k >= 5 { // 1, 2, 4, 8 (jittered): well past the cap
				total++
				if d == 8*time.Second {
					same++
				} else if d < 6400*time.Millisecond {
					t.Fatalf("opening %d lasted %v, below 8s×0.8", k, d)
				}
			}
			clk.Advance(d)
			call(t, b, bad) // the probe fails: re-open
		}
		if same > total/10 {
			t.Errorf("%d of %d capped openings lasted exactly MaxOpenDuration: the jitter is clamped away", same, total)
		}
	})
}

// Open durations near math.MaxInt64 (a natural "stay open until Reset" or
// "no cap") must not overflow: float64(math.MaxInt64) is 2^63, which no
// int64 holds, and openUntil = now + d wrapped. Either way the breaker got
// a negative deadline and let the next call through at once. They
// saturate at math.MaxInt64 instead.
func TestOpenDurationSaturates(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		advance time.Duration // before the trip
		reopen  bool          // trip, wait it out, fail a probe: check the re-opening
		want    time.Duration // OpenDuration
	}{
		{"OpenDuration MaxInt64", Config{ConsecutiveFailures: 1, OpenDuration: math.MaxInt64}, 0, false, math.MaxInt64},
		{"OpenDuration MaxInt64, jitter", Config{ConsecutiveFailures: 1, OpenDuration: math.MaxInt64, OpenJitter: 1}, 0, false, 0},
		{"OpenDuration near MaxInt64, clock at 1s", Config{ConsecutiveFailures: 1, OpenDuration: math.MaxInt64 - 1<<20}, time.Second, false, math.MaxInt64 - 1<<20},
		{"MaxOpenDuration MaxInt64 as no cap", Config{ConsecutiveFailures: 1, OpenDuration: 1 << 62, MaxOpenDuration: math.MaxInt64, OpenBackoff: 2, HalfOpenProbes: 1}, 0, true, math.MaxInt64},
		{"MaxOpenDuration MaxInt64, backoff 100", Config{ConsecutiveFailures: 1, OpenDuration: 1 << 60, MaxOpenDuration: math.MaxInt64, OpenBackoff: 100, HalfOpenProbes: 1}, 0, true, math.MaxInt64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, clk := mustNew(t, tt.cfg)
			clk.Advance(tt.advance)
			call(t, b, bad)
			if tt.reopen {
				clk.Advance(b.Snapshot().OpenDuration)
				call(t, b, bad) // the probe fails: re-open, capped at MaxOpenDuration
			}
			s := b.Snapshot()
			if s.State != Open || s.OpenDuration <= 0 || s.RetryAfter <= 0 || tt.want != 0 && s.OpenDuration != tt.want {
				t.Errorf("after opening: state %v, OpenDuration %v, RetryAfter %v; want open for %v",
					s.State, s.OpenDuration, s.RetryAfter, tt.want)
			}
			if oe := mustReject(t, b); oe.RetryAfter() <= 0 {
				t.Errorf("OpenError.RetryAfter() = %v, want positive", oe.RetryAfter())
			}
			clk.Advance(time.Hour)
			mustReject(t, b)
			// A clock set back before its start reads negative: the
			// time left must saturate too, not wrap.
			clk.Set(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
			if s := b.Snapshot(); s.RetryAfter <= 0 {
				t.Errorf("clock set back: Snapshot.RetryAfter = %v, want positive", s.RetryAfter)
			}
			if oe := mustReject(t, b); oe.RetryAfter() <= 0 {
				t.Errorf("clock set back: OpenError.RetryAfter() = %v, want positive", oe.RetryAfter())
			}
		})
	}
}

// Auto half-open: the timer moves the state without calls, the listener sees
// it, and a transition before the timer fires cancels it.
func TestAutoHalfOpenTimer(t *testing.T) {
	events := make(chan Transition, 16)
	b, clk := mustNew(t, Config{
		ConsecutiveFailures: 1, OpenDuration: 5 * time.Second, AutoHalfOpen: true, HalfOpenProbes: 1,
		OnStateChange: func(tr Transition) { events <- tr },
	})
	call(t, b, bad)
	if tr := testwait.Recv(t, events, "closed→open"); tr.From != Closed || tr.To != Open {
		t.Fatalf("first transition %v→%v, want closed→open", tr.From, tr.To)
	}
	if clk.Timers() != 1 {
		t.Fatalf("pending timers = %d, want 1", clk.Timers())
	}
	clk.Advance(5 * time.Second)
	if b.State() != HalfOpen {
		t.Fatalf("state after the open duration = %v, want half-open", b.State())
	}
	tr := testwait.Recv(t, events, "open→half-open")
	if tr.From != Open || tr.To != HalfOpen || tr.Reason != "open duration ended" || tr.Snapshot.State != HalfOpen {
		t.Fatalf("transition %+v, want open→half-open", tr)
	}
	call(t, b, bad) // re-open: a new timer
	testwait.Recv(t, events, "half-open→open")
	b.Reset() // cancels it
	testwait.Recv(t, events, "open→closed")
	if clk.Timers() != 0 {
		t.Errorf("pending timers after Reset = %d, want 0", clk.Timers())
	}
	clk.Advance(time.Hour)
	if b.State() != Closed {
		t.Errorf("state = %v, want closed: a stale timer moved it", b.State())
	}
	// ForceOpen stops the timer too.
	b.Trip()
	testwait.Recv(t, events, "closed→open")
	b.ForceOpen()
	testwait.Recv(t, events, "open→forced-open")
	clk.Advance(time.Hour)
	if b.State() != ForcedOpen {
		t.Errorf("state = %v, want forced-open", b.State())
	}
	b.Reset()
	testwait.Recv(t, events, "forced-open→closed")
	select {
	case tr := <-events:
		t.Errorf("unexpected transition %v→%v", tr.From, tr.To)
	default:
	}
}
