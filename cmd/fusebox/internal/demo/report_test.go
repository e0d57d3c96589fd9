package demo

import (
	"bytes"
	"encoding/xml"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"
)

// checkReport checks that a report is a page with well-formed SVG charts
// for each named run, that loads nothing from the network.
func checkReport(t *testing.T, page string, want ...string) {
	t.Helper()
	if !strings.HasPrefix(page, "<!DOCTYPE html>") || !strings.Contains(page, "</html>") {
		t.Fatalf("not an HTML page: %.200s", page)
	}
	svgs := regexp.MustCompile(`(?s)<svg .*?</svg>`).FindAllString(page, -1)
	if len(svgs) < 13 { // the topology, then 6 charts × 2 runs
		t.Errorf("%d SVG elements, want 13", len(svgs))
	}
	for _, s := range svgs {
		d := xml.NewDecoder(strings.NewReader(s))
		for {
			_, err := d.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("SVG is not well-formed XML: %v\n%.300s", err, s)
			}
		}
	}
	if strings.Contains(page, "NaN") || strings.Contains(page, "Inf") {
		t.Error("the report draws NaN or Inf coordinates")
	}
	for _, m := range regexp.MustCompile(`(?:src|href)="([^"]*)"`).FindAllStringSubmatch(page, -1) {
		if !strings.HasPrefix(m[1], "#") {
			t.Errorf("the report loads %q: it must work offline", m[1])
		}
	}
	if strings.Contains(page, "<script") {
		t.Error("the report has a script")
	}
	for _, w := range want {
		if !strings.Contains(page, w) {
			t.Errorf("the report does not mention %q", w)
		}
	}
}

// TestWriteReport renders the report of a made-up result: the charts of
// both runs, breakers bands included.
func TestWriteReport(t *testing.T) {
	sc := DefaultScenario()
	sc.Healthy, sc.Slow, sc.Errors, sc.Recovery = 2*time.Second, 2*time.Second, time.Second, 2*time.Second
	res := &Result{Scenario: sc}
	for _, name := range []string{"unprotected", "protected"} {
		rec := newRecorder(time.Now())
		for i := 0; i < 700; i++ {
			at := time.Duration(i) * 10 * time.Millisecond
			o := Outcome(i % 3)
			rec.add(sample{ep: Endpoint(i % 2), outcome: o, start: at, latency: time.Duration(i%50+1) * time.Millisecond})
			rec.addHop(hopSample{hop: OrdersPayments, ok: i%2 == 0, start: at, latency: time.Millisecond})
		}
		for i := 0; i < 70; i++ {
			rec.addGauge(gauge{at: time.Duration(i) * 100 * time.Millisecond, goroutines: 100 + i, gatewayInFlight: int64(i), paymentsIn: i % 7, paymentsTotal: uint64(i * 6)})
		}
		prot := NoProtection()
		r := &RunResult{}
		if name == "protected" {
			prot = FullProtection()
			rec.addTransition(transition{breaker: "orders → payments", at: 2500 * time.Millisecond, to: "open"})
			rec.addTransition(transition{breaker: "orders → payments", at: 3500 * time.Millisecond, to: "half-open"})
			rec.addTransition(transition{breaker: "orders → payments", at: 3600 * time.Millisecond, to: "closed"})
		}
		r = analyze(sc, name, prot, rec, [numPhases + 1]uint64{}, nil)
		if name == "protected" {
			r.breakers = []string{"gateway → orders", "orders → payments"}
		}
		res.Runs = append(res.Runs, r)
	}
	var buf bytes.Buffer
	if err := WriteReport(&buf, res); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	checkReport(t, page, "unprotected", "protected", "Requests by outcome", "Circuit breakers", "orders → payments", "no circuit breakers", "healthy: 2s")
	// The breaker band has an open segment from 2.5s to 3.5s.
	if !strings.Contains(page, "orders → payments: open from 2.5s to 3.5s") {
		t.Error("the breaker band lacks the open segment")
	}
	if err := WriteReport(io.Discard, &Result{Scenario: sc}); err == nil {
		t.Error("WriteReport of no runs succeeded")
	}
}
