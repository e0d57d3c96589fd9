package demo

import (
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fusebox-go/fusebox/breaker"
)

// Result is what a demo found: one RunResult per run, unprotected first.
type Result struct {
	Scenario Scenario     `json:"scenario"`
	Runs     []*RunResult `json:"runs"`
}

// RunResult is one run: its summary, and (for the report) everything that
// was recorded.
type RunResult struct {
	// Name is "unprotected" or "protected".
	Name string `json:"name"`
	// Protection lists the protections that were on: "none", "all", or a
	// list such as "deadline,breaker".
	Protection string  `json:"protection"`
	Summary    Summary `json:"summary"`

	sc          Scenario
	bounds      [numPhases + 1]time.Duration
	samples     []sample
	hops        []hopSample
	gauges      []gauge
	transitions []transition
	breakers    []string // names, in the order of gauge.breakers
}

// Summary is the headline numbers of a run. "Down" is the time payments was
// slow or failing (the Slow and Errors phases); a request belongs to the
// phase in which it was sent. Latencies count every request, failed ones at
// the time they failed (a client that gave up: ClientTimeout). Durations
// are in milliseconds.
type Summary struct {
	// UsersSuccessDown is the share of /users requests sent while payments
	// was down that got an answer.
	UsersSuccessDown float64 `json:"usersSuccessDown"`
	// UsersP99BaselineMs is the p99 latency of /users in the healthy phase
	// (after a short warm-up); UsersP99DownMs while payments was down.
	UsersP99BaselineMs float64 `json:"usersP99BaselineMs"`
	UsersP99DownMs     float64 `json:"usersP99DownMs"`
	// UsersVerdict is what became of /users while payments was down,
	// judged from the numbers above by the thresholds VerdictRules states:
	// "stayed up", "slowed down", "partly failed", "went down", or "too
	// few requests" to tell.
	UsersVerdict Verdict `json:"usersVerdict"`
	// UsersUnaffected is UsersVerdict == "stayed up".
	UsersUnaffected bool `json:"usersUnaffected"`
	// OrdersOKDown, OrdersDegradedDown and OrdersFailedDown share the
	// /orders requests sent while payments was down: full answers,
	// answers with a fallback's payment status, failures.
	OrdersOKDown       float64 `json:"ordersOkDown"`
	OrdersDegradedDown float64 `json:"ordersDegradedDown"`
	OrdersFailedDown   float64 `json:"ordersFailedDown"`
	// OrdersP99DownMs is the p99 latency of /orders while payments was
	// down; P99DownMs that of every request.
	OrdersP99DownMs float64 `json:"ordersP99DownMs"`
	P99DownMs       float64 `json:"p99DownMs"`
	// PeakGoroutines is the most goroutines of the whole process (servers,
	// clients and load generator) at any sampling; PeakGatewayInFlight the
	// most requests in the gateway, waiting ones included.
	PeakGoroutines      int   `json:"peakGoroutines"`
	PeakGatewayInFlight int64 `json:"peakGatewayInFlight"`
	// PaymentsRequestsDown is how many requests reached the payments
	// server while it was down, counted by the server.
	PaymentsRequestsDown uint64 `json:"paymentsRequestsDown"`
	// TimeToDetectMs is the time from the start of the outage until the
	// breaker in front of payments opened; null when it never did (no
	// breaker).
	TimeToDetectMs *float64 `json:"timeToDetectMs"`
	// UsersUnhealthyMs is how long /users was unhealthy, over the whole
	// run: the total of the half seconds (by the time requests were sent)
	// in which /users missed the thresholds of "stayed up" (VerdictRules):
	// fewer than 99% answered, or a p99 beyond 2× its baseline and 250ms
	// over it. 0 when never. Both runs have it: it is how long the cascade
	// lasted, recovery included.
	UsersUnhealthyMs float64 `json:"usersUnhealthyMs"`
	// OrdersFullAgainMs is the time from payments' recovery until /orders
	// were answered in full again (the first second in which at least 95%
	// of them were), in a run that answered them degraded while payments
	// was down: the time to switch back from the fallback. Null when no
	// /orders were answered degraded (they failed instead: nothing to
	// switch back from, and they are answered in full as soon as payments
	// is, which is no recovery of theirs), or when they were not answered
	// in full again before the end of the run.
	OrdersFullAgainMs *float64 `json:"ordersFullAgainMs"`
	// Requests counts every request sent; UsersRequestsDown and
	// OrdersRequestsDown those sent while payments was down.
	Requests           int `json:"requests"`
	UsersRequestsDown  int `json:"usersRequestsDown"`
	OrdersRequestsDown int `json:"ordersRequestsDown"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// analyze turns what a run recorded into its summary.
func analyze(sc Scenario, name string, prot Protection, rec *recorder, marks [numPhases + 1]uint64, brs []*breaker.Breaker) *RunResult {
	samples, hops, gauges, transitions := rec.snapshot()
	r := &RunResult{Name: name, Protection: prot.Enabled(), sc: sc, bounds: sc.bounds(), samples: samples, hops: hops, gauges: gauges, transitions: transitions}
	for _, b := range brs {
		r.breakers = append(r.breakers, b.Name())
	}
	b := r.bounds
	downFrom, downTo := b[PhaseSlow], b[PhaseRecovery]
	warm := min(sc.Healthy/5, time.Second)

	base := summarize(filter(samples, Users, warm, b[PhaseSlow]), 0)
	users := summarize(filter(samples, Users, downFrom, downTo), 0)
	orders := summarize(filter(samples, Orders, downFrom, downTo), 0)
	var all []time.Duration
	for _, s := range samples {
		if s.start >= downFrom && s.start < downTo {
			all = append(all, s.latency)
		}
	}
	s := &r.Summary
	s.Requests = len(samples)
	s.UsersRequestsDown, s.OrdersRequestsDown = users.n, orders.n
	s.UsersSuccessDown = users.successShare
	s.UsersP99BaselineMs, s.UsersP99DownMs = ms(base.p99), ms(users.p99)
	s.UsersVerdict = s.usersVerdict()
	s.UsersUnaffected = s.UsersVerdict == StayedUp
	s.OrdersOKDown, s.OrdersDegradedDown, s.OrdersFailedDown = orders.okShare, orders.degradedShare, orders.failedShare
	s.OrdersP99DownMs = ms(orders.p99)
	s.P99DownMs = ms(percentile(all, 0.99))
	for _, g := range gauges {
		s.PeakGoroutines = max(s.PeakGoroutines, g.goroutines)
		s.PeakGatewayInFlight = max(s.PeakGatewayInFlight, g.gatewayInFlight)
	}
	s.PaymentsRequestsDown = marks[PhaseRecovery] - marks[PhaseSlow]
	for _, t := range transitions {
		if t.breaker == OrdersPayments.String() && t.to == breaker.Open.String() && t.at >= downFrom && t.at < downTo {
			v := ms(t.at - downFrom)
			s.TimeToDetectMs = &v
			break
		}
	}
	s.UsersUnhealthyMs = ms(unhealthyTime(samples, base.p99, b[numPhases]))
	if orders.degraded > 0 {
		if d, ok := fullAgainTime(samples, b[PhaseRecovery], b[numPhases]); ok {
			v := ms(d)
			s.OrdersFullAgainMs = &v
		}
	}
	return r
}

// fullAgainTime finds the first window of a second (or what is left of
// the run), starting from `from` in steps of 100ms, in which /orders got
// full answers for at least 95% of the requests sent, and returns its
// start's distance from `from`.
func fullAgainTime(samples []sample, from, end time.Duration) (time.Duration, bool) {
	const step = 100 * time.Millisecond
	for t := from; t < end; t += step {
		w := min(time.Second, end-t)
		if w < 300*time.Millisecond {
			break
		}
		if o := summarize(filter(samples, Orders, t, t+w), 0); o.n >= 3 && o.okShare >= 0.95 {
			return t - from, true
		}
	}
	return 0, false
}

// unhealthyTime returns the total length of the half seconds of [0, end),
// by the time requests were sent, in which /users missed the thresholds
// of "stayed up": fewer than upSuccess answered, or a p99 slowed down from
// base. A half second without /users requests is not counted.
func unhealthyTime(samples []sample, base, end time.Duration) time.Duration {
	const slot = 500 * time.Millisecond
	var total time.Duration
	for t := time.Duration(0); t < end; t += slot {
		to := min(t+slot, end)
		u := summarize(filter(samples, Users, t, to), 0)
		if u.n > 0 && (u.successShare < upSuccess || slowed(ms(u.p99), ms(base))) {
			total += to - t
		}
	}
	return total
}

// Run returns the run named name, or nil.
func (r *Result) Run(name string) *RunResult {
	for _, rr := range r.Runs {
		if rr.Name == name {
			return rr
		}
	}
	return nil
}

// Verdict is what became of /users while payments was down.
type Verdict string

// The verdicts, from the numbers of a Summary (see VerdictRules).
const (
	StayedUp       Verdict = "stayed up"
	SlowedDown     Verdict = "slowed down"
	PartlyFailed   Verdict = "partly failed"
	WentDown       Verdict = "went down"
	TooFewRequests Verdict = "too few requests"
)

// The thresholds of the verdict: explicit, so that the headline follows
// from the numbers it prints beside it.
const (
	// minVerdictRequests is the fewest /users requests sent while payments
	// was down that a verdict is given on: with fewer, one request is more
	// than a percent of them, and the p99 is the slowest one.
	minVerdictRequests = 100
	// /users stayed up with at least upSuccess of its requests answered;
	// below downSuccess it went down; in between it partly failed.
	upSuccess   = 0.99
	downSuccess = 0.90
	// Answered, it slowed down when its p99 was more than slowFactor times
	// its baseline and more than slowMarginMs above it: the margin keeps
	// the tens of milliseconds a busy machine adds to a fast endpoint from
	// counting, the factor a slow endpoint's own jitter.
	slowFactor   = 2
	slowMarginMs = 250
)

// VerdictRules states the thresholds of the verdict on /users, for people.
func VerdictRules() string {
	return fmt.Sprintf("/users stayed up when at least %s of its requests sent while payments was down were answered, "+
		"with a p99 within %d× its healthy baseline or within %s of it; it slowed down when answered as well but with a p99 beyond both; "+
		"it partly failed below %s answered, and went down below %s. Fewer than %d requests: too few to tell.",
		pct0(upSuccess), slowFactor, fmtMs(slowMarginMs), pct0(upSuccess), pct0(downSuccess), minVerdictRequests)
}

// usersVerdict judges /users while payments was down from s's numbers
// alone, by the thresholds above.
func (s Summary) usersVerdict() Verdict {
	switch {
	case s.UsersRequestsDown < minVerdictRequests:
		return TooFewRequests
	case s.UsersSuccessDown < downSuccess:
		return WentDown
	case s.UsersSuccessDown < upSuccess:
		return PartlyFailed
	case slowed(s.UsersP99DownMs, s.UsersP99BaselineMs):
		return SlowedDown
	}
	return StayedUp
}

// slowed reports whether a p99 is slowed down from its baseline: beyond
// slowFactor times it and slowMarginMs over it (both in milliseconds).
func slowed(p99, baseline float64) bool {
	return p99 > slowFactor*baseline && p99-baseline > slowMarginMs
}

// Headline says in one sentence what the demo showed, and in a second one
// when the runs do not show what the demo is about: the verdict on /users
// of each run (usersVerdict), with the numbers it follows from.
func (r *Result) Headline() string {
	u, p := r.Run("unprotected"), r.Run("protected")
	var phrases []string
	for _, rr := range []*RunResult{u, p} {
		if rr != nil {
			phrases = append(phrases, rr.phrase())
		}
	}
	if len(phrases) == 0 {
		return ""
	}
	h := "While payments was down, /users " + strings.Join(phrases, " and ") + "."
	if n := r.note(u, p); n != "" {
		h += " " + n
	}
	return h
}

// phrase is a run's part of the headline: "went down with it without
// protection (60.7% success, p99 3.01s, 20.6× baseline)".
func (rr *RunResult) phrase() string {
	s := rr.Summary
	v := s.usersVerdict()
	if v == TooFewRequests {
		return fmt.Sprintf("had too few requests to tell %s (%d while payments was down, want at least %d)", rr.label(), s.UsersRequestsDown, minVerdictRequests)
	}
	verb := string(v)
	if v == WentDown {
		verb = "went down with it"
	}
	ratio := ""
	if s.UsersP99BaselineMs > 0 {
		ratio = fmt.Sprintf(", %.1f× baseline", s.UsersP99DownMs/s.UsersP99BaselineMs)
	}
	return fmt.Sprintf("%s %s (%s success, p99 %s%s)", verb, rr.label(), pct(s.UsersSuccessDown), fmtMs(s.UsersP99DownMs), ratio)
}

// label says how the run was protected: "without protection", "with
// Fusebox", "with Fusebox's deadline and breaker".
func (rr *RunResult) label() string {
	switch {
	case rr.Name == "unprotected":
		return "without protection"
	case rr.Protection == "all":
		return "with Fusebox"
	case rr.Protection == "none" || rr.Protection == "":
		return "with every protection off"
	}
	on := strings.Split(rr.Protection, ",")
	if len(on) == 1 {
		return "with Fusebox's " + on[0]
	}
	return "with Fusebox's " + strings.Join(on[:len(on)-1], ", ") + " and " + on[len(on)-1]
}

// note says, when the verdicts do not make the demo's point, what they
// show instead.
func (r *Result) note(u, p *RunResult) string {
	if u == nil || u.Summary.usersVerdict() == TooFewRequests {
		return ""
	}
	uv := u.Summary.usersVerdict()
	if p == nil || p.Protection == "none" {
		if uv == StayedUp {
			return "This run did not show the cascade." + r.cannot()
		}
		return ""
	}
	switch pv := p.Summary.usersVerdict(); {
	case pv == TooFewRequests:
		return ""
	case uv == StayedUp && pv == StayedUp:
		return "This run did not show the cascade, so it says nothing of the protections." + r.cannot()
	case uv == StayedUp:
		return "/users fared worse with the protections than without in this run."
	case pv != StayedUp:
		return "The protections did not keep /users up in this run."
	}
	return ""
}

// cannot says why the scenario could not show the cascade (CheckCascade),
// or nothing when it could.
func (r *Result) cannot() string {
	if err := r.Scenario.CheckCascade(); err != nil {
		return " The scenario could not: " + strings.TrimPrefix(err.Error(), "scenario: ") + "."
	}
	return ""
}

// WriteSummary writes the summary table of every run.
func (r *Result) WriteSummary(w io.Writer) error {
	rows := r.summaryRows()
	widths := make([]int, len(rows[0]))
	for _, cells := range rows {
		for i, c := range cells {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	var b strings.Builder
	for _, cells := range rows {
		for i, c := range cells {
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c))
			if i == 0 {
				b.WriteString(c + pad)
			} else {
				b.WriteString("   " + pad + c)
			}
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func pct(f float64) string  { return fmt.Sprintf("%.1f%%", 100*f) }
func pct0(f float64) string { return fmt.Sprintf("%.0f%%", 100*f) }

func optMs(v *float64, none string) string {
	if v == nil {
		return none
	}
	return fmtMs(*v)
}

// fmtMs formats milliseconds for people: 0.4ms, 12ms, 1.25s.
func fmtMs(v float64) string { return fmtDur(time.Duration(v * float64(time.Millisecond))) }

func fmtDur(d time.Duration) string {
	switch {
	case d <= 0:
		return "0ms"
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.1fms", ms(d))
	case d < time.Second:
		return fmt.Sprintf("%.0fms", ms(d))
	case d < 10*time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
	return fmt.Sprintf("%.1fs", d.Seconds())
}

// thousands formats n with thin separators: 12,345.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
