package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// shortScenario is the demo cut to a few seconds per phase. The outage is
// long enough for the gateway's workers and queue to fill in the
// unprotected run (with a client timeout of 2s), short enough for the
// whole test to take well under a minute.
func shortScenario() Scenario {
	sc := DefaultScenario()
	sc.Healthy = 2500 * time.Millisecond
	sc.Slow = 4 * time.Second
	sc.Errors = time.Second
	sc.Recovery = 1500 * time.Millisecond
	sc.ClientTimeout = 2 * time.Second
	sc.SlowLatency = 3 * time.Second
	return sc
}

// demoAttempts is how many runs a test makes before it gives up on a
// machine too busy to judge: the demo's claims rest on real latencies at a
// fixed request rate, which a 2-core machine shared with other builds (or
// scripts/stress.sh's CPU burners) cannot always give.
const demoAttempts = 3

// runDemo is Run for a test that needs a run but judges no latency. A run
// whose load generator fell behind its schedule returns a TooSlowError (as
// fusebox demo does on a slow machine): runDemo tries again, with the
// options opts makes afresh for each attempt, and skips the test, saying
// so, if every attempt was too slow.
func runDemo(t *testing.T, sc Scenario, opts func() Options) *Result {
	t.Helper()
	for attempt := 1; attempt <= demoAttempts; attempt++ {
		res, err := Run(context.Background(), sc, opts())
		var slow *TooSlowError
		if errors.As(err, &slow) {
			t.Logf("attempt %d of %d: %v", attempt, demoAttempts, err)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	t.Skipf("the machine was too busy to produce the load in %d attempts", demoAttempts)
	return nil
}

// judgeDemo runs the scenario until check finds nothing wrong with a run,
// at most demoAttempts times, and fails the test with what check found in
// the last run if none passed. A run the machine was too slow to judge
// (TooSlowError) counts as an attempt; if every attempt was, the test is
// skipped, saying so. The claims are checked as made; a further attempt
// only forgives a run that a pause of the machine spoiled, while a
// protection that does not work fails every run.
func judgeDemo(t *testing.T, sc Scenario, opts Options, check func(*Result) []string) {
	t.Helper()
	var problems []string
	judged := 0
	for attempt := 1; attempt <= demoAttempts; attempt++ {
		res, err := Run(context.Background(), sc, opts)
		var slow *TooSlowError
		if errors.As(err, &slow) {
			t.Logf("attempt %d of %d: %v", attempt, demoAttempts, err)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		judged++
		var sum bytes.Buffer
		_ = res.WriteSummary(&sum)
		t.Logf("attempt %d of %d:\n%s\n%s", attempt, demoAttempts, sum.String(), res.Headline())
		if problems = check(res); len(problems) == 0 {
			return
		}
		t.Logf("attempt %d of %d missed:\n\t%s", attempt, demoAttempts, strings.Join(problems, "\n\t"))
	}
	if judged == 0 {
		t.Skipf("the machine was too busy to produce the load in %d attempts", demoAttempts)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// TestHeadline runs the shortened demo and checks its headline: with
// protection, /users stays up while payments is down (VerdictRules);
// without, it goes down. Under the race detector only what the protections
// did is checked, not the latencies.
func TestHeadline(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo for about 20 seconds")
	}
	if raceEnabled {
		// The race detector slows every server of the run several times
		// over, and a loaded machine more: /users latency then measures
		// the detector (a protected p99 of 341ms over a 58ms baseline was
		// seen under scripts/stress.sh), not the protections. The race
		// build still looks for races and checks what the protections
		// did; the plain build, which scripts/test.sh and
		// scripts/stress.sh also run, checks the headline.
		t.Log("race detector on: the /users latency and success claims are checked by the plain build")
	}
	judgeDemo(t, shortScenario(), Options{}, func(res *Result) []string {
		u, p := res.Run("unprotected"), res.Run("protected")
		if u == nil || p == nil {
			t.Fatalf("runs %v, want unprotected and protected", res.Runs)
		}
		var html bytes.Buffer
		if err := WriteReport(&html, res); err != nil {
			t.Fatal(err)
		}
		checkReport(t, html.String(), "unprotected", "protected", "orders → payments")
		ps, us := p.Summary, u.Summary
		if ps.UsersRequestsDown < 50 || us.UsersRequestsDown < 50 {
			t.Fatalf("only %d and %d /users requests while payments was down: the load did not run", us.UsersRequestsDown, ps.UsersRequestsDown)
		}
		problems := protectionsActed(ps, us)
		if !raceEnabled {
			problems = append(problems, headline(res, ps, us)...)
		}
		return problems
	})
}

// headline checks the demo's claim, which rests on latencies: with
// protection /users stays up while payments is down (VerdictRules);
// without, it goes down. It returns what it found wrong.
func headline(res *Result, ps, us Summary) []string {
	var problems []string
	if ps.UsersVerdict != StayedUp || !ps.UsersUnaffected {
		problems = append(problems, fmt.Sprintf("protected: /users %s (%.2f%% success, p99 %.1fms, baseline %.1fms), want %s", ps.UsersVerdict, 100*ps.UsersSuccessDown, ps.UsersP99DownMs, ps.UsersP99BaselineMs, StayedUp))
	}
	if us.UsersVerdict != WentDown || us.UsersUnaffected {
		problems = append(problems, fmt.Sprintf("unprotected: /users %s (%.2f%% success, p99 %.1fms, baseline %.1fms), want %s (no cascade?)", us.UsersVerdict, 100*us.UsersSuccessDown, us.UsersP99DownMs, us.UsersP99BaselineMs, WentDown))
	}
	if h := res.Headline(); !strings.Contains(h, "went down with it without protection") || !strings.Contains(h, "stayed up with Fusebox") {
		problems = append(problems, fmt.Sprintf("headline %q", h))
	}
	if us.OrdersOKDown+us.OrdersDegradedDown > 0.1 {
		problems = append(problems, fmt.Sprintf("unprotected: %.1f%% of /orders answered while payments was down, want almost none", 100*(us.OrdersOKDown+us.OrdersDegradedDown)))
	}
	return problems
}

// protectionsActed checks what the protections did, seen on the wire: the
// fallback answered /orders, the breaker opened and spared payments, the
// bulkheads held goroutines down. It returns what it found wrong.
func protectionsActed(ps, us Summary) []string {
	var problems []string
	if got := ps.OrdersOKDown + ps.OrdersDegradedDown; got < 0.9 {
		problems = append(problems, fmt.Sprintf("protected: %.1f%% of /orders answered while payments was down, want ≥ 90%% (fallback)", 100*got))
	}
	if ps.OrdersDegradedDown < 0.5 {
		problems = append(problems, fmt.Sprintf("protected: %.1f%% of /orders degraded, want most of them (payments was down)", 100*ps.OrdersDegradedDown))
	}
	if ps.PaymentsRequestsDown >= us.PaymentsRequestsDown {
		problems = append(problems, fmt.Sprintf("payments got %d requests while down with protection, %d without: want fewer with", ps.PaymentsRequestsDown, us.PaymentsRequestsDown))
	}
	if ps.TimeToDetectMs == nil {
		problems = append(problems, "protected: the payments breaker never opened")
	}
	if us.TimeToDetectMs != nil {
		problems = append(problems, fmt.Sprintf("unprotected: time to detect %v, want none (no breaker)", *us.TimeToDetectMs))
	}
	if ps.PeakGoroutines >= us.PeakGoroutines {
		problems = append(problems, fmt.Sprintf("peak goroutines %d protected, %d unprotected: want fewer with protection", ps.PeakGoroutines, us.PeakGoroutines))
	}
	return problems
}

// TestProtectionOff turns every protection off in the protected run: the
// result must then show the cascade, since it comes from what happens on
// the wire, not from which run it is.
func TestProtectionOff(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo for about 10 seconds")
	}
	sc := shortScenario()
	if err := sc.Protection.SetEnabled("none"); err != nil {
		t.Fatal(err)
	}
	judgeDemo(t, sc, Options{Runs: []string{"protected"}}, func(res *Result) []string {
		p := res.Run("protected")
		if p == nil || len(res.Runs) != 1 {
			t.Fatalf("runs %v, want only protected", res.Runs)
		}
		if p.Protection != "none" {
			t.Errorf("Protection = %q, want none", p.Protection)
		}
		s := p.Summary
		if s.TimeToDetectMs != nil {
			t.Errorf("time to detect %v with no breaker", *s.TimeToDetectMs)
		}
		if s.UsersUnaffected || s.UsersVerdict == StayedUp {
			return []string{fmt.Sprintf("/users %s with every protection off (%.1f%% success, p99 %.0fms, baseline %.0fms): want the cascade", s.UsersVerdict, 100*s.UsersSuccessDown, s.UsersP99DownMs, s.UsersP99BaselineMs)}
		}
		return nil
	})
}

// TestPortInUse points the gateway at a port that is taken: Run fails with
// a BindError naming the gateway and the address, and leaves nothing
// running (TestMain checks for goroutines).
func TestPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	sc := shortScenario()
	sc.Port = ln.Addr().(*net.TCPAddr).Port
	_, err = Run(context.Background(), sc, Options{})
	var be *BindError
	if !errors.As(err, &be) {
		t.Fatalf("Run with port %d taken: %v, want a *BindError", sc.Port, err)
	}
	if be.Service != "gateway" || be.Addr != "127.0.0.1:"+strconv.Itoa(sc.Port) {
		t.Errorf("BindError %+v, want the gateway on 127.0.0.1:%d", be, sc.Port)
	}
	if !strings.Contains(err.Error(), "cannot listen on 127.0.0.1:"+strconv.Itoa(sc.Port)) {
		t.Errorf("message %q does not say which address", err)
	}
}

// TestRunsNamedTwice: Run refuses a run named twice (and an unknown one)
// before it starts any.
func TestRunsNamedTwice(t *testing.T) {
	for _, runs := range [][]string{{"protected", "protected"}, {"unprotected", "protected", "unprotected"}, {"protected", "guarded"}} {
		started := false
		_, err := Run(context.Background(), shortScenario(), Options{Runs: runs, OnRun: func(RunInfo) func() { started = true; return nil }})
		if err == nil || started {
			t.Errorf("Run with runs %v: %v, started %v; want an error before any run", runs, err, started)
		}
	}
}

// TestCancel stops a run early: Run returns the context's error promptly
// and stops everything it started.
func TestCancel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	sc := shortScenario()
	sc.Healthy = 500 * time.Millisecond // the outage starts before the cancel
	start := time.Now()
	_, err := Run(ctx, sc, Options{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run: %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > sc.ClientTimeout+5*time.Second {
		t.Errorf("Run took %v after the cancel, want it prompt", d)
	}
}

func TestLiveProgress(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo for a few seconds")
	}
	sc := shortScenario()
	sc.Healthy, sc.Slow, sc.Errors, sc.Recovery = 600*time.Millisecond, 300*time.Millisecond, 200*time.Millisecond, 300*time.Millisecond
	sc.Rate = 40
	for _, live := range []bool{false, true} {
		var out bytes.Buffer
		var started []string
		runDemo(t, sc, func() Options {
			out.Reset()
			started = nil
			return Options{Progress: &out, Live: live, Runs: []string{"protected"},
				OnRun: func(ri RunInfo) func() {
					started = append(started, ri.Name)
					if !strings.HasPrefix(ri.GatewayURL, "http://127.0.0.1:") || len(ri.Breakers) != 4 || len(ri.Policies) != 8 {
						t.Errorf("RunInfo %+v: want the gateway's URL, 4 breakers and 8 policies", ri)
					}
					return nil
				}}
		})
		if len(started) != 1 || started[0] != "protected" {
			t.Errorf("OnRun called for %v, want [protected]", started)
		}
		s := out.String()
		if live {
			for _, want := range []string{"\x1b[2K", "gateway /users", "orders → payments", "goroutines", "Phase 4/4"} {
				if !strings.Contains(s, want) {
					t.Errorf("live progress lacks %q:\n%s", want, s)
				}
			}
		} else {
			if strings.Contains(s, "\x1b") {
				t.Errorf("plain progress has escape sequences:\n%q", s)
			}
			if !strings.Contains(s, "protected") || !strings.Contains(s, "users") || strings.Count(s, "\n") < 1 {
				t.Errorf("plain progress:\n%s", s)
			}
		}
	}
}
