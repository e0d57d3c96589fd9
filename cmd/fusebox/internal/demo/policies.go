package demo

import (
	"fmt"
	"strings"
	"time"

	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/bulkhead"
	"github.com/fusebox-go/fusebox/chaos"
	"github.com/fusebox-go/fusebox/fallback"
	"github.com/fusebox-go/fusebox/fuseboxhttp"
	"github.com/fusebox-go/fusebox/retry"
	"github.com/fusebox-go/fusebox/timeout"
)

// The configurations of what a run builds from the scenario: the protected
// run's policies and the payments server's faults. startTopology and
// setPhase build from them, and Scenario.Validate builds them all (every
// protection, on or off) before any run starts, so that a scenario the
// policies would reject is rejected at once, naming the scenario's field,
// rather than when the protected run starts, after the unprotected one.

// breakerBuckets is the number of buckets of every breaker's time window:
// BreakerWindow must be a whole multiple of that many nanoseconds.
const breakerBuckets = 10

// hopLimits are the deadline, per-attempt timeout and bulkhead of the calls
// on a hop in the protected run.
type hopLimits struct {
	deadline, attempt time.Duration
	bulkhead          int
	// field names the Protection fields they come from:
	// protection.<field>Deadline, <field>AttemptTimeout, <field>Bulkhead.
	field string
}

// limits returns the limits of the calls on hop.
func (p Protection) limits(hop Hop) hopLimits {
	if hop == GatewayOrders {
		return hopLimits{p.OrdersDeadline, p.OrdersAttemptTimeout, p.OrdersBulkhead, "orders"}
	}
	return hopLimits{p.DependencyDeadline, p.DependencyAttemptTimeout, p.DependencyBulkhead, "dependency"}
}

func timeoutConfig(name string, d time.Duration) timeout.Config {
	return timeout.Config{Name: name, Timeout: d}
}

func bulkheadConfig(name string, n int) bulkhead.Config {
	return bulkhead.Config{Name: name, MaxConcurrent: n}
}

// breakerConfig configures the breaker of the calls on hop.
func (p Protection) breakerConfig(hop Hop) breaker.Config {
	return breaker.Config{
		Name:                hop.String(),
		FailureRate:         p.BreakerFailureRate,
		ConsecutiveFailures: p.BreakerConsecutive,
		MinimumCalls:        p.BreakerMinCalls,
		WindowDuration:      p.BreakerWindow,
		WindowBuckets:       breakerBuckets,
		OpenDuration:        p.BreakerOpen,
		HalfOpenProbes:      3,
		AutoHalfOpen:        true,
	}
}

func (p Protection) budgetConfig() retry.BudgetConfig {
	return retry.BudgetConfig{Ratio: p.RetryBudget, MinRetriesPerSecond: 1}
}

func (p Protection) retryConfig(name string, budget *retry.Budget) retry.Config {
	return retry.Config{
		Name:            name,
		MaxAttempts:     p.RetryAttempts,
		InitialInterval: 20 * time.Millisecond,
		MaxInterval:     200 * time.Millisecond,
		Budget:          budget,
	}
}

// shedderConfig configures the load shedder of a server with workers and
// queue.
func (p Protection) shedderConfig(name string, workers, queue int) bulkhead.Config {
	return bulkhead.Config{Name: name, MaxConcurrent: workers, MaxQueue: queue, MaxWait: p.ShedWait}
}

func (p Protection) serverDeadlineConfig() fuseboxhttp.DeadlineConfig {
	return fuseboxhttp.DeadlineConfig{Max: p.ServerDeadline}
}

// cacheConfig configures the payment status cache. It only remembers: its
// values are fresh for a nanosecond, so every read goes to payments while
// payments works, and a remembered status is served (degraded) only when it
// fails.
func (s Scenario) cacheConfig() fallback.CacheConfig {
	return fallback.CacheConfig{
		MaxEntries: max(fallback.DefaultMaxEntries, s.OrderIDs),
		TTL:        time.Nanosecond,
		StaleTTL:   s.Protection.StaleTTL,
	}
}

func paymentFallbackConfig() fallback.Config {
	return fallback.Config{
		Name: "payment status",
		Func: fallback.Static(reply{body: []byte(`{"status":"unknown"}`), degraded: "payments"}),
	}
}

// phaseFault is what the payments server injects during ph.
func (s Scenario) phaseFault(ph Phase) (chaos.Fault, error) {
	switch ph {
	case PhaseHealthy, PhaseRecovery:
		return chaos.Fault{}, nil
	case PhaseSlow:
		return chaos.Fault{Latency: chaos.LatencyFault{Probability: 1, Duration: s.SlowLatency}}, nil
	case PhaseErrors:
		return chaos.Fault{Status: chaos.StatusFault{Probability: 1, Code: s.ErrorStatus}}, nil
	}
	return chaos.Fault{}, fmt.Errorf("unknown phase %d", ph)
}

// scenarioField is a field of a Scenario, by its YAML path, and its value.
type scenarioField struct {
	name string
	val  any
}

// configCheck is a configuration a run builds, the constructor (or
// validation) that rejects it, and the scenario fields it is made of.
type configCheck struct {
	// what names what is built, as the user knows it: "the protected
	// run's breaker".
	what string
	// fields are the scenario's fields in the configuration, by the name
	// the constructor's errors give the configuration's field ("breaker:
	// WindowDuration ...").
	fields map[string]scenarioField
	build  func() error
}

