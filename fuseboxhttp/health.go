package fuseboxhttp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/clock"
)

// Defaults of a HealthConfig.
const (
	// DefaultCheckTimeout is how long a check may run when neither
	// HealthConfig.CheckTimeout nor a CheckTimeout option says otherwise.
	DefaultCheckTimeout = time.Second
	// DefaultCacheTTL is how long a check's result is reused when neither
	// HealthConfig.CacheTTL nor a CheckTTL option says otherwise.
	DefaultCacheTTL = time.Second
)

// Statuses of a Report and of a CheckResult.
const (
	StatusOK   = "ok"
	StatusFail = "fail"
)

// HealthConfig configures a Health. The zero value is valid.
type HealthConfig struct {
	// CheckTimeout is how long each check may run before it counts as
	// failed: 0 means DefaultCheckTimeout (1s). Negative values are an
	// error.
	CheckTimeout time.Duration `json:"checkTimeout" yaml:"checkTimeout"`
	// CacheTTL is how long a check's result is reused before the check
	// runs again, so that frequent probes (several orchestrators, load
	// balancers) do not multiply the load on dependencies: 0 means
	// DefaultCacheTTL (1s). Negative values are an error.
	CacheTTL time.Duration `json:"cacheTTL" yaml:"cacheTTL"`
	// Clock times the checks, their timeouts and their cache: nil means
	// clock.Real().
	Clock clock.Clock `json:"-" yaml:"-"`
}

// Health is a registry of health checks served as the three probes of an
// orchestrator such as Kubernetes:
//
//   - /livez runs only the liveness checks: is the process able to work at
//     all (not deadlocked, not out of some resource)? A failing liveness
//     probe gets the process restarted, so liveness checks must never
//     depend on other services: a database outage must not restart every
//     instance. With no liveness check, /livez is always ok.
//   - /readyz runs the readiness checks: should the process get traffic
//     now? It also fails while the process is marked not ready (SetReady)
//     and, for good, once Shutdown was called, without running the checks.
//   - /startupz runs the startup checks until they all pass once; from then
//     on it answers ok without running them again.
//
// Checks of a probe run concurrently, each with a timeout, and each check's
// result is cached for a TTL. A Health is safe for concurrent use; checks
// may be added while it serves. Create one with NewHealth.
type Health struct {
	timeout time.Duration
	ttl     time.Duration
	clk     clock.Clock

	mu        sync.Mutex
	liveness  []*check // requires mu
	readiness []*check // requires mu
	startup   []*check // requires mu
	notReady  bool     // requires mu
	shutdown  bool     // requires mu
	started   *Report  // requires mu; the first passing startup report
}

// NewHealth returns an empty Health configured by c, ready (see SetReady),
// or an error naming the first field out of range.
func NewHealth(c HealthConfig) (*Health, error) {
	if c.CheckTimeout < 0 {
		return nil, fmt.Errorf("fuseboxhttp: HealthConfig.CheckTimeout %v out of range: want 0 (default %v) or more", c.CheckTimeout, DefaultCheckTimeout)
	}
	if c.CacheTTL < 0 {
		return nil, fmt.Errorf("fuseboxhttp: HealthConfig.CacheTTL %v out of range: want 0 (default %v) or more", c.CacheTTL, DefaultCacheTTL)
	}
	h := &Health{timeout: c.CheckTimeout, ttl: c.CacheTTL, clk: c.Clock}
	if h.timeout == 0 {
		h.timeout = DefaultCheckTimeout
	}
	if h.ttl == 0 {
		h.ttl = DefaultCacheTTL
	}
	if h.clk == nil {
		h.clk = clock.Real()
	}
	return h, nil
}

// CheckOption configures one check.
type CheckOption interface {
	applyCheck(*check)
}

type checkOptionFunc func(*check)

func (f checkOptionFunc) applyCheck(c *check) { f(c) }

