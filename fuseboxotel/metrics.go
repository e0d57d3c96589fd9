package fuseboxotel

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/bulkhead"
	"github.com/fusebox-go/fusebox/fallback"
	"github.com/fusebox-go/fusebox/registry"
)

// Source is something whose snapshots NewMetrics reads at each collection:
// a policy, a pipeline or a registry. Make one with Watch or WatchRegistry.
type Source struct {
	name    string
	policy  any
	members func() []registry.Member
	stats   func() registry.Stats
	err     error
}

// PoolSnapshotter is what Watch accepts of a bulkhead.Pool, whatever its
// job and result types.
type PoolSnapshotter interface {
	Snapshot() bulkhead.PoolSnapshot
}

// CacheSnapshotter is what Watch accepts of a fallback.Cache, whatever its
// key and value types.
type CacheSnapshotter interface {
	Snapshot() fallback.CacheSnapshot
}

// Snapshotter is what Watch accepts of a type this package does not know:
// its Snapshot is read at each collection, and whatever of it this package
// knows (a breaker.Snapshot, a bulkhead.Snapshot, ..., or a []any of them)
// is observed. It is the interface of registry.Snapshotter.
type Snapshotter interface {
	Snapshot() any
}

// Watch returns the Source of p, whose measurements carry AttrPolicyName
// name (for a breaker, "" means the breaker's own Name). p is one of:
//
//   - *breaker.Breaker, *bulkhead.Bulkhead, *ratelimit.Bucket,
//     *ratelimit.Window, *ratelimit.Keyed, *retry.Policy, *retry.Budget,
//     *hedge.Policy, *timeout.Policy, *fallback.Policy;
//   - a bulkhead.Pool (PoolSnapshotter) or a fallback.Cache
//     (CacheSnapshotter);
//   - a *fusebox.Pipeline, or anything with a Policies() []fusebox.Policy
//     method: each layer of a kind listed above is observed with its
//     position in AttrPolicyLayer; other layers (this package's own
//     policies, say) are skipped;
//   - a Snapshotter.
//
// NewMetrics rejects a Source of any other type, a nil p and an empty name.
func Watch(name string, p any) Source {
	s := Source{name: name, policy: p}
	if b, ok := p.(*breaker.Breaker); ok && b != nil && name == "" {
		s.name = b.Name()
	}
	if !supported(p) {
		s.err = fmt.Errorf("policy of type %T not supported: want a policy, a pipeline or a Snapshotter of the fusebox module", p)
	}
	if isNil(p) {
		s.err = errors.New("policy is nil")
	}
	return s
}

// WatchRegistry returns the Source of a registry: each member is observed as
// Watch would observe it, with its key in AttrPolicyKey, and the registry
// itself through the fusebox.registry.* instruments. Members are read with
// Registry.Snapshot at each collection, so keys created and evicted come
// and go.
func WatchRegistry[T any](name string, r *registry.Registry[T]) Source {
	if r == nil {
		return Source{name: name, err: errors.New("registry is nil")}
	}
	return Source{name: name, members: r.Snapshot, stats: r.Stats}
}

// supported reports whether Watch knows p's type.
func supported(p any) bool {
	if _, ok := p.(layered); ok {
		return true
	}
	return registry.SnapshotFunc(p) != nil
}

// isNil reports whether p is nil or a nil pointer, map, slice, func,
// channel or interface inside an interface.
func isNil(p any) bool {
	if p == nil {
		return true
	}
	switch rv := reflect.ValueOf(p); rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan, reflect.Interface:
		return rv.IsNil()
	}
	return false
}

// layered is a pipeline, or a user type wrapping policies.
type layered interface {
	Policies() []fusebox.Policy
}

// snapshotOf returns p's snapshot: a []any of the layers' snapshots for a
// pipeline, registry.SnapshotFunc's for anything else, nil when there is
// none.
func snapshotOf(p any) any {
	if isNil(p) {
		return nil
	}
	if l, ok := p.(layered); ok {
		ps := l.Policies()
		out := make([]any, len(ps))
		for i, lp := range ps {
			out[i] = snapshotOf(lp)
		}
		return out
	}
	if f := registry.SnapshotFunc(p); f != nil {
		return f()
	}
	return nil
}

// Metrics is the set of observable instruments NewMetrics registered. The
// meter's readers call it at each collection; Close stops it.
type Metrics struct {
	reg     metric.Registration
	once    sync.Once
	sources []Source
	inst    *instruments
}

// NewMetrics creates Fusebox's observable instruments on meter and
// registers one callback that reads every source's snapshot at each
// collection: nothing is counted on the call path, so watching a policy
// costs its calls nothing. See the package documentation for the
// instruments and their attributes. Give each source a distinct name: two
// sources of the same kind and name would report the same series.
//
// It returns an error when meter is nil, a source is invalid (see Watch),
// or the meter refuses an instrument or the callback.
func NewMetrics(meter metric.Meter, sources ...Source) (*Metrics, error) {
	if meter == nil {
		return nil, errors.New("fuseboxotel: meter is nil")
	}
	for i, s := range sources {
		if s.err != nil {
			return nil, fmt.Errorf("fuseboxotel: sources[%d] (%q): %w", i, s.name, s.err)
		}
		if s.policy == nil && s.members == nil {
			return nil, fmt.Errorf("fuseboxotel: sources[%d] is empty: make sources with Watch or WatchRegistry", i)
		}
		if s.name == "" {
			return nil, fmt.Errorf("fuseboxotel: sources[%d] has an empty name: want the name of its policy", i)
		}
	}
	inst, err := newInstruments(meter)
	if err != nil {
		return nil, err
	}
	m := &Metrics{sources: append([]Source(nil), sources...), inst: inst}
	reg, err := meter.RegisterCallback(m.observe, inst.all...)
	if err != nil {
		return nil, fmt.Errorf("fuseboxotel: registering the callback: %w", err)
	}
	m.reg = reg
	return m, nil
}

// Close unregisters the callback: the sources are no longer read, and the
// instruments report nothing more. Close is idempotent.
func (m *Metrics) Close() error {
	var err error
	m.once.Do(func() { err = m.reg.Unregister() })
	return err
}

// observe is the callback: it reads every source's snapshot.
func (m *Metrics) observe(_ context.Context, o metric.Observer) error {
	ob := observer{o: o, in: m.inst}
	for _, s := range m.sources {
		base := []attribute.KeyValue{AttrPolicyName.String(s.name)}
		if s.members != nil {
			st := s.stats()
			ob.registry(base, st)
			for _, mem := range s.members() {
				ob.snapshot(append(base[:1:1], AttrPolicyKey.String(mem.Key)), mem.Value)
			}
			continue
		}
		ob.snapshot(base, snapshotOf(s.policy))
	}
	return nil
}
