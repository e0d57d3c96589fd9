package registry

import (
	"context"
	"reflect"
	"testing"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/bulkhead"
	"github.com/fusebox-go/fusebox/fallback"
	"github.com/fusebox-go/fusebox/hedge"
	"github.com/fusebox-go/fusebox/ratelimit"
	"github.com/fusebox-go/fusebox/retry"
	"github.com/fusebox-go/fusebox/timeout"
)

// SnapshotFunc reads every policy of the module, generic ones whatever
// their type arguments, and Snapshotters; nothing for nil, nil pointers,
// pipelines and unknown types.
func TestSnapshotFunc(t *testing.T) {
	must := func(v any, err error) any {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	pool := must(bulkhead.NewPool(bulkhead.PoolConfig{Workers: 1}, func(context.Context, int) (string, error) { return "", nil })).(*bulkhead.Pool[int, string])
	defer pool.Close()
	known := []struct {
		policy any
		want   any // a value of the snapshot type
	}{
		{must(breaker.New(breaker.Config{})), breaker.Snapshot{}},
		{must(bulkhead.New(bulkhead.Config{})), bulkhead.Snapshot{}},
		{pool, bulkhead.PoolSnapshot{}},
		{must(ratelimit.New(ratelimit.Config{Rate: 1, Burst: 1})), ratelimit.Snapshot{}},
		{must(ratelimit.NewWindow(ratelimit.WindowConfig{Limit: 1})), ratelimit.WindowSnapshot{}},
		{must(ratelimit.NewKeyed(ratelimit.KeyedConfig{Rate: 1, Burst: 1})), ratelimit.KeyedSnapshot{}},
		{must(retry.New(retry.Config{})), retry.Snapshot{}},
		{must(retry.NewBudget(retry.BudgetConfig{})), retry.BudgetSnapshot{}},
		{must(timeout.New(timeout.Config{Timeout: 1})), timeout.Snapshot{}},
		{must(fallback.New(fallback.Config{Func: fallback.Static(1)})), fallback.Snapshot{}},
		{must(fallback.NewCache[string, int](fallback.CacheConfig{})), fallback.CacheSnapshot{}},
		{must(hedge.New(hedge.Config{})), hedge.Snapshot{}},
		{custom{21}, 42},
	}
	for _, k := range known {
		f := SnapshotFunc(k.policy)
		if f == nil {
			t.Errorf("SnapshotFunc(%T) = nil, want a reader of %T", k.policy, k.want)
			continue
		}
		if got := f(); reflect.TypeOf(got) != reflect.TypeOf(k.want) {
			t.Errorf("SnapshotFunc(%T)() is a %T, want a %T", k.policy, got, k.want)
		}
	}
	if got := SnapshotFunc(custom{21})(); got != 42 {
		t.Errorf("Snapshotter read %v, want its Snapshot, 42", got)
	}
	pipeline, _ := fusebox.New()
	for _, unknown := range []any{nil, (*breaker.Breaker)(nil), (*bulkhead.Pool[int, string])(nil), pipeline, "a string", 7} {
		if SnapshotFunc(unknown) != nil {
			t.Errorf("SnapshotFunc(%#v) is a reader, want nil", unknown)
		}
	}
}

// MemberValue is what a Registry's Snapshot reports of a member, for other
// sources of members (a fuseboxhttp RoundTripper).
func TestMemberValue(t *testing.T) {
	br, err := breaker.New(breaker.Config{Name: "b"})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := fusebox.New(br)
	layers, ok := MemberValue(p).([]any)
	if !ok || len(layers) != 1 {
		t.Fatalf("MemberValue(pipeline) = %#v, want one layer", MemberValue(p))
	}
	if s, ok := layers[0].(breaker.Snapshot); !ok || s.Name != "b" {
		t.Fatalf("layer = %#v, want b's breaker.Snapshot", layers[0])
	}
	if s, ok := MemberValue(br).(breaker.Snapshot); !ok || s.Name != "b" {
		t.Fatalf("MemberValue(breaker) = %#v, want its snapshot", MemberValue(br))
	}
	if v := MemberValue(struct{}{}); v != nil {
		t.Fatalf("MemberValue of an unknown type = %#v, want nil", v)
	}
	var nilPipe *fusebox.Pipeline
	if v := MemberValue(nilPipe); v != nil {
		t.Fatalf("MemberValue of a nil pipeline = %#v, want nil", v)
	}
}
