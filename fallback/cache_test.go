package fallback_test

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fusebox-go/fusebox/clock"
	"github.com/fusebox-go/fusebox/fallback"
	"github.com/fusebox-go/fusebox/internal/testwait"
)

func TestNewCacheValidates(t *testing.T) {
	tests := []struct {
		cfg     fallback.CacheConfig
		wantErr string
	}{
		{cfg: fallback.CacheConfig{}},
		{cfg: fallback.CacheConfig{MaxEntries: 1, TTL: time.Second, StaleTTL: time.Hour, StaleWhileRevalidate: time.Minute}},
		{cfg: fallback.CacheConfig{MaxEntries: -1}, wantErr: "fallback: MaxEntries -1 out of range: want 0 (default 1024) or more"},
		{cfg: fallback.CacheConfig{TTL: -time.Second}, wantErr: "fallback: TTL -1s out of range: want 0 (default 1m0s) or more"},
		{cfg: fallback.CacheConfig{StaleTTL: -time.Second}, wantErr: "fallback: StaleTTL -1s out of range: want 0 (never stale on error) or more"},
		{cfg: fallback.CacheConfig{StaleWhileRevalidate: -time.Second}, wantErr: "fallback: StaleWhileRevalidate -1s out of range: want 0 (off) or more"},
	}
	for _, tt := range tests {
		c, err := fallback.NewCache[string, int](tt.cfg)
		if tt.wantErr == "" {
			if err != nil {
				t.Errorf("NewCache(%+v): %v", tt.cfg, err)
			} else {
				c.Close()
			}
			continue
		}
		if err == nil || err.Error() != tt.wantErr {
			t.Errorf("NewCache(%+v) error = %v, want %q", tt.cfg, err, tt.wantErr)
		}
	}
}

// fetcher counts fetches and answers what its fields say.
type fetcher struct {
	n   atomic.Int32
	val atomic.Int64
	err atomic.Pointer[error]
}

func (f *fetcher) fetch(context.Context) (int, error) {
	f.n.Add(1)
	if e := f.err.Load(); e != nil {
		return 0, *e
	}
	return int(f.val.Load()), nil
}

func (f *fetcher) fail(err error) { f.err.Store(&err) }

func newCache(t *testing.T, cfg fallback.CacheConfig) (*fallback.Cache[string, int], *clock.Fake) {
	t.Helper()
	fake := clock.NewFake(time.Time{})
	cfg.Clock = fake
	c, err := fallback.NewCache[string, int](cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, fake
}

func get(t *testing.T, c *fallback.Cache[string, int], key string, fetch func(context.Context) (int, error)) (fallback.Result[int], error) {
	t.Helper()
	return c.Get(context.Background(), key, fetch)
}

func TestCacheFreshAndExpired(t *testing.T) {
	c, fake := newCache(t, fallback.CacheConfig{TTL: time.Minute})
	var f fetcher
	f.val.Store(1)
	r, err := get(t, c, "k", f.fetch)
	if err != nil || r.Value != 1 || r.Stale || r.Degraded {
		t.Fatalf("miss: %+v, %v", r, err)
	}
	f.val.Store(2)
	fake.Advance(59 * time.Second)
	r, err = get(t, c, "k", f.fetch)
	if err != nil || r.Value != 1 || r.Age != 59*time.Second || f.n.Load() != 1 {
		t.Fatalf("fresh hit: %+v, %v after %d fetches", r, err, f.n.Load())
	}
	fake.Advance(time.Second)
	r, err = get(t, c, "k", f.fetch)
	if err != nil || r.Value != 2 || r.Age != 0 || f.n.Load() != 2 {
		t.Fatalf("expired: %+v, %v after %d fetches", r, err, f.n.Load())
	}
	s := c.Snapshot()
	if s.Hits != 1 || s.Misses != 2 || s.Fetches != 2 || s.Entries != 1 {
		t.Fatalf("Snapshot = %+v", s)
	}
}

func TestCacheStaleIfError(t *testing.T) {
	tests := []struct {
		name     string
		after    time.Duration
		degraded bool
		stale    bool
	}{
		{name: "within StaleTTL", after: 5 * time.Minute, degraded: true, stale: true},
		{name: "at the StaleTTL limit", after: 11*time.Minute - 1, degraded: true, stale: true},
		{name: "past StaleTTL", after: 11 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, fake := newCache(t, fallback.CacheConfig{TTL: time.Minute, StaleTTL: 10 * time.Minute})
			var f fetcher
			f.val.Store(1)
			if _, err := get(t, c, "k", f.fetch); err != nil {
				t.Fatal(err)
			}
			fake.Advance(tt.after)
			f.fail(errDep)
			r, err := get(t, c, "k", f.fetch)
			if r.Err != errDep {
				t.Fatalf("Result.Err = %v, want the fetch error", r.Err)
			}
			if !tt.degraded {
				if err != errDep || r.Degraded || r.Value != 0 {
					t.Fatalf("past StaleTTL: %+v, %v; want the fetch error", r, err)
				}
				return
			}
			if err != nil || !r.Degraded || r.Stale != tt.stale || r.Value != 1 || r.Age != tt.after {
				t.Fatalf("stale-if-error: %+v, %v", r, err)
			}
			if s := c.Snapshot(); s.Degraded != 1 || s.FetchErrors != 1 {
				t.Fatalf("Snapshot = %+v", s)
			}
		})
	}
}