// CheckTimeout sets the check's timeout, in place of the Health's
// CheckTimeout. It must be positive.
func CheckTimeout(d time.Duration) CheckOption {
	return checkOptionFunc(func(c *check) { c.timeout = d })
}

// CheckTTL sets how long the check's result is reused, in place of the
// Health's CacheTTL. It must be positive; a nanosecond means hardly any
// caching.
func CheckTTL(d time.Duration) CheckOption {
	return checkOptionFunc(func(c *check) { c.ttl = d })
}

// AddLiveness adds a check run by /livez. It returns an error when name is
// empty or taken by another liveness check, check is nil, or an option is
// out of range. See Health for what a liveness check may look at.
func (h *Health) AddLiveness(name string, check func(context.Context) error, opts ...CheckOption) error {
	return h.add(&h.liveness, "liveness", name, check, opts)
}

// AddReadiness adds a check run by /readyz, with AddLiveness's rules.
func (h *Health) AddReadiness(name string, check func(context.Context) error, opts ...CheckOption) error {
	return h.add(&h.readiness, "readiness", name, check, opts)
}

// AddStartup adds a check run by /startupz, with AddLiveness's rules. Add
// startup checks before the first probe: once a probe has passed, startup
// checks are no longer run.
func (h *Health) AddStartup(name string, check func(context.Context) error, opts ...CheckOption) error {
	return h.add(&h.startup, "startup", name, check, opts)
}

// AddBreakerReadiness adds a readiness check, named "breaker:" and the
// breaker's name ("breaker" when it has none), that fails while b is open
// or forced open. Use it for a dependency without which the process cannot
// serve anything useful; if every instance shares the breaker's
// dependency, all of them leave the load balancer together, so prefer
// degrading (a fallback) when some answer is better than none.
func (h *Health) AddBreakerReadiness(b *breaker.Breaker) error {
	if b == nil {
		return errors.New("fuseboxhttp: AddBreakerReadiness(nil): want a breaker")
	}
	name := "breaker"
	if b.Name() != "" {
		name += ":" + b.Name()
	}
	// Reading the state costs nothing: the check is never cached, so
	// readiness follows the breaker at once.
	return h.AddReadiness(name, func(context.Context) error {
		switch s := b.State(); s {
		case breaker.Open, breaker.ForcedOpen:
			return fmt.Errorf("circuit breaker %q is %v", b.Name(), s)
		}
		return nil
	}, checkOptionFunc(func(c *check) { c.uncached = true }))
}

func (h *Health) add(list *[]*check, kind, name string, fn func(context.Context) error, opts []CheckOption) error {
	if name == "" {
		return fmt.Errorf("fuseboxhttp: Add%s: empty name: want a name for the check", title(kind))
	}
	if fn == nil {
		return fmt.Errorf("fuseboxhttp: Add%s(%q): nil check function", title(kind), name)
	}
	c := &check{name: name, fn: fn, timeout: h.timeout, ttl: h.ttl, clk: h.clk}
	for _, o := range opts {
		if o != nil {
			o.applyCheck(c)
		}
	}
	if c.timeout <= 0 {
		return fmt.Errorf("fuseboxhttp: Add%s(%q): CheckTimeout %v out of range: want more than 0", title(kind), name, c.timeout)
	}
	if c.ttl <= 0 {
		return fmt.Errorf("fuseboxhttp: Add%s(%q): CheckTTL %v out of range: want more than 0", title(kind), name, c.ttl)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, o := range *list {
		if o.name == name {
			return fmt.Errorf("fuseboxhttp: Add%s(%q): a %s check of that name exists", title(kind), name, kind)
		}
	}
	// A new slice, so that a probe holding the old one is not disturbed.
	*list = append((*list)[:len(*list):len(*list)], c)
	return nil
}

func title(kind string) string {
	return string(kind[0]-'a'+'A') + kind[1:]
}

// SetReady marks the process ready or not ready for traffic: while not
// ready, /readyz fails without running its checks. A Health starts ready.
// SetReady does not undo Shutdown.
func (h *Health) SetReady(ready bool) {
	h.mu.Lock()
	h.notReady = !ready
	h.mu.Unlock()
}

// Shutdown makes /readyz fail from now on, without running its checks, so
// that load balancers stop sending traffic before the server stops: the
// first step of a graceful shutdown (Serve calls it). Liveness is not
// affected: the process is still alive while it drains. Shutdown cannot be
// undone.
func (h *Health) Shutdown() {
	h.mu.Lock()
	h.shutdown = true
	h.mu.Unlock()
}

// ShuttingDown reports whether Shutdown was called.
func (h *Health) ShuttingDown() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.shutdown
}

