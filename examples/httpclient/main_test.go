package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain fails the test if a goroutine outlives it: the example must
// stop every server, sampler and connection it starts.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestRun runs the example as `go run` would, and checks that the
// protections did their jobs.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out); err != nil {
		t.Fatalf("run: %v\noutput:\n%s", err, &out)
	}
	for _, want := range []string{
		"catalog: 3 calls ok",
		"pricing flaky:  requests that reached pricing: 2  answer: 1299 cents\n",
		"pricing slow:   requests that reached pricing: 2  answer: 1299 cents\n",
		"pricing down:   requests that reached pricing: 0  answer: 1299 cents, stale (fallback: breaker open: pricing not called)",
		"dashboard: pricing/breaker open",
		"dashboard: catalog/breaker closed",
		`metrics: fusebox_breaker_state{key="pricing",name="hosts",state="open"} 1`,
		"fusebox_retry_budget_refusals_total",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in the output:\n%s", want, &out)
		}
	}
}
