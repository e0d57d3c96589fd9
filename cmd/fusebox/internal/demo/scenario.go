package demo

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/fusebox-go/fusebox/bulkhead"
)

// Scenario is everything a demo does: the phases of the outage, the load,
// the services' own work and capacity, and the protections of the protected
// run. DefaultScenario gives the numbers `fusebox demo` runs with; every
// field can be changed by a flag or a YAML file (LoadScenario).
type Scenario struct {
	// Healthy is the baseline phase: every service is fine.
	Healthy time.Duration `json:"healthy" yaml:"healthy"`
	// Slow is the first phase of the outage: payments answers after
	// SlowLatency.
	Slow time.Duration `json:"slow" yaml:"slow"`
	// Errors is the second phase of the outage: payments answers at once
	// with ErrorStatus.
	Errors time.Duration `json:"errors" yaml:"errors"`
	// Recovery is the last phase: payments is healthy again.
	Recovery time.Duration `json:"recovery" yaml:"recovery"`

	// Rate is how many requests per second the load generator sends to the
	// gateway, whatever happens to them (an open model: arrivals do not
	// wait for answers, so queues show).
	Rate float64 `json:"rate" yaml:"rate"`
	// UsersShare is the share of the requests sent to /users; the others
	// go to /orders. In [0, 1].
	UsersShare float64 `json:"usersShare" yaml:"usersShare"`
	// ClientTimeout is how long a client of the gateway waits for an answer
	// before it gives up: the request counts as failed.
	ClientTimeout time.Duration `json:"clientTimeout" yaml:"clientTimeout"`
	// MaxInFlight bounds the load generator's requests in flight; an arrival
	// that finds it reached fails at once ("client limit"). It only guards
	// the machine: keep it above Rate × ClientTimeout.
	MaxInFlight int `json:"maxInFlight" yaml:"maxInFlight"`
	// OrderIDs is how many distinct orders the clients ask about.
	OrderIDs int `json:"orderIDs" yaml:"orderIDs"`

	// UsersLatency is the gateway's own work for a /users request (a read
	// of its local store); it depends on nothing slow.
	UsersLatency time.Duration `json:"usersLatency" yaml:"usersLatency"`
	// OrdersLatency is the orders service's own work per request.
	OrdersLatency time.Duration `json:"ordersLatency" yaml:"ordersLatency"`
	// InventoryLatency, CatalogLatency and PaymentsLatency are the leaf
	// services' work per request while they are healthy.
	InventoryLatency time.Duration `json:"inventoryLatency" yaml:"inventoryLatency"`
	CatalogLatency   time.Duration `json:"catalogLatency" yaml:"catalogLatency"`
	PaymentsLatency  time.Duration `json:"paymentsLatency" yaml:"paymentsLatency"`
	// SlowLatency is the latency payments adds during the Slow phase.
	SlowLatency time.Duration `json:"slowLatency" yaml:"slowLatency"`
	// ErrorStatus is what payments answers during the Errors phase.
	ErrorStatus int `json:"errorStatus" yaml:"errorStatus"`

	// GatewayWorkers is how many requests the gateway serves at once, all
	// endpoints together, like the worker pool of a thread-per-request
	// server; up to GatewayQueue more wait for a worker (an accept queue),
	// and the gateway answers 503 to requests beyond that. OrdersWorkers
	// and OrdersQueue are the same for the orders service. The protected
	// run keeps the same limits.
	GatewayWorkers int `json:"gatewayWorkers" yaml:"gatewayWorkers"`
	GatewayQueue   int `json:"gatewayQueue" yaml:"gatewayQueue"`
	OrdersWorkers  int `json:"ordersWorkers" yaml:"ordersWorkers"`
	OrdersQueue    int `json:"ordersQueue" yaml:"ordersQueue"`
	// ServiceTimeout is the timeout of the plain service-to-service
	// clients: generous, as most services have it. The protected run uses
	// it too for any call its protections do not bound.
	ServiceTimeout time.Duration `json:"serviceTimeout" yaml:"serviceTimeout"`

	// Protection is what the protected run adds.
	Protection Protection `json:"protection" yaml:"protection"`

	// Port is the gateway's port on 127.0.0.1; 0 picks a free one. The
	// other services always get free ports.
	Port int `json:"port" yaml:"port"`
	// Seed seeds the choice of order IDs.
	Seed uint64 `json:"seed" yaml:"seed"`
	// Tick is how often the gauges (goroutines, in-flight, breaker states)
	// are sampled.
	Tick time.Duration `json:"tick" yaml:"tick"`
}

