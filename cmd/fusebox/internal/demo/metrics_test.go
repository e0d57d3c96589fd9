package demo

import (
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var d []time.Duration
		for _, x := range v {
			d = append(d, time.Duration(x)*time.Millisecond)
		}
		return d
	}
	tests := []struct {
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		{nil, 0.99, 0},
		{ms(5), 0.5, 5 * time.Millisecond},
		{ms(4, 1, 3, 2), 0.5, 2 * time.Millisecond},
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 0.99, 10 * time.Millisecond},
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 0.9, 9 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := percentile(tt.in, tt.p); got != tt.want {
			t.Errorf("percentile(%v, %v) = %v, want %v", tt.in, tt.p, got, tt.want)
		}
	}
}

func TestSummarize(t *testing.T) {
	ss := []sample{
		{ep: Orders, outcome: OK, latency: 10 * time.Millisecond},
		{ep: Orders, outcome: Degraded, latency: 20 * time.Millisecond},
		{ep: Orders, outcome: Failed, latency: 2 * time.Second},
		{ep: Orders, outcome: OK, latency: 30 * time.Millisecond},
	}
	st := summarize(ss, 2*time.Second)
	if st.n != 4 || st.ok != 2 || st.degraded != 1 || st.failed != 1 {
		t.Errorf("counts %+v", st)
	}
	if st.successShare != 0.75 || st.okShare != 0.5 || st.rate != 2 {
		t.Errorf("shares/rate %+v", st)
	}
	if st.p99 != 2*time.Second || st.p50 != 20*time.Millisecond {
		t.Errorf("p50 %v p99 %v", st.p50, st.p99)
	}
}

// TestFullAgainTime: /orders are full again at the start of the first
// second in which they are answered in full.
func TestFullAgainTime(t *testing.T) {
	var ss []sample
	for i := 0; i < 300; i++ {
		at := time.Duration(i) * 10 * time.Millisecond // 0 to 3s
		o := OK
		if at < 1200*time.Millisecond {
			o = Degraded
		}
		ss = append(ss, sample{ep: Orders, outcome: o, start: at}, sample{ep: Users, outcome: OK, start: at})
	}
	d, ok := fullAgainTime(ss, 0, 3*time.Second)
	if !ok || d != 1200*time.Millisecond {
		t.Errorf("fullAgainTime = %v, %v; want 1.2s", d, ok)
	}
	// Never in full: no recovery.
	for i := range ss {
		if ss[i].ep == Orders {
			ss[i].outcome = Degraded
		}
	}
	if d, ok := fullAgainTime(ss, 0, 3*time.Second); ok {
		t.Errorf("fullAgainTime = %v with no full answer", d)
	}
}

func TestAnalyze(t *testing.T) {
	sc := DefaultScenario()
	sc.Healthy, sc.Slow, sc.Errors, sc.Recovery = 2*time.Second, time.Second, time.Second, 2*time.Second
	rec := newRecorder(time.Now())
	for i := 0; i < 600; i++ {
		at := time.Duration(i) * 10 * time.Millisecond
		lat, o := 10*time.Millisecond, OK
		if at >= 2*time.Second && at < 4*time.Second {
			lat, o = 2*time.Second, Failed
		}
		rec.add(sample{ep: Users, outcome: o, start: at, latency: lat})
		rec.add(sample{ep: Orders, outcome: o, start: at, latency: lat})
	}
	rec.addGauge(gauge{at: time.Second, goroutines: 40})
	rec.addGauge(gauge{at: 3 * time.Second, goroutines: 900, gatewayInFlight: 192})
	rec.addTransition(transition{breaker: OrdersPayments.String(), at: 2600 * time.Millisecond, to: "open"})
	marks := [numPhases + 1]uint64{0, 100, 130, 150, 300}
	r := analyze(sc, "unprotected", NoProtection(), rec, marks, nil)
	s := r.Summary
	if s.UsersSuccessDown != 0 || s.UsersUnaffected || s.UsersVerdict != WentDown {
		t.Errorf("users %+v", s)
	}
	if s.UsersP99BaselineMs != 10 || s.UsersP99DownMs != 2000 {
		t.Errorf("p99 baseline %v down %v", s.UsersP99BaselineMs, s.UsersP99DownMs)
	}
	if s.PaymentsRequestsDown != 50 || s.PeakGoroutines != 900 || s.PeakGatewayInFlight != 192 {
		t.Errorf("payments %d goroutines %d gateway %d", s.PaymentsRequestsDown, s.PeakGoroutines, s.PeakGatewayInFlight)
	}
	if s.TimeToDetectMs == nil || *s.TimeToDetectMs != 600 {
		t.Errorf("time to detect %v, want 600ms", s.TimeToDetectMs)
	}
	// /users failed from 2s to 4s; /orders failed, never degraded.
	if s.UsersUnhealthyMs != 2000 {
		t.Errorf("/users unhealthy %vms, want 2000", s.UsersUnhealthyMs)
	}
	if s.OrdersFullAgainMs != nil {
		t.Errorf("/orders full again after %vms, want none: they never degraded", *s.OrdersFullAgainMs)
	}
	if r.Protection != "none" {
		t.Errorf("Protection %q", r.Protection)
	}
}

func TestFormatting(t *testing.T) {
	for in, want := range map[time.Duration]string{
		0: "0ms", 400 * time.Microsecond: "0.4ms", 12 * time.Millisecond: "12ms",
		1250 * time.Millisecond: "1.25s", 12 * time.Second: "12.0s",
	} {
		if got := fmtDur(in); got != want {
			t.Errorf("fmtDur(%v) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -4200: "-4,200"} {
		if got := thousands(in); got != want {
			t.Errorf("thousands(%d) = %q, want %q", in, got, want)
		}
	}
	if got := bar(5, 10, 10); got != "[#####-----]" || strings.Count(bar(20, 10, 4), "#") != 4 {
		t.Errorf("bar = %q", got)
	}
}

// TestUnhealthyTime: the half seconds in which /users missed "stayed up",
// by failures or by a slowed p99, add up; a slow request within the margin
// does not count, nor does a half second without requests.
func TestUnhealthyTime(t *testing.T) {
	var ss []sample
	for at := time.Duration(0); at < 5*time.Second; at += 10 * time.Millisecond {
		s := sample{ep: Users, outcome: OK, start: at, latency: 20 * time.Millisecond}
		switch {
		case at >= time.Second && at < 1500*time.Millisecond:
			s.outcome = Failed // one unhealthy half second
		case at >= 2*time.Second && at < 3*time.Second:
			s.latency = 2 * time.Second // two, slowed down
		case at >= 3*time.Second && at < 3500*time.Millisecond:
			s.latency = 200 * time.Millisecond // 10×, but within 250ms: healthy
		case at >= 4*time.Second && at < 4500*time.Millisecond:
			continue // no requests
		}
		ss = append(ss, s, sample{ep: Orders, outcome: Failed, start: at, latency: 4 * time.Second})
	}
	if got := unhealthyTime(ss, 20*time.Millisecond, 5*time.Second); got != 1500*time.Millisecond {
		t.Errorf("unhealthyTime = %v, want 1.5s", got)
	}
	// The last slot is cut at the end of the run.
	if got := unhealthyTime(ss, 20*time.Millisecond, 1200*time.Millisecond); got != 200*time.Millisecond {
		t.Errorf("unhealthyTime to 1.2s = %v, want 200ms", got)
	}
}