// Report is the result of a probe, as /livez, /readyz and /startupz serve
// it in JSON.
type Report struct {
	// Status is StatusOK when every check passed, else StatusFail.
	Status string `json:"status"`
	// Error says why a readiness report failed without running its checks
	// ("not ready", "shutting down").
	Error string `json:"error,omitempty"`
	// Checks holds each check's result by name.
	Checks map[string]CheckResult `json:"checks"`
}

// OK reports whether the probe passed.
func (r Report) OK() bool { return r.Status == StatusOK }

// CheckResult is the result of one check.
type CheckResult struct {
	// Status is StatusOK or StatusFail.
	Status string `json:"status"`
	// Error is the check's error, or why it did not finish.
	Error string `json:"error,omitempty"`
	// DurationMs is how long the check ran, in milliseconds, when it last
	// ran (a cached result keeps its duration).
	DurationMs float64 `json:"durationMs"`
}

// Liveness runs the liveness checks (or takes their cached results).
func (h *Health) Liveness(ctx context.Context) Report {
	h.mu.Lock()
	checks := h.liveness
	h.mu.Unlock()
	return h.run(ctx, checks)
}

// Readiness runs the readiness checks, unless the process is not ready or
// shutting down.
func (h *Health) Readiness(ctx context.Context) Report {
	h.mu.Lock()
	checks, notReady, shutdown := h.readiness, h.notReady, h.shutdown
	h.mu.Unlock()
	switch {
	case shutdown:
		return Report{Status: StatusFail, Error: "shutting down", Checks: map[string]CheckResult{}}
	case notReady:
		return Report{Status: StatusFail, Error: "not ready", Checks: map[string]CheckResult{}}
	}
	return h.run(ctx, checks)
}

// Startup runs the startup checks until they have all passed once; from
// then on it returns that passing report.
func (h *Health) Startup(ctx context.Context) Report {
	h.mu.Lock()
	checks, started := h.startup, h.started
	h.mu.Unlock()
	if started != nil {
		return *started
	}
	r := h.run(ctx, checks)
	if r.OK() {
		h.mu.Lock()
		if h.started == nil {
			h.started = &r
		}
		h.mu.Unlock()
	}
	return r
}

// run runs checks concurrently and gathers their results.
func (h *Health) run(ctx context.Context, checks []*check) Report {
	r := Report{Status: StatusOK, Checks: make(map[string]CheckResult, len(checks))}
	results := make([]CheckResult, len(checks))
	// Checks run detached from the probe's cancellation: their results are
	// cached and shared with other probes, which a client that hung up
	// must not spoil.
	ctx = context.WithoutCancel(ctx)
	if len(checks) == 1 {
		results[0] = checks[0].result(ctx)
	} else {
		var wg sync.WaitGroup
		for i, c := range checks {
			wg.Go(func() { results[i] = c.result(ctx) })
		}
		wg.Wait()
	}
	for i, c := range checks {
		r.Checks[c.name] = results[i]
		if results[i].Status != StatusOK {
			r.Status = StatusFail
		}
	}
	return r
}