// Protection is what the protected run adds to the same services with the
// same limits: which protections are on, and their numbers.
type Protection struct {
	// Deadline: every call has a deadline (whole call) and a per-attempt
	// timeout instead of ServiceTimeout, and the servers take the caller's
	// deadline from the X-Fusebox-Deadline-Ms header.
	Deadline bool `json:"deadline" yaml:"deadline"`
	// Bulkhead: each dependency may hold only so many calls at once.
	Bulkhead bool `json:"bulkhead" yaml:"bulkhead"`
	// Breaker: a circuit breaker per dependency.
	Breaker bool `json:"breaker" yaml:"breaker"`
	// Retry: failed attempts are retried, within a retry budget.
	Retry bool `json:"retry" yaml:"retry"`
	// Fallback: orders answers with the last known payment status (a
	// degraded answer) when payments fails.
	Fallback bool `json:"fallback" yaml:"fallback"`
	// Shedding: the gateway and orders shed a request that waited ShedWait
	// for a worker (503 with Retry-After) instead of keeping it queued
	// until its client gives up.
	Shedding bool `json:"shedding" yaml:"shedding"`

	// OrdersDeadline bounds a gateway → orders call, retries included;
	// OrdersAttemptTimeout each attempt.
	OrdersDeadline       time.Duration `json:"ordersDeadline" yaml:"ordersDeadline"`
	OrdersAttemptTimeout time.Duration `json:"ordersAttemptTimeout" yaml:"ordersAttemptTimeout"`
	// DependencyDeadline bounds an orders → payments/inventory/catalog
	// call, retries included; DependencyAttemptTimeout each attempt.
	DependencyDeadline       time.Duration `json:"dependencyDeadline" yaml:"dependencyDeadline"`
	DependencyAttemptTimeout time.Duration `json:"dependencyAttemptTimeout" yaml:"dependencyAttemptTimeout"`
	// ServerDeadline caps the time the gateway and orders give a request.
	ServerDeadline time.Duration `json:"serverDeadline" yaml:"serverDeadline"`
	// OrdersBulkhead is how many gateway → orders calls may run at once;
	// DependencyBulkhead the same for each of orders' dependencies.
	OrdersBulkhead     int `json:"ordersBulkhead" yaml:"ordersBulkhead"`
	DependencyBulkhead int `json:"dependencyBulkhead" yaml:"dependencyBulkhead"`
	// BreakerFailureRate, BreakerMinCalls, BreakerWindow,
	// BreakerConsecutive and BreakerOpen configure every breaker (see
	// breaker.Config): it opens when BreakerFailureRate of at least
	// BreakerMinCalls calls in the last BreakerWindow failed, or after
	// BreakerConsecutive failures in a row, and stays open BreakerOpen.
	BreakerFailureRate float64       `json:"breakerFailureRate" yaml:"breakerFailureRate"`
	BreakerConsecutive int           `json:"breakerConsecutive" yaml:"breakerConsecutive"`
	BreakerMinCalls    int           `json:"breakerMinCalls" yaml:"breakerMinCalls"`
	BreakerWindow      time.Duration `json:"breakerWindow" yaml:"breakerWindow"`
	BreakerOpen        time.Duration `json:"breakerOpen" yaml:"breakerOpen"`
	// RetryAttempts is the most attempts per call, the first included;
	// RetryBudget the most retries per request over 10 s, shared by a
	// dependency's callers.
	RetryAttempts int     `json:"retryAttempts" yaml:"retryAttempts"`
	RetryBudget   float64 `json:"retryBudget" yaml:"retryBudget"`
	// StaleTTL is how old a cached payment status may be and still be
	// served when payments fails.
	StaleTTL time.Duration `json:"staleTTL" yaml:"staleTTL"`
	// ShedWait is how long a request may wait for a worker of the gateway
	// or orders before it is shed.
	ShedWait time.Duration `json:"shedWait" yaml:"shedWait"`
}

