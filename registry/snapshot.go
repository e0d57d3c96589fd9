package registry

import (
	"reflect"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/bulkhead"
	"github.com/fusebox-go/fusebox/fallback"
	"github.com/fusebox-go/fusebox/hedge"
	"github.com/fusebox-go/fusebox/ratelimit"
	"github.com/fusebox-go/fusebox/retry"
	"github.com/fusebox-go/fusebox/timeout"
)

// SnapshotFunc returns the function that reads m's snapshot, or nil when m
// is nil (a nil interface or a nil pointer) or has no snapshot this module
// knows. Known are anything whose Snapshot method returns one of the
// module's snapshot types, as every policy of the module does
// (breaker.Snapshot; bulkhead.Snapshot and PoolSnapshot; ratelimit.Snapshot,
// WindowSnapshot and KeyedSnapshot; retry.Snapshot and BudgetSnapshot;
// timeout.Snapshot; fallback.Snapshot and CacheSnapshot; hedge.Snapshot),
// the generic ones (bulkhead.Pool, fallback.Cache) whatever their type
// arguments; and a Snapshotter. A pipeline has no snapshot of its own: read
// its layers through its Policies method.
//
// Member.Value and the observability adapters (fuseboxprom, fuseboxotel,
// the dashboard) all read snapshots through SnapshotFunc, so a new kind of
// policy is taught to all of them here.
func SnapshotFunc(m any) func() any {
	if isNil(m) {
		return nil
	}
	switch v := m.(type) {
	case snapshots[breaker.Snapshot]:
		return func() any { return v.Snapshot() }
	case snapshots[bulkhead.Snapshot]:
		return func() any { return v.Snapshot() }
	case snapshots[bulkhead.PoolSnapshot]:
		return func() any { return v.Snapshot() }
	case snapshots[ratelimit.Snapshot]:
		return func() any { return v.Snapshot() }
	case snapshots[ratelimit.WindowSnapshot]:
		return func() any { return v.Snapshot() }
	case snapshots[ratelimit.KeyedSnapshot]:
		return func() any { return v.Snapshot() }
	case snapshots[retry.Snapshot]:
		return func() any { return v.Snapshot() }
	case snapshots[retry.BudgetSnapshot]:
		return func() any { return v.Snapshot() }
	case snapshots[timeout.Snapshot]:
		return func() any { return v.Snapshot() }
	case snapshots[fallback.Snapshot]:
		return func() any { return v.Snapshot() }
	case snapshots[fallback.CacheSnapshot]:
		return func() any { return v.Snapshot() }
	case snapshots[hedge.Snapshot]:
		return func() any { return v.Snapshot() }
	case Snapshotter:
		return v.Snapshot
	}
	return nil
}

// snapshots is a Snapshot method returning the snapshot type S.
type snapshots[S any] interface{ Snapshot() S }

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

// MemberValue returns m's snapshot as Member.Value holds it: SnapshotFunc's,
// a []any of its layers' snapshots for a *fusebox.Pipeline, nil otherwise.
// It is for other sets of keyed policies that report themselves as
// Members, the way a Registry does (fuseboxhttp's RoundTripper), so that
// the dashboard and the metrics adapters read them all alike.
func MemberValue(m any) any { return snapshotOf(m) }

// snapshotOf returns m's snapshot for Member.Value: SnapshotFunc's, or a
// []any of the layers' snapshots for a pipeline, nil otherwise.
func snapshotOf(m any) any {
	if p, ok := m.(*fusebox.Pipeline); ok {
		if p == nil {
			return nil
		}
		ps := p.Policies()
		out := make([]any, len(ps))
		for i, l := range ps {
			out[i] = snapshotOf(l)
		}
		return out
	}
	if f := SnapshotFunc(m); f != nil {
		return f()
	}
	return nil
}
