package fuseboxprom

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/registry"
)

// DefaultNamespace is the first part of every metric name when
// Config.Namespace is empty.
const DefaultNamespace = "fusebox"

// Config configures a Collector. The zero value is ready to use.
type Config struct {
	// Namespace is the first part of every metric name
	// (namespace_breaker_state, ...): "" means DefaultNamespace
	// ("fusebox"). It must be letters, digits and underscores, not
	// starting with a digit.
	Namespace string `json:"namespace" yaml:"namespace"`
	// LatencyBuckets are the upper bounds, in seconds, of the classic
	// buckets of the call-duration histogram of latency policies: nil means
	// prometheus.DefBuckets (5 ms to 10 s). They must be positive and
	// strictly increasing. The histogram also has native (sparse) buckets,
	// for a scraper that asks for them.
	LatencyBuckets []float64 `json:"latencyBuckets" yaml:"latencyBuckets"`
	// Clock times the calls of latency policies: nil means clock.Real().
	Clock clock.Clock `json:"-" yaml:"-"`
}

// Collector is a prometheus.Collector that exports the snapshots of
// Fusebox policies. It reads them when it is scraped: adding a policy puts
// nothing on the policy's call path. Make one with New, add policies with
// Add and AddRegistry (before or after registering it), and register it
// on a registry of your own with Register. It is safe for concurrent use.
type Collector struct {
	d       descs
	latency *prometheus.HistogramVec
	clk     clock.Clock

	mu        sync.RWMutex
	sources   []source            // requires mu
	latencies map[string]*Latency // requires mu
}

// source is one Add or AddRegistry: something that has snapshots at
// scrape time.
type source struct {
	name string
	// exactly one of these is set
	snap     func() any // a single policy
	pipeline layered    // a pipeline
	reg      interface{ Snapshot() []registry.Member }
}

// New returns a Collector, or an error naming a Config field that is out
// of range.
func New(c Config) (*Collector, error) {
	ns := c.Namespace
	if ns == "" {
		ns = DefaultNamespace
	}
	if !validName(ns) {
		return nil, fmt.Errorf("fuseboxprom: Namespace %q invalid: want letters, digits and underscores, not starting with a digit (default %q)", c.Namespace, DefaultNamespace)
	}
	buckets := c.LatencyBuckets
	if buckets == nil {
		buckets = prometheus.DefBuckets
	}
	for i, b := range buckets {
		if !(b > 0) || (i > 0 && b <= buckets[i-1]) {
			return nil, fmt.Errorf("fuseboxprom: LatencyBuckets[%d] %v out of range: want positive bounds in strictly increasing order (nil means prometheus.DefBuckets)", i, b)
		}
	}
	clk := c.Clock
	if clk == nil {
		clk = clock.Real()
	}
	return &Collector{
		d: newDescs(ns),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace:                       ns,
			Name:                            "call_duration_seconds",
			Help:                            "Duration of calls timed by a latency policy, in seconds.",
			Buckets:                         slices.Clone(buckets),
			NativeHistogramBucketFactor:     NativeBucketFactor,
			NativeHistogramMaxBucketNumber:  NativeMaxBuckets,
			NativeHistogramMinResetDuration: NativeMinResetDuration,
		}, labels),
		clk:       clk,
		latencies: make(map[string]*Latency),
	}, nil
}