// DefaultScenario returns the scenario `fusebox demo` runs without flags:
// two runs of 25 s each.
func DefaultScenario() Scenario {
	return Scenario{
		Healthy:  5 * time.Second,
		Slow:     8 * time.Second,
		Errors:   4 * time.Second,
		Recovery: 8 * time.Second,

		Rate:          100,
		UsersShare:    0.4,
		ClientTimeout: 4 * time.Second,
		MaxInFlight:   1500,
		OrderIDs:      200,

		UsersLatency:     20 * time.Millisecond,
		OrdersLatency:    2 * time.Millisecond,
		InventoryLatency: 4 * time.Millisecond,
		CatalogLatency:   3 * time.Millisecond,
		PaymentsLatency:  8 * time.Millisecond,
		SlowLatency:      6 * time.Second,
		ErrorStatus:      503,

		GatewayWorkers: 64,
		GatewayQueue:   64,
		OrdersWorkers:  64,
		OrdersQueue:    64,
		ServiceTimeout: 30 * time.Second,

		Protection: FullProtection(),
		Tick:       100 * time.Millisecond,
	}
}

// FullProtection is every protection on, with the demo's numbers.
func FullProtection() Protection {
	p := NoProtection()
	p.Deadline, p.Bulkhead, p.Breaker, p.Retry, p.Fallback, p.Shedding = true, true, true, true, true, true
	return p
}

// NoProtection is every protection off (the numbers are kept, for a
// protection switched on later): the protected run then runs exactly like
// the unprotected one.
func NoProtection() Protection {
	return Protection{
		OrdersDeadline:           1500 * time.Millisecond,
		OrdersAttemptTimeout:     time.Second,
		DependencyDeadline:       600 * time.Millisecond,
		DependencyAttemptTimeout: 250 * time.Millisecond,
		ServerDeadline:           2 * time.Second,
		OrdersBulkhead:           32,
		DependencyBulkhead:       16,
		BreakerFailureRate:       0.5,
		BreakerMinCalls:          10,
		BreakerConsecutive:       5,
		BreakerWindow:            2 * time.Second,
		BreakerOpen:              time.Second,
		RetryAttempts:            2,
		RetryBudget:              0.2,
		StaleTTL:                 10 * time.Minute,
		ShedWait:                 250 * time.Millisecond,
	}
}

// protectionNames lists the protections in the order of the --protect
// flag's documentation.
var protectionNames = []string{"deadline", "bulkhead", "breaker", "retry", "fallback", "shedding"}

// ProtectionNames returns the names ParseProtections accepts, besides "all"
// and "none".
func ProtectionNames() []string { return append([]string(nil), protectionNames...) }

func (p *Protection) flag(name string) *bool {
	switch name {
	case "deadline":
		return &p.Deadline
	case "bulkhead":
		return &p.Bulkhead
	case "breaker":
		return &p.Breaker
	case "retry":
		return &p.Retry
	case "fallback":
		return &p.Fallback
	case "shedding":
		return &p.Shedding
	}
	return nil
}

// SetEnabled switches the protections on or off from a list: "all",
// "none", or names separated by commas ("deadline,breaker"), which turn on
// those and off every other. The numbers are kept.
func (p *Protection) SetEnabled(list string) error {
	list = strings.TrimSpace(list)
	switch list {
	case "all":
		for _, n := range protectionNames {
			*p.flag(n) = true
		}
		return nil
	case "none", "":
		for _, n := range protectionNames {
			*p.flag(n) = false
		}
		return nil
	}
	q := *p
	for _, n := range protectionNames {
		*q.flag(n) = false
	}
	for _, n := range strings.Split(list, ",") {
		f := q.flag(strings.TrimSpace(n))
		if f == nil {
			return fmt.Errorf("unknown protection %q: want all, none, or a list of %s", strings.TrimSpace(n), strings.Join(protectionNames, ", "))
		}
		*f = true
	}
	*p = q
	return nil
}

// Enabled returns the protections that are on, as SetEnabled takes them:
// "all", "none" or a list.
func (p Protection) Enabled() string {
	var on []string
	for _, n := range protectionNames {
		if *p.flag(n) {
			on = append(on, n)
		}
	}
	switch len(on) {
	case 0:
		return "none"
	case len(protectionNames):
		return "all"
	}
	return strings.Join(on, ",")
}