func TestCacheNoStaleByDefault(t *testing.T) {
	c, fake := newCache(t, fallback.CacheConfig{})
	var f fetcher
	if _, err := get(t, c, "k", f.fetch); err != nil {
		t.Fatal(err)
	}
	fake.Advance(fallback.DefaultTTL)
	f.fail(errDep)
	if r, err := get(t, c, "k", f.fetch); err != errDep || r.Degraded {
		t.Fatalf("zero StaleTTL served a stale value: %+v, %v", r, err)
	}
}

// blockingFetch is a fetch that waits for release (or its context) and
// reports each start on started.
type blockingFetch struct {
	started chan context.Context
	release chan struct{}
	val     int
	err     error
}

func newBlocking(val int) *blockingFetch {
	return &blockingFetch{started: make(chan context.Context, 16), release: make(chan struct{}), val: val}
}

func (b *blockingFetch) fetch(ctx context.Context) (int, error) {
	b.started <- ctx
	select {
	case <-b.release:
		return b.val, b.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func TestCacheStaleWhileRevalidate(t *testing.T) {
	c, fake := newCache(t, fallback.CacheConfig{TTL: time.Minute, StaleWhileRevalidate: time.Minute})
	var f fetcher
	f.val.Store(1)
	if _, err := get(t, c, "k", f.fetch); err != nil {
		t.Fatal(err)
	}
	fake.Advance(90 * time.Second)

	b := newBlocking(2)
	for range 3 {
		r, err := get(t, c, "k", b.fetch)
		if err != nil || r.Value != 1 || !r.Stale || r.Degraded || r.Age != 90*time.Second {
			t.Fatalf("stale-while-revalidate: %+v, %v", r, err)
		}
	}
	<-b.started // exactly one refresh in flight
	if s := c.Snapshot(); s.Refreshes != 1 || s.StaleHits != 3 || s.Fetches != 2 {
		t.Fatalf("Snapshot = %+v, want one refresh for three stale hits", s)
	}
	close(b.release)
	// The next Get either still sees the stale value (refresh not stored yet)
	// or the refreshed one; wait until the refresh landed.
	for {
		r, err := get(t, c, "k", b.fetch)
		if err != nil {
			t.Fatal(err)
		}
		if !r.Stale {
			if r.Value != 2 {
				t.Fatalf("after refresh: %+v", r)
			}
			break
		}
		runtime.Gosched()
	}
	select {
	case <-b.started:
		t.Fatal("a second refresh was started")
	default:
	}
}

func TestCacheBackgroundRefreshFailureKeepsEntry(t *testing.T) {
	c, fake := newCache(t, fallback.CacheConfig{TTL: time.Minute, StaleWhileRevalidate: time.Minute})
	var f fetcher
	f.val.Store(1)
	if _, err := get(t, c, "k", f.fetch); err != nil {
		t.Fatal(err)
	}
	fake.Advance(61 * time.Second)
	b := newBlocking(0)
	b.err = errDep
	if r, err := get(t, c, "k", b.fetch); err != nil || r.Value != 1 {
		t.Fatalf("stale hit: %+v, %v", r, err)
	}
	<-b.started
	close(b.release)
	for c.Snapshot().FetchErrors == 0 {
		runtime.Gosched()
	}
	c.Close() // waits for the refresh goroutine to finish
	if s := c.Snapshot(); s.Entries != 1 {
		t.Fatalf("a failed refresh dropped the entry: %+v", s)
	}
}

func TestCacheSingleflight(t *testing.T) {
	c, _ := newCache(t, fallback.CacheConfig{})
	b := newBlocking(7)
	const n = 5
	var wg sync.WaitGroup
	results := make(chan int, n)
	for range n {
		wg.Go(func() {
			r, err := c.Get(context.Background(), "k", b.fetch)
			if err != nil {
				t.Error(err)
			}
			results <- r.Value
		})
	}
	<-b.started
	testwait.Spin(t, "every caller to miss", func() bool { return c.Snapshot().Misses == n })
	close(b.release)
	wg.Wait()
	close(results)
	for v := range results {
		if v != 7 {
			t.Fatalf("value %d, want 7", v)
		}
	}
	if s := c.Snapshot(); s.Fetches != 1 || s.Shared != n-1 {
		t.Fatalf("Snapshot = %+v, want one fetch shared by %d", s, n)
	}
}

func TestCacheWaiterCancellation(t *testing.T) {
	c, _ := newCache(t, fallback.CacheConfig{})
	b := newBlocking(7)
	ctx1, cancel1 := context.WithCancel(context.Background())
	defer cancel1()
	errs := make(chan error, 1)
	go func() {
		_, err := c.Get(ctx1, "k", b.fetch)
		errs <- err
	}()
	fctx := <-b.started
	other := make(chan fallback.Result[int], 1)
	go func() {
		r, _ := c.Get(context.Background(), "k", b.fetch)
		other <- r
	}()
	testwait.Spin(t, "a caller to share the fetch", func() bool { return c.Snapshot().Shared == 1 })

	cancel1()
	if err := <-errs; err != context.Canceled {
		t.Fatalf("canceled waiter: err = %v, want context.Canceled", err)
	}
	if fctx.Err() != nil {
		t.Fatal("one caller's cancellation canceled the shared fetch")
	}
	close(b.release)
	if r := <-other; r.Value != 7 {
		t.Fatalf("other waiter: %+v", r)
	}
}

func TestCacheLastWaiterCancelsFetch(t *testing.T) {
	c, _ := newCache(t, fallback.CacheConfig{})
	b := newBlocking(7)
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 1)
	go func() {
		_, err := c.Get(ctx, "k", b.fetch)
		errs <- err
	}()
	fctx := <-b.started
	cancel()
	if err := <-errs; err != context.Canceled {
		t.Fatalf("err = %v", err)
	}
	<-fctx.Done() // the abandoned fetch is canceled

	// The next Get starts a fresh fetch instead of joining the canceled one.
	close(b.release)
	r, err := get(t, c, "k", b.fetch)
	if err != nil || r.Value != 7 {
		t.Fatalf("after an abandoned fetch: %+v, %v", r, err)
	}
}

func TestCacheFetchPanic(t *testing.T) {
	c, _ := newCache(t, fallback.CacheConfig{})
	defer func() {
		pe, ok := recover().(*fallback.PanicError)
		if !ok || pe.Value != "fetch blew up" || !strings.Contains(string(pe.Stack), "cache_test") {
			t.Fatalf("recovered %v, want a *PanicError with the value and the fetch's stack", pe)
		}
	}()
	_, _ = get(t, c, "k", func(context.Context) (int, error) { panic("fetch blew up") })
	t.Fatal("Get returned instead of panicking")
}

func TestCacheBackgroundPanicCounted(t *testing.T) {
	c, fake := newCache(t, fallback.CacheConfig{TTL: time.Minute, StaleWhileRevalidate: time.Minute})
	var f fetcher
	if _, err := get(t, c, "k", f.fetch); err != nil {
		t.Fatal(err)
	}
	fake.Advance(time.Minute)
	if _, err := get(t, c, "k", func(context.Context) (int, error) { panic("bg") }); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if s := c.Snapshot(); s.Panics != 1 || s.Entries != 1 {
		t.Fatalf("Snapshot = %+v, want the background panic counted", s)
	}
}

func TestCacheLRU(t *testing.T) {
	c, _ := newCache(t, fallback.CacheConfig{MaxEntries: 2})
	var f fetcher
	for _, k := range []string{"a", "b", "a", "c"} { // "b" is least recently used when "c" arrives
		if _, err := get(t, c, k, f.fetch); err != nil {
			t.Fatal(err)
		}
	}
	if s := c.Snapshot(); s.Entries != 2 || s.Evictions != 1 || f.n.Load() != 3 {
		t.Fatalf("Snapshot = %+v after %d fetches", s, f.n.Load())
	}
	for _, tc := range []struct {
		key     string
		fetches int32
	}{{"a", 3}, {"c", 3}, {"b", 4}} {
		if _, err := get(t, c, tc.key, f.fetch); err != nil {
			t.Fatal(err)
		}
		if f.n.Load() != tc.fetches {
			t.Fatalf("Get(%q): %d fetches, want %d", tc.key, f.n.Load(), tc.fetches)
		}
	}
}

func TestCacheDropsTooOldEntries(t *testing.T) {
	c, fake := newCache(t, fallback.CacheConfig{TTL: time.Minute, StaleTTL: time.Minute})
	var f fetcher
	if _, err := get(t, c, "k", f.fetch); err != nil {
		t.Fatal(err)
	}
	fake.Advance(2 * time.Minute)
	f.fail(errDep)
	if _, err := get(t, c, "k", f.fetch); err != errDep {
		t.Fatalf("err = %v", err)
	}
	if s := c.Snapshot(); s.Entries != 0 {
		t.Fatalf("an entry past TTL+StaleTTL was kept: %+v", s)
	}
}

func TestCacheDelete(t *testing.T) {
	c, _ := newCache(t, fallback.CacheConfig{})
	var f fetcher
	_, _ = get(t, c, "k", f.fetch)
	c.Delete("k")
	c.Delete("absent")
	_, _ = get(t, c, "k", f.fetch)
	if f.n.Load() != 2 {
		t.Fatalf("%d fetches, want 2: Delete did not remove the entry", f.n.Load())
	}
}

func TestCacheClose(t *testing.T) {
	c, _ := newCache(t, fallback.CacheConfig{})
	b := newBlocking(1)
	errs := make(chan error, 1)
	go func() {
		_, err := c.Get(context.Background(), "k", b.fetch)
		errs <- err
	}()
	<-b.started
	c.Close() // cancels the fetch and waits for it
	if err := <-errs; err != context.Canceled {
		t.Fatalf("waiter of a fetch canceled by Close: err = %v", err)
	}
	if _, err := get(t, c, "k", b.fetch); !errors.Is(err, fallback.ErrClosed) {
		t.Fatalf("Get after Close: err = %v, want ErrClosed", err)
	}
	c.Close() // idempotent
}

func TestCacheNilFetch(t *testing.T) {
	c, _ := newCache(t, fallback.CacheConfig{})
	if _, err := get(t, c, "k", nil); err == nil {
		t.Fatal("nil fetch accepted")
	}
}

func TestCacheHitAllocatesNothing(t *testing.T) {
	c, _ := newCache(t, fallback.CacheConfig{})
	var f fetcher
	_, _ = get(t, c, "k", f.fetch)
	ctx := context.Background()
	fetch := f.fetch // a method value allocates where it is made
	if n := testing.AllocsPerRun(100, func() { _, _ = c.Get(ctx, "k", fetch) }); n != 0 {
		t.Fatalf("fresh hit allocates %v times, want 0", n)
	}
}

func BenchmarkCacheGet(b *testing.B) {
	c, err := fallback.NewCache[string, int](fallback.CacheConfig{TTL: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	keys := make([]string, 64)
	fetch := func(context.Context) (int, error) { return 1, nil }
	ctx := context.Background()
	for i := range keys {
		keys[i] = "key-" + strconv.Itoa(i)
		_, _ = c.Get(ctx, keys[i], fetch)
	}
	b.Run("hit", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			_, _ = c.Get(ctx, keys[i&63], fetch)
			i++
		}
	})
	b.Run("hit-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				_, _ = c.Get(ctx, keys[i&63], fetch)
				i++
			}
		})
	})
}