// validName reports whether s is a metric name part: [a-zA-Z_][a-zA-Z0-9_]*.
func validName(s string) bool {
	for i, r := range s {
		switch {
		case r == '_', 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z':
		case '0' <= r && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return s != ""
}

// Add exports policy's metrics with the label name set to name and key
// empty. policy is one of:
//
//   - a policy of this module: *breaker.Breaker, *bulkhead.Bulkhead,
//     *bulkhead.Pool, *ratelimit.Bucket, *ratelimit.Window,
//     *ratelimit.Keyed, *retry.Policy, *retry.Budget, *hedge.Policy,
//     *timeout.Policy, *fallback.Policy, *fallback.Cache (anything whose
//     Snapshot method returns one of their snapshot types, in fact);
//   - a *fusebox.Pipeline, or anything with a Policies() []fusebox.Policy
//     method: each of its policies is exported under name, the outermost
//     one of each kind only (a pipeline with a deadline and a per-attempt
//     timeout exports the deadline's; Add the other one by itself, under
//     another name, to see both);
//   - a registry.Snapshotter whose Snapshot returns one of the snapshot
//     types above, or a []any of them (a pipeline's layers, outermost
//     first: the first of each kind only, as for a pipeline); anything
//     else exports nothing.
//
// Add returns an error for a nil or unsupported policy, an empty name, or
// a name already added (by Add or AddRegistry).
func (c *Collector) Add(name string, policy any) error {
	if isNil(policy) {
		return fmt.Errorf("fuseboxprom: Add %q: policy is nil", name)
	}
	s := source{name: name}
	if p, ok := policy.(layered); ok {
		s.pipeline = p
	} else if f := registry.SnapshotFunc(policy); f != nil {
		s.snap = f
	} else {
		return fmt.Errorf("fuseboxprom: Add %q: unsupported policy type %T: want a Fusebox policy, a pipeline or a registry.Snapshotter", name, policy)
	}
	return c.add(s)
}

// AddRegistry exports the members of a registry (a *registry.Registry of
// any member type, or a fuseboxhttp.RoundTripper, whose per-host pipelines
// it reports the same way), read with its Snapshot method at each scrape: each
// member's metrics have the label name set to prefix and key set to the
// member's key. A member that is a pipeline exports the outermost policy of
// each kind, as with Add. Members evicted from the registry disappear from
// the next scrape.
//
// AddRegistry returns an error for a nil registry, an empty prefix, or a
// prefix already added (by Add or AddRegistry).
func (c *Collector) AddRegistry(prefix string, r interface{ Snapshot() []registry.Member }) error {
	if isNil(r) {
		return fmt.Errorf("fuseboxprom: AddRegistry %q: registry is nil", prefix)
	}
	return c.add(source{name: prefix, reg: r})
}

func (c *Collector) add(s source) error {
	if s.name == "" {
		return errors.New("fuseboxprom: empty name: want the policy's name, for the label name")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, o := range c.sources {
		if o.name == s.name {
			return fmt.Errorf("fuseboxprom: name %q already added", s.name)
		}
	}
	c.sources = append(c.sources, s)
	return nil
}

// Remove stops exporting what Add or AddRegistry added under name, and
// reports whether there was such a thing. Latency policies are not
// affected.
func (c *Collector) Remove(name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, o := range c.sources {
		if o.name == name {
			c.sources = slices.Delete(c.sources, i, i+1)
			return true
		}
	}
	return false
}

// Register registers c on reg: reg.Register(c). Pass a registry of your
// own (prometheus.NewRegistry()), or prometheus.DefaultRegisterer if you
// mean to use the global one; Fusebox never registers anything on its own.
func (c *Collector) Register(reg prometheus.Registerer) error {
	if reg == nil {
		return errors.New("fuseboxprom: Register: nil Registerer")
	}
	return reg.Register(c)
}

// Describe sends the descriptors of every metric c may export, as
// prometheus.Collector requires.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.d.all {
		ch <- d
	}
	c.latency.Describe(ch)
}

// Collect reads the snapshot of every policy added and sends its metrics,
// as prometheus.Collector requires. The Prometheus registry calls it at each
// scrape.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.RLock()
	sources := slices.Clone(c.sources)
	c.mu.RUnlock()
	for _, s := range sources {
		switch {
		case s.snap != nil:
			// A Snapshotter may return a []any of layers, as a registry
			// member does: two of one kind would export the same series
			// twice and fail the whole registry's Gather.
			var seen kinds
			c.d.emit(ch, s.name, "", s.snap(), &seen)
		case s.pipeline != nil:
			var seen kinds
			for _, p := range s.pipeline.Policies() {
				if f := registry.SnapshotFunc(p); f != nil {
					c.d.emit(ch, s.name, "", f(), &seen)
				}
			}
		case s.reg != nil:
			for _, m := range s.reg.Snapshot() {
				var seen kinds
				c.d.emit(ch, s.name, m.Key, m.Value, &seen)
			}
		}
	}
	c.latency.Collect(ch)
}

// layered is what a *fusebox.Pipeline offers: its policies.
type layered interface{ Policies() []fusebox.Policy }

// isNil reports whether v is nil or a nil pointer, map, slice, func,
// channel or interface inside an interface.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan, reflect.Interface:
		return rv.IsNil()
	}
	return false
}