// Any reports whether any protection is on.
func (p Protection) Any() bool { return p.Enabled() != "none" }

// maxRun is the longest run Validate accepts: every phase, and the four
// together.
const maxRun = time.Hour

// Total is the length of one run: the four phases. It saturates at the
// largest time.Duration (or the smallest) rather than wrap around.
func (s Scenario) Total() time.Duration {
	var t time.Duration
	for _, d := range []time.Duration{s.Healthy, s.Slow, s.Errors, s.Recovery} {
		t = addSat(t, d)
	}
	return t
}

// addSat returns a+b, saturated at the bounds of time.Duration.
func addSat(a, b time.Duration) time.Duration {
	switch {
	case b > 0 && a > math.MaxInt64-b:
		return math.MaxInt64
	case b < 0 && a < math.MinInt64-b:
		return math.MinInt64
	}
	return a + b
}

// Scale changes the phases so that a run lasts total, keeping their
// proportions. total must be more than 0, at most 1h, and long enough for
// the healthy phase's minimum and for the cascade (MinDuration).
func (s *Scenario) Scale(total time.Duration) error {
	if total <= 0 || total > maxRun {
		return fmt.Errorf("duration %v out of range: want more than 0, at most %gh", total, maxRun.Hours())
	}
	phases := []struct {
		name string
		d    time.Duration
	}{{"healthy", s.Healthy}, {"slow", s.Slow}, {"errors", s.Errors}, {"recovery", s.Recovery}}
	var old float64 // in float64, so that long phases cannot overflow
	for _, p := range phases {
		if p.d < 0 {
			return fmt.Errorf("scenario: %s %v out of range: want 0 or more", p.name, p.d)
		}
		old += float64(p.d)
	}
	if old <= 0 {
		return errors.New("duration: the phases add up to 0")
	}
	if least, why := s.leastTotal(); total < least {
		if least > maxRun {
			return fmt.Errorf("duration %v out of range: no run of at most %gh is long enough (%s)", total, maxRun.Hours(), why)
		}
		return fmt.Errorf("duration %v out of range: want at least %v (%s), at most %gh", total, least, why, maxRun.Hours())
	}
	*s = s.scaled(total)
	return nil
}

// scaled returns s with its phases scaled to last total together, in
// their proportions; they must not all be 0.
func (s Scenario) scaled(total time.Duration) Scenario {
	old := float64(s.Healthy) + float64(s.Slow) + float64(s.Errors) + float64(s.Recovery)
	f := float64(total) / old
	s.Healthy = time.Duration(float64(s.Healthy) * f)
	s.Slow = time.Duration(float64(s.Slow) * f)
	s.Errors = time.Duration(float64(s.Errors) * f)
	s.Recovery = total - s.Healthy - s.Slow - s.Errors
	return s
}

// leastTotal returns the shortest run, in whole 100ms, whose phases, in
// s's proportions, are long enough: the healthy phase for its minimum, and
// the slow phase and the outage for the cascade (see cascade), and says
// why. Needs that no length can meet (a phase of 0, a cascade that cannot
// happen) are left to Validate and CheckCascade. The phases must not be
// negative, nor all 0.
func (s Scenario) leastTotal() (least time.Duration, why string) {
	type need struct {
		ok  func(Scenario) bool
		why string
	}
	needs := []need{{
		func(t Scenario) bool { return s.Healthy == 0 || t.Healthy >= minHealthy },
		fmt.Sprintf("so that the healthy phase keeps its %v", minHealthy),
	}}
	if c, err := s.cascade(); err == nil {
		needs = append(needs, need{
			func(t Scenario) bool { return s.Slow == 0 || t.Slow >= c.fill },
			fmt.Sprintf("so that the slow phase, %s of the run, lasts the %v %s", shareOf(s.Slow, s), c.fill, c.fillText(s)),
		}, need{
			func(t Scenario) bool { return s.Slow+s.Errors == 0 || t.Slow+t.Errors >= c.outage },
			fmt.Sprintf("so that payments is down, %s of the run, for the %v %s", shareOf(s.Slow+s.Errors, s), c.outage, c.outageText()),
		})
	}
	// Each need is met from some total on (the scaled phases grow with
	// it): find the least multiple of step that meets it, by doubling and
	// then halving the interval, with Scale's own arithmetic as the judge.
	const step = 100 * time.Millisecond
	for _, n := range needs {
		if n.ok(s.scaled(0)) {
			continue // a phase of 0 needs nothing
		}
		lo, hi := time.Duration(0), step // lo is too short, hi the candidate
		for !n.ok(s.scaled(hi)) {
			if hi > maxRun {
				return hi, n.why // none at most maxRun
			}
			lo, hi = hi, 2*hi
		}
		for hi-lo > step {
			mid := lo + (hi-lo)/step/2*step
			if n.ok(s.scaled(mid)) {
				hi = mid
			} else {
				lo = mid
			}
		}
		if hi > least {
			least, why = hi, n.why
		}
	}
	return least, why
}