// configChecks returns every configuration the runs build from s, for every
// protection whether it is on or off.
func (s Scenario) configChecks() []configCheck {
	p := s.Protection
	var checks []configCheck
	for hop := range numHops {
		l := p.limits(hop)
		field := func(name string, val any) scenarioField { return scenarioField{"protection." + l.field + name, val} }
		checks = append(checks,
			configCheck{"the protected run's deadline of " + hop.String(), map[string]scenarioField{"Timeout": field("Deadline", l.deadline)},
				func() error { _, err := timeout.New(timeoutConfig("", l.deadline)); return err }},
			configCheck{"the protected run's attempt timeout of " + hop.String(), map[string]scenarioField{"Timeout": field("AttemptTimeout", l.attempt)},
				func() error { _, err := timeout.New(timeoutConfig("", l.attempt)); return err }},
			configCheck{"the protected run's bulkhead of " + hop.String(), map[string]scenarioField{"MaxConcurrent": field("Bulkhead", l.bulkhead)},
				func() error { _, err := bulkhead.New(bulkheadConfig("", l.bulkhead)); return err }},
			configCheck{"the protected run's breaker of " + hop.String(), map[string]scenarioField{
				"FailureRate":         {"protection.breakerFailureRate", p.BreakerFailureRate},
				"ConsecutiveFailures": {"protection.breakerConsecutive", p.BreakerConsecutive},
				"MinimumCalls":        {"protection.breakerMinCalls", p.BreakerMinCalls},
				"WindowDuration":      {"protection.breakerWindow", p.BreakerWindow},
				"OpenDuration":        {"protection.breakerOpen", p.BreakerOpen},
			}, func() error { return p.breakerConfig(hop).Validate() }},
		)
	}
	checks = append(checks,
		configCheck{"the protected run's retry budget", map[string]scenarioField{"Ratio": {"protection.retryBudget", p.RetryBudget}},
			func() error { _, err := retry.NewBudget(p.budgetConfig()); return err }},
		configCheck{"the protected run's retry policy", map[string]scenarioField{"MaxAttempts": {"protection.retryAttempts", p.RetryAttempts}},
			func() error { _, err := retry.New(p.retryConfig("", nil)); return err }},
		configCheck{"the protected run's payment status cache", map[string]scenarioField{
			"MaxEntries": {"orderIDs", s.OrderIDs},
			"StaleTTL":   {"protection.staleTTL", p.StaleTTL},
		}, func() error {
			c, err := fallback.NewCache[string, []byte](s.cacheConfig())
			if err == nil {
				c.Close()
			}
			return err
		}},
		configCheck{"the protected run's payment status fallback", nil,
			func() error { _, err := fallback.New(paymentFallbackConfig()); return err }},
		configCheck{"the protected run's server deadline", map[string]scenarioField{"DeadlineConfig.Max": {"protection.serverDeadline", p.ServerDeadline}},
			func() error { _, err := fuseboxhttp.Deadline(p.serverDeadlineConfig()); return err }},
	)
	for _, srv := range []struct {
		name           string
		workers, queue int
	}{{"gateway", s.GatewayWorkers, s.GatewayQueue}, {"orders", s.OrdersWorkers, s.OrdersQueue}} {
		checks = append(checks, configCheck{"the protected run's load shedder of the " + srv.name, map[string]scenarioField{
			"MaxConcurrent": {srv.name + "Workers", srv.workers},
			"MaxQueue":      {srv.name + "Queue", srv.queue},
			"MaxWait":       {"protection.shedWait", p.ShedWait},
		}, func() error {
			bh, err := bulkhead.New(p.shedderConfig(srv.name, srv.workers, srv.queue))
			if err != nil {
				return err
			}
			_, err = fuseboxhttp.LoadShedder(fuseboxhttp.LoadShedderConfig{Bulkhead: bh})
			return err
		}})
	}
	for ph := range numPhases {
		checks = append(checks, configCheck{"the payments server's " + ph.String() + " phase", map[string]scenarioField{
			"Latency.Duration": {"slowLatency", s.SlowLatency},
			"Status.Code":      {"errorStatus", s.ErrorStatus},
		}, func() error {
			f, err := s.phaseFault(ph)
			if err != nil {
				return err
			}
			return f.Validate()
		}})
	}
	return checks
}

// checkConfigs builds every configuration of configChecks and returns the
// first error, naming the scenario's field when the error names a
// configuration field that comes from one.
func (s Scenario) checkConfigs() error {
	for _, c := range s.configChecks() {
		err := c.build()
		if err == nil {
			continue
		}
		if f, ok := c.fields[configField(err)]; ok {
			return fmt.Errorf("scenario: %s %v out of range: %s rejects it (%w)", f.name, f.val, c.what, err)
		}
		return fmt.Errorf("scenario: %s rejects the scenario: %w", c.what, err)
	}
	return nil
}

// configField returns the configuration field an error of a Fusebox
// constructor names: the word after its "package: " prefix.
func configField(err error) string {
	msg := err.Error()
	i := strings.Index(msg, ": ")
	if i < 0 {
		return ""
	}
	f, _, _ := strings.Cut(msg[i+2:], " ")
	return f
}
