package demo

import (
	"bytes"
	"errors"
	"fmt"
	"math"
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
	if err := sc.CheckCascade(); err != nil {
		t.Errorf("the default scenario cannot show the cascade: %v", err)
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
		// Phases long enough to wrap Total around to a negative duration.
		{"healthy", func(s *Scenario) { s.Healthy, s.Slow = 2000000*time.Hour, 2000000*time.Hour }},
		{"slow", func(s *Scenario) { s.Slow, s.Errors, s.Recovery = math.MaxInt64, math.MaxInt64, math.MaxInt64 }},
		{"recovery", func(s *Scenario) { s.Recovery = 2 * time.Hour }},
		{"duration", func(s *Scenario) { s.Healthy, s.Slow, s.Errors, s.Recovery = 50*time.Minute, 50*time.Minute, 0, 0 }},
		// Values the protected run's policies reject.
		{"protection.retryBudget", func(s *Scenario) { s.Protection.RetryBudget = math.Inf(1) }},
		{"protection.breakerWindow", func(s *Scenario) { s.Protection.BreakerWindow = 100*time.Millisecond + 1 }},
		{"protection.ordersBulkhead", func(s *Scenario) { s.Protection.OrdersBulkhead = 3000000000 }},
		{"protection.dependencyBulkhead", func(s *Scenario) { s.Protection.DependencyBulkhead = 3000000000 }},
		{"protection.breakerMinCalls", func(s *Scenario) { s.Protection.BreakerMinCalls = 5000000000 }},
		{"protection.breakerConsecutive", func(s *Scenario) { s.Protection.BreakerConsecutive = 5000000000 }},
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

// TestCheckConfigs builds the runs' configurations from scenarios the
// policies reject, without Validate's own table of ranges: the error names
// the scenario's field, whatever the policies' limits become, and carries
// the policy's own reason. Protections that are off are checked too.
func TestCheckConfigs(t *testing.T) {
	if err := DefaultScenario().checkConfigs(); err != nil {
		t.Fatalf("default scenario: %v", err)
	}
	tests := []struct {
		field, reason string
		change        func(*Scenario)
	}{
		{"protection.retryBudget", "retry: Ratio", func(s *Scenario) { s.Protection.RetryBudget = math.Inf(1) }},
		{"protection.breakerWindow", "breaker: WindowDuration", func(s *Scenario) { s.Protection.BreakerWindow = 100*time.Millisecond + 1 }},
		{"protection.ordersBulkhead", "bulkhead: MaxConcurrent", func(s *Scenario) { s.Protection.OrdersBulkhead = 3000000000 }},
		{"protection.dependencyBulkhead", "bulkhead: MaxConcurrent", func(s *Scenario) { s.Protection.DependencyBulkhead = 3000000000 }},
		{"protection.breakerMinCalls", "breaker: MinimumCalls", func(s *Scenario) { s.Protection.BreakerMinCalls = 5000000000 }},
		{"protection.breakerConsecutive", "breaker: ConsecutiveFailures", func(s *Scenario) { s.Protection.BreakerConsecutive = 5000000000 }},
		{"protection.breakerFailureRate", "breaker: FailureRate", func(s *Scenario) { s.Protection.BreakerFailureRate = 2 }},
		{"protection.breakerOpen", "breaker: OpenDuration", func(s *Scenario) { s.Protection.BreakerOpen = -time.Second }},
		{"protection.retryAttempts", "retry: MaxAttempts", func(s *Scenario) { s.Protection.RetryAttempts = -1 }},
		{"protection.ordersDeadline", "timeout: Timeout", func(s *Scenario) { s.Protection.OrdersDeadline = -1 }},
		{"protection.dependencyAttemptTimeout", "timeout: Timeout", func(s *Scenario) { s.Protection.DependencyAttemptTimeout = -1 }},
		{"protection.serverDeadline", "DeadlineConfig.Max", func(s *Scenario) { s.Protection.ServerDeadline = -1 }},
		{"protection.staleTTL", "fallback: StaleTTL", func(s *Scenario) { s.Protection.StaleTTL = -1 }},
		{"protection.shedWait", "bulkhead: MaxWait", func(s *Scenario) { s.Protection.ShedWait = -1 }},
		{"gatewayWorkers", "bulkhead: MaxConcurrent", func(s *Scenario) { s.GatewayWorkers = -1 }},
		{"ordersQueue", "bulkhead: MaxQueue", func(s *Scenario) { s.OrdersQueue = -1 }},
		{"slowLatency", "chaos: Latency.Duration", func(s *Scenario) { s.SlowLatency = -1 }},
		{"errorStatus", "chaos: Status.Code", func(s *Scenario) { s.ErrorStatus = 99 }},
	}
	for _, tt := range tests {
		sc := DefaultScenario()
		tt.change(&sc)
		if err := sc.Protection.SetEnabled("none"); err != nil {
			t.Fatal(err)
		}
		err := sc.checkConfigs()
		if err == nil || !strings.HasPrefix(err.Error(), "scenario: "+tt.field+" ") || !strings.Contains(err.Error(), tt.reason) {
			t.Errorf("%s: checkConfigs() = %v, want an error naming the field, then %q", tt.field, err, tt.reason)
		}
	}
}

func TestTotalSaturates(t *testing.T) {
	sc := DefaultScenario()
	sc.Healthy, sc.Slow = 2000000*time.Hour, 2000000*time.Hour
	if got := sc.Total(); got != math.MaxInt64 {
		t.Errorf("Total() = %v, want the largest duration", got)
	}
	sc.Healthy, sc.Slow, sc.Errors, sc.Recovery = math.MinInt64, -time.Hour, 0, 0
	if got := sc.Total(); got != math.MinInt64 {
		t.Errorf("Total() = %v, want the smallest duration", got)
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
	for _, d := range []time.Duration{0, -time.Second, time.Hour + 1, 2000000 * time.Hour} {
		if err := sc.Scale(d); err == nil || !strings.Contains(err.Error(), "duration") || !strings.Contains(err.Error(), "want more than 0, at most 1h") {
			t.Errorf("Scale(%v) = %v, want an out of range error", d, err)
		}
	}
	// Phases whose sum overflows keep their proportions.
	sc.Healthy, sc.Slow, sc.Errors, sc.Recovery = 2000000*time.Hour, 2000000*time.Hour, 0, 0
	if err := sc.Scale(10 * time.Second); err != nil || sc.Healthy != 5*time.Second || sc.Total() != 10*time.Second {
		t.Errorf("Scale(10s) of two 2000000h phases: %v, healthy %v, total %v", err, sc.Healthy, sc.Total())
	}
	sc.Slow = -time.Second
	if err := sc.Scale(10 * time.Second); err == nil || !strings.Contains(err.Error(), "slow -1s out of range") {
		t.Errorf("Scale with a negative phase: %v", err)
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

	// A file of only comments, or only "~", is empty too.
	for _, empty := range []string{"# nothing\n", "~\n", "---\n"} {
		if e, err := LoadScenario(strings.NewReader(empty), sc); err != nil || e != sc {
			t.Errorf("LoadScenario(%q): %v, want the base", empty, err)
		}
	}
}

// TestLoadScenarioMultiDocument: the fields of a second YAML document would
// be ignored, a typo among them unnoticed.
func TestLoadScenarioMultiDocument(t *testing.T) {
	for _, in := range []string{"rate: 50\n---\nrats: 3\n", "rate: 50\n---\nrate: 60\n", "---\nrate: 50\n---\n---\nrate: 60\n"} {
		s, err := LoadScenario(strings.NewReader(in), DefaultScenario())
		if err == nil || !strings.Contains(err.Error(), "more than one YAML document") {
			t.Errorf("LoadScenario(%q) = %v, want an error saying there is more than one document", in, err)
		}
		if s != DefaultScenario() {
			t.Errorf("LoadScenario(%q) failed but changed the scenario", in)
		}
	}
	// One document with its start marker is fine.
	if s, err := LoadScenario(strings.NewReader("---\nrate: 50\n"), DefaultScenario()); err != nil || s.Rate != 50 {
		t.Errorf("one document after ---: rate %v, %v", s.Rate, err)
	}
}

// TestLoadScenarioNull: a field without a value would silently keep its
// default.
func TestLoadScenarioNull(t *testing.T) {
	tests := []struct{ in, field string }{
		{"rate: ~\n", "rate"},
		{"rate:\n", "rate"},
		{"slow: null\n", "slow"},
		{"healthy: 3s\nprotection:\n  breakerWindow:\n", "protection.breakerWindow"},
		{"protection:\n  retry: ~\n", "protection.retry"},
		{"protection:\n", "protection"},
	}
	for _, tt := range tests {
		_, err := LoadScenario(strings.NewReader(tt.in), DefaultScenario())
		if err == nil || !strings.Contains(err.Error(), " "+tt.field+" has no value") {
			t.Errorf("LoadScenario(%q) = %v, want an error naming %s", tt.in, err, tt.field)
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

// A YAML stream that ends with a document marker ("---" and nothing after
// it, as some emitters and templating tools write) holds one document with
// fields and an empty one: no field is ignored, so it is accepted, as an
// empty first document ("---" alone, "~") is.
func TestLoadScenarioTrailingEmptyDocument(t *testing.T) {
	for _, in := range []string{
		"rate: 5\n---\n",
		"rate: 5\n...\n---\n",
		"rate: 5\n---\n# end of file\n",
	} {
		s, err := LoadScenario(strings.NewReader(in), DefaultScenario())
		if err != nil || s.Rate != 5 {
			t.Errorf("%q: rate %v, %v; want 5 and no error (the second document is empty)", in, s.Rate, err)
		}
	}
}

// TestCheckCascade: a scenario that cannot show the cascade in the
// unprotected run is named with the field at fault and what it needs.
func TestCheckCascade(t *testing.T) {
	for _, sc := range []Scenario{DefaultScenario(), shortScenario()} {
		if err := sc.CheckCascade(); err != nil {
			t.Errorf("%+v: %v", sc, err)
		}
	}
	tests := []struct {
		want   string
		change func(*Scenario)
	}{
		// The issue's --duration 1s: the slow phase is 320ms.
		{"slow 320ms too short to show the cascade: want at least 1.71s", func(s *Scenario) { *s = s.scaled(time.Second) }},
		{"slow 0s too short to show the cascade", func(s *Scenario) { s.Slow = 0 }},
		// 64/60 + 64/100 s, rounded up to 10ms.
		{"slow 1.7s too short to show the cascade: want at least 1.71s", func(s *Scenario) { s.Slow = 1700 * time.Millisecond }},
		{"clientTimeout 1s too short to show the cascade: want at least 1.71s", func(s *Scenario) { s.ClientTimeout = time.Second }},
		{"slowLatency 1s too short", func(s *Scenario) { s.SlowLatency = time.Second }},
		{"serviceTimeout 1s too short", func(s *Scenario) { s.ServiceTimeout = time.Second }},
		// At 10 requests/s the gateway takes 64/6 + 64/10 = 17.07s to fill.
		{"clientTimeout 4s too short to show the cascade: want at least 17.07s", func(s *Scenario) { s.Rate = 10 }},
		{"usersShare 0 cannot show the cascade", func(s *Scenario) { s.UsersShare = 0 }},
		{"usersShare 1 cannot show the cascade", func(s *Scenario) { s.UsersShare = 1 }},
		{"ordersWorkers+ordersQueue 63 too small to show the cascade: want at least 64", func(s *Scenario) { s.OrdersWorkers, s.OrdersQueue = 32, 31 }},
		// 100 /users requests at 40/s take 2.5s.
		{"slow+errors 2.49s too short to judge /users: want at least 2.5s", func(s *Scenario) { s.Slow, s.Errors = 2*time.Second, 490*time.Millisecond }},
	}
	for _, tt := range tests {
		sc := DefaultScenario()
		tt.change(&sc)
		err := sc.CheckCascade()
		if err == nil || !strings.HasPrefix(err.Error(), "scenario: "+tt.want) {
			t.Errorf("CheckCascade() = %v, want %q", err, "scenario: "+tt.want)
		}
	}
	// The bounds themselves are enough.
	sc := DefaultScenario()
	sc.Slow, sc.Errors = 2*time.Second, 500*time.Millisecond
	if err := sc.CheckCascade(); err != nil {
		t.Errorf("slow 2s, errors 500ms: %v", err)
	}
	sc = DefaultScenario()
	sc.Slow, sc.ClientTimeout = 1710*time.Millisecond, 1710*time.Millisecond
	if err := sc.CheckCascade(); err != nil {
		t.Errorf("slow and clientTimeout 1.71s: %v", err)
	}
}

// TestMinDuration: the shortest run Scale accepts is a multiple of 100ms
// whose phases show the cascade, and 100ms less is refused, with the bound
// and the reason in the message.
func TestMinDuration(t *testing.T) {
	quick := DefaultScenario() // the CLI tests' quickDemo
	quick.UsersShare, quick.GatewayWorkers, quick.GatewayQueue, quick.ClientTimeout, quick.SlowLatency = 0.8, 4, 4, time.Second, 2*time.Second
	thinHealthy := DefaultScenario()
	thinHealthy.Healthy = 100 * time.Millisecond // under its minimum after any scaling under 40.2s
	longErrors := DefaultScenario()
	longErrors.Errors = 40 * time.Second
	tests := []struct {
		name string
		sc   Scenario
		want time.Duration
		why  string
	}{
		// The slow phase is 8/25 of the run and needs 1.71s: 5.34s.
		{"default", DefaultScenario(), 5400 * time.Millisecond, "so that the slow phase, 32% of the run, lasts the 1.71s slow /orders take to fill the gateway"},
		// Fills in 0.24s; 100 /users at 80/s take 1.25s of the outage, 12/25 of
		// the run: 2.604s, 2.7s rounded up to 100ms.
		{"quick", quick, 2700 * time.Millisecond, "so that payments is down, 48% of the run, for the 1.25s it takes to send 100 /users requests at 80/s"},
		{"thin healthy phase", thinHealthy, 40200 * time.Millisecond, "so that the healthy phase keeps its 200ms"},
		// The slow phase is 8/61 of the run: 1.71s × 61/8 = 13.04s.
		{"long errors phase", longErrors, 13100 * time.Millisecond, "so that the slow phase, 13% of the run"},
	}
	for _, tt := range tests {
		got, err := tt.sc.MinDuration()
		if err != nil || got != tt.want {
			t.Errorf("%s: MinDuration() = %v, %v; want %v", tt.name, got, err, tt.want)
			continue
		}
		sc := tt.sc
		if err := sc.Scale(got); err != nil {
			t.Errorf("%s: Scale(%v): %v", tt.name, got, err)
		} else if err := sc.CheckCascade(); err != nil {
			t.Errorf("%s: scaled to %v: %v", tt.name, got, err)
		}
		sc = tt.sc
		err = sc.Scale(got - 100*time.Millisecond)
		want := fmt.Sprintf("duration %v out of range: want at least %v (%s", got-100*time.Millisecond, got, tt.why)
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: Scale(%v) = %v, want %q…", tt.name, got-100*time.Millisecond, err, want)
		}
	}
	for _, change := range []func(*Scenario){
		func(s *Scenario) { s.Slow = 0 },
		func(s *Scenario) { s.ClientTimeout = time.Second },
		func(s *Scenario) { s.Healthy, s.Slow, s.Errors, s.Recovery = 0, 0, 0, 0 },
	} {
		sc := DefaultScenario()
		change(&sc)
		if d, err := sc.MinDuration(); err == nil {
			t.Errorf("%+v: MinDuration() = %v, want an error: no length shows the cascade", sc, d)
		}
	}
}