// Handler returns the handler of the three probes, GET (or HEAD) /livez,
// /readyz and /startupz: 200 with a JSON Report when the probe passes, 503
// when it fails. Mount it at the root, or under a prefix with
// http.StripPrefix.
func (h *Health) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, r *http.Request) { writeReport(w, h.Liveness(r.Context())) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) { writeReport(w, h.Readiness(r.Context())) })
	mux.HandleFunc("GET /startupz", func(w http.ResponseWriter, r *http.Request) { writeReport(w, h.Startup(r.Context())) })
	return mux
}

func writeReport(w http.ResponseWriter, r Report) {
	body, err := json.Marshal(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if r.OK() {
		w.WriteHeader(http.StatusOK)
	} else {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_, _ = w.Write(append(body, '\n'))
}

// errCheckTimeout cancels a check's context when its timeout passes.
var errCheckTimeout = errors.New("check timed out")

// check is one registered check and its cached result.
type check struct {
	name    string
	fn      func(context.Context) error
	timeout time.Duration
	ttl     time.Duration
	clk     clock.Clock
	// uncached checks run on every probe (breaker checks).
	uncached bool

	mu      sync.Mutex
	res     CheckResult   // requires mu; the last result
	at      int64         // requires mu; when res was stored (Nanotime)
	has     bool          // requires mu; res is set
	running chan struct{} // requires mu; closed when the run in progress stores its result
	stuck   bool          // requires mu; the function of a timed-out run has not returned
}

// result returns the cached result while fresh, else waits for the run in
// progress, else runs the check.
func (c *check) result(ctx context.Context) CheckResult {
	c.mu.Lock()
	if c.has && !c.uncached && c.clk.Nanotime()-c.at < int64(c.ttl) {
		r := c.res
		c.mu.Unlock()
		return r
	}
	if w := c.running; w != nil {
		c.mu.Unlock()
		<-w // the run is bounded by its timeout
		c.mu.Lock()
		r := c.res
		c.mu.Unlock()
		return r
	}
	if c.stuck {
		// Starting another run of a function that ignores its context
		// would pile up goroutines; report the stuck one instead.
		r := CheckResult{Status: StatusFail, Error: "still running after timing out " + c.timeout.String() + " ago or more"}
		c.store(r)
		c.mu.Unlock()
		return r
	}
	w := make(chan struct{})
	c.running = w
	c.stuck = true
	c.mu.Unlock()

	r := c.run(ctx)

	c.mu.Lock()
	c.store(r)
	c.running = nil
	c.mu.Unlock()
	close(w)
	return r
}

// store caches r; requires c.mu.
func (c *check) store(r CheckResult) {
	c.res, c.at, c.has = r, c.clk.Nanotime(), true
}

// run calls the check function in a goroutine of its own, so that a
// function that ignores its context cannot hold the probe past the
// timeout. A panic in the function is recovered and reported as the
// check's failure: a health check must not bring the process down.
func (c *check) run(parent context.Context) CheckResult {
	start := c.clk.Nanotime()
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	t := c.clk.AfterFunc(c.timeout, func() { cancel(errCheckTimeout) })
	defer t.Stop()
	done := make(chan error, 1)
	go func() {
		var err error
		finished := false
		defer func() {
			if !finished {
				err = fmt.Errorf("panic: %v", recover())
			}
			// Not stuck any more, before the result is handed over: a
			// probe right after this run must not find the check stuck.
			c.mu.Lock()
			c.stuck = false
			c.mu.Unlock()
			done <- err
		}()
		err = c.fn(ctx)
		finished = true
	}()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		err = fmt.Errorf("%w after %v", errCheckTimeout, c.timeout)
	}
	r := CheckResult{Status: StatusOK, DurationMs: float64(c.clk.Nanotime()-start) / 1e6}
	if err != nil {
		r.Status, r.Error = StatusFail, err.Error()
	}
	return r
}
