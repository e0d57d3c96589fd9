package demo

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDefaultScenario(t *testing.T) {
	sc := DefaultScenario()
	if err := sc.Validate(); err != nil {
		t.Fatal(err)
	}
	// Two runs must fit in a minute, with room to start and stop.
	if 2*sc.Total() > 55*time.Second {
		t.Errorf("two runs of %v: longer than the minute the demo promises", sc.Total())
	}
	if sc.Protection.Enabled() != "all" {
		t.Errorf("default protections %q, want all", sc.Protection.Enabled())
	}
	// The unprotected run must be able to saturate the gateway: /orders
	// hold workers for the client timeout at most.
	if ordersRate := sc.Rate * (1 - sc.UsersShare); ordersRate*sc.ClientTimeout.Seconds() <= float64(sc.GatewayWorkers+sc.GatewayQueue) {
		t.Errorf("%.0f /orders per second cannot fill %d workers and %d queued in %v", ordersRate, sc.GatewayWorkers, sc.GatewayQueue, sc.ClientTimeout)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		field  string
		change func(*Scenario)
	}{
		{"rate", func(s *Scenario) { s.Rate = 0 }},
		{"usersShare", func(s *Scenario) { s.UsersShare = 1.5 }},
		{"healthy", func(s *Scenario) { s.Healthy = 0 }},
		{"slow+errors", func(s *Scenario) { s.Slow, s.Errors = 0, 0 }},
		{"errorStatus", func(s *Scenario) { s.ErrorStatus = 200 }},
		{"gatewayWorkers", func(s *Scenario) { s.GatewayWorkers = 0 }},
		{"port", func(s *Scenario) { s.Port = 70000 }},
		{"clientTimeout", func(s *Scenario) { s.ClientTimeout = -time.Second }},
		{"protection.breakerFailureRate", func(s *Scenario) { s.Protection.BreakerFailureRate = 2 }},
		{"protection.retryAttempts", func(s *Scenario) { s.Protection.RetryAttempts = 0 }},
	}
	for _, tt := range tests {
		sc := DefaultScenario()
		tt.change(&sc)
		err := sc.Validate()
		if err == nil || !strings.Contains(err.Error(), tt.field+" ") || !strings.Contains(err.Error(), "want") {
			t.Errorf("%s: Validate() = %v, want an error naming the field and the range", tt.field, err)
		}
	}
}

func TestProtectionList(t *testing.T) {
	tests := []struct {
		in, want string
		err      bool
	}{
		{"all", "all", false},
		{"none", "none", false},
		{"breaker", "breaker", false},
		{"fallback, deadline", "deadline,fallback", false},
		{"deadline,bulkhead,breaker,retry,fallback,shedding", "all", false},
		{"breaker,teleport", "", true},
	}
	for _, tt := range tests {
		p := FullProtection()
		err := p.SetEnabled(tt.in)
		if tt.err {
			if err == nil || !strings.Contains(err.Error(), "teleport") {
				t.Errorf("SetEnabled(%q) = %v, want an error naming the unknown protection", tt.in, err)
			}
			if p.Enabled() != "all" {
				t.Errorf("a failed SetEnabled changed the protections to %q", p.Enabled())
			}
			continue
		}
		if err != nil || p.Enabled() != tt.want {
			t.Errorf("SetEnabled(%q): %v, Enabled() = %q, want %q", tt.in, err, p.Enabled(), tt.want)
		}
		if p.BreakerOpen != FullProtection().BreakerOpen {
			t.Errorf("SetEnabled changed the numbers")
		}
	}
}

func TestScale(t *testing.T) {
	sc := DefaultScenario()
	if err := sc.Scale(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if sc.Total() != 10*time.Second {
		t.Errorf("Total() = %v after Scale(10s)", sc.Total())
	}
	if sc.Healthy != 2*time.Second || sc.Slow != 3200*time.Millisecond {
		t.Errorf("phases %v %v: proportions not kept", sc.Healthy, sc.Slow)
	}
	if err := sc.Scale(0); err == nil {
		t.Error("Scale(0) succeeded")
	}
}

func TestScenarioYAML(t *testing.T) {
	sc := DefaultScenario()
	sc.Rate = 42
	sc.Protection.Breaker = false
	y, err := sc.YAML()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(y), "healthy: 5s") {
		t.Errorf("durations are not written as text:\n%s", y)
	}
	back, err := LoadScenario(bytes.NewReader(y), DefaultScenario())
	if err != nil {
		t.Fatal(err)
	}
	if back != sc {
		t.Errorf("round trip changed the scenario:\n%+v\n%+v", back, sc)
	}

	// A partial file keeps the other values.
	part, err := LoadScenario(strings.NewReader("rate: 150\nslow: 3s\nprotection:\n  retry: false\n"), DefaultScenario())
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultScenario()
	want.Rate, want.Slow, want.Protection.Retry = 150, 3*time.Second, false
	if part != want {
		t.Errorf("partial file: got %+v, want %+v", part, want)
	}

	// An empty file is the base.
	if e, err := LoadScenario(strings.NewReader(""), sc); err != nil || e != sc {
		t.Errorf("empty file: %v", err)
	}

	for _, bad := range []string{"rats: 3\n", "rate: fast\n", "slow: 3 parsecs\n"} {
		if _, err := LoadScenario(strings.NewReader(bad), DefaultScenario()); err == nil {
			t.Errorf("LoadScenario(%q) succeeded", bad)
		}
	}
}

func TestTooSlowError(t *testing.T) {
	err := error(&TooSlowError{Run: "protected", Late: 30, Sent: 100, Rate: 500, WorstLateness: 1234 * time.Millisecond})
	var ts *TooSlowError
	if !errors.As(err, &ts) || !strings.Contains(err.Error(), "too slow") || !strings.Contains(err.Error(), "--rate") {
		t.Errorf("message %q", err)
	}
}
