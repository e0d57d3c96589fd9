package demo

import (
	"strings"
	"testing"
	"time"
)

// users is a summary with /users numbers only: success share, p99 while
// payments was down and p99 baseline (ms), and the /users requests sent
// while payments was down.
func users(success, p99, baseline float64, n int) Summary {
	return Summary{UsersSuccessDown: success, UsersP99DownMs: p99, UsersP99BaselineMs: baseline, UsersRequestsDown: n}
}

// TestHeadlineVerdict builds headlines from summary numbers alone: the
// verdict on each run must follow from the numbers printed beside it.
func TestHeadlineVerdict(t *testing.T) {
	tests := []struct {
		name        string
		u, p        *Summary // nil: the run was not made
		pProtection string   // the protected run's protections; "all" if empty
		want        []string // in the headline
		notWant     []string
	}{{
		// The issue: a 1s run where nothing cascaded, its noise called
		// "went down".
		name: "issue 12: 100% success, p99 54ms, 2.3× baseline",
		u:    ptr(users(1, 54, 23.5, 480)),
		p:    ptr(users(1, 25, 23, 480)),
		want: []string{
			"/users stayed up without protection (100.0% success, p99 54ms, 2.3× baseline)",
			"This run did not show the cascade",
		},
		notWant: []string{"went down"},
	}, {
		// A real default run on a loaded machine: the protected p99 is
		// 2.4× its baseline but only 88ms more, which is noise.
		name: "cascade shown",
		u:    ptr(users(0.6074, 3011.6, 146.3, 484)),
		p:    ptr(users(1, 153.4, 64.9, 480)),
		want: []string{"While payments was down, /users went down with it without protection (60.7% success, p99 3.01s, 20.6× baseline) and stayed up with Fusebox (100.0% success, p99 153ms, 2.4× baseline)."},
	}, {
		name:    "all answered, but seconds late",
		u:       ptr(users(1, 2900, 22, 480)),
		p:       ptr(users(1, 24, 22, 480)),
		want:    []string{"/users slowed down without protection (100.0% success, p99 2.90s, 131.8× baseline) and stayed up with Fusebox"},
		notWant: []string{"went down", "did not show"},
	}, {
		name:    "a few failures",
		u:       ptr(users(0.95, 3000, 22, 480)),
		p:       ptr(users(1, 24, 22, 480)),
		want:    []string{"/users partly failed without protection (95.0% success"},
		notWant: []string{"went down"},
	}, {
		name:    "down in both runs",
		u:       ptr(users(0.4, 4000, 22, 480)),
		p:       ptr(users(0.7, 3000, 22, 480)),
		want:    []string{"went down with it without protection (40.0% success", "and went down with it with Fusebox (70.0% success", "The protections did not keep /users up in this run."},
		notWant: []string{"did not show"},
	}, {
		name: "worse with protection",
		u:    ptr(users(1, 24, 22, 480)),
		p:    ptr(users(0.5, 1500, 22, 480)),
		want: []string{"stayed up without protection", "went down with it with Fusebox", "/users fared worse with the protections than without in this run."},
	}, {
		name:        "protections off in the protected run",
		u:           ptr(users(0.5, 3000, 22, 480)),
		p:           ptr(users(0.45, 3000, 22, 480)),
		pProtection: "none",
		want:        []string{"went down with it with every protection off (45.0% success"},
		notWant:     []string{"Fusebox"},
	}, {
		name:        "some protections",
		u:           ptr(users(0.5, 3000, 22, 480)),
		p:           ptr(users(1, 23, 22, 480)),
		pProtection: "deadline,bulkhead",
		want:        []string{"stayed up with Fusebox's deadline and bulkhead (100.0% success"},
	}, {
		name:    "too few requests",
		u:       ptr(users(0, 4000, 22, 12)),
		p:       ptr(users(1, 23, 22, 12)),
		want:    []string{"had too few requests to tell without protection (12 while payments was down, want at least 100)"},
		notWant: []string{"went down", "stayed up"},
	}, {
		name: "no baseline",
		u:    ptr(users(1, 23, 0, 480)),
		p:    ptr(users(1, 23, 0, 480)),
		want: []string{"stayed up without protection (100.0% success, p99 23ms)"},
	}, {
		name: "only the protected run",
		p:    ptr(users(1, 23, 22, 480)),
		want: []string{"While payments was down, /users stayed up with Fusebox (100.0% success, p99 23ms, 1.0× baseline)."},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := &Result{Scenario: DefaultScenario()}
			if tt.u != nil {
				res.Runs = append(res.Runs, &RunResult{Name: "unprotected", Protection: "none", Summary: *tt.u})
			}
			if tt.p != nil {
				prot := tt.pProtection
				if prot == "" {
					prot = "all"
				}
				res.Runs = append(res.Runs, &RunResult{Name: "protected", Protection: prot, Summary: *tt.p})
			}
			h := res.Headline()
			for _, w := range tt.want {
				if !strings.Contains(h, w) {
					t.Errorf("headline lacks %q:\n%s", w, h)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(h, w) {
					t.Errorf("headline has %q:\n%s", w, h)
				}
			}
		})
	}
}