// shareOf says which share of the run the phases d are: "32%".
func shareOf(d time.Duration, s Scenario) string {
	return fmt.Sprintf("%.0f%%", 100*float64(d)/(float64(s.Healthy)+float64(s.Slow)+float64(s.Errors)+float64(s.Recovery)))
}

// MinDuration returns the shortest run that Scale accepts for s, in whole
// 100ms: long enough for the healthy phase's minimum and for the
// unprotected run to show the cascade (CheckCascade). It fails when no
// length would do: a phase the cascade needs is 0, or the cascade cannot
// happen whatever the phases.
func (s Scenario) MinDuration() (time.Duration, error) {
	if s.Healthy < 0 || s.Slow < 0 || s.Errors < 0 || s.Recovery < 0 || s.Total() <= 0 {
		return 0, errors.New("scenario: phases out of range: want 0 or more each, more than 0 together")
	}
	if _, err := s.cascade(); err != nil {
		return 0, err
	}
	least, why := s.leastTotal()
	if least > maxRun {
		return 0, fmt.Errorf("scenario: no run of at most %gh is long enough (%s)", maxRun.Hours(), why)
	}
	if err := s.scaled(max(least, 100*time.Millisecond)).CheckCascade(); err != nil {
		return 0, err
	}
	return least, nil
}

// cascade is how the unprotected run's gateway fills up when payments
// turns slow, worked out from the scenario (topology.go tells why). Every
// /orders request sent then holds a gateway worker for hold: until
// payments answers (SlowLatency), its client gives up (ClientTimeout), or
// a service client's timeout ends the call (ServiceTimeout), whichever
// comes first. At ordersRate they hold every one of the GatewayWorkers
// after GatewayWorkers/ordersRate; from then on every request, /users too,
// waits for a worker, and GatewayQueue/Rate later the queue is full and
// the gateway turns requests away until workers free up: after hold, or
// once payments is fast again, whichever is later. fill is the time from
// the start of the slow phase until the queue is full. The summary judges
// the requests sent while payments was down (slow and errors phases), so
// the unprotected run shows the cascade when
//
//   - the gateway fills before the first slow /orders give up: hold ≥ fill;
//   - orders lets that many wait on payments: OrdersWorkers+OrdersQueue ≥
//     GatewayWorkers (it turns away the ones beyond, at once);
//   - there are /users and /orders requests;
//   - payments stays slow until the gateway is full: Slow ≥ fill;
//   - and payments is down long enough for a verdict on /users:
//     Slow+Errors ≥ outage, the time to send minVerdictRequests of them.
//
// The client timeout being longer than the slow phase does not matter in
// itself: /users are turned away from fill on, until hold, even when
// payments is no longer slow. fill and outage are rounded up to 10ms.
type cascade struct {
	ordersRate, usersRate float64 // requests per second
	hold                  time.Duration
	holdField             string // the field hold is: slowLatency, clientTimeout or serviceTimeout
	fill, outage          time.Duration
}

