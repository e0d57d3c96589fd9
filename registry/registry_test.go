package registry

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox"
	"github.com/fusebox-go/fusebox/breaker"
	"github.com/fusebox-go/fusebox/bulkhead"
	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/internal/testwait"
	"github.com/fusebox-go/fusebox/ratelimit"
	"github.com/fusebox-go/fusebox/retry"
)

// item is a plain member: it carries its key and a serial number, so a
// test can tell one instance from another.
type item struct {
	key string
	n   int64
}

func newItems(t *testing.T, c Config[*item]) (*Registry[*item], *atomic.Int64) {
	t.Helper()
	var calls atomic.Int64
	if c.New == nil {
		c.New = func(key string) (*item, error) {
			return &item{key: key, n: calls.Add(1)}, nil
		}
	}
	r, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return r, &calls
}

func mustGet[T any](t *testing.T, r *Registry[T], key string) T {
	t.Helper()
	v, err := r.Get(key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return v
}

func TestNewValidates(t *testing.T) {
	ok := func(string) (int, error) { return 0, nil }
	for _, tc := range []struct {
		name string
		c    Config[int]
		want string // "" means valid
	}{
		{"zero New", Config[int]{}, "registry: New is nil"},
		{"nil override", Config[int]{New: ok, Overrides: map[string]func(string) (int, error){"a": nil}}, `Overrides["a"] is nil`},
		{"negative idle", Config[int]{New: ok, IdleTimeout: -time.Second}, "registry: IdleTimeout -1s out of range: want 0 (default 10m0s) or more"},
		{"negative interval", Config[int]{New: ok, SweepInterval: -1}, "registry: SweepInterval -1ns out of range"},
		{"negative max", Config[int]{New: ok, MaxKeys: -1}, "registry: MaxKeys -1 out of range: want 0 (default 10000) or more"},
		{"negative remembered", Config[int]{New: ok, MaxRemembered: -1}, "registry: MaxRemembered -1 out of range: want 0 (default 4 × MaxKeys) or more"},
		{"defaults", Config[int]{New: ok}, ""},
		{"everything", Config[int]{New: ok, IdleTimeout: time.Minute, SweepInterval: time.Second, MaxKeys: 1, Keep: func(int) bool { return false }}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := New(tc.c)
			if tc.want == "" {
				if err != nil || r == nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	r, _ := newItems(t, Config[*item]{})
	s := r.Stats()
	if s.MaxKeys != DefaultMaxKeys || s.IdleTimeout != DefaultIdleTimeout || s.MaxRemembered != 40192 {
		t.Fatalf("Stats %+v, want MaxKeys %d IdleTimeout %v MaxRemembered 40192 (4 × MaxKeys, rounded up to a multiple of 256)", s, DefaultMaxKeys, DefaultIdleTimeout)
	}
	for _, tc := range []struct{ maxKeys, maxRemembered, want int }{
		{1, 0, 256}, {100, 0, 512}, {100, 1, 256}, {100, 257, 512}, {math.MaxInt, 0, maxRemembered}, {1, math.MaxInt, maxRemembered},
	} {
		r, _ := newItems(t, Config[*item]{MaxKeys: tc.maxKeys, MaxRemembered: tc.maxRemembered})
		if got := r.Stats().MaxRemembered; got != tc.want {
			t.Errorf("MaxKeys %d, MaxRemembered %d: capacity %d, want %d", tc.maxKeys, tc.maxRemembered, got, tc.want)
		}
	}
	if r.interval != int64(DefaultIdleTimeout/2) {
		t.Fatalf("sweep interval %v, want %v", time.Duration(r.interval), DefaultIdleTimeout/2)
	}
}

func TestGetReturnsOneMemberPerKey(t *testing.T) {
	r, calls := newItems(t, Config[*item]{Clock: clock.NewFake(time.Time{})})
	a1 := mustGet(t, r, "a")
	a2 := mustGet(t, r, "a")
	b := mustGet(t, r, "b")
	if a1 != a2 {
		t.Fatal("two Gets of one key returned different members")
	}
	if a1.key != "a" || b.key != "b" || a1 == b {
		t.Fatalf("members %+v %+v", a1, b)
	}
	if calls.Load() != 2 || r.Len() != 2 || r.Stats().Created != 2 {
		t.Fatalf("factory calls %d, Len %d, Stats %+v; want 2 each", calls.Load(), r.Len(), r.Stats())
	}
}

func TestOverridesComeFirst(t *testing.T) {
	r, calls := newItems(t, Config[*item]{
		Clock: clock.NewFake(time.Time{}),
		Overrides: map[string]func(string) (*item, error){
			"special": func(key string) (*item, error) { return &item{key: key, n: -1}, nil },
		},
	})
	if v := mustGet(t, r, "special"); v.n != -1 {
		t.Fatalf("override not used: %+v", v)
	}
	if v := mustGet(t, r, "plain"); v.n != 1 {
		t.Fatalf("default factory not used: %+v", v)
	}
	if calls.Load() != 1 {
		t.Fatalf("default factory ran %d times, want 1", calls.Load())
	}
}

func TestOverridesMapIsCopied(t *testing.T) {
	over := map[string]func(string) (int, error){"a": func(string) (int, error) { return 1, nil }}
	r, err := New(Config[int]{New: func(string) (int, error) { return 0, nil }, Overrides: over, Clock: clock.NewFake(time.Time{})})
	if err != nil {
		t.Fatal(err)
	}
	over["a"] = func(string) (int, error) { return 2, nil }
	if v := mustGet(t, r, "a"); v != 1 {
		t.Fatalf("Get = %d: the registry uses the caller's map after New", v)
	}
}

// waitForWaiters spins until n callers wait for the member being built
// under key.
func waitForWaiters[T any](t *testing.T, r *Registry[T], key string, n int32) {
	t.Helper()
	sh := r.shard(key)
	testwait.Spin(t, fmt.Sprintf("%d waiters for %q", n, key), func() bool {
		sh.mu.RLock()
		e := sh.m[key]
		sh.mu.RUnlock()
		return e != nil && e.waiters.Load() >= n
	})
}

func TestConcurrentGetBuildsOnce(t *testing.T) {
	const callers = 64
	release := make(chan struct{})
	var calls atomic.Int64
	r, err := New(Config[*item]{
		Clock: clock.NewFake(time.Time{}),
		New: func(key string) (*item, error) {
			calls.Add(1)
			<-release
			return &item{key: key}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := make([]*item, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() { got[i] = mustGet(t, r, "k") })
	}
	// One caller runs the factory, the other 63 wait for it.
	waitForWaiters(t, r, "k", callers-1)
	close(release)
	wg.Wait()
	if calls.Load() != 1 {
		t.Fatalf("factory ran %d times, want 1", calls.Load())
	}
	for i, v := range got {
		if v != got[0] || v == nil {
			t.Fatalf("caller %d got %p, caller 0 got %p", i, v, got[0])
		}
	}
}

func TestFactoryErrorGoesToAllWaitersAndIsNotCached(t *testing.T) {
	const callers = 64
	release := make(chan struct{})
	boom := errors.New("boom")
	var calls atomic.Int64
	r, err := New(Config[*item]{
		Clock: clock.NewFake(time.Time{}),
		New: func(key string) (*item, error) {
			if calls.Add(1) == 1 {
				<-release
				return nil, boom
			}
			return &item{key: key}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() { _, errs[i] = r.Get("k") })
	}
	waitForWaiters(t, r, "k", callers-1)
	close(release)
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, boom) || !strings.Contains(err.Error(), `registry: key "k"`) {
			t.Fatalf("caller %d: error %v, want boom wrapped with the key", i, err)
		}
	}
	if r.Len() != 0 || calls.Load() != 1 {
		t.Fatalf("after failure: Len %d, factory calls %d; want 0 and 1", r.Len(), calls.Load())
	}
	// Not cached: the next Get builds again, and succeeds.
	if v := mustGet(t, r, "k"); v.key != "k" {
		t.Fatalf("retry got %+v", v)
	}
	if s := r.Stats(); s.FactoryErrors != 1 || s.Created != 1 || calls.Load() != 2 {
		t.Fatalf("Stats %+v, factory calls %d", s, calls.Load())
	}
}

func TestFactoryPanicWakesWaiters(t *testing.T) {
	release := make(chan struct{})
	r, err := New(Config[int]{
		Clock: clock.NewFake(time.Time{}),
		New: func(string) (int, error) {
			<-release
			panic("factory bug")
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	waiterErr := make(chan error, 1)
	panicked := make(chan any, 1)
	go func() {
		defer func() { panicked <- recover() }()
		_, _ = r.Get("k")
	}()
	// Wait until the first caller is the builder, then add a waiter.
	for r.Len() == 0 {
		runtime.Gosched()
	}
	go func() {
		_, err := r.Get("k")
		waiterErr <- err
	}()
	waitForWaiters(t, r, "k", 1)
	close(release)
	if p := <-panicked; p != "factory bug" {
		t.Fatalf("builder recovered %v, want the factory's panic", p)
	}
	if err := <-waiterErr; err == nil || !strings.Contains(err.Error(), "panicked") {
		t.Fatalf("waiter got %v, want a panic error", err)
	}
	if r.Len() != 0 || r.Stats().FactoryErrors != 1 {
		t.Fatalf("Len %d, Stats %+v", r.Len(), r.Stats())
	}
}

func TestGetHitAllocatesNothing(t *testing.T) {
	for _, clk := range []clock.Clock{nil, clock.NewFake(time.Time{})} {
		r, _ := newItems(t, Config[*item]{Clock: clk})
		mustGet(t, r, "api.example.com")
		key := strings.Clone("api.example.com") // not the same string header
		if n := testing.AllocsPerRun(1000, func() {
			if _, err := r.Get(key); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Fatalf("Get of an existing key: %v allocs, want 0", n)
		}
	}
}

func TestSweepEvictsIdleMembers(t *testing.T) {
	clk := clock.NewFake(time.Time{})
	r, calls := newItems(t, Config[*item]{Clock: clk, IdleTimeout: time.Minute})
	first := mustGet(t, r, "a")
	mustGet(t, r, "b")
	clk.Advance(40 * time.Second)
	mustGet(t, r, "b") // b used again
	clk.Advance(20 * time.Second)
	if n := r.Sweep(); n != 1 {
		t.Fatalf("Sweep evicted %d, want 1 (a)", n)
	}
	if r.Len() != 1 {
		t.Fatalf("Len %d, want 1", r.Len())
	}
	// a is built afresh; b is the same member.
	if v := mustGet(t, r, "a"); v == first || calls.Load() != 3 {
		t.Fatalf("a after eviction: %+v (first %+v), factory calls %d", v, first, calls.Load())
	}
	if s := r.Stats(); s.Evicted != 1 || s.Created != 3 {
		t.Fatalf("Stats %+v", s)
	}
	// Idle for exactly IdleTimeout is idle.
	clk.Advance(time.Minute)
	if n := r.Sweep(); n != 2 {
		t.Fatalf("Sweep evicted %d, want 2", n)
	}
}

func TestGetOfNewKeySweepsLazily(t *testing.T) {
	clk := clock.NewFake(time.Time{})
	r, _ := newItems(t, Config[*item]{Clock: clk, IdleTimeout: time.Minute, SweepInterval: 30 * time.Second})
	for i := range 10 {
		mustGet(t, r, fmt.Sprint("old", i))
	}
	clk.Advance(time.Minute)
	// A hit does not sweep: the hot path stays cheap.
	mustGet(t, r, "old0")
	if r.Len() != 10 {
		t.Fatalf("Len %d after a hit, want 10", r.Len())
	}
	mustGet(t, r, "new")
	if r.Len() != 2 { // old0 (just used) and new
		t.Fatalf("Len %d after creating a key, want 2", r.Len())
	}
	// Not again before SweepInterval has passed.
	mustGet(t, r, "x")
	clk.Advance(time.Minute)
	mustGet(t, r, "y")
	if r.Len() != 1 {
		t.Fatalf("Len %d, want 1 (y)", r.Len())
	}
}

func TestMaxKeysEvictsLeastRecentlyUsed(t *testing.T) {
	clk := clock.NewFake(time.Time{})
	r, _ := newItems(t, Config[*item]{Clock: clk, MaxKeys: 3})
	for _, k := range []string{"a", "b", "c"} {
		mustGet(t, r, k)
		clk.Advance(time.Second)
	}
	mustGet(t, r, "a") // b is now the least recently used
	clk.Advance(time.Second)
	mustGet(t, r, "d")
	if r.Len() != 3 {
		t.Fatalf("Len %d, want 3", r.Len())
	}
	var keys []string
	for _, m := range r.Snapshot() {
		keys = append(keys, m.Key)
	}
	if got := strings.Join(keys, ","); got != "a,c,d" {
		t.Fatalf("keys %s, want a,c,d", got)
	}
	clk.Advance(time.Second)
	mustGet(t, r, "e") // c goes (from the candidates of the earlier scan)
	clk.Advance(time.Second)
	mustGet(t, r, "c") // a goes
	keys = keys[:0]
	r.Range(func(k string, _ *item) bool { keys = append(keys, k); return true })
	if len(keys) != 3 || !contains(keys, "c") || !contains(keys, "d") || !contains(keys, "e") {
		t.Fatalf("keys %v, want c, d, e", keys)
	}
	if s := r.Stats(); s.Evicted != 3 || s.OverCap != 0 {
		t.Fatalf("Stats %+v", s)
	}
}

func contains(s []string, k string) bool {
	for _, x := range s {
		if x == k {
			return true
		}
	}
	return false
}

// Issue 12: MaxKeys is a hard bound. When every member is held by Keep
// (and none rejects calls, so there is nothing to remember), the cap still
// evicts the least recently used, counted in EvictedKept.
func TestMaxKeysIsAHardBound(t *testing.T) {
	clk := clock.NewFake(time.Time{})
	r, _ := newItems(t, Config[*item]{Clock: clk, MaxKeys: 2, Keep: func(*item) bool { return true }})
	for i := range 5 {
		mustGet(t, r, fmt.Sprint(i))
		clk.Advance(time.Second)
		if n := r.Len(); n > 2 {
			t.Fatalf("Len %d after key %d, want at most MaxKeys 2", n, i)
		}
	}
	if s := r.Stats(); s.Keys != 2 || s.OverCap != 0 || s.Evicted != 3 || s.EvictedKept != 3 || s.EvictedHeld != 0 || s.Remembered != 0 {
		t.Fatalf("Stats %+v, want 2 keys, 3 kept members evicted, nothing remembered", s)
	}
	var keys []string
	r.Range(func(k string, _ *item) bool { keys = append(keys, k); return true })
	if len(keys) != 2 || !contains(keys, "3") || !contains(keys, "4") {
		t.Fatalf("keys %v, want the two most recently used, 3 and 4", keys)
	}
}

// The cap evicts, least recently used first, the members Keep lets go,
// then those that reject every call (remembered), then the other kept
// members (lost).
func TestCapEvictionOrder(t *testing.T) {
	clk := clock.NewFake(time.Time{})
	const (
		free = iota
		rejecting
		busy
	)
	kind := func(key string) int {
		switch key[0] {
		case 'r':
			return rejecting
		case 'b':
			return busy
		}
		return free
	}
	r, _ := newItems(t, Config[*item]{
		Clock:   clk,
		MaxKeys: 3,
		Keep:    func(m *item) bool { return kind(m.key) != free },
		Hold: func(m *item) time.Duration {
			if kind(m.key) == rejecting {
				return time.Minute
			}
			return 0
		},
	})
	// Least recently used first: busy, rejecting, free.
	for _, k := range []string{"busy", "rejecting", "free"} {
		mustGet(t, r, k)
		clk.Advance(time.Second)
	}
	members := func() string {
		var keys []string
		for _, m := range r.Snapshot() {
			keys = append(keys, m.Key)
		}
		return strings.Join(keys, ",")
	}
	// Each new key is busy itself, so that only the three above compete.
	for i, want := range []string{"b1,busy,rejecting", "b1,b2,busy", "b1,b2,b3"} {
		mustGet(t, r, fmt.Sprint("b", i+1))
		clk.Advance(time.Second)
		if got := members(); got != want {
			t.Fatalf("after new key %d: members %s, want %s", i+1, got, want)
		}
	}
	s := r.Stats()
	if s.Evicted != 3 || s.EvictedKept != 2 || s.EvictedHeld != 1 || s.Remembered != 1 {
		t.Fatalf("Stats %+v, want 3 evicted: free, then rejecting (remembered), then busy", s)
	}
	if _, err := r.Get("rejecting"); !errors.Is(err, fusebox.ErrOpen) {
		t.Fatalf("Get of the evicted rejecting key: %v, want a HeldError matching ErrOpen", err)
	}
	if v := mustGet(t, r, "busy"); v.key != "busy" {
		t.Fatalf("Get of the evicted busy key: %+v", v)
	}
}

// An open breaker evicted by the cap: its key is refused, without building
// a member, for exactly the rest of its open period, however long its
// backoff made it; then Get builds a new, closed breaker.
func TestEvictedOpenBreakerIsRemembered(t *testing.T) {
	clk := clock.NewFake(time.Time{})
	var built atomic.Int64
	r, err := New(Config[*breaker.Breaker]{
		Clock:   clk,
		MaxKeys: 1,
		New: func(host string) (*breaker.Breaker, error) {
			built.Add(1)
			return breaker.New(breaker.Config{Name: host, Clock: clk, ConsecutiveFailures: 1, HalfOpenProbes: 1,
				OpenDuration: 10 * time.Second, MaxOpenDuration: time.Minute, OpenBackoff: 2})
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	fail := func(context.Context) error { return errors.New("refused") }
	down := mustGet(t, r, "down")
	_ = down.Execute(ctx, fail) // open for 10s
	clk.Advance(10 * time.Second)
	_ = down.Execute(ctx, fail) // the probe fails: open for 20s
	if s := down.Snapshot(); s.State != breaker.Open || s.RetryAfter != 20*time.Second {
		t.Fatalf("breaker %v, retry after %v; want open for 20s", s.State, s.RetryAfter)
	}
	clk.Advance(5 * time.Second)
	mustGet(t, r, "other") // the cap evicts down, 15s before its period ends
	if n := r.Len(); n != 1 {
		t.Fatalf("Len %d, want MaxKeys 1", n)
	}
	for _, step := range []time.Duration{0, 10 * time.Second, 5*time.Second - time.Nanosecond} {
		clk.Advance(step)
		v, err := r.Get("down")
		var held *HeldError
		if !errors.As(err, &held) || !errors.Is(err, fusebox.ErrOpen) || v != nil {
			t.Fatalf("Get(down) = %v, %v; want a HeldError matching ErrOpen", v, err)
		}
		if held.Key != "down" || held.RetryAfter() <= 0 || held.RetryAfter() > 15*time.Second {
			t.Fatalf("HeldError %q, retry after %v; want the key and the rest of the open period", held.Key, held.RetryAfter())
		}
	}
	if n := built.Load(); n != 2 {
		t.Fatalf("%d breakers built, want 2: none for the refused Gets", n)
	}
	clk.Advance(time.Nanosecond) // the open period ends
	fresh := mustGet(t, r, "down")
	if fresh == down || fresh.State() != breaker.Closed {
		t.Fatalf("after the open period: breaker %p in state %v, want a new closed one", fresh, fresh.State())
	}
	if s := r.Stats(); s.EvictedHeld != 1 || s.Refused != 3 || s.Remembered != 0 || s.Forgotten != 0 {
		t.Fatalf("Stats %+v", s)
	}
}

// A breaker forced open is remembered with no end: until Delete.
func TestEvictedForcedOpenIsRememberedUntilDelete(t *testing.T) {
	clk := clock.NewFake(time.Time{})
	r, err := New(Config[*breaker.Breaker]{
		Clock:   clk,
		MaxKeys: 1,
		New: func(host string) (*breaker.Breaker, error) {
			return breaker.New(breaker.Config{Name: host, Clock: clk})
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	mustGet(t, r, "forced").ForceOpen()
	mustGet(t, r, "other")
	clk.Advance(1000 * time.Hour)
	var held *HeldError
	if _, err := r.Get("forced"); !errors.As(err, &held) || held.RetryAfter() != 0 {
		t.Fatalf("Get(forced) after 1000h: %v; want a HeldError with no end (RetryAfter 0)", err)
	}
	if !strings.Contains(held.Error(), "until Delete") {
		t.Errorf("error %q does not say what ends it", held.Error())
	}
	if !r.Delete("forced") {
		t.Fatal("Delete of a remembered key returned false")
	}
	if b := mustGet(t, r, "forced"); b.State() != breaker.Closed {
		t.Fatalf("after Delete: state %v, want a new closed breaker", b.State())
	}
	if r.Delete("never") {
		t.Fatal("Delete of an unknown key returned true")
	}
}

// The table of remembered keys is bounded: full, it gives up the records
// whose rejection ends first, and its memory is measured at 16 bytes a
// record, however many keys are evicted.
func TestRememberedKeysAreBounded(t *testing.T) {
	clk := clock.NewFake(time.Time{})
	const maxRemembered = 1 << 12
	r, err := New(Config[*breaker.Breaker]{
		Clock:         clk,
		MaxKeys:       10,
		MaxRemembered: maxRemembered,
		New: func(host string) (*breaker.Breaker, error) {
			b, err := breaker.New(breaker.Config{Name: host, Clock: clk, OpenDuration: time.Hour})
			if err == nil {
				b.Trip()
			}
			return b, err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	flood := func(from, to int) {
		for i := from; i < to; i++ {
			mustGet(t, r, fmt.Sprint("host-", i, ".example"))
		}
	}
	flood(0, 10) // full of open breakers; nothing remembered yet
	before := heapAlloc()
	flood(10, 3*maxRemembered)
	mid := heapAlloc()
	flood(3*maxRemembered, 5*maxRemembered)
	after := heapAlloc()
	s := r.Stats()
	perRecord := float64(int64(mid)-int64(before)) / float64(s.MaxRemembered)
	t.Logf("%d open breakers evicted: heap %d -> %d -> %d bytes; %.1f bytes per remembered key; stats %+v",
		s.EvictedHeld, before, mid, after, perRecord, s)
	if s.Keys != 10 || s.MaxRemembered != maxRemembered || s.Remembered > s.MaxRemembered || s.Remembered < s.MaxRemembered*9/10 {
		t.Fatalf("Stats %+v, want 10 keys and a full table of %d remembered keys", s, maxRemembered)
	}
	if s.Forgotten != s.EvictedHeld-uint64(s.Remembered) {
		t.Fatalf("Stats %+v: every key evicted is remembered or forgotten", s)
	}
	if perRecord > 24 {
		t.Fatalf("the table of remembered keys cost %.1f bytes a record, want about %d", perRecord, recordSize)
	}
	if growth := int64(after) - int64(mid); growth > 64<<10 {
		t.Fatalf("the heap grew by %d bytes with the table full, want no growth", growth)
	}
}

// Within a set, a new record replaces an ended one first, else the one
// whose rejection ends first; a forced-open record goes last.
func TestRememberReplacesEarliestEnd(t *testing.T) {
	r, _ := newItems(t, Config[*item]{MaxRemembered: 1})
	sh := &r.shards[0]
	h := func(i int) uint64 { return uint64(i)*numShards*uint64(r.memoSets) + numShards } // shard 0, set 0
	for i := range ways {
		if r.remember(sh, h(i), int64(100+i), 0) {
			t.Fatalf("record %d forgot another in a set with room", i)
		}
	}
	if r.remember(sh, h(0), 500, 0) {
		t.Fatal("renewing a key's record forgot another")
	}
	r.remember(sh, h(1), math.MaxInt64, 0)
	// Full: 100 (renewed to 500), forever, 102..107. A new key replaces
	// 102, the earliest end.
	if !r.remember(sh, h(ways), 1000, 0) {
		t.Fatal("a new record in a full set forgot nothing")
	}
	if r.heldUntil(sh, h(2), 0) != 0 || r.heldUntil(sh, h(ways), 0) != 1000 || r.heldUntil(sh, h(0), 0) != 500 {
		t.Fatal("the record ending first was not the one replaced")
	}
	// At 200 every record but 500, 1000 and forever has ended: the next
	// goes in an ended one's place, forgetting nothing live.
	if r.remember(sh, h(ways+1), 300, 200) {
		t.Fatal("a new record forgot a live one while an ended one was there")
	}
	if r.heldUntil(sh, h(1), 1<<62) != math.MaxInt64 {
		t.Fatal("the forced-open record was lost")
	}
}

func TestDefaultHold(t *testing.T) {
	clk := clock.NewFake(time.Time{})
	newBreaker := func(op func(*breaker.Breaker)) *breaker.Breaker {
		b, err := breaker.New(breaker.Config{Clock: clk, OpenDuration: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		op(b)
		return b
	}
	ended := newBreaker((*breaker.Breaker).Trip) // open for a minute from 0s
	forced := newBreaker((*breaker.Breaker).ForceOpen)
	clk.Advance(75 * time.Second)
	open := newBreaker((*breaker.Breaker).Trip) // open for a minute from 75s
	clk.Advance(15 * time.Second)
	idle, _ := bulkhead.New(bulkhead.Config{MaxConcurrent: 1})
	openPipe, _ := fusebox.New(idle, open)
	forcedPipe, _ := fusebox.New(open, forced)
	restPipe, _ := fusebox.New(idle, newBreaker(func(*breaker.Breaker) {}))
	for _, tc := range []struct {
		name string
		m    any
		want time.Duration
	}{
		{"nil", nil, 0},
		{"typed nil breaker", (*breaker.Breaker)(nil), 0},
		{"typed nil pipeline", (*fusebox.Pipeline)(nil), 0},
		{"closed", newBreaker(func(*breaker.Breaker) {}), 0},
		{"open", open, 45 * time.Second},
		{"open, period ended", ended, 0},
		{"forced open", forced, HoldForever},
		{"disabled", newBreaker((*breaker.Breaker).Disable), 0},
		{"bulkhead", idle, 0},
		{"pipeline with open breaker", openPipe, 45 * time.Second},
		{"pipeline with forced and open breakers", forcedPipe, HoldForever},
		{"pipeline at rest", restPipe, 0},
		{"other", "string", 0},
	} {
		if got := DefaultHold(tc.m); got != tc.want {
			t.Errorf("%s: DefaultHold = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestOpenBreakerSurvivesEviction(t *testing.T) {
	clk := clock.NewFake(time.Time{})
	r, err := New(Config[*breaker.Breaker]{
		Clock:       clk,
		IdleTimeout: time.Minute,
		MaxKeys:     2,
		New: func(host string) (*breaker.Breaker, error) {
			return breaker.New(breaker.Config{Name: host, Clock: clk, ConsecutiveFailures: 1, OpenDuration: 5 * time.Second, HalfOpenProbes: 1})
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	down := mustGet(t, r, "down.example")
	_ = down.Execute(ctx, func(context.Context) error { return errors.New("refused") })
	if down.State() != breaker.Open {
		t.Fatalf("breaker %v, want open", down.State())
	}
	clk.Advance(10 * time.Minute) // long past IdleTimeout and the open duration
	if down.State() != breaker.Open {
		t.Fatalf("breaker %v, want still open (no call since)", down.State())
	}
	if n := r.Sweep(); n != 0 {
		t.Fatalf("Sweep evicted %d members, want the open breaker kept", n)
	}
	// The cap: two new hosts, the open breaker is the least recently used
	// but stays; the first new host goes instead.
	mustGet(t, r, "a.example")
	clk.Advance(time.Second)
	mustGet(t, r, "b.example")
	if v, _ := r.Get("down.example"); v != down {
		t.Fatal("the open breaker was evicted by the cap")
	}
	members := r.Snapshot()
	if len(members) != 2 || members[1].Key != "down.example" || !members[1].Kept {
		t.Fatalf("members %+v", members)
	}
	if s, ok := members[1].Value.(breaker.Snapshot); !ok || s.State != breaker.Open {
		t.Fatalf("member value %#v, want an open breaker.Snapshot", members[1].Value)
	}
	// The dependency recovers: a probe closes the breaker ...
	if err := down.Execute(ctx, func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if down.State() != breaker.Closed {
		t.Fatalf("breaker %v, want closed after a good probe", down.State())
	}
	// ... and once idle, it goes.
	clk.Advance(time.Minute)
	r.Sweep()
	if v := mustGet(t, r, "down.example"); v == down {
		t.Fatal("the closed, idle breaker was kept")
	}
}

func TestKeepPipelineWithOpenBreaker(t *testing.T) {
	clk := clock.NewFake(time.Time{})
	r, err := New(Config[*fusebox.Pipeline]{
		Clock:       clk,
		IdleTimeout: time.Minute,
		New: func(route string) (*fusebox.Pipeline, error) {
			b, err := breaker.New(breaker.Config{Name: route, Clock: clk, ConsecutiveFailures: 1})
			if err != nil {
				return nil, err
			}
			rt, err := retry.New(retry.Config{MaxAttempts: 1, Clock: clk})
			if err != nil {
				return nil, err
			}
			return fusebox.New(b, rt)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, route := range []string{"/ok", "/broken"} {
		p := mustGet(t, r, route)
		_ = p.Run(ctx, func(context.Context) error {
			if route == "/broken" {
				return errors.New("500")
			}
			return nil
		})
	}
	clk.Advance(time.Minute)
	if n := r.Sweep(); n != 1 {
		t.Fatalf("Sweep evicted %d, want 1 (/ok)", n)
	}
	m := r.Snapshot()
	if len(m) != 1 || m[0].Key != "/broken" {
		t.Fatalf("members %+v", m)
	}
	layers, ok := m[0].Value.([]any)
	if !ok || len(layers) != 2 {
		t.Fatalf("pipeline snapshot %#v", m[0].Value)
	}
	if s, ok := layers[0].(breaker.Snapshot); !ok || s.State != breaker.Open {
		t.Fatalf("layer 0 %#v, want an open breaker snapshot", layers[0])
	}
	if s, ok := layers[1].(retry.Snapshot); !ok || s.Calls != 1 {
		t.Fatalf("layer 1 %#v, want a retry snapshot with 1 call", layers[1])
	}
}

func TestDefaultKeep(t *testing.T) {
	clk := clock.NewFake(time.Time{})
	newBreaker := func(op func(*breaker.Breaker)) *breaker.Breaker {
		b, err := breaker.New(breaker.Config{Clock: clk})
		if err != nil {
			t.Fatal(err)
		}
		op(b)
		return b
	}
	busy, _ := bulkhead.New(bulkhead.Config{MaxConcurrent: 1})
	permit, err := busy.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer permit.Release()
	idle, _ := bulkhead.New(bulkhead.Config{MaxConcurrent: 1})
	drained, _ := ratelimit.New(ratelimit.Config{Rate: 1, Burst: 2, Clock: clk})
	drained.Allow()
	full, _ := ratelimit.New(ratelimit.Config{Rate: 1, Burst: 2, Clock: clk})
	open := newBreaker((*breaker.Breaker).Trip)
	openPipe, _ := fusebox.New(idle, open)
	restPipe, _ := fusebox.New(idle, full)

	for _, tc := range []struct {
		name string
		m    any
		want bool
	}{
		{"nil", nil, false},
		{"typed nil breaker", (*breaker.Breaker)(nil), false},
		{"typed nil pipeline", (*fusebox.Pipeline)(nil), false},
		{"closed", newBreaker(func(*breaker.Breaker) {}), false},
		{"open", open, true},
		{"forced open", newBreaker((*breaker.Breaker).ForceOpen), true},
		{"disabled", newBreaker((*breaker.Breaker).Disable), false},
		{"metrics only", newBreaker((*breaker.Breaker).MetricsOnly), false},
		{"bulkhead in flight", busy, true},
		{"bulkhead idle", idle, false},
		{"bucket drained", drained, true},
		{"bucket full", full, false},
		{"pipeline with open breaker", openPipe, true},
		{"pipeline at rest", restPipe, false},
		{"other", "string", false},
	} {
		if got := DefaultKeep(tc.m); got != tc.want {
			t.Errorf("%s: DefaultKeep = %v, want %v", tc.name, got, tc.want)
		}
	}

	// Half-open: trip, let the open duration pass, take a probe slot.
	b := newBreaker((*breaker.Breaker).Trip)
	clk.Advance(time.Minute)
	p, err := b.Allow()
	if err != nil || b.State() != breaker.HalfOpen {
		t.Fatalf("Allow: %v, state %v", err, b.State())
	}
	if !DefaultKeep(b) {
		t.Error("half-open breaker not kept")
	}
	p.Done(fusebox.Success)
}

type custom struct{ v int }

func (c custom) Snapshot() any { return c.v * 2 }

func TestSnapshotValues(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	r, err := New(Config[any]{Clock: clk, New: func(key string) (any, error) {
		switch key {
		case "custom":
			return custom{21}, nil
		case "bulkhead":
			return bulkhead.New(bulkhead.Config{MaxConcurrent: 7})
		}
		return key, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	mustGet(t, r, "plain")
	clk.Advance(time.Second)
	mustGet(t, r, "custom")
	mustGet(t, r, "bulkhead")
	m := r.Snapshot()
	if len(m) != 3 || m[0].Key != "bulkhead" || m[1].Key != "custom" || m[2].Key != "plain" {
		t.Fatalf("members %+v, want sorted by key", m)
	}
	if s, ok := m[0].Value.(bulkhead.Snapshot); !ok || s.MaxConcurrent != 7 {
		t.Fatalf("bulkhead value %#v", m[0].Value)
	}
	if m[1].Value != 42 || m[2].Value != nil {
		t.Fatalf("values %v, %v; want 42 and nil", m[1].Value, m[2].Value)
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if !m[2].LastUsed.Equal(start) || !m[1].LastUsed.Equal(start.Add(time.Second)) {
		t.Fatalf("LastUsed %v, %v", m[2].LastUsed, m[1].LastUsed)
	}
}

func TestRangeLenDelete(t *testing.T) {
	r, _ := newItems(t, Config[*item]{Clock: clock.NewFake(time.Time{})})
	for i := range 5 {
		mustGet(t, r, fmt.Sprint(i))
	}
	seen := 0
	r.Range(func(key string, m *item) bool {
		if m.key != key {
			t.Errorf("Range: key %q with member of %q", key, m.key)
		}
		seen++
		return seen < 3
	})
	if seen != 3 {
		t.Fatalf("Range went on after false: %d calls", seen)
	}
	// Range calls fn outside locks: fn may use the registry.
	r.Range(func(key string, _ *item) bool { r.Delete(key); return true })
	if r.Len() != 0 || r.Delete("0") {
		t.Fatalf("Len %d after deleting all", r.Len())
	}
	if s := r.Stats(); s.Deleted != 5 || s.Evicted != 0 {
		t.Fatalf("Stats %+v", s)
	}
}

func TestDeleteWhileBuilding(t *testing.T) {
	release := make(chan struct{})
	r, err := New(Config[*item]{Clock: clock.NewFake(time.Time{}), New: func(key string) (*item, error) {
		<-release
		return &item{key: key}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan *item)
	go func() { v, _ := r.Get("k"); done <- v }()
	for r.Len() == 0 {
		runtime.Gosched()
	}
	if !r.Delete("k") {
		t.Fatal("Delete of a key being built returned false")
	}
	close(release)
	if v := <-done; v == nil || v.key != "k" {
		t.Fatalf("builder got %+v", v)
	}
	if r.Len() != 0 {
		t.Fatalf("Len %d, want 0", r.Len())
	}
	if v := mustGet(t, r, "k"); v == nil {
		t.Fatal("nil member")
	}
}

func TestStartSweepsInBackground(t *testing.T) {
	clk := clock.NewFake(time.Time{})
	r, _ := newItems(t, Config[*item]{Clock: clk, IdleTimeout: time.Minute, SweepInterval: 10 * time.Second})
	mustGet(t, r, "a")
	r.Start()
	r.Start() // idempotent: still one sweeper, one timer
	defer r.Close()
	testwait.Timers(t, clk, 1, "the sweeper's timer")
	if n := clk.Timers(); n != 1 {
		t.Fatalf("%d timers, want 1", n)
	}
	for range 6 {
		clk.Advance(10 * time.Second)
		// The sweeper re-arms its timer after each sweep: once it is
		// back, the sweep is done.
		testwait.Timers(t, clk, 1, "the sweeper's re-armed timer")
	}
	if r.Len() != 0 || r.Stats().Evicted != 1 {
		t.Fatalf("Len %d, Stats %+v after a minute of sweeps", r.Len(), r.Stats())
	}
	r.Close()
	r.Close()
	if n := clk.Timers(); n != 0 {
		t.Fatalf("%d timers after Close, want 0", n)
	}
	// Still usable, and Start works again.
	mustGet(t, r, "b")
	r.Start()
	testwait.Timers(t, clk, 1, "the restarted sweeper's timer")
}

func TestNoGoroutineWithoutStart(t *testing.T) {
	before := runtime.NumGoroutine()
	r, _ := newItems(t, Config[*item]{Clock: clock.NewFake(time.Time{})})
	mustGet(t, r, "a")
	r.Sweep()
	if after := runtime.NumGoroutine(); after > before {
		t.Fatalf("goroutines %d -> %d without Start", before, after)
	}
}

// TestConcurrentChurn hammers a small registry with Gets of many keys,
// sweeps and deletes at once; run with -race. Every Get must return the
// member of the key asked for, and the cap must hold once things settle.
func TestConcurrentChurn(t *testing.T) {
	clk := clock.NewFake(time.Time{})
	r, _ := newItems(t, Config[*item]{Clock: clk, MaxKeys: 16, IdleTimeout: time.Second, SweepInterval: time.Millisecond})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				key := fmt.Sprint((g*7 + i*13) % 40)
				v, err := r.Get(key)
				if err != nil || v.key != key {
					t.Errorf("Get(%q) = %+v, %v", key, v, err)
					return
				}
				switch i % 50 {
				case 0:
					r.Sweep()
				case 1:
					r.Delete(key)
				case 2:
					clk.Advance(time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	if n := r.Len(); n > 16 {
		t.Fatalf("Len %d after churn, want at most MaxKeys 16", n)
	}
	s := r.Stats()
	if s.Created != uint64(s.Keys)+s.Evicted+s.Deleted {
		t.Fatalf("Stats don't add up: %+v", s)
	}
}

// TestConcurrentChurnOpenBreakers is TestConcurrentChurn with breakers
// that open and close, so that the cap evicts open ones and remembers
// their keys while other goroutines Get, Sweep and Delete; run with
// -race. The cap must hold once things settle, and a refused Get must
// come with the rest of an open period.
func TestConcurrentChurnOpenBreakers(t *testing.T) {
	clk := clock.NewFake(time.Time{})
	r, err := New(Config[*breaker.Breaker]{
		Clock: clk, MaxKeys: 16, MaxRemembered: 1, IdleTimeout: time.Second, SweepInterval: time.Millisecond,
		New: func(host string) (*breaker.Breaker, error) {
			return breaker.New(breaker.Config{Name: host, Clock: clk, ConsecutiveFailures: 1, OpenDuration: 10 * time.Millisecond})
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				key := fmt.Sprint((g*7 + i*13) % 60)
				b, err := r.Get(key)
				var held *HeldError
				switch {
				case errors.As(err, &held):
					if held.Key != key || held.RetryAfter() > 10*time.Millisecond {
						t.Errorf("Get(%q): %v, retry after %v", key, err, held.RetryAfter())
						return
					}
					continue
				case err != nil || b.Name() != key:
					t.Errorf("Get(%q) = %v, %v", key, b, err)
					return
				}
				_ = b.Execute(ctx, func(context.Context) error {
					if i%3 == 0 {
						return errors.New("down")
					}
					return nil
				})
				switch i % 50 {
				case 0:
					r.Sweep()
				case 1:
					r.Delete(key)
				case 2, 3, 4:
					clk.Advance(time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	if n := r.Len(); n > 16 {
		t.Fatalf("Len %d after churn, want at most MaxKeys 16", n)
	}
	s := r.Stats()
	if s.Created != uint64(s.Keys)+s.Evicted+s.Deleted || s.EvictedHeld > s.EvictedKept || s.EvictedKept > s.Evicted || s.Remembered > s.MaxRemembered {
		t.Fatalf("Stats don't add up: %+v", s)
	}
	t.Logf("stats %+v", s)
}

func TestInPipeline(t *testing.T) {
	// A registry of per-host bulkheads used inside a pipeline with a
	// breaker: the member is what the pipeline runs.
	clk := clock.NewFake(time.Time{})
	r, err := New(Config[*bulkhead.Bulkhead]{Clock: clk, New: func(string) (*bulkhead.Bulkhead, error) {
		return bulkhead.New(bulkhead.Config{MaxConcurrent: 1})
	}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := breaker.New(breaker.Config{Clock: clk})
	bh := mustGet(t, r, "db")
	p, err := fusebox.New(b, bh)
	if err != nil {
		t.Fatal(err)
	}
	err = p.Run(context.Background(), func(context.Context) error {
		// Inside the call the bulkhead holds a slot: the registry keeps it.
		clk.Advance(time.Hour)
		if n := r.Sweep(); n != 0 {
			t.Errorf("Sweep evicted a bulkhead with a call in flight")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := r.Sweep(); n != 1 {
		t.Fatalf("Sweep evicted %d after the call, want 1", n)
	}
}

func BenchmarkGet(b *testing.B) {
	r, err := New(Config[*item]{New: func(key string) (*item, error) { return &item{key: key}, nil }})
	if err != nil {
		b.Fatal(err)
	}
	keys := make([]string, 64)
	for i := range keys {
		keys[i] = fmt.Sprint("host-", i, ".example.com")
		if _, err := r.Get(keys[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("single", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			_, _ = r.Get(keys[i&63])
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				_, _ = r.Get(keys[i&63])
				i++
			}
		})
	})
	b.Run("parallel-one-key", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, _ = r.Get(keys[0])
			}
		})
	})
}

// heapAlloc returns the live heap after a full collection.
func heapAlloc() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