// TestHeadlineNeverDownAt100: whatever the latencies, a run in which every
// /users request was answered is never said to have gone down.
func TestHeadlineNeverDownAt100(t *testing.T) {
	for _, p99 := range []float64{1, 22, 54, 500, 3000, 60000} {
		for _, base := range []float64{0, 1, 22, 1000} {
			s := users(1, p99, base, 480)
			res := &Result{Scenario: DefaultScenario(), Runs: []*RunResult{
				{Name: "unprotected", Protection: "none", Summary: s},
				{Name: "protected", Protection: "all", Summary: s},
			}}
			if h := res.Headline(); strings.Contains(h, "went down") {
				t.Errorf("p99 %vms, baseline %vms, 100%% success: %s", p99, base, h)
			}
		}
	}
}

// TestHeadlineTooShort: the run, 1s long, cannot show the
// cascade (Run does not refuse it; the command does): the headline says
// so, and why.
func TestHeadlineTooShort(t *testing.T) {
	sc := DefaultScenario().scaled(time.Second)
	res := &Result{Scenario: sc, Runs: []*RunResult{
		{Name: "unprotected", Protection: "none", Summary: users(1, 54, 23.5, 130)},
		{Name: "protected", Protection: "all", Summary: users(1, 25, 23, 130)},
	}}
	h := res.Headline()
	for _, w := range []string{"This run did not show the cascade", "The scenario could not: slow 320ms too short to show the cascade: want at least 1.71s"} {
		if !strings.Contains(h, w) {
			t.Errorf("headline lacks %q:\n%s", w, h)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// timeline records a synthetic run of sc: a /users and an /orders request
// every 10ms, with the outcome and latency the functions give for the
// time they are sent.
func timeline(sc Scenario, name string, prot Protection, usersAt, ordersAt func(time.Duration) (Outcome, time.Duration)) *RunResult {
	rec := newRecorder(time.Now())
	for at := time.Duration(0); at < sc.Total(); at += 10 * time.Millisecond {
		o, l := usersAt(at)
		rec.add(sample{ep: Users, outcome: o, start: at, latency: l})
		o, l = ordersAt(at)
		rec.add(sample{ep: Orders, outcome: o, start: at, latency: l})
	}
	return analyze(sc, name, prot, rec, [numPhases + 1]uint64{}, nil)
}

// TestRecoveryRows: after payments recovers, the unprotected run's /orders
// are answered in full at once, because they were failing, not degraded;
// the protected run's go from degraded to full answers when its breaker
// closes. The table must not read as the unprotected run recovering
// faster: its /users were down for seconds, the protected run's never.
func TestRecoveryRows(t *testing.T) {
	sc := DefaultScenario()
	sc.Healthy, sc.Slow, sc.Errors, sc.Recovery = 2*time.Second, 2*time.Second, 2*time.Second, 2*time.Second
	ok := func(time.Duration) (Outcome, time.Duration) { return OK, 20 * time.Millisecond }
	// Unprotected: /users turned away from 2.5s to 5s (the gateway full),
	// /orders failing until payments recovers at 6s.
	u := timeline(sc, "unprotected", NoProtection(),
		func(at time.Duration) (Outcome, time.Duration) {
			if at >= 2500*time.Millisecond && at < 5*time.Second {
				return Failed, time.Millisecond
			}
			return OK, 20 * time.Millisecond
		},
		func(at time.Duration) (Outcome, time.Duration) {
			if at >= 2*time.Second && at < 6*time.Second {
				return Failed, 4 * time.Second
			}
			return OK, 30 * time.Millisecond
		})
	// Protected: /users fine throughout, /orders degraded until 200ms
	// after payments recovered.
	p := timeline(sc, "protected", FullProtection(), ok,
		func(at time.Duration) (Outcome, time.Duration) {
			if at >= 2*time.Second && at < 6200*time.Millisecond {
				return Degraded, 5 * time.Millisecond
			}
			return OK, 30 * time.Millisecond
		})
	res := &Result{Scenario: sc, Runs: []*RunResult{u, p}}
	rows := res.summaryRows()
	cells := map[string][]string{}
	for _, r := range rows[1:] {
		cells[r[0]] = r[1:]
		if strings.Contains(r[0], "recover") && r[1] == "0ms" {
			t.Errorf("row %q reads 0ms for the unprotected run, which never degraded: %v", r[0], r)
		}
	}
	check := func(label string, want ...string) {
		t.Helper()
		got, found := cells[label]
		if !found {
			t.Errorf("no row %q in the table:\n%v", label, rows)
			return
		}
		if strings.Join(got, " | ") != strings.Join(want, " | ") {
			t.Errorf("row %q: %q, want %q", label, got, want)
		}
	}
	check("time to full /orders after payments recovered", "never degraded", "200ms")
	check("time /users was unhealthy (whole run)", "2.50s", "none")
	check("/users verdict", "went down", "stayed up")
}