// cascade works out the cascade of a valid scenario (Validate), or says
// why it cannot happen whatever the phases.
func (s Scenario) cascade() (cascade, error) {
	c := cascade{ordersRate: s.Rate * (1 - s.UsersShare), usersRate: s.Rate * s.UsersShare}
	if !(c.usersRate > 0) {
		return c, fmt.Errorf("scenario: usersShare %v cannot show the cascade: want more than 0, /users requests to see it on", s.UsersShare)
	}
	if !(c.ordersRate > 0) {
		return c, fmt.Errorf("scenario: usersShare %v cannot show the cascade: want less than 1, /orders requests to fill the gateway", s.UsersShare)
	}
	if s.OrdersWorkers+s.OrdersQueue < s.GatewayWorkers {
		return c, fmt.Errorf("scenario: ordersWorkers+ordersQueue %d too small to show the cascade: want at least %d (gatewayWorkers): orders turns away the slow /orders beyond it at once, and the others cannot hold every gateway worker",
			s.OrdersWorkers+s.OrdersQueue, s.GatewayWorkers)
	}
	c.hold, c.holdField = s.SlowLatency, "slowLatency"
	if s.ClientTimeout < c.hold {
		c.hold, c.holdField = s.ClientTimeout, "clientTimeout"
	}
	if s.ServiceTimeout < c.hold {
		c.hold, c.holdField = s.ServiceTimeout, "serviceTimeout"
	}
	c.fill = seconds(float64(s.GatewayWorkers)/c.ordersRate + float64(s.GatewayQueue)/s.Rate)
	c.outage = seconds(minVerdictRequests / c.usersRate)
	if c.hold < c.fill {
		return c, fmt.Errorf("scenario: %s %v too short to show the cascade: want at least %v, the time %s; a slow /orders holds its worker %v at most, and they free the workers before the gateway is full (or raise rate, or lower gatewayWorkers or gatewayQueue)",
			c.holdField, c.hold, c.fill, c.fillText(s), c.hold)
	}
	return c, nil
}

// fillText says what fill is the time for.
func (c cascade) fillText(s Scenario) string {
	return fmt.Sprintf("slow /orders take to fill the gateway: its %d workers at %s /orders/s, then its %d queue places at %s requests/s",
		s.GatewayWorkers, num(c.ordersRate), s.GatewayQueue, num(s.Rate))
}

// outageText says what outage is the time for.
func (c cascade) outageText() string {
	return fmt.Sprintf("it takes to send %d /users requests at %s/s, for a verdict", minVerdictRequests, num(c.usersRate))
}

// num formats a rate: 60, 0.5.
func num(f float64) string { return strconv.FormatFloat(f, 'g', 4, 64) }

// seconds converts seconds to a duration rounded up to 10ms, at most 2h:
// longer than any phase.
func seconds(x float64) time.Duration {
	const unit = 10 * time.Millisecond
	if !(x < (2 * maxRun).Seconds()) {
		return 2 * maxRun
	}
	return time.Duration(math.Ceil(x*float64(time.Second)/float64(unit))) * unit
}

// CheckCascade reports why the unprotected run of s could not show the
// cascade, naming the scenario's field and what it needs (see cascade),
// or nil when it can. s must be valid (Validate).
func (s Scenario) CheckCascade() error {
	c, err := s.cascade()
	if err != nil {
		return err
	}
	if s.Slow < c.fill {
		return fmt.Errorf("scenario: slow %v too short to show the cascade: want at least %v, the time %s", s.Slow, c.fill, c.fillText(s))
	}
	if s.Slow+s.Errors < c.outage {
		return fmt.Errorf("scenario: slow+errors %v too short to judge /users: want at least %v, the time %s", s.Slow+s.Errors, c.outage, c.outageText())
	}
	return nil
}

// minHealthy is the shortest healthy phase: the baseline needs requests.
const minHealthy = 200 * time.Millisecond

