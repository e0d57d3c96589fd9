package demo

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progress shows a run while it goes: a compact table redrawn in place on a
// terminal, a plain line every second otherwise.
type progress struct {
	w    io.Writer
	live bool
	sc   Scenario
	run  string

	lines int // lines of the last live drawing
	peak  int // goroutines
}

// window is the span the live rates and percentiles are computed over.
const window = time.Second

func (p *progress) interval() time.Duration {
	if p.live {
		return 250 * time.Millisecond
	}
	return time.Second
}

// draw shows the state at gauge g.
func (p *progress) draw(rec *recorder, topo *topology, g gauge) {
	p.peak = max(p.peak, g.goroutines)
	if p.w == nil {
		return
	}
	now := g.at
	ss, hs := rec.recent(now-window, now)
	var users, orders []sample
	for _, s := range ss {
		if s.ep == Users {
			users = append(users, s)
		} else {
			orders = append(orders, s)
		}
	}
	u, o := summarize(users, window), summarize(orders, window)
	// share and latency format a share and a latency, "-" with no answers.
	share := func(st stats, f float64) string {
		if st.n == 0 {
			return "-"
		}
		return pct(f)
	}
	lat := func(st stats, d time.Duration) string {
		if st.n == 0 {
			return "-"
		}
		return fmtDur(d)
	}
	ph := p.sc.phaseAt(now)
	total := p.sc.Total()
	if now > total {
		now = total
	}
	if !p.live {
		var brs []string
		for _, d := range topo.deps() {
			if d.breaker != nil && d.breaker.State().String() != "closed" {
				brs = append(brs, d.name+" "+d.breaker.State().String())
			}
		}
		b := strings.Join(brs, ", ")
		if b == "" && len(topo.breakers()) > 0 {
			b = "all closed"
		} else if b == "" {
			b = "none"
		}
		fmt.Fprintf(p.w, "%-11s %5.1fs (%4.1fs left) %-8s users %6s p99 %6s | orders ok %4s deg %4s fail %4s p99 %6s | payments %3.0f req/s | goroutines %5d | breakers: %s\n",
			p.run, now.Seconds(), (total - now).Seconds(), ph, share(u, u.successShare), lat(u, u.p99), pct0(o.okShare), pct0(o.degradedShare), pct0(o.failedShare), lat(o, o.p99),
			hopRate(hs, OrdersPayments), g.goroutines, b)
		return
	}

	var out []string
	out = append(out, fmt.Sprintf("Phase %d/%d: %-42s %s %5.1fs elapsed, %4.1fs left", int(ph)+1, numPhases, ph.describe(p.sc), bar(now, total, 20), now.Seconds(), (total-now).Seconds()))
	out = append(out, fmt.Sprintf("  %-20s %7s %7s %9s %7s %8s %8s %9s  %s", "", "req/s", "ok", "degraded", "failed", "p50", "p99", "in flight", "breaker"))
	out = append(out, fmt.Sprintf("  %-20s %7.1f %7s %9s %7s %8s %8s", "gateway /users", u.rate, share(u, u.okShare), share(u, u.degradedShare), share(u, u.failedShare), lat(u, u.p50), lat(u, u.p99)))
	out = append(out, fmt.Sprintf("  %-20s %7.1f %7s %9s %7s %8s %8s", "gateway /orders", o.rate, share(o, o.okShare), share(o, o.degradedShare), share(o, o.failedShare), lat(o, o.p50), lat(o, o.p99)))
	for i, d := range topo.deps() {
		hop := Hop(i)
		var lats []time.Duration
		okN := 0
		for _, h := range hs {
			if h.hop == hop {
				lats = append(lats, h.latency)
				if h.ok {
					okN++
				}
			}
		}
		okS, failS, p50, p99 := "-", "-", "-", "-"
		if len(lats) > 0 {
			okShare := float64(okN) / float64(len(lats))
			okS, failS = pct(okShare), pct(1-okShare)
			p50, p99 = fmtDur(percentile(lats, 0.5)), fmtDur(percentile(lats, 0.99))
		}
		state := "-"
		if d.breaker != nil {
			state = d.breaker.State().String()
		}
		out = append(out, fmt.Sprintf("  %-20s %7.1f %7s %9s %7s %8s %8s %9d  %s", hop, float64(len(lats))/window.Seconds(), okS, "", failS, p50, p99, d.wire.inFlight.Load(), state))
	}
	out = append(out, fmt.Sprintf("  goroutines %s (peak %s) · requests in the gateway %s · in payments %d",
		thousands(int64(g.goroutines)), thousands(int64(p.peak)), thousands(g.gatewayInFlight), g.paymentsIn))

	var b strings.Builder
	if p.lines > 0 {
		fmt.Fprintf(&b, "\x1b[%dF", p.lines) // back to the first line of the last drawing
	}
	for _, l := range out {
		b.WriteString("\x1b[2K")
		b.WriteString(l)
		b.WriteByte('\n')
	}
	p.lines = len(out)
	_, _ = io.WriteString(p.w, b.String())
}

// finish ends the run's progress: the live table stays as last drawn.
func (p *progress) finish() {
	if p.w != nil && p.live {
		fmt.Fprintln(p.w)
	}
	p.lines = 0
}

func hopRate(hs []hopSample, hop Hop) float64 {
	n := 0
	for _, h := range hs {
		if h.hop == hop {
			n++
		}
	}
	return float64(n) / window.Seconds()
}

// bar draws a progress bar of width cells.
func bar(done, total time.Duration, width int) string {
	n := 0
	if total > 0 {
		n = int(float64(width) * float64(done) / float64(total))
	}
	n = max(0, min(n, width))
	return "[" + strings.Repeat("#", n) + strings.Repeat("-", width-n) + "]"
}