// Validate reports the first field of s out of range, naming it and the
// allowed range. A scenario it accepts is one every run can build: it
// builds (and then drops) the configuration of every policy of the
// protected run, of every protection whether it is on or off, and of the
// payments server's faults, and names the scenario's field in their errors.
func (s Scenario) Validate() error {
	maxRunText := fmt.Sprintf("%gh", maxRun.Hours())
	maxLimit := fmt.Sprintf("1 to %d", bulkhead.MaxLimit)
	type check struct {
		bad  bool
		name string
		val  any
		want string
	}
	p := s.Protection
	checks := []check{
		// Each phase is bounded first, so that the sums below cannot
		// overflow.
		{s.Healthy < minHealthy || s.Healthy > maxRun, "healthy", s.Healthy, minHealthy.String() + " (the baseline needs requests) to " + maxRunText},
		{s.Slow < 0 || s.Slow > maxRun, "slow", s.Slow, "0 to " + maxRunText},
		{s.Errors < 0 || s.Errors > maxRun, "errors", s.Errors, "0 to " + maxRunText},
		{s.Recovery < 0 || s.Recovery > maxRun, "recovery", s.Recovery, "0 to " + maxRunText},
		{s.Slow+s.Errors <= 0, "slow+errors", s.Slow + s.Errors, "more than 0 (there must be an outage)"},
		{s.Total() > maxRun, "duration", s.Total(), "at most " + maxRunText + " per run, the four phases together"},
		{!(s.Rate >= 1 && s.Rate <= 2000), "rate", s.Rate, "1 to 2000 requests per second"},
		{!(s.UsersShare >= 0 && s.UsersShare <= 1), "usersShare", s.UsersShare, "0 to 1"},
		{s.ClientTimeout <= 0, "clientTimeout", s.ClientTimeout, "more than 0"},
		{s.MaxInFlight < 1 || s.MaxInFlight > 20000, "maxInFlight", s.MaxInFlight, "1 to 20000"},
		{s.OrderIDs < 1, "orderIDs", s.OrderIDs, "1 or more"},
		{s.UsersLatency < 0, "usersLatency", s.UsersLatency, "0 or more"},
		{s.OrdersLatency < 0, "ordersLatency", s.OrdersLatency, "0 or more"},
		{s.InventoryLatency < 0, "inventoryLatency", s.InventoryLatency, "0 or more"},
		{s.CatalogLatency < 0, "catalogLatency", s.CatalogLatency, "0 or more"},
		{s.PaymentsLatency < 0, "paymentsLatency", s.PaymentsLatency, "0 or more"},
		{s.SlowLatency < 0, "slowLatency", s.SlowLatency, "0 or more"},
		{s.ErrorStatus < 400 || s.ErrorStatus > 599, "errorStatus", s.ErrorStatus, "400 to 599"},
		{s.GatewayWorkers < 1 || s.GatewayWorkers > 10000, "gatewayWorkers", s.GatewayWorkers, "1 to 10000"},
		{s.GatewayQueue < 0 || s.GatewayQueue > 100000, "gatewayQueue", s.GatewayQueue, "0 to 100000"},
		{s.OrdersWorkers < 1 || s.OrdersWorkers > 10000, "ordersWorkers", s.OrdersWorkers, "1 to 10000"},
		{s.OrdersQueue < 0 || s.OrdersQueue > 100000, "ordersQueue", s.OrdersQueue, "0 to 100000"},
		{s.ServiceTimeout <= 0, "serviceTimeout", s.ServiceTimeout, "more than 0"},
		{s.Port < 0 || s.Port > 65535, "port", s.Port, "0 (any free port) to 65535"},
		{s.Tick < 10*time.Millisecond || s.Tick > 5*time.Second, "tick", s.Tick, "10ms to 5s"},
		{p.OrdersDeadline <= 0, "protection.ordersDeadline", p.OrdersDeadline, "more than 0"},
		{p.OrdersAttemptTimeout <= 0, "protection.ordersAttemptTimeout", p.OrdersAttemptTimeout, "more than 0"},
		{p.DependencyDeadline <= 0, "protection.dependencyDeadline", p.DependencyDeadline, "more than 0"},
		{p.DependencyAttemptTimeout <= 0, "protection.dependencyAttemptTimeout", p.DependencyAttemptTimeout, "more than 0"},
		{p.ServerDeadline <= 0, "protection.serverDeadline", p.ServerDeadline, "more than 0"},
		{p.OrdersBulkhead < 1 || p.OrdersBulkhead > bulkhead.MaxLimit, "protection.ordersBulkhead", p.OrdersBulkhead, maxLimit},
		{p.DependencyBulkhead < 1 || p.DependencyBulkhead > bulkhead.MaxLimit, "protection.dependencyBulkhead", p.DependencyBulkhead, maxLimit},
		{!(p.BreakerFailureRate > 0 && p.BreakerFailureRate <= 1), "protection.breakerFailureRate", p.BreakerFailureRate, "more than 0, at most 1"},
		{p.BreakerMinCalls < 1 || int64(p.BreakerMinCalls) > math.MaxUint32, "protection.breakerMinCalls", p.BreakerMinCalls, fmt.Sprintf("1 to %d", uint32(math.MaxUint32))},
		{p.BreakerConsecutive < 0 || int64(p.BreakerConsecutive) > math.MaxUint32, "protection.breakerConsecutive", p.BreakerConsecutive, fmt.Sprintf("0 (off) to %d", uint32(math.MaxUint32))},
		{p.BreakerWindow < 100*time.Millisecond || p.BreakerWindow%breakerBuckets != 0, "protection.breakerWindow", p.BreakerWindow,
			fmt.Sprintf("100ms or more, a whole multiple of %dns (the breaker's %d buckets)", breakerBuckets, breakerBuckets)},
		{p.BreakerOpen <= 0, "protection.breakerOpen", p.BreakerOpen, "more than 0"},
		{p.RetryAttempts < 1, "protection.retryAttempts", p.RetryAttempts, "1 or more"},
		{!(p.RetryBudget > 0 && !math.IsInf(p.RetryBudget, 1)), "protection.retryBudget", p.RetryBudget, "a finite number more than 0"},
		{p.StaleTTL < 0, "protection.staleTTL", p.StaleTTL, "0 or more"},
		{p.ShedWait < 0, "protection.shedWait", p.ShedWait, "0 or more"},
	}
	for _, c := range checks {
		if c.bad {
			return fmt.Errorf("scenario: %s %v out of range: want %s", c.name, c.val, c.want)
		}
	}
	// The table above says the ranges in the scenario's terms; building
	// every configuration the runs build makes sure that nothing it lets
	// through is rejected later, when a run starts.
	return s.checkConfigs()
}

// LoadScenario reads a YAML scenario over base: the fields the file names
// replace base's, the others keep their values; an empty file is base.
// Unknown fields are an error, so that a typo does not pass unnoticed, and
// so are a field without a value ("rate:" or "rate: ~", which would
// otherwise keep base's value unsaid) and a second YAML document with
// fields (after a "---" line), which would otherwise be ignored; an empty
// trailing document is fine.
func LoadScenario(r io.Reader, base Scenario) (Scenario, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return base, err
	}
	// First as a tree: the syntax, the number of documents, the nulls.
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return base, nil
		}
		return base, fmt.Errorf("scenario: %w", err)
	}
	for {
		// Further documents may only be empty (a trailing "---", as some
		// tools write): the fields of another would be ignored.
		var next yaml.Node
		err := dec.Decode(&next)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return base, fmt.Errorf("scenario: %w", err)
		}
		if !emptyDocument(&next) {
			return base, errors.New(`scenario: more than one YAML document (a "---" line starts another): put every field in one document`)
		}
	}
	// Then into the scenario, which reports unknown fields and wrong types.
	s := base
	dec = yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil && !errors.Is(err, io.EOF) {
		return base, fmt.Errorf("scenario: %w", err)
	}
	if err := checkNoNulls(&doc, ""); err != nil {
		return base, err
	}
	return s, nil
}

// emptyDocument reports whether n is a YAML document with nothing in it:
// no content, or a lone null.
func emptyDocument(n *yaml.Node) bool {
	if n.Kind != yaml.DocumentNode {
		return n.Kind == 0
	}
	for _, c := range n.Content {
		if !isNull(c) {
			return false
		}
	}
	return true
}

// checkNoNulls returns an error naming the first field of the YAML tree n
// (at path, "" for the top) whose value is null.
func checkNoNulls(n *yaml.Node, path string) error {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			if isNull(c) {
				continue // a document of only "~" is an empty one
			}
			if err := checkNoNulls(c, path); err != nil {
				return err
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			name := k.Value
			if path != "" {
				name = path + "." + k.Value
			}
			if isNull(v) {
				return fmt.Errorf("scenario: line %d: %s has no value: give it one, or leave the field out to keep its default", k.Line, name)
			}
			if err := checkNoNulls(v, name); err != nil {
				return err
			}
		}
	}
	return nil
}

// isNull reports whether n is a null scalar: "~", "null" or nothing.
func isNull(n *yaml.Node) bool {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// YAML returns s as a YAML document that LoadScenario reads back.
func (s Scenario) YAML() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(s); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
